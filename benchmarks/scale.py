"""The scale-out scenarios, over HTTP against the processes of benchmarks/stack.py (two app servers behind
no balancer but this client, PgBouncer, Redis, two db_workers): used by `make bench-scale`
(benchmarks/run_scale.py, longer runs, a table and benchmarks/SCALE.md) and by tests/http/test_scale.py
(short runs, the same facts asserted).

Only public behaviour is relied on, so the scenarios keep working while the submit path and the outbox
change: the public submit API and its error body, the Booking rows it creates, the Notification rows'
recipients, status and object_id, and what the email provider (benchmarks/mailbox.py) was asked to deliver.

a. race: 50 submits of one slot released together, alternating between the servers;
b. throttle: one client address over both servers against a low PUBLIC_SUBMIT_RATE;
c. kill: a load run over both servers, one of them `kill -9`'d 40 % of the way;
d. throughput: submits per second with one server, then with two;
and the audit after the workers drain: every committed booking has its emails, each sent exactly once.
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection

from benchmarks.mailbox import read_mailbox
from benchmarks.seed import Org
from benchmarks.stack import APP_NAME, Stack
from bookings.models import Booking
from notifications.models import Notification, NotificationStatus

SUBMIT = "/api/v1/bookings/submit"
HTTP_TIMEOUT = 60
# Request numbers, unique in this process: each gives a free slot, a title, a booker and a client address.
_numbers = itertools.count(1)


def number() -> int:
    return next(_numbers)


def title(n: int) -> str:
    return f"Scale request {n}"


TITLE_AT_END = re.compile(r"(Scale request \d+)$")  # an email's subject ends with its booking's title


def booker(n: int) -> str:
    return f"booker-{n}@example.com"


def client_ip(n: int) -> str:
    """The address the balancer (this client) reports in X-Forwarded-For: one per request, so the
    throttle (per client address) never limits a load run, unless a scenario means it to."""
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@dataclass
class Target:
    """The seeded organization (benchmarks.seed.Org: 10 rooms, a live portal, a module that holds
    pending slots) and the first hour of its free stretch of time."""

    org: Org
    base: datetime

    @classmethod
    def seed(cls) -> Target:
        today = datetime.now(UTC).date()
        base = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=14)
        return cls(Org(f"scale-{int(time.time() * 1000)}"), base)

    def body(self, n: int, slot: int | None = None) -> bytes:
        """A public submit of request n for slot `slot` (by default its own: rooms in turn, an hour apart,
        so two requests never compete unless they share a slot)."""
        slot = n if slot is None else slot
        resources = self.org.resources
        start = self.base + timedelta(hours=slot // len(resources))
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        return json.dumps(
            {
                "submission": True,
                "orgId": str(self.org.org.pk),
                "bookingModuleId": str(self.org.module.pk),
                "portalId": str(self.org.portal.pk),
                "contact": {"name": f"Booker {n}", "email": booker(n)},
                "event": {
                    "title": title(n),
                    "start": start.strftime(fmt),
                    "end": (start + timedelta(minutes=30)).strftime(fmt),
                    "resourceIds": [str(resources[slot % len(resources)].pk)],
                },
            }
        ).encode()


@dataclass
class Reply:
    n: int
    server: int
    status: int | None  # None: no HTTP answer (see `error`)
    seconds: float
    booking_id: str | None = None
    error: str = ""  # "refused": never reached a server; anything else: the outcome is unknown
    codes: tuple[str, ...] = ()  # the error body's codes (docs/architecture.md#http-api-conventions)
    finished: float = 0.0  # seconds into a load run when the answer came


def _headers(ip: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Forwarded-For": ip}


def _read(conn: http.client.HTTPConnection, n: int, server: int, started: float) -> Reply:
    response = conn.getresponse()
    content = response.read()
    reply = Reply(n, server, response.status, time.perf_counter() - started)
    if response.status == 201:
        reply.booking_id = json.loads(content)["booking"]["id"]
    elif 400 <= response.status < 500:
        reply.codes = tuple(error["code"] for error in json.loads(content).get("errors", []))
    return reply


def post(stack: Stack, server: int, target: Target, n: int, *, slot: int | None = None, ip: str = "") -> Reply:
    """One public submit on a new connection (gunicorn's sync workers close each one)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", stack.server_ports[server], timeout=HTTP_TIMEOUT)
    try:
        conn.request("POST", SUBMIT, body=target.body(n, slot), headers=_headers(ip or client_ip(n)))
        return _read(conn, n, server, started)
    except ConnectionRefusedError:
        return Reply(n, server, None, time.perf_counter() - started, error="refused")
    except (OSError, http.client.HTTPException) as exc:
        return Reply(n, server, None, time.perf_counter() - started, error=type(exc).__name__)
    finally:
        conn.close()


def statuses(replies: list[Reply]) -> Counter:
    return Counter(r.status if r.status is not None else r.error for r in replies)


def server_errors(replies: list[Reply]) -> int:
    return sum(1 for r in replies if r.status is not None and r.status >= 500)


# --- a. fifty submits for one slot --------------------------------------------------------------------


def race(stack: Stack, target: Target, clients: int = 50) -> dict:
    """`clients` submits of the same slot by different bookers, alternating between the servers, each
    connected first and all sent together: one 201, the rest 409 BOOKING_CONFLICT, no 5xx."""
    numbers = [number() for _ in range(clients)]
    slot = numbers[0]
    barrier = threading.Barrier(clients)
    replies: list[Reply | None] = [None] * clients

    def run(i: int) -> None:
        n, server = numbers[i], i % stack.server_count
        conn = http.client.HTTPConnection("127.0.0.1", stack.server_ports[server], timeout=HTTP_TIMEOUT)
        try:
            conn.connect()
            barrier.wait(timeout=30)
            started = time.perf_counter()
            conn.request("POST", SUBMIT, body=target.body(n, slot), headers=_headers(client_ip(n)))
            replies[i] = _read(conn, n, server, started)
        except (OSError, http.client.HTTPException, threading.BrokenBarrierError) as exc:
            replies[i] = Reply(n, server, None, 0.0, error=type(exc).__name__)
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=HTTP_TIMEOUT + 30)
    done = [r for r in replies if r is not None]
    winners = [r.booking_id for r in done if r.status == 201]
    in_db = Booking.objects.filter(title__in=[title(n) for n in numbers]).count()
    return {
        "statuses": statuses(done),
        "codes": Counter(code for r in done for code in r.codes),
        "by_server": Counter((r.server, r.status) for r in done),
        "server_errors": server_errors(done),
        "unanswered": clients - len(done),
        "winners": winners,
        "bookings_in_db": in_db,
    }


# --- b. the throttle counts across servers -------------------------------------------------------------


def throttle(stack: Stack, target: Target, limit: int, requests: int | None = None) -> dict:
    """`requests` submits (each for a free slot) from one client address, one after another, alternating
    between the servers: with the counters in Redis exactly `limit` pass, wherever they land; with each
    gunicorn worker's local memory it would be up to servers x workers x limit."""
    requests = requests or 3 * limit
    ip = client_ip(number())
    replies = [post(stack, i % stack.server_count, target, number(), ip=ip) for i in range(requests)]
    accepted = [r for r in replies if r.status == 201]
    return {
        "limit": limit,
        "requests": requests,
        "statuses": statuses(replies),
        "codes": Counter(code for r in replies for code in r.codes),
        "accepted": len(accepted),
        "accepted_by_server": Counter(r.server for r in accepted),
        "throttled_by_server": Counter(r.server for r in replies if r.status == 429),
        "first_throttled": next((i for i, r in enumerate(replies) if r.status == 429), None),
        "local_memory_would_allow": stack.server_count * stack.gunicorn_workers * limit,
    }


# --- c and d. load runs -----------------------------------------------------------------------------------


@dataclass
class Load:
    replies: list[Reply] = field(default_factory=list)
    seconds: float = 0.0
    killed_at: float | None = None

    @property
    def created(self) -> list[Reply]:
        return [r for r in self.replies if r.status == 201]

    def summary(self) -> dict:
        latencies = sorted(r.seconds for r in self.created)
        return {
            "requests": len(self.replies),
            "statuses": statuses(self.replies),
            "server_errors": server_errors(self.replies),
            "rps": len(self.created) / self.seconds if self.seconds else 0.0,
            "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
            "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan"),
        }


def load(
    stack: Stack,
    target: Target,
    *,
    seconds: float,
    clients: int,
    servers: list[int],
    kill: tuple[int, float] | None = None,
) -> Load:
    """`clients` threads submitting free slots back to back for `seconds`, spread over `servers` in
    turn. `kill=(server, after)` kills that server (`kill -9`) `after` seconds in; from then on the
    clients, like a load balancer's health check, send to the servers that still accept connections."""
    result, lock, up = Load(), threading.Lock(), list(servers)
    started = time.perf_counter()
    deadline = started + seconds

    def client() -> None:
        while time.perf_counter() < deadline:
            n = number()
            with lock:
                server = up[n % len(up)]
            reply = post(stack, server, target, n)
            reply.finished = time.perf_counter() - started
            with lock:
                result.replies.append(reply)
                if reply.error == "refused" and server in up and len(up) > 1:
                    up.remove(server)

    def killer() -> None:
        index, after = kill  # type: ignore[misc]
        time.sleep(after)
        stack.kill_server(index)
        result.killed_at = time.perf_counter() - started

    threads = [threading.Thread(target=client) for _ in range(clients)]
    if kill:
        threads.append(threading.Thread(target=killer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def throughput(stack: Stack, target: Target, *, seconds: float, clients: int, warmup: float = 2.0) -> dict:
    """Submits per second (201s) with the first server only, then with both, the same clients."""
    runs = {}
    for label, servers in (("one", [0]), ("two", list(range(stack.server_count)))):
        load(stack, target, seconds=warmup, clients=clients, servers=servers)
        runs[label] = load(stack, target, seconds=seconds, clients=clients, servers=servers).summary()
    runs["ratio"] = runs["two"]["rps"] / runs["one"]["rps"] if runs["one"]["rps"] else float("nan")
    return runs


def kill_run(stack: Stack, target: Target, *, seconds: float, clients: int, victim: int = 1) -> dict:
    """A load run over both servers with `victim` killed (`kill -9`) at 40 % of it. Every 201 must be a
    booking in the database; a booking without a 201 may only come from a request whose connection the
    kill cut (committed, but the answer was lost with the server)."""
    servers = list(range(stack.server_count))
    run = load(stack, target, seconds=seconds, clients=clients, servers=servers, kill=(victim, 0.4 * seconds))
    created = {r.booking_id for r in run.created}
    by_title = {title(r.n): r for r in run.replies}
    rows = list(Booking.objects.filter(title__in=list(by_title)).values_list("pk", "title"))
    in_db = {str(pk) for pk, _ in rows}
    unanswered = [by_title[t] for pk, t in rows if str(pk) not in created]
    return {
        **run.summary(),
        "killed_at": run.killed_at,
        "created": len(created),
        "lost": len(created - in_db),  # a 201 whose booking is not in the database
        "cut": sum(1 for r in run.replies if r.status is None and r.error != "refused"),
        "committed_unanswered": len(unanswered),
        # a booking whose request was answered with something else than 201 (or never reached a server)
        "unexplained": sum(1 for r in unanswered if r.status is not None or r.error == "refused"),
        "created_after_kill_by_server": Counter(
            r.server for r in run.created if run.killed_at is not None and r.finished > run.killed_at
        ),
    }


# --- after the workers drain: every email of every booking, once ---------------------------------------


def wait_for_outbox(timeout: float) -> dict:
    """Wait until no Notification is left to send (every row SENT or FAILED); how long it took."""
    started = time.perf_counter()
    while True:
        pending = Notification.objects.exclude(status__in=[NotificationStatus.SENT, NotificationStatus.FAILED])
        left = pending.count()
        if not left or time.perf_counter() - started > timeout:
            return {"left": left, "seconds": time.perf_counter() - started}
        time.sleep(0.25)


def email_audit(stack: Stack, target: Target) -> dict:
    """Every booking of the target has an email to its booker and one to the module's admin, every
    Notification row is SENT, and the provider was asked exactly once for each row; no message was
    delivered that no row asked for.

    A message is matched to its row by recipients and booking: the row names its booking (object_id), the
    message's subject ends with the booking's title, unique per request. Neither the row's subject nor the
    moment it is rendered matters, so the audit holds however the outbox renders its emails."""
    org = target.org.org
    titles = {str(pk): t for pk, t in Booking.objects.filter(organization=org).values_list("pk", "title")}
    rows = list(Notification.objects.filter(organization=org).values_list("object_id", "kind", "recipients", "status"))
    keys = Counter((tuple(sorted(recipients)), titles.get(str(object_id))) for object_id, _, recipients, _ in rows)
    mails: Counter = Counter()
    for message in read_mailbox(stack.mailbox):
        found = TITLE_AT_END.search(message["subject"])
        mails[(tuple(sorted(message["to"])), found[1] if found else None)] += 1
    sends = Counter(mails[key] for key in keys.elements())
    per_booking: dict[str, set[str]] = {}
    for object_id, _, recipients, _ in rows:
        per_booking.setdefault(str(object_id), set()).update(recipients)
    admin = target.org.user.email
    without = [
        pk
        for pk, booking_title in titles.items()
        if not {admin, booker(int(booking_title.rsplit(" ", 1)[1]))} <= per_booking.get(pk, set())
    ]
    return {
        "bookings": len(titles),
        "bookings_without_their_emails": len(without),
        "notifications": len(rows),
        "kinds": Counter(kind for _, kind, _, _ in rows),
        "not_sent": sum(1 for *_, status in rows if status != NotificationStatus.SENT),
        # Two rows of one booking to the same recipients could not be told apart by their messages.
        "ambiguous_rows": sum(c for c in keys.values() if c > 1),
        "emails": sum(mails.values()),
        "sent_once": sends[1],
        "never_sent": sends[0],
        "sent_more_than_once": sum(c for times, c in sends.items() if times > 1),
        "stray_emails": sum(c for key, c in mails.items() if key not in keys),
    }


def wait_for_sessions_to_end(timeout: float = 15) -> int:
    """After Stack.stop(): the database sessions PgBouncer held (named by the clients' application_name)
    close with it; how many are left."""
    deadline = time.monotonic() + timeout
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
                [APP_NAME],
            )
            left = cursor.fetchone()[0]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)
