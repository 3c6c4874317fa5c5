"""`make client-check`: an integrator's journey through a Python client generated from our OpenAPI schema.

1. a fresh PostgreSQL database, migrated and seeded as `make schema-check` seeds it (tests/schema_check/seed.py:
   an organization with a venue, resources, a booking module on a live portal, an OWNER's API token);
2. gunicorn on a free port of 127.0.0.1 with the same environment as `make schema-check`;
3. `openapi-python-client generate --fail-on-warning` from the live server's /api/schema/ (any warning about
   our schema fails the run);
4. the journey (tests/client_check/journey.py) through the generated package: create a rate and a product,
   submit a request with that rate and product, list, approve, read the fixed price, adjust a booking
   credit, cancel;
5. gunicorn stopped, the database dropped; the exit status says whether every step did what it should.

Usage: `python -m tests.client_check.run [--database-url URL] [--keep]`. See docs/architecture.md#generated-clients.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.schema_check.run import (
    SERVER_ENV,
    drop_database,
    free_port,
    prepare_database,
    start_server,
    stop_server,
)

DEFAULT_DATABASE_URL = "postgres://root@127.0.0.1:5432/allot_client_check"
PACKAGE = "allot_api_client"


def generate(port: int, workdir: Path) -> Path:
    """The client package generated from the live schema; SystemExit on any warning."""
    schema = workdir / "schema.json"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/schema/?format=json", timeout=60) as response:
        schema.write_bytes(response.read())
    out = workdir / PACKAGE
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}  # it formats with ruff
    command = [str(bin_dir / "openapi-python-client"), "generate", "--path", str(schema)]
    command += ["--output-path", str(out), "--meta", "none", "--fail-on-warning", "--overwrite"]
    command += ["--config", str(Path(__file__).resolve().parent / "generator.yaml")]
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, check=False)
    print(done.stdout + done.stderr, flush=True)
    if done.returncode != 0 or "warning" in (done.stdout + done.stderr).lower():
        raise SystemExit("openapi-python-client reported a problem with our schema (above)")
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("CLIENT_CHECK_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--keep", action="store_true", help="keep the database and the work directory")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="allot-client-check-"))
    env = {**os.environ, **SERVER_ENV, "DATABASE_URL": args.database_url}
    started = time.monotonic()
    seeded = json.loads(prepare_database(args.database_url, env))
    port = free_port()
    server = start_server(env, port, workdir / "gunicorn.log")
    try:
        package_dir = generate(port, workdir)
        sys.path.insert(0, str(package_dir.parent))
        from tests.client_check.journey import journey

        journey(f"http://127.0.0.1:{port}", seeded)
    finally:
        stop_server(server)
        if not args.keep:
            drop_database(args.database_url)
    print(f"== client check: the journey passed in {time.monotonic() - started:.0f} s (work dir {workdir})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
