"""The report of `make bench` (benchmarks/run.py): the machine's description, the table of figures next to
their baselines, and the text of benchmarks/RESULTS.md."""

import os
import platform
import re
import subprocess
from datetime import datetime
from pathlib import Path

import django
import gunicorn
from django.conf import settings
from django.db import connection

from benchmarks.parameters import (
    AVAILABILITY_GOAL,
    LARGE,
    LIST_GOAL,
    MIXED_CONNECTIONS,
    MIXED_P95_GOAL_MS,
    MIXED_SECONDS,
    PAGE,
    SEED,
    SMALL,
    SUBMIT_CONNECTIONS,
    SUBMIT_GOAL_NOW,
    SUBMIT_GOAL_TARGET,
    SUBMIT_SECONDS,
    TABLE_LARGE,
    TABLE_SMALL,
    WORKERS,
    WRK_THREADS,
    WRK_TIMEOUT,
)


def command_version(command: list[str]) -> str:
    """The first line a program prints of its version ("not installed" when it is missing)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError:
        return "not installed"
    return ((done.stdout + done.stderr).strip().splitlines() or [""])[0].strip()


def machine_common() -> list[tuple[str, str]]:
    """The machine as every benchmark describes it: CPU, cores, RAM, OS, Python, PostgreSQL."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
    os_release = Path("/etc/os-release").read_text() if Path("/etc/os-release").exists() else ""
    pretty = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', os_release, re.M)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return [
        ("CPU", model.group(1).strip() if model else platform.processor() or platform.machine()),
        ("Cores (logical, seen by the OS)", str(os.cpu_count())),
        ("RAM", f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else "unknown"),
        ("OS", f"{pretty.group(1) if pretty else platform.system()} (kernel {platform.release()})"),
        ("Python", platform.python_version()),
        ("PostgreSQL", pg),
    ]


def machine() -> list[tuple[str, str]]:
    return [
        *machine_common(),
        ("Django / gunicorn", f"{django.get_version()} / {gunicorn.__version__}"),
        ("Load tool", command_version(["wrk", "-v"])),
    ]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def queries_text(values: list) -> str:
    return "/".join(str(v) for v in values)


TABLE_HEADER = ("Measure", "Figure", "Baseline (same run)", "Ratio", "Goal", "Met?")


def table(rows: list[tuple], header: tuple[str, ...] = TABLE_HEADER) -> str:
    """A Markdown table (a "|" inside a cell would end it: written "/")."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def met(ok: bool) -> str:
    return "yes" if ok else "NO"


def wrk_figure(result: dict) -> str:
    return (
        f"{result['rps']:.1f} req/s; p50 {result['p50_us'] / 1000:.1f} ms, p95 {result['p95_us'] / 1000:.1f} ms; "
        f"{result['requests']} requests, {result['errors']} errors; {result['queries_per_request']:.1f} queries each"
    )


def build_rows(r: dict) -> list[tuple]:
    sub, base, approve = r["submit"], r["baseline"], r["approve"]
    submit_ratio = sub["rps"] / base["rps"]
    baseline = f"insert one row and return it: {wrk_figure(base)}"
    api, dump = r["list_api"], r["list_dump"]
    list_ratio = dump["median"] / api["median"]
    a1, a2 = r["avail_1k"], r["avail_100k"]
    avail_ratio = a2["median"] / a1["median"]
    wrk_run = f"wrk, {SUBMIT_CONNECTIONS} connections, {SUBMIT_SECONDS} s"
    rows = [
        (
            f"Public submit, POST /api/v1/bookings/submit ({wrk_run})",
            wrk_figure(sub),
            baseline,
            f"{submit_ratio:.2f}",
            f"≥ {SUBMIT_GOAL_NOW:.2f} of the baseline's req/s now; ≥ {SUBMIT_GOAL_TARGET:.2f} the target (0 errors)",
            f"now: {met(submit_ratio >= SUBMIT_GOAL_NOW and sub['errors'] == 0)}; "
            f"target: {met(submit_ratio >= SUBMIT_GOAL_TARGET and sub['errors'] == 0)}",
        ),
        (
            f"Staff approve, POST /api/v1/bookings/{{id}}/approve, a different pending booking each ({wrk_run})",
            f"{wrk_figure(approve)}; {approve['approved_in_db']:,} approved in the database (warm-up included)",
            baseline,
            f"{approve['rps'] / base['rps']:.2f}",
            "report (0 errors)",
            met(approve["errors"] == 0),
        ),
        (
            f"Booking list, {LARGE:,} bookings with events, GET /api/v1/bookings?returnEvents=true (pages of {PAGE:,})",
            f"{api['median']:.2f} s ({LARGE / api['median']:,.0f} bookings/s); {api['pages']} pages, "
            f"{api['queries']} queries in all",
            f"plain values() dump as JSON (one request): {dump['median']:.2f} s "
            f"({LARGE / dump['median']:,.0f} bookings/s), {queries_text(dump['queries'])} queries",
            f"{list_ratio:.2f} (API speed / dump speed)",
            f"≥ {LIST_GOAL:.2f} of the dump's speed",
            met(list_ratio >= LIST_GOAL),
        ),
        (
            f"Resource availability, one month ({a1['busy']} busy blocks), GET /api/v1/resources/{{id}}/availability",
            f"{a2['table']:,} reservations in the table: {ms(a2['median'])} median, "
            f"{queries_text(a2['queries'])} queries",
            f"{a1['table']:,} reservations: {ms(a1['median'])} median, {queries_text(a1['queries'])} queries",
            f"{avail_ratio:.2f}",
            f"≤ {AVAILABILITY_GOAL}",
            met(avail_ratio <= AVAILABILITY_GOAL),
        ),
    ]
    for key, label in (
        ("list", "Admin bookings list, /admin/bookings/booking/"),
        ("calendar", "Admin week calendar, /admin/events/event/calendar/"),
    ):
        small, large = r["admin_small"][key], r["admin_large"][key]
        same = small["queries"] == large["queries"] and len(small["queries"]) == 1
        rows.append(
            (
                f"{label} ({LARGE:,} vs {SMALL} bookings)",
                f"{LARGE:,} bookings: {ms(large['median'])} median, {queries_text(large['queries'])} queries",
                f"{SMALL} bookings: {ms(small['median'])} median, {queries_text(small['queries'])} queries",
                f"{large['median'] / small['median']:.2f}",
                "same query count at 100 and 10,000",
                "yes (equal)" if same else "NO (different)",
            )
        )
    mixed = r["mixed"]
    sent = mixed["sent"]
    rows.append(
        (
            f"Mixed load, {MIXED_CONNECTIONS} concurrent clients for {MIXED_SECONDS} s (wrk)",
            f"{mixed['requests']:,} requests ({mixed['rps']:.1f} req/s): {mixed['errors']} errors, "
            f"p50 {mixed['p50_us'] / 1000:.0f} ms, p95 {mixed['p95_us'] / 1000:.0f} ms",
            "—",
            "—",
            f"p95 < {MIXED_P95_GOAL_MS / 1000:g} s and 0 errors",
            met(mixed["p95_us"] < MIXED_P95_GOAL_MS * 1000 and mixed["errors"] == 0),
        )
    )
    r["mixed_mix"] = ", ".join(f"{k} {v:,}" for k, v in sorted(sent.items()))
    r["approve_mix"] = ", ".join(f"{k} {v:,}" for k, v in sorted(approve["sent"].items()))
    return rows


def errors_detail(result: dict) -> str:
    parts = [f"{k} {result[k]}" for k in ("connect", "read", "write", "timeout") if result[k]]
    codes = {k: v for k, v in result["statuses"].items() if not 200 <= int(k) < 400}
    if codes:
        parts.append("HTTP " + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items())))
    return "; ".join(parts) or "none"


def report(r: dict, rows: list[tuple], started: datetime, seconds: float) -> str:
    described = "\n".join(f"- {name}: {value}" for name, value in r["machine"])
    return f"""# `make bench` results

Measured {started.strftime("%Y-%m-%d %H:%M UTC")} in {seconds / 60:.1f} minutes by `make bench`
(benchmarks/run.py; seed `random.Random({SEED})`).

## Machine

{described}
- Load average (1 min) at the start / end: {r["load_start"]:.2f} / {r["load_end"]:.2f}

## Figures

{table(rows)}

Ratios: submit and approve = their req/s over the baseline's; booking list = the API's bookings/s over the dump's;
availability = the median time with {TABLE_LARGE:,} reservations over the one with {TABLE_SMALL:,};
admin pages = the time at {LARGE:,} bookings over the time at {SMALL}.

Errors seen: submit {errors_detail(r["submit"])}; baseline {errors_detail(r["baseline"])}; approve
{errors_detail(r["approve"])}; mixed load {errors_detail(r["mixed"])}.

Requests sent by kind: approve throughput: {r["approve_mix"]}; mixed load: {r["mixed_mix"]}.

## How it was measured

- gunicorn {WORKERS} sync workers on 127.0.0.1 (`config.settings_bench`: production settings, DEBUG off,
  tasks on `django_tasks_db.DatabaseBackend` so a request only writes the outbox and task rows and no
  worker runs; throttles at {settings.BENCH_THROTTLE_RATE} per client, since wrk sends everything from
  one address; CONN_MAX_AGE={settings.DATABASES["default"]["CONN_MAX_AGE"]}, cache
  `{settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}`), PostgreSQL on the same machine, which
  also runs wrk ({WRK_THREADS} threads, `--timeout {WRK_TIMEOUT}`).
- Public submit and baseline: wrk, {SUBMIT_CONNECTIONS} connections for {SUBMIT_SECONDS} s each after a
  5 s warm-up, the same JSON body. Every submit asks for a different free half hour (10 rooms in turn, each
  wrk thread in its own stretch of time), with a different booker email, on a module that holds pending
  slots (so each creates the booking, a TENTATIVE event and its reservation, the contact, the log and the
  two notifications). The baseline (`/bench/baseline`, only in `config.urls_bench`) parses the body,
  inserts one row into a bench-only table in a transaction and returns it as JSON.
- Approve: wrk, {SUBMIT_CONNECTIONS} connections for {SUBMIT_SECONDS} s after a 5 s warm-up (on other
  bookings), right after the baseline. The organization's manager (knox token) approves pending bookings
  seeded for it in an organization of their own (a TENTATIVE hold each on one of 10 rooms, no two at the
  same time on a room), each request a different booking, with the `clientBookingLastUpdatedAt` it was
  seeded with: the hold is confirmed, the price fixed, the booker's email queued.
- Booking list: {LARGE:,} bookings (60 % approved with a confirmed event, 40 % pending with a hold), paged
  with `limit={PAGE}` and `nextCursor` by the organization's manager (knox token); the time is the sum over
  the pages, median of 5 passes. The dump (`/bench/dump/bookings`, bench-only, same server, no
  authentication) returns the same rows as plain `values()` serialized with `json.dumps`, in one request;
  median of 5, each right after a pass of the API (alternated, so that the machine's load weighs on both).
- Availability: the staff endpoint for one room over 31 days ({r["avail_1k"]["busy"]} busy blocks both
  times), median of 40 requests; first with {TABLE_SMALL:,} reservations in the table, then after adding
  events on other rooms and on the same room outside the month up to {TABLE_LARGE:,} (then `ANALYZE`).
- Admin pages: the manager's session (force_login), median of 11 requests after 3 warm-ups. Both
  organizations have the same 100 bookings in the calendar's week; the large one has 9,900 more in the 99
  weeks after it. Query counts: the `X-Bench-Queries` header of `benchmarks.middleware.QueryCountMiddleware`
  (bench settings only), one value per page when every request made the same number.
- Mixed load: wrk, {MIXED_CONNECTIONS} connections for {MIXED_SECONDS} s; each thread cycles through the
  public calendar by week and by day, the public module availability, the staff resource availability,
  public submits to free slots and staff approvals (POST /api/v1/bookings/{{id}}/approve with a knox token)
  of pre-seeded pending bookings, each approved once. Errors = socket errors, timeouts and non-2xx/3xx
  answers (a 409 counts); latency percentiles are over all requests.
"""
