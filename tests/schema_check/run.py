"""`make schema-check`: Schemathesis from outside, against gunicorn on PostgreSQL, with every check.

1. a fresh PostgreSQL database (dropped first if a previous run left it), migrated;
2. seeded (tests/schema_check/seed.py: one object of every type, an OWNER's API token);
3. gunicorn with the production settings and configuration (config/gunicorn.py) on a free port of 127.0.0.1,
   configured through the environment: the database task queue with no worker (so no email and no webhook is
   ever sent), throttles out of reach, plain static files;
4. `schemathesis run http://127.0.0.1:PORT/api/schema/ --checks all` with tests/schema_check/schemathesis.toml
   (its hooks put the seeded ids into the requests and name the business rules no schema can express), a
   fixed seed and a bounded number of examples per operation;
5. gunicorn stopped; the exit status is Schemathesis' (non-zero on any failure).

Usage: `python -m tests.schema_check.run [--max-examples N] [--seed N] [--database-url URL] [--keep]`
(`--keep` leaves the database and the work directory for a look afterwards). See docs/architecture.md
(HTTP API conventions).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DEFAULT_DATABASE_URL = "postgres://root@127.0.0.1:5432/allot_schema_check"
START_TIMEOUT = 60

# The server's environment: production settings, nothing leaves the machine, nothing throttles the run.
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "false",
    "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",  # queued, never run: no email, no webhook is sent
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "PUBLIC_SUBMIT_RATE": "1000000/minute",
    "TOKEN_GUESS_RATE": "1000000/minute",
    "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
    "WEBHOOKS_ALLOW_PRIVATE": "false",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def recreate_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"unexpected database name {name!r}")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}"')


def prepare_database(url: str, env: dict[str, str]) -> str:
    """A fresh database at `url`, migrated and seeded (tests/schema_check/seed.py); the seed's JSON output."""
    recreate_database(url)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    command = [sys.executable, "-m", "tests.schema_check.seed"]
    return subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout


def start_server(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application"]
    command += ["--workers", "2"]
    command += ["--bind", f"127.0.0.1:{port}", "--timeout", "60", "--access-logfile", "-"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/schema/?format=json", timeout=30):
                return process
        except (OSError, urllib.error.URLError):
            time.sleep(0.3)
    stop_server(process)
    raise SystemExit(f"gunicorn did not answer within {START_TIMEOUT} s: see {log_path}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # gunicorn's graceful shutdown; its workers are in its group
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def schemathesis_command(port: int, args: argparse.Namespace) -> list[str]:
    command = [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(HERE / "schemathesis.toml")]
    command += ["run", f"http://127.0.0.1:{port}/api/schema/", "--checks", "all"]
    command += ["--seed", str(args.seed), "--max-examples", str(args.max_examples), "--no-color"]
    return command + args.schemathesis_args


def print_business_rules(path: Path) -> None:
    """How often each business rule (tests/schema_check/rules.py) answered a schema-valid request."""
    if not path.exists():
        return
    counts: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        code, field = json.loads(line)
        plain = re.fullmatch(r"[\w.\[\]-]*", field, re.ASCII)  # generated key names print as one placeholder
        where = re.sub(r"\[\d+\]", "[i]", field) if plain else "<a generated key>"
        counts[f"{code} {where}"] += 1
    print("== schema-valid requests refused by a business rule (error code, field): not failures")
    for rule, count in counts.most_common():
        print(f"   {count:6d}  {rule}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("SCHEMA_CHECK_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("SCHEMA_CHECK_MAX_EXAMPLES", "30")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SCHEMA_CHECK_SEED", "20261207")))
    parser.add_argument("--keep", action="store_true", help="keep the database and the work directory")
    parser.add_argument("schemathesis_args", nargs="*", help="more options for `schemathesis run` (after --)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="allot-schema-check-"))
    env = {**os.environ, **SERVER_ENV, "DATABASE_URL": args.database_url}
    started = time.monotonic()
    seeded = prepare_database(args.database_url, env)
    seed_path = workdir / "seed.json"
    seed_path.write_text(seeded)
    port = free_port()
    server = start_server(env, port, workdir / "gunicorn.log")
    try:
        print(f"== schemathesis against gunicorn at 127.0.0.1:{port} (log: {workdir / 'gunicorn.log'})", flush=True)
        token = json.loads(seeded)["token"]
        filtered = workdir / "business-rules.txt"
        st_env = {
            **os.environ,
            "SCHEMA_CHECK_DATA": str(seed_path),
            "SCHEMA_CHECK_TOKEN": token,
            "SCHEMA_CHECK_FILTERED": str(filtered),
        }
        status = subprocess.run(schemathesis_command(port, args), cwd=ROOT, env=st_env, check=False).returncode
        print_business_rules(filtered)
    finally:
        stop_server(server)
        if not args.keep:
            drop_database(args.database_url)
    print(f"== schema check: exit status {status} after {time.monotonic() - started:.0f} s (work dir {workdir})")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
