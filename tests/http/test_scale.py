"""Scale-out (docs/architecture.md#scheduling-guarantees, docs/DEPLOYMENT.md#9-scaling-out): two gunicorn app
servers, PgBouncer in transaction pooling, Redis as the cache and two db_workers, started by the test on the test
database (benchmarks/stack.py), driven over HTTP by the scenarios of `make bench-scale` (benchmarks/scale.py)
with short runs. The app servers share nothing but PostgreSQL and Redis, so what holds here holds for any number
of them.

PostgreSQL only; Debian's pgbouncer and redis-server must be installed (the tests skip without them, unless
ALLOT_REQUIRE_PGBOUNCER=1, which CI sets: there a missing program fails the run).
"""

import os

import pytest
from django.db import connection

from benchmarks.scale import (
    Target,
    email_audit,
    kill_run,
    race,
    throttle,
    throughput,
    wait_for_outbox,
    wait_for_sessions_to_end,
)
from benchmarks.stack import Stack, missing_programs
from tests.conftest import postgres_only

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]

LIMIT = 5  # PUBLIC_SUBMIT_RATE of the app servers, per minute
DRAIN_TIMEOUT = 120


def require_programs() -> None:
    missing = missing_programs()
    if missing:
        message = f"needs Debian's {' and '.join(missing)} (make bench-scale installs them)"
        if os.environ.get("ALLOT_REQUIRE_PGBOUNCER"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def stack(tmp_path):
    """A stack per test: each test's database is flushed afterwards, which gives the content types new
    ids, and a running app server would keep the old ones in its cache."""
    require_programs()
    with Stack(connection.settings_dict, submit_rate=f"{LIMIT}/minute", directory=tmp_path) as running:
        yield running
    # The test database is flushed after each test and dropped at the end: no session may linger.
    assert not wait_for_sessions_to_end(), "database sessions still open after the stack stopped"


@pytest.fixture
def target(stack):
    return Target.seed()


def assert_every_email_sent_once(stack, target):
    outbox = wait_for_outbox(DRAIN_TIMEOUT)
    assert not outbox["left"], f"{outbox['left']} notifications still unsent after {DRAIN_TIMEOUT} s"
    audit = email_audit(stack, target)
    assert audit["bookings"] > 0, audit
    assert audit["bookings_without_their_emails"] == 0, audit
    assert audit["not_sent"] == 0, audit
    assert audit["ambiguous_rows"] == 0, audit
    assert audit["sent_once"] == audit["notifications"], audit
    assert audit["stray_emails"] == 0, audit
    return audit


def test_fifty_concurrent_submits_of_one_slot_over_two_servers_give_one_booking(stack, target):
    result = race(stack, target, clients=50)

    assert result["server_errors"] == 0, result
    assert result["statuses"] == {201: 1, 409: 49}, (result, stack.logs())
    assert set(result["codes"]) == {"BOOKING_CONFLICT"}, result
    # Both servers took part: the conflict was found in the database, not inside one server.
    assert {server for server, _ in result["by_server"]} == {0, 1}, result
    assert result["bookings_in_db"] == 1, result
    assert_every_email_sent_once(stack, target)
    # Every server and worker went through PgBouncer, on no more server connections than its pool.
    pool = stack.pool_figures()
    assert pool["transactions"] > 50, pool
    assert 0 < pool["servers"] <= pool["pool_size"], pool


def test_the_public_submit_throttle_counts_across_both_servers(stack, target):
    result = throttle(stack, target, LIMIT, requests=3 * LIMIT)

    # With each gunicorn worker's own memory, up to 2 servers x 2 workers x LIMIT would pass.
    assert result["accepted"] == LIMIT, result
    assert result["statuses"] == {201: LIMIT, 429: 2 * LIMIT}, result
    assert set(result["codes"]) == {"THROTTLED"}, result
    assert result["first_throttled"] == LIMIT, result
    assert set(result["accepted_by_server"]) == {0, 1}, result
    assert set(result["throttled_by_server"]) == {0, 1}, result


def test_without_redis_each_worker_counts_on_its_own(tmp_path):
    """The control of the test above: the same requests against servers with the default cache (each
    worker's local memory) get more than the limit through, so the test above can fail."""
    require_programs()
    rate = f"{LIMIT}/minute"
    with Stack(connection.settings_dict, submit_rate=rate, directory=tmp_path, redis=False, db_workers=0) as stack:
        result = throttle(stack, Target.seed(), LIMIT, requests=3 * LIMIT)
    assert wait_for_sessions_to_end() == 0

    # 15 requests alternating: each server sees at least 7, and each of its workers lets 5 through.
    assert result["accepted"] >= 2 * LIMIT, result


def test_submit_throughput_with_two_servers_next_to_one(stack, target):
    result = throughput(stack, target, seconds=3, clients=6, warmup=1)

    for run in (result["one"], result["two"]):
        assert run["requests"] > 0, result
        assert run["statuses"] == {201: run["requests"]}, result
    # The ratio is reported (make bench-scale), not asserted: the servers share this machine's cores.
    print(f"submits/s: one server {result['one']['rps']:.1f}, two {result['two']['rps']:.1f}")
    assert_every_email_sent_once(stack, target)


def test_an_app_server_killed_mid_load_loses_no_booking_and_every_email_is_sent_once(stack, target):
    result = kill_run(stack, target, seconds=6, clients=6, victim=1)

    assert not stack.server_alive(1)
    assert result["server_errors"] == 0, result
    assert result["created"] > 0, result
    assert result["lost"] == 0, result  # every 201 is a booking in the database
    assert result["unexplained"] == 0, result  # a booking without a 201 only from a request the kill cut
    # After the kill the surviving server went on taking bookings (server 1's last answers may still be
    # read after the kill: they were in the socket's buffer).
    assert result["created_after_kill_by_server"][0] > 0, result
    audit = assert_every_email_sent_once(stack, target)
    assert audit["bookings"] == result["created"] + result["committed_unanswered"], (audit, result)
