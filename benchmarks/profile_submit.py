"""`make bench-profile` (run by `make bench` after its HTTP part): a CPU profile of one warm public submit,
written to benchmarks/PROFILE.md next to RESULTS.md.

On a fresh, migrated PostgreSQL database (the Makefile target creates it) under config.settings_bench (DEBUG
off, tasks on the database backend), it seeds what `make bench` submits to (benchmarks.seed.Org: a LIVE
portal, a module holding pending slots over 10 rooms, one custom question) with pending bookings already on
those rooms, sends a few submits to warm the process up (imports, caches, the connection), then sends one
more under cProfile through Django's test Client: the whole request (middleware, authentication, the view,
the response's rendering), in this process, with no server and no network. Only the HTTP endpoint is called,
so the script does not depend on how the submit is written inside.

The table lists the top frames by cumulative time (where the time goes, caller by caller) and, since the top
of that list is the request's plumbing, the top frames of the application's own code and by own time.
"""

import cProfile
import json
import os
import platform
import pstats
import random
import sys
import sysconfig
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings_bench"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from benchmarks.parameters import ROOT, SEED  # noqa: E402
from benchmarks.scenarios import iso  # noqa: E402
from benchmarks.seed import Org, analyze, bulk_bookings  # noqa: E402
from resources.models import Organization  # noqa: E402

PROFILE = ROOT / "benchmarks" / "PROFILE.md"
SUBMIT = "/api/v1/bookings/submit"
WARMUP = int(os.environ.get("BENCH_PROFILE_WARMUP", "5"))
TOP = 15
PENDING = 1000  # bookings already holding slots on the rooms (the conflict checks read them)
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def body(org: Org, start: datetime, n: int) -> str:
    """The body benchmarks/wrk/common.lua's submit_request sends: one free half hour on one room."""
    return json.dumps(
        {
            "submission": True,
            "orgId": str(org.org.pk),
            "bookingModuleId": str(org.module.pk),
            "portalId": str(org.portal.pk),
            "contact": {"name": "Bench booker", "email": f"profile-{n}@example.com"},
            "event": {
                "title": "Bench request",
                "start": iso(start),
                "end": iso(start + timedelta(minutes=30)),
                "resourceIds": [str(org.resources[n % len(org.resources)].pk)],
            },
        }
    )


def where(filename: str, line: int) -> str:
    """file:line relative to the repository, site-packages or the standard library."""
    if filename.startswith("~") or filename.startswith("<"):
        return "built-in"
    path = Path(filename).resolve()
    for base, label in ((ROOT, ""), (SITE_PACKAGES.resolve(), "site-packages/"), (STDLIB.resolve(), "stdlib/")):
        if path.is_relative_to(base):
            return f"{label}{path.relative_to(base)}:{line}"
    return f"{filename}:{line}"


def rows(stats: pstats.Stats, key, keep=lambda func: True) -> list[tuple]:
    entries = []
    for func, (primitive, ncalls, tottime, cumtime, _) in stats.stats.items():
        if keep(func):
            entries.append((func, str(ncalls) if ncalls == primitive else f"{ncalls}/{primitive}", tottime, cumtime))
    entries.sort(key=key, reverse=True)
    return entries[:TOP]


def table(entries: list[tuple]) -> str:
    lines = ["| # | Function | File:line | ncalls | cumtime (ms) | tottime (ms) |", "|---|---|---|---|---|---|"]
    for i, ((filename, line, name), ncalls, tottime, cumtime) in enumerate(entries, 1):
        lines.append(
            f"| {i} | `{name}` | `{where(filename, line)}` | {ncalls} | {cumtime * 1000:.1f} | {tottime * 1000:.1f} |"
        )
    return "\n".join(lines)


def in_application(func) -> bool:
    path = Path(func[0])
    return path.is_absolute() and path.resolve().is_relative_to(ROOT) and ".venv" not in path.parts


def main() -> None:
    assert connection.vendor == "postgresql", "make bench-profile needs PostgreSQL (DATABASE_URL=postgres://...)"
    assert not Organization.objects.exists(), "make bench-profile expects a fresh, migrated database"
    rng = random.Random(SEED)
    today = datetime.now(UTC).date()
    base = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=14 - today.weekday())
    org = Org("profile")
    mornings = [base + timedelta(days=k // len(org.resources), hours=8) for k in range(PENDING)]
    bulk_bookings(  # pending holds in the mornings; the submits ask for afternoons
        org,
        [(org.resources[k % len(org.resources)], m, m + timedelta(hours=1), False) for k, m in enumerate(mornings)],
        rng,
    )
    analyze()

    client = Client()
    queries = []

    def submit(n: int, profiler: cProfile.Profile | None = None) -> float:
        """Milliseconds of wall clock; under `profiler`, only the client's call is profiled."""
        start = base + timedelta(days=n // len(org.resources), hours=14)
        data = body(org, start, n)
        post = client.post if profiler is None else lambda *a, **k: profiler.runcall(client.post, *a, **k)
        started = time.perf_counter()
        response = post(SUBMIT, data, content_type="application/json")
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 201, (response.status_code, response.content[:500])
        queries.append(int(response["X-Bench-Queries"]))
        return elapsed

    for n in range(WARMUP):
        submit(n)
    profiler = cProfile.Profile()
    profiled_ms = submit(WARMUP, profiler)
    unprofiled = sorted(submit(n) for n in range(WARMUP + 1, WARMUP + 6))  # without the profiler's overhead

    if os.environ.get("BENCH_PROFILE_DUMP"):  # the raw profile too, for pstats or snakeviz
        profiler.dump_stats(os.environ["BENCH_PROFILE_DUMP"])
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    by_cumulative = rows(stats, key=lambda e: e[3])
    application = rows(stats, key=lambda e: e[3], keep=in_application)
    by_own = rows(stats, key=lambda e: e[2])
    # The middleware's `counting` wraps each cursor execute: the queries' time as the database call sees it.
    in_queries = sum(
        cumtime
        for (filename, _, name), (_, _, _, cumtime, _) in stats.stats.items()
        if name == "counting" and filename.endswith("middleware.py")
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    text = f"""# CPU profile of one warm public submit

Written {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")} by `make bench-profile` (benchmarks/profile_submit.py),
which `make bench` runs after its HTTP part.

## How it was measured

- `POST {SUBMIT}` with the body of `make bench`'s submits (benchmarks/wrk/common.lua: one free half hour on
  one of 10 rooms, a new booker email each time), on a module that holds pending slots with one custom
  question, {PENDING:,} pending bookings already on its rooms; a fresh PostgreSQL {pg} database.
- `config.settings_bench` (DEBUG off, tasks on `django_tasks_db.DatabaseBackend`, cache
  `{settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}`), through Django's test `Client` in one
  process: every middleware, the view, the rendering; no server, no network.
- {WARMUP} submits first (imports, caches, the database connection), then one under `cProfile`; the
  figures are that one request's. Python {platform.python_version()}, Django {django.get_version()}.

## Figures

- Total: {total * 1000:.1f} ms profiled ({profiled_ms:.1f} ms wall clock under the profiler); without the
  profiler the next 5 submits took {unprofiled[2]:.1f} ms (median; {unprofiled[0]:.1f} to {unprofiled[-1]:.1f}).
- Queries: {queries[WARMUP]} (the `X-Bench-Queries` header of benchmarks.middleware.QueryCountMiddleware;
  the warm-up submits made {", ".join(str(q) for q in queries[:WARMUP])}); {in_queries * 1000:.1f} ms of the
  profiled time is in their execute calls (sending each, waiting for PostgreSQL, receiving the rows: the
  cumtime of the middleware's `counting` wrapper); building the SQL and converting the rows are not in it.

## Top {TOP} frames by cumulative time

{table(by_cumulative)}

## Top {TOP} frames of the application's code (this repository) by cumulative time

{table(application)}

## Top {TOP} frames by own time (tottime)

{table(by_own)}

cumtime: time in the function and everything it called; tottime: in the function itself. File paths are
relative to the repository, to site-packages or to the standard library; ncalls is "total/primitive" for
recursive functions.
"""
    PROFILE.write_text(text)
    print(text)
    print(f"Written to {PROFILE.relative_to(ROOT)}.")


if __name__ == "__main__":
    main()
