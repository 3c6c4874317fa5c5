"""`make bench-scale`: scale-out on this machine. Two gunicorn app servers on two ports, PgBouncer in
transaction pooling in front of PostgreSQL, Redis as CACHE_URL and two db_workers, all started here and
all stopped at the end (benchmarks/stack.py); the scenarios are benchmarks/scale.py:

a. 50 concurrent public submits of one slot spread over both servers: one 201, 49 x 409, no 5xx;
b. the public submit throttle counts across both servers (PUBLIC_SUBMIT_RATE lowered for the run);
c. an app server `kill -9`'d in the middle of a load run: no answered booking lost;
   then, once the db_workers drained the outbox, every email of every booking sent exactly once;
d. submit throughput with two servers next to one.

The Makefile target creates a fresh database and migrates it directly (not through PgBouncer); this script
seeds one organization, runs the scenarios, prints a table and writes it to benchmarks/SCALE.md. It exits
non-zero when a fact does not hold. BENCH_SCALE_SECONDS sets the length of each load run (default 20).
"""

import os
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from benchmarks.results import command_version, machine_common, table  # noqa: E402
from benchmarks.scale import (  # noqa: E402
    Target,
    email_audit,
    kill_run,
    race,
    throttle,
    throughput,
    wait_for_outbox,
    wait_for_sessions_to_end,
)
from benchmarks.stack import Stack  # noqa: E402
from resources.models import Organization  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "SCALE.md"
SECONDS = float(os.environ.get("BENCH_SCALE_SECONDS", "20"))
CLIENTS = 8  # concurrent clients of the load runs (threads, one request at a time each)
LIMIT = 10  # PUBLIC_SUBMIT_RATE of the run, per minute
GUNICORN_WORKERS = 2
DRAIN_TIMEOUT = 600


def progress(message: str) -> None:
    print(f"[bench-scale {time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine() -> list[tuple[str, str]]:
    return [
        *machine_common(),
        ("Django", django.get_version()),
        ("PgBouncer", command_version(["pgbouncer", "--version"])),
        ("Redis", command_version(["redis-server", "--version"])),
    ]


def counts(counter) -> str:
    return ", ".join(f"{n} × {key}" for key, n in sorted(counter.items(), key=lambda item: -item[1]))


def by_server(counter) -> str:
    return " + ".join(f"{counter.get(index, 0)} on server {index + 1}" for index in range(2))


def build_rows(r: dict) -> list[tuple[str, str, str, str]]:
    """(scenario, measured, expected, verdict) rows."""
    a, b, c, d, audit, outbox = r["race"], r["throttle"], r["kill"], r["throughput"], r["audit"], r["outbox"]
    rows = []
    race_ok = (
        a["statuses"] == {201: 1, 409: 49}
        and set(a["codes"]) == {"BOOKING_CONFLICT"}
        and not a["server_errors"]
        and a["bookings_in_db"] == 1
    )
    per_server = Counter(server for (server, _), n in a["by_server"].items() for _ in range(n))
    rows.append(
        (
            "a. 50 concurrent public submits of one slot, alternating between the two servers",
            f"{counts(a['statuses'])}; the 409s' codes: {', '.join(sorted(a['codes']))}; {a['server_errors']} × 5xx; "
            f"requests: {by_server(per_server)}; "
            f"{a['bookings_in_db']} booking in the database",
            "exactly 1 × 201 and 49 × 409 BOOKING_CONFLICT, 0 × 5xx",
            "OK" if race_ok else "NO",
        )
    )
    throttle_ok = (
        b["accepted"] == b["limit"]
        and b["statuses"][429] == b["requests"] - b["limit"]
        and set(b["codes"]) == {"THROTTLED"}
    )
    rows.append(
        (
            f"b. Public submit throttle at {b['limit']}/minute: {b['requests']} submits from one client address, "
            "alternating between the servers",
            f"{b['accepted']} accepted ({by_server(b['accepted_by_server'])}), then "
            f"{b['statuses'][429]} × 429 ({by_server(b['throttled_by_server'])})",
            f"exactly {b['limit']} accepted in all (each worker's local memory would let up to "
            f"{b['local_memory_would_allow']} through)",
            "OK" if throttle_ok else "NO",
        )
    )
    local = r["throttle_local"]
    rows.append(
        (
            "b. The control: the same on two servers without Redis (CACHE_URL unset: each worker's local memory)",
            f"{local['accepted']} accepted ({by_server(local['accepted_by_server'])}), {local['statuses'][429]} × 429",
            f"more than {local['limit']}: the limit multiplied by the workers that happened to serve",
            "OK" if local["accepted"] > local["limit"] else "NO",
        )
    )
    kill_ok = not c["lost"] and not c["unexplained"] and not c["server_errors"]
    rows.append(
        (
            f"c. `kill -9` of app server 2 (master and workers) {c['killed_at']:.1f} s into a {SECONDS:.0f} s load run "
            f"over both servers ({CLIENTS} clients)",
            f"{counts(c['statuses'])}; {c['lost']} answered booking missing from the database; {c['cut']} requests "
            f"cut by the kill, {c['committed_unanswered']} of them committed; {c['server_errors']} × 5xx",
            "every 201 is in the database; a booking without a 201 only from a cut request; 0 × 5xx",
            "OK" if kill_ok else "NO",
        )
    )
    mail_ok = (
        audit["bookings"] > 0
        and not audit["bookings_without_their_emails"]
        and not audit["not_sent"]
        and not audit["ambiguous_rows"]
        and audit["sent_once"] == audit["notifications"]
        and not audit["stray_emails"]
        and not outbox["left"]
    )
    rows.append(
        (
            "c. Emails of every booking of the run (a-d), once the two db_workers drained the outbox",
            f"{audit['bookings']} bookings, {audit['bookings_without_their_emails']} without their emails; "
            f"{audit['notifications']} notifications ({counts(audit['kinds'])}), {audit['not_sent']} not SENT; "
            f"{audit['emails']} emails delivered: {audit['sent_once']} rows sent once, {audit['never_sent']} never, "
            f"{audit['sent_more_than_once']} more than once, {audit['stray_emails']} stray; drained "
            f"{outbox['seconds']:.1f} s after the last request",
            "every booking has its booker's and its admin's email; each row SENT and delivered exactly once",
            "OK" if mail_ok else "NO",
        )
    )
    one, two = d["one"], d["two"]

    def run_text(run: dict) -> str:
        return (
            f"{run['rps']:.1f} req/s (p50 {run['p50_ms']:.0f} ms, p95 {run['p95_ms']:.0f} ms; "
            f"{run['requests']} requests, {run['server_errors']} × 5xx)"
        )

    rows.append(
        (
            f"d. Submit throughput, {CLIENTS} clients for {SECONDS:.0f} s: one server, then two",
            f"one: {run_text(one)}; two: {run_text(two)}; two / one = {d['ratio']:.2f}",
            "shown, not asserted (see below)",
            "OK" if not one["server_errors"] and not two["server_errors"] else "NO",
        )
    )
    pool = r["pool"]
    rows.append(
        (
            "PgBouncer (transaction pooling) in the path of every app server and worker, at the end of the run",
            f"{pool['transactions']:,} transactions; {pool['clients']} client connections open, "
            f"{pool['servers']} server connections (pool size {pool['pool_size']})",
            "every transaction through PgBouncer, on at most the pool's server connections",
            "OK" if pool["transactions"] > 0 and 0 < pool["servers"] <= pool["pool_size"] else "NO",
        )
    )
    return rows


def report(results: dict, rows: list[tuple], started_at: datetime, seconds: float) -> str:
    described = "\n".join(f"| {k} | {v} |" for k, v in results["machine"])
    return f"""# Scale-out on one machine (`make bench-scale`)

Measured {started_at:%Y-%m-%d %H:%M} UTC in {seconds / 60:.1f} min; load average {results["load_start"]:.2f} at the
start, {results["load_end"]:.2f} at the end. Written by `benchmarks/run_scale.py`; the scenarios are
`benchmarks/scale.py`, the processes `benchmarks/stack.py`, and `tests/http/test_scale.py` asserts the same facts
with short runs.

| Machine | |
|---|---|
{described}

The set-up, every process started and stopped by the benchmark: two gunicorn app servers (the production
settings and `config/gunicorn.py`, {GUNICORN_WORKERS} sync workers each) on two ports; PgBouncer in transaction
pooling (a pool of 10 server connections) in front of PostgreSQL, with `DATABASE_POOLER=pgbouncer`; Redis (no
persistence) as `CACHE_URL`; two `manage.py db_worker`s sending the emails through a stand-in provider that writes
one file per message (`benchmarks/mailbox.py`). The client plays the load balancer: it says who the client is in
`X-Forwarded-For` (`NUM_PROXIES=1`), a different address per request except in the throttle scenario, and after
the kill sends to the server that still accepts connections.

{table(rows, header=("Scenario", "Measured", "Expected", "OK"))}

Reading the figures:

- a. The 49 losers are refused by PostgreSQL (the resources' row locks, backed by the exclusion constraint on
  reservations), whichever server they reached: nothing is coordinated between the servers.
- b. The counts are in Redis, shared by every worker of every server, so the limit is the configured one.
- c. The client sees the requests in flight on the killed server fail (connection reset); those whose transaction
  had committed are bookings like any other, with their emails. The rest rolled back when PgBouncer saw the
  client go. No request answered 201 is missing.
- d. Scale-out adds capacity when the second server brings CPU with it. Here both servers, PgBouncer,
  PostgreSQL, the workers and the client share {os.cpu_count()} cores (with other work on the machine): what
  the second server adds is mostly its workers filling the time the first one's wait for PostgreSQL (row
  locks, the commit's WAL flush), so the ratio says that spreading the load over servers costs nothing and
  that nothing serializes them, not how far more machines would go. On separate machines throughput grows
  with the servers until the database is the limit.
- PgBouncer: the transactions of every app server and worker ran on the few server connections it
  opened, which is what lets many servers share one PostgreSQL's `max_connections`.
"""


def on_term(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `with Stack`, which stops every process


def main() -> None:
    signal.signal(signal.SIGTERM, on_term)
    started_at, started = datetime.now(UTC), time.perf_counter()
    load_start = os.getloadavg()[0]
    assert connection.vendor == "postgresql", "make bench-scale needs PostgreSQL (DATABASE_URL=postgres://...)"
    assert not Organization.objects.exists(), "make bench-scale expects a fresh, migrated database"
    results: dict = {"machine": machine()}
    target = Target.seed()
    progress("starting Redis, PgBouncer, two gunicorns and two db_workers")
    with Stack(
        settings.DATABASES["default"], gunicorn_workers=GUNICORN_WORKERS, submit_rate=f"{LIMIT}/minute"
    ) as stack:
        progress(f"work files in {stack.dir}")
        progress("a. 50 concurrent submits of one slot")
        results["race"] = race(stack, target)
        progress("b. the throttle across servers")
        results["throttle"] = throttle(stack, target, LIMIT)
        progress(f"d. throughput, one server then two ({SECONDS:.0f} s each after a 2 s warm-up)")
        results["throughput"] = throughput(stack, target, seconds=SECONDS, clients=CLIENTS)
        progress(f"c. kill -9 of a server during a {SECONDS:.0f} s load run")
        results["kill"] = kill_run(stack, target, seconds=SECONDS, clients=CLIENTS)
        progress("waiting for the db_workers to drain the outbox")
        results["outbox"] = wait_for_outbox(DRAIN_TIMEOUT)
        results["audit"] = email_audit(stack, target)
        results["pool"] = stack.pool_figures()
    progress("stopped every process")
    left = wait_for_sessions_to_end()
    assert not left, f"{left} database sessions still open after the stack stopped"
    progress("b. the control: the throttle again, on servers without Redis (each worker's local memory)")
    database, rate = settings.DATABASES["default"], f"{LIMIT}/minute"
    with Stack(database, gunicorn_workers=GUNICORN_WORKERS, submit_rate=rate, redis=False, db_workers=0) as stack:
        results["throttle_local"] = throttle(stack, target, LIMIT)
    assert not wait_for_sessions_to_end(), "database sessions still open after the control stack stopped"
    results["load_start"], results["load_end"] = load_start, os.getloadavg()[0]
    rows = build_rows(results)
    RESULTS.write_text(report(results, rows, started_at, time.perf_counter() - started))
    print()
    print(table(rows, header=("Scenario", "Measured", "Expected", "OK")))
    print()
    print(f"Written to {RESULTS.relative_to(ROOT)} ({(time.perf_counter() - started) / 60:.1f} min).")
    if any(row[3] != "OK" for row in rows):
        sys.exit("bench-scale: a fact did not hold (rows marked NO above)")


if __name__ == "__main__":
    main()
