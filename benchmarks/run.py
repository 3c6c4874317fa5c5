"""`make bench`: the application under gunicorn (2 workers, 127.0.0.1, PostgreSQL, config.settings_bench),
each figure next to a baseline measured in the same run, printed as one table and written with the
machine's description to benchmarks/RESULTS.md.

The Makefile target creates a fresh database and migrates it; this script seeds it (bulk inserts, fixed
random seed), starts gunicorn, measures, and always stops gunicorn:

1. resource availability for a month with 1,000 reservations in the table (staff API);
2. more seeding: 100 and 10,000 bookings with events in two organizations (the admin pages, the booking
   list), pending bookings to approve (the approve throughput's in an organization of their own, the mixed
   load's), and filler events up to 100,000 reservations in the table;
3. availability again with 100,000 reservations;
4. public submits (wrk) next to a view of the same server that inserts one row (benchmarks/views.py), then
   staff approvals of pending bookings next to the same baseline;
5. the booking list (GET /api/v1/bookings?returnEvents=true, paged) next to a plain values() dump;
6. the admin bookings list and week calendar at 100 and 10,000 bookings: time and query count;
7. a mixed load of 50 concurrent clients for 60 seconds: calendar reads, submits, staff approvals.

Query counts come from benchmarks/middleware.py (an X-Bench-Queries header), so every figure is measured
over HTTP on the real server with DEBUG off.

This script is the orchestration; its parts are benchmarks/parameters.py (sizes and durations), seed.py
(the bulk inserts), server.py (gunicorn and wrk), scenarios.py (the measurements) and results.py (the table
and RESULTS.md).
"""

import os
import random
import signal
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings_bench"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from benchmarks.parameters import (  # noqa: E402
    APPROVALS_PER_THREAD,
    APPROVE_PER_THREAD,
    APPROVE_WARMUP_PER_THREAD,
    HOURS_PER_THREAD,
    LARGE,
    MIXED_CONNECTIONS,
    MIXED_SECONDS,
    RESULTS,
    ROOT,
    SEED,
    SMALL,
    SUBMIT_CONNECTIONS,
    SUBMIT_SECONDS,
    TABLE_LARGE,
    TABLE_SMALL,
    WORKERS,
    WRK_THREADS,
)
from benchmarks.results import build_rows, machine, report, table  # noqa: E402
from benchmarks.scenarios import iso, measure_admin, measure_availability, measure_booking_list, submit_data  # noqa: E402
from benchmarks.seed import Org, analyze, bulk_bookings, seed_availability_org, seed_filler, week_slots  # noqa: E402
from benchmarks.server import Server  # noqa: E402
from benchmarks.views import ensure_baseline_table  # noqa: E402
from bookings.models import Booking, BookingStatus  # noqa: E402
from events.models import Reservation  # noqa: E402
from resources.models import Organization  # noqa: E402


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def pending_slots(org: Org, base: datetime, thread: int, count: int) -> list:
    """`count` half hours of thread `thread`'s stretch of time, the org's rooms in turn, for pending bookings."""
    slots = []
    for k in range(count):
        resource = org.resources[k % len(org.resources)]
        start = base + timedelta(hours=thread * HOURS_PER_THREAD + k // len(org.resources))
        slots.append((resource, start, start + timedelta(minutes=30), False))
    return slots


def approvals_of(org: Org, chunks: list[list]) -> list[list[list[str]]]:
    """Per wrk thread, [booking id, lastUpdatedAt as the manager read it] of its pending bookings."""
    stamps = dict(Booking.objects.filter(organization=org.org).values_list("pk", "updated_at"))
    return [[[str(b.pk), stamps[b.pk].isoformat()] for b in chunk] for chunk in chunks]


def main() -> None:
    started_at, started = datetime.now(UTC), time.perf_counter()
    load_start = os.getloadavg()[0]
    assert connection.vendor == "postgresql", "make bench needs PostgreSQL (DATABASE_URL=postgres://...)"
    assert not Organization.objects.exists(), "make bench expects a fresh, migrated database"
    rng = random.Random(SEED)
    today = datetime.now(UTC).date()
    monday = utc_midnight(today + timedelta(days=14 - today.weekday()))  # the admin calendar's week
    month_day = today + timedelta(days=62)
    month = utc_midnight(month_day.replace(day=1))
    load_base = monday  # approvals' holds, then the submits' regions after them

    results: dict = {}
    workdir = Path(tempfile.mkdtemp(prefix="allot-bench-"))
    progress(f"collectstatic (the manifest production serves); work files in {workdir}")
    call_command("collectstatic", interactive=False, verbosity=0)
    ensure_baseline_table()
    progress(f"seeding {TABLE_SMALL:,} reservations")
    avail_org, layout = seed_availability_org(month, rng)
    assert Reservation.objects.count() == TABLE_SMALL
    analyze()

    server = Server(workdir)
    stopping = {"signal": None}

    def on_term(signum, frame):
        stopping["signal"] = signum
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    progress(f"starting gunicorn ({WORKERS} workers) on 127.0.0.1:{server.port}")
    try:
        server.start()
        progress("availability with 1,000 reservations")
        results["avail_1k"] = measure_availability(server, avail_org, layout["measured"], month)

        progress(
            f"seeding {SMALL} and {LARGE:,} bookings, pending bookings to approve, "
            f"filler up to {TABLE_LARGE:,} reservations"
        )
        small, large, load = Org("small"), Org("large"), Org("load")
        bulk_bookings(small, week_slots(small, monday, random.Random(SEED)), rng)
        large_rng = random.Random(SEED)  # its first week is the small org's week, booking for booking
        bulk_bookings(
            large,
            [s for w in range(LARGE // SMALL) for s in week_slots(large, monday + timedelta(weeks=w), large_rng)],
            rng,
        )
        pending = [
            bulk_bookings(load, pending_slots(load, load_base, t, APPROVALS_PER_THREAD), rng)
            for t in range(WRK_THREADS)
        ]
        approve_org = Org("approve")
        approve_pending = [
            bulk_bookings(
                approve_org,
                pending_slots(approve_org, load_base, t, APPROVE_WARMUP_PER_THREAD + APPROVE_PER_THREAD),
                rng,
            )
            for t in range(WRK_THREADS)
        ]
        seed_filler(avail_org, month, layout, TABLE_LARGE - Reservation.objects.count(), rng)
        assert Reservation.objects.count() == TABLE_LARGE
        analyze()

        progress("availability with 100,000 reservations")
        results["avail_100k"] = measure_availability(server, avail_org, layout["measured"], month)
        assert results["avail_100k"]["busy"] == results["avail_1k"]["busy"]

        approvals = approvals_of(load, pending)
        to_approve = approvals_of(approve_org, approve_pending)

        progress(
            f"public submit vs baseline insert (wrk, {SUBMIT_CONNECTIONS} connections, "
            f"5 s warm-up + {SUBMIT_SECONDS} s each)"
        )
        submit = "/api/v1/bookings/submit"
        server.wrk(
            "submit.lua",
            submit_data(load, 1, load_base),
            connections=SUBMIT_CONNECTIONS,
            seconds=5,
            workdir=workdir,
            path=submit,
        )
        results["submit"] = server.wrk(
            "submit.lua",
            submit_data(load, 2, load_base),
            connections=SUBMIT_CONNECTIONS,
            seconds=SUBMIT_SECONDS,
            workdir=workdir,
            path=submit,
        )
        server.wrk(
            "submit.lua",
            submit_data(load, 3, load_base),
            connections=SUBMIT_CONNECTIONS,
            seconds=5,
            workdir=workdir,
            path="/bench/baseline",
        )
        results["baseline"] = server.wrk(
            "submit.lua",
            submit_data(load, 4, load_base),
            connections=SUBMIT_CONNECTIONS,
            seconds=SUBMIT_SECONDS,
            workdir=workdir,
            path="/bench/baseline",
        )

        progress(
            f"staff approvals vs the same baseline (wrk, {SUBMIT_CONNECTIONS} connections, "
            f"5 s warm-up + {SUBMIT_SECONDS} s)"
        )
        for region, seconds, part in (
            ("approve-warm-up", 5, slice(None, APPROVE_WARMUP_PER_THREAD)),
            ("approve", SUBMIT_SECONDS, slice(APPROVE_WARMUP_PER_THREAD, None)),
        ):
            results[region] = server.wrk(
                "approve.lua",
                {"region": region, "token": approve_org.token, "approvals": [c[part] for c in to_approve]},
                connections=SUBMIT_CONNECTIONS,
                seconds=seconds,
                workdir=workdir,
            )
        results["approve"]["approved_in_db"] = Booking.objects.filter(
            organization=approve_org.org, status=BookingStatus.APPROVED
        ).count()

        progress(f"booking list of {LARGE:,} vs plain dump")
        results["list_api"], results["list_dump"] = measure_booking_list(server, large)

        progress("admin bookings list and calendar at 100 and 10,000 bookings")
        results["admin_small"] = measure_admin(server, small, monday)
        results["admin_large"] = measure_admin(server, large, monday)

        progress(f"mixed load: {MIXED_CONNECTIONS} clients for {MIXED_SECONDS} s")
        week_day = (load_base + timedelta(days=1)).date().isoformat()
        room = load.resources[0]
        mixed = {
            **submit_data(load, 5, load_base),
            "token": load.token,
            "approvals": approvals,
            "calendar_week": f"/p/{load.portal.slug}/{load.module.slug}/calendar/?view=week&date={week_day}"
            f"&resource={room.pk}",
            "calendar_day": f"/p/{load.portal.slug}/{load.module.slug}/calendar/?view=day&date={week_day}",
            "public_availability": f"/api/v1/public/booking-modules/{load.module.pk}/availability"
            f"?start={iso(load_base)}&end={iso(load_base + timedelta(days=7))}",
            "staff_availability": f"/api/v1/resources/{room.pk}/availability"
            f"?start={iso(load_base)}&end={iso(load_base + timedelta(days=7))}",
        }
        for key in ("calendar_week", "calendar_day", "public_availability"):
            status, *_ = server.request("GET", mixed[key])
            assert status == 200, (key, status)
        results["mixed"] = server.wrk(
            "mixed.lua", mixed, connections=MIXED_CONNECTIONS, seconds=MIXED_SECONDS, workdir=workdir
        )
        approved = Booking.objects.filter(organization=load.org, status=BookingStatus.APPROVED).count()
        results["mixed"]["approved_in_db"] = approved
    finally:
        progress("stopping gunicorn")
        server.stop()

    results["machine"] = machine()
    results["load_start"], results["load_end"] = load_start, os.getloadavg()[0]
    rows = build_rows(results)
    text = report(results, rows, started_at, time.perf_counter() - started)
    RESULTS.write_text(text)
    print()
    print(table(rows))
    print()
    print(f"Approve throughput, requests sent by kind: {results['approve_mix']}")
    print(
        f"Mixed load, requests sent by kind: {results['mixed_mix']}; approved bookings in the database: "
        f"{results['mixed']['approved_in_db']:,}"
    )
    print(f"Written to {RESULTS.relative_to(ROOT)} ({(time.perf_counter() - started) / 60:.1f} min).")


if __name__ == "__main__":
    main()
