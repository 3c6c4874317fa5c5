"""`make bench-exports` (run by `make bench` after the profile): exporting 100,000 bookings next to 1,000, as
CSV and XLSX through `GET /api/v1/bookings.{csv,xlsx}`, time and peak memory; written to
benchmarks/EXPORTS.md.

On a fresh, migrated PostgreSQL database (the Makefile target creates it) under config.settings_bench, it
seeds two organizations (benchmarks.seed.Org) with 1,000 and 100,000 bookings, each with one requested
time, its event and one custom answer, and exports each organization's bookings with its manager's token
through Django's test Client, reading the streamed body chunk by chunk without keeping it. Time is the
wall clock of a run without tracing; peak memory is tracemalloc's peak of Python allocations during a second
run (the file's bytes on their way out included, the temporary XLSX file on disk not). The goal: the peak at
100,000 at most 1.5 times the peak at 1,000 (the rows are read in chunks, so memory must not grow with them).
"""

from __future__ import annotations

import os
import random
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings_bench"

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from benchmarks.parameters import ROOT, SEED  # noqa: E402
from benchmarks.seed import Org, analyze, bulk_bookings, week_slots  # noqa: E402
from resources.models import Organization  # noqa: E402

OUT = ROOT / "benchmarks" / "EXPORTS.md"
SIZES = (1_000, int(os.environ.get("BENCH_EXPORTS_LARGE", "100000")))  # a smaller second size for a quick look
BATCH = 10_000  # bookings seeded per bulk insert
GOAL = 1.5


def seed(org: Org, count: int, monday: datetime, rng: random.Random) -> None:
    weeks = count // 100  # week_slots: 100 requested times a week
    per_batch = BATCH // 100
    for first in range(0, weeks, per_batch):
        batch = range(first, min(weeks, first + per_batch))
        bulk_bookings(org, [s for w in batch for s in week_slots(org, monday + timedelta(weeks=w), rng)], rng)


def export(client: Client, token: str, fmt: str) -> int:
    """The bytes of one export, read chunk by chunk (none kept)."""
    response = client.get(f"/api/v1/bookings.{fmt}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.status_code
    size = 0
    for chunk in response.streaming_content:
        size += len(chunk)
    response.close()
    return size


def measure(client: Client, org: Org, fmt: str) -> dict:
    export(client, org.token, fmt)  # warm: imports, the connection, the configuration
    started = time.perf_counter()
    size = export(client, org.token, fmt)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    export(client, org.token, fmt)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"seconds": seconds, "bytes": size, "peak": peak}


def _figures(result: dict) -> str:
    return f"{result['seconds']:.2f} s, {result['bytes'] / 1e6:.1f} MB, peak {result['peak'] / 1e6:.1f} MB"


def main() -> None:
    assert connection.vendor == "postgresql", "make bench-exports needs PostgreSQL (DATABASE_URL=postgres://...)"
    assert not Organization.objects.exists(), "make bench-exports expects a fresh, migrated database"
    started = time.perf_counter()
    rng = random.Random(SEED)
    today = datetime.now(UTC).date()
    monday = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=14 - today.weekday())
    orgs = {}
    for count in SIZES:
        orgs[count] = Org(f"export-{count}")
        seed(orgs[count], count, monday, rng)
    analyze()
    client = Client()
    results = {(count, fmt): measure(client, orgs[count], fmt) for count in SIZES for fmt in ("csv", "xlsx")}
    lines = []
    verdicts = []
    for fmt in ("csv", "xlsx"):
        small, large = results[(SIZES[0], fmt)], results[(SIZES[1], fmt)]
        ratio = large["peak"] / small["peak"]
        verdicts.append(ratio <= GOAL)
        lines.append(
            f"| {fmt.upper()} | {_figures(small)} | {_figures(large)}, {SIZES[1] / large['seconds']:,.0f} rows/s "
            f"| {ratio:.2f} | ≤ {GOAL} | {'yes' if ratio <= GOAL else 'NO'} |"
        )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    text = f"""# Exports: {SIZES[1]:,} bookings next to 1,000

Written {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")} by `make bench-exports` (benchmarks/bench_exports.py),
which `make bench` runs; {time.perf_counter() - started:.0f} s in all, seeding included.

| Format | 1,000 bookings | {SIZES[1]:,} bookings | Peak ratio | Goal | Met? |
|---|---|---|---|---|---|
{chr(10).join(lines)}

- `GET /api/v1/bookings.{{csv,xlsx}}` with the organization's manager token, through Django's test Client in
  one process (no server), PostgreSQL {pg}, `config.settings_bench`; one row per booking (one requested
  time each) with one custom answer.
- Time: one run after a warm-up, wall clock, the whole streamed body read. Peak: tracemalloc's peak of
  Python allocations during another run (the XLSX's temporary file is on disk, not in it).
"""
    OUT.write_text(text)
    print(text)
    print(f"Written to {OUT.relative_to(ROOT)}.")
    if not all(verdicts):
        print("Goal not met: peak memory grows with the rows.")


if __name__ == "__main__":
    main()
