"""`make bench`: the application under gunicorn (2 workers, 127.0.0.1, PostgreSQL, config.settings_bench),
each figure next to a baseline measured in the same run, printed as one table and written with the
machine's description to benchmarks/RESULTS.md.

The Makefile target creates a fresh database and migrates it; this script seeds it (bulk inserts, fixed
random seed), starts gunicorn, measures, and always stops gunicorn:

1. resource availability for a month with 1,000 reservations in the table (staff API);
2. more seeding: 100 and 10,000 bookings with events in two organizations (the admin pages, the booking
   list), pending bookings to approve, and filler events up to 100,000 reservations in the table;
3. availability again with 100,000 reservations;
4. public submits (wrk) next to a view of the same server that inserts one row (benchmarks/views.py);
5. the booking list (GET /api/v1/bookings?returnEvents=true, paged) next to a plain values() dump;
6. the admin bookings list and week calendar at 100 and 10,000 bookings: time and query count;
7. a mixed load of 50 concurrent clients for 60 seconds: calendar reads, submits, staff approvals.

Query counts come from benchmarks/middleware.py (an X-Bench-Queries header), so every figure is measured
over HTTP on the real server with DEBUG off.
"""

import http.client
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings_bench"

import django  # noqa: E402

django.setup()

import random  # noqa: E402

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from knox.models import AuthToken  # noqa: E402

from benchmarks.views import ensure_baseline_table  # noqa: E402
from bookings.models import (  # noqa: E402
    Booking,
    BookingEvent,
    BookingModule,
    BookingStatus,
    FieldType,
    FormField,
    FormSection,
    ModuleResource,
    Portal,
)
from events.models import Event, EventStatus, Reservation  # noqa: E402
from resources.models import Membership, Organization, Resource, Role, Venue  # noqa: E402

SEED = 20261121
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
WRK_DIR = ROOT / "benchmarks" / "wrk"
WORKERS = 2
SUBMIT_SECONDS = int(os.environ.get("BENCH_SUBMIT_SECONDS", "20"))
SUBMIT_CONNECTIONS = 8
MIXED_SECONDS = int(os.environ.get("BENCH_MIXED_SECONDS", "60"))
MIXED_CONNECTIONS = 50
WRK_THREADS = 2
WRK_TIMEOUT = "10s"  # a request slower than this counts as an error (wrk's "timeout")
HOURS_PER_THREAD = 2000  # one wrk thread's stretch of free hours (x 10 resources = 20,000 submits)
APPROVALS_PER_THREAD = 2500
SMALL, LARGE = 100, 10_000
TABLE_SMALL, TABLE_LARGE = 1_000, 100_000
PAGE = 1000


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- seeding (bulk inserts, one random generator with a fixed seed) ------------------------------------


class Org:
    """An organization with one venue, `rooms` exclusive resources, a LIVE portal, a module offering them
    all (holding pending slots) and a manager with an API token."""

    def __init__(self, slug: str, rooms: int = 10, tz: str = "Europe/London"):
        self.org = Organization.objects.create(name=f"Bench {slug}", slug=f"bench-{slug}", timezone=tz)
        self.venue = Venue.objects.create(organization=self.org, name=f"Venue {slug}", timezone=tz)
        self.resources = [Resource.objects.create(venue=self.venue, name=f"Room {i:02}") for i in range(rooms)]
        self.portal = Portal.objects.create(organization=self.org, name=f"Portal {slug}", status="LIVE")
        self.user = get_user_model().objects.create_user(username=f"bench-{slug}", email=f"{slug}@bench.invalid")
        Membership.objects.create(user=self.user, organization=self.org, role=Role.MANAGER)
        self.module = BookingModule.objects.create(organization=self.org, name=f"Module {slug}", slug="rooms",
                                                   hold_pending_slots=True, admin_user=self.user)
        self.module.portals.add(self.portal)
        ModuleResource.objects.bulk_create([ModuleResource(module=self.module, resource=r) for r in self.resources])
        # One custom question, answered in every seeded request (answers are keyed by the field's id).
        self.chairs = FormField.objects.create(module=self.module, section=FormSection.EVENT, label="Chairs",
                                               type=FieldType.NUMBER, min_value=1, max_value=100)
        _, self.token = AuthToken.objects.create(user=self.user, expiry=None)


def bulk_bookings(org: Org, slots: list[tuple[Resource, datetime, datetime, bool]], rng: random.Random) -> list:
    """Bookings as a public submit leaves them (pending: a TENTATIVE hold) or approved (CONFIRMED), each
    with one requested time, its event and its reservation; `slots` are (resource, start, end, approved)."""
    bookings, booking_events, links, events, reservations = [], [], [], [], []
    for i, (resource, start, end, approved) in enumerate(slots):
        booking = Booking(organization=org.org, module=org.module, portal=org.portal, title=f"Booking {i}",
                          status=BookingStatus.APPROVED if approved else BookingStatus.PENDING,
                          contact_answers={"name": f"Booker {i}", "email": f"booker{i}@example.com"},
                          request_note="<p>Please set up chairs.</p>")
        event = Event(organization=org.org, title=booking.title, start=start, end=end,
                      status=EventStatus.CONFIRMED if approved else EventStatus.TENTATIVE)
        be = BookingEvent(booking=booking, title=booking.title, start=start, end=end, event=event,
                          answers={str(org.chairs.pk): rng.randint(1, 40)})
        bookings.append(booking)
        events.append(event)
        booking_events.append(be)
        links.append(BookingEvent.resources.through(bookingevent_id=be.pk, resource_id=resource.pk))
        reservations.append(Reservation(event=event, resource=resource, start=start, end=end))
    with transaction.atomic():
        Booking.objects.bulk_create(bookings, batch_size=2000)
        Event.objects.bulk_create(events, batch_size=2000)
        BookingEvent.objects.bulk_create(booking_events, batch_size=2000)
        BookingEvent.resources.through.objects.bulk_create(links, batch_size=2000)
        Reservation.objects.bulk_create(reservations, batch_size=2000)
    return bookings


def bulk_events(org: Org, slots: list[tuple[Resource, datetime, datetime]]) -> None:
    """Confirmed events with their reservations and no booking (staff-made or imported)."""
    events, reservations = [], []
    for i, (resource, start, end) in enumerate(slots):
        event = Event(organization=org.org, title=f"Event {i}", start=start, end=end, status=EventStatus.CONFIRMED)
        events.append(event)
        reservations.append(Reservation(event=event, resource=resource, start=start, end=end))
    with transaction.atomic():
        Event.objects.bulk_create(events, batch_size=5000)
        Reservation.objects.bulk_create(reservations, batch_size=5000)


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def week_slots(org: Org, monday: datetime, rng: random.Random) -> list:
    """100 requested times in one week: 10 rooms x (Monday-Friday at 09:00 and 13:00), mixed lengths."""
    slots = []
    for i in range(100):
        resource, j = org.resources[i % 10], i // 10
        start = monday + timedelta(days=j % 5, hours=9 + 4 * (j // 5))
        slots.append((resource, start, start + timedelta(hours=rng.choice([1, 2, 3])), rng.random() < 0.6))
    return slots


def seed_availability_org(month: datetime, rng: random.Random) -> tuple[Org, list[tuple]]:
    """1,000 reservations: the measured room has 4 a day during the month (124), the other 876 are on
    other rooms and at other times. Returns the org and the free stretches left for the filler."""
    org = Org("availability", tz="UTC")
    measured, others = org.resources[0], org.resources[1:]
    in_month = []
    for day in range(31):
        for hour in (8, 11, 14, 17):
            start = month + timedelta(days=day, hours=hour)
            in_month.append((measured, start, start + timedelta(minutes=rng.choice([60, 90, 120]))))
    rest = TABLE_SMALL - len(in_month)
    outside = [(measured, month - timedelta(hours=2 * (k + 1)), month - timedelta(hours=2 * k + 1))
               for k in range(rest // 8)]
    spread = []
    for k in range(rest - len(outside)):
        resource = others[k % len(others)]
        start = month - timedelta(days=60) + timedelta(hours=k // len(others))
        spread.append((resource, start, start + timedelta(minutes=rng.choice([30, 45, 60]))))
    bulk_events(org, in_month + outside + spread)
    return org, {"measured": measured, "others": others, "outside_before": len(outside),
                 "spread_per_room": -(-len(spread) // len(others))}


def seed_filler(org: Org, month: datetime, layout: dict, count: int, rng: random.Random) -> None:
    """Events on the other rooms and on the measured room outside the month, until `count` more."""
    measured, others = layout["measured"], layout["others"]
    on_measured = count // 10
    slots = []
    for k in range(on_measured):  # after the month (the month and the hours before it are taken)
        start = month + timedelta(days=40, hours=k)
        slots.append((measured, start, start + timedelta(minutes=rng.choice([30, 45, 60]))))
    first = layout["spread_per_room"] + 1
    for k in range(count - on_measured):
        resource = others[k % len(others)]
        start = month - timedelta(days=60) + timedelta(hours=first + k // len(others))
        slots.append((resource, start, start + timedelta(minutes=rng.choice([30, 45, 60]))))
    bulk_events(org, slots)


# --- the server and the clients ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.log_path = workdir / "gunicorn.log"
        self.process = None

    def start(self) -> None:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_bench"}
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--workers", str(WORKERS),
             "--bind", f"127.0.0.1:{self.port}", "--timeout", "60"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.log_path}\n{self.log_path.read_text()[-2000:]}")
            try:
                status, *_ = self.request("GET", "/bench/baseline")  # 405: the server answers
                if status == 405:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer within 60 s: see {self.log_path}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # gunicorn's graceful shutdown of its workers
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()

    def request(self, method: str, path: str, headers=None, body=None):
        """(status, seconds, queries, body) of one request on a new connection (gunicorn's sync workers
        close every connection)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            started = time.perf_counter()
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            content = response.read()
            elapsed = time.perf_counter() - started
        finally:
            conn.close()
        queries = response.getheader("X-Bench-Queries")
        return response.status, elapsed, int(queries) if queries else None, content

    def timed(self, path: str, runs: int, headers=None, warmup: int = 3) -> dict:
        for _ in range(warmup):
            status, *_ = self.request("GET", path, headers)
            assert status == 200, (path, status)
        samples, queries = [], set()
        for _ in range(runs):
            status, seconds, count, _ = self.request("GET", path, headers)
            assert status == 200, (path, status)
            samples.append(seconds)
            queries.add(count)
        return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
                "queries": sorted(queries)}

    def wrk(self, script: str, data: dict, *, connections: int, seconds: int, workdir: Path, path: str = "") -> dict:
        data_file = workdir / f"data-{data['region']}.lua"
        data_file.write_text("return " + lua(data) + "\n")
        env = {**os.environ, "BENCH_LUA_DATA": str(data_file), "BENCH_WRK_DIR": str(WRK_DIR), "BENCH_PATH": path}
        command = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", WRK_TIMEOUT,
                   "-s", str(WRK_DIR / script), f"http://127.0.0.1:{self.port}"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
        if done.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
        result = json.loads(line.removeprefix("BENCH_JSON "))
        result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
        result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
        answers = result["queries"].get("answers", 0)
        result["queries_per_request"] = result["queries"].get("total", 0) / answers if answers else float("nan")
        return result


def lua(value) -> str:
    """A Python value as a Lua literal (strings, numbers, lists, dicts with identifier keys)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # ASCII with \" and \\ escapes, which Lua reads alike
    if isinstance(value, list | tuple):
        return "{" + ",".join(lua(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# --- the measurements --------------------------------------------------------------------------------


def measure_availability(server: Server, org: Org, resource: Resource, month: datetime) -> dict:
    path = (f"/api/v1/resources/{resource.pk}/availability?start={iso(month)}"
            f"&end={iso(month + timedelta(days=31))}")
    _, _, _, body = server.request("GET", path, bearer(org.token))
    result = server.timed(path, runs=40, headers=bearer(org.token), warmup=5)
    result["busy"] = len(json.loads(body)["busy"])
    result["table"] = Reservation.objects.count()
    return result


def measure_booking_list(server: Server, org: Org, runs: int = 5) -> tuple[dict, dict]:
    headers = bearer(org.token)

    def page_through() -> tuple[float, int, int, int]:
        seconds = queries = pages = bookings = events = 0
        cursor = None
        while True:
            path = f"/api/v1/bookings?returnEvents=true&limit={PAGE}" + (f"&cursor={cursor}" if cursor else "")
            status, elapsed, count, content = server.request("GET", path, headers)
            assert status == 200, (status, content[:300])
            body = json.loads(content)
            seconds, queries, pages = seconds + elapsed, queries + count, pages + 1
            bookings, events = bookings + len(body["bookings"]), events + len(body["associatedEvents"])
            cursor = body["nextCursor"]
            if not cursor:
                return seconds, queries, pages, bookings, events

    page_through()  # warm-up
    passes = [page_through() for _ in range(runs)]
    _, _, _, bookings, events = passes[0]
    assert bookings == LARGE and events == LARGE, (bookings, events)
    api = {"median": statistics.median(p[0] for p in passes), "queries": passes[0][1], "pages": passes[0][2]}

    path = f"/bench/dump/bookings?org={org.org.pk}"
    body = json.loads(server.request("GET", path)[3])
    assert len(body["bookings"]) == LARGE and len(body["events"]) == LARGE
    dump = server.timed(path, runs=runs, warmup=1)
    return api, dump


def admin_session(user) -> dict:
    client = Client()
    client.force_login(user)
    return {"Cookie": f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"}


def measure_admin(server: Server, org: Org, monday: datetime, runs: int = 11) -> dict:
    cookie = admin_session(org.user)
    status, _, _, content = server.request("GET", "/admin/bookings/booking/", cookie)
    assert status == 200 and content.count(b"_selected_action") >= 50, (status, content[:500])  # a full page
    calendar = f"/admin/events/event/calendar/?venue={org.venue.pk}&week={monday.date().isoformat()}"
    status, _, _, content = server.request("GET", calendar, cookie)
    assert status == 200 and content.count(b"Booking ") >= SMALL, (status, content.count(b"Booking "))
    return {"list": server.timed("/admin/bookings/booking/", runs, cookie),
            "calendar": server.timed(calendar, runs, cookie)}


def submit_data(org: Org, region: int, base: datetime) -> dict:
    region_hours = WRK_THREADS * HOURS_PER_THREAD
    return {"region": region, "org": str(org.org.pk), "module": str(org.module.pk), "portal": str(org.portal.pk),
            "resources": [str(r.pk) for r in org.resources], "hours_per_thread": HOURS_PER_THREAD,
            "base_epoch": int((base + timedelta(hours=region * region_hours)).timestamp())}


# --- the report ----------------------------------------------------------------------------------------


def machine() -> list[tuple[str, str]]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
    os_release = Path("/etc/os-release").read_text() if Path("/etc/os-release").exists() else ""
    pretty = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', os_release, re.M)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    wrk_version = (wrk.stdout + wrk.stderr).split("\n")[0].strip()
    import gunicorn

    return [
        ("CPU", model.group(1).strip() if model else platform.processor() or platform.machine()),
        ("Cores (logical, seen by the OS)", str(os.cpu_count())),
        ("RAM", f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else "unknown"),
        ("OS", f"{pretty.group(1) if pretty else platform.system()} (kernel {platform.release()})"),
        ("Python", platform.python_version()),
        ("PostgreSQL", pg),
        ("Django / gunicorn", f"{django.get_version()} / {gunicorn.__version__}"),
        ("Load tool", wrk_version),
    ]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def queries_text(values: list) -> str:
    return "/".join(str(v) for v in values)


def table(rows: list[tuple]) -> str:
    header = ("Measure", "Figure", "Baseline (same run)", "Ratio", "Goal", "Met?")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def build_rows(r: dict) -> list[tuple]:
    sub, base = r["submit"], r["baseline"]
    submit_ratio = sub["rps"] / base["rps"]
    api, dump = r["list_api"], r["list_dump"]
    a1, a2 = r["avail_1k"], r["avail_100k"]
    avail_ratio = a2["median"] / a1["median"]
    rows = [
        ("Public submit, POST /api/v1/bookings/submit (wrk, "
         f"{SUBMIT_CONNECTIONS} connections, {SUBMIT_SECONDS} s)",
         f"{sub['rps']:.1f} req/s; p50 {sub['p50_us'] / 1000:.1f} ms, p95 {sub['p95_us'] / 1000:.1f} ms; "
         f"{sub['requests']} requests, {sub['errors']} errors; {sub['queries_per_request']:.1f} queries each",
         f"insert one row and return it: {base['rps']:.1f} req/s; p50 {base['p50_us'] / 1000:.1f} ms, "
         f"p95 {base['p95_us'] / 1000:.1f} ms; {base['errors']} errors; {base['queries_per_request']:.1f} queries each",
         f"{submit_ratio:.2f}", "≥ 0.35 of the baseline's req/s",
         "yes" if submit_ratio >= 0.35 and sub["errors"] == 0 else "NO"),
        (f"Booking list, {LARGE:,} bookings with events, GET /api/v1/bookings?returnEvents=true "
         f"(pages of {PAGE:,})",
         f"{api['median']:.2f} s ({LARGE / api['median']:,.0f} bookings/s); {api['pages']} pages, "
         f"{api['queries']} queries in all",
         f"plain values() dump as JSON (one request): {dump['median']:.2f} s "
         f"({LARGE / dump['median']:,.0f} bookings/s), {queries_text(dump['queries'])} queries",
         f"{dump['median'] / api['median']:.2f} (API speed / dump speed)", "report", "—"),
        (f"Resource availability, one month ({a1['busy']} busy blocks), "
         "GET /api/v1/resources/{id}/availability",
         f"{a2['table']:,} reservations in the table: {ms(a2['median'])} median, "
         f"{queries_text(a2['queries'])} queries",
         f"{a1['table']:,} reservations: {ms(a1['median'])} median, {queries_text(a1['queries'])} queries",
         f"{avail_ratio:.2f}", "≤ 1.5", "yes" if avail_ratio <= 1.5 else "NO"),
    ]
    for key, label in (("list", "Admin bookings list, /admin/bookings/booking/"),
                       ("calendar", "Admin week calendar, /admin/events/event/calendar/")):
        small, large = r["admin_small"][key], r["admin_large"][key]
        same = small["queries"] == large["queries"] and len(small["queries"]) == 1
        rows.append((
            f"{label} ({LARGE:,} vs {SMALL} bookings)",
            f"{LARGE:,} bookings: {ms(large['median'])} median, {queries_text(large['queries'])} queries",
            f"{SMALL} bookings: {ms(small['median'])} median, {queries_text(small['queries'])} queries",
            f"{large['median'] / small['median']:.2f}", "same query count at 100 and 10,000",
            "yes (equal)" if same else "NO (different)"))
    mixed = r["mixed"]
    sent = mixed["sent"]
    rows.append((
        f"Mixed load, {MIXED_CONNECTIONS} concurrent clients for {MIXED_SECONDS} s (wrk)",
        f"{mixed['requests']:,} requests ({mixed['rps']:.1f} req/s): {mixed['errors']} errors, "
        f"p50 {mixed['p50_us'] / 1000:.0f} ms, p95 {mixed['p95_us'] / 1000:.0f} ms",
        "—", "—", "0 errors", "yes" if mixed["errors"] == 0 else "NO"))
    r["mixed_mix"] = ", ".join(f"{k} {v:,}" for k, v in sorted(sent.items()))
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

Measured {started.strftime('%Y-%m-%d %H:%M UTC')} in {seconds / 60:.1f} minutes by `make bench`
(benchmarks/run.py; seed `random.Random({SEED})`).

## Machine

{described}
- Load average (1 min) at the start / end: {r['load_start']:.2f} / {r['load_end']:.2f}

## Figures

{table(rows)}

Ratios: submit = its req/s over the baseline's; booking list = the API's bookings/s over the dump's;
availability = the median time with {TABLE_LARGE:,} reservations over the one with {TABLE_SMALL:,};
admin pages = the time at {LARGE:,} bookings over the time at {SMALL}.

Errors seen: submit {errors_detail(r['submit'])}; baseline {errors_detail(r['baseline'])}; mixed load
{errors_detail(r['mixed'])}.

Mixed load, requests sent by kind: {r['mixed_mix']}.

## How it was measured

- gunicorn {WORKERS} sync workers on 127.0.0.1 (`config.settings_bench`: production settings, DEBUG off,
  tasks on `django_tasks_db.DatabaseBackend` so a request only writes the outbox and task rows and no
  worker runs; throttles at {settings.BENCH_THROTTLE_RATE} per client, since wrk sends everything from
  one address; CONN_MAX_AGE={settings.DATABASES['default']['CONN_MAX_AGE']}, cache
  `{settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}`), PostgreSQL on the same machine, which
  also runs wrk ({WRK_THREADS} threads, `--timeout {WRK_TIMEOUT}`).
- Public submit and baseline: wrk, {SUBMIT_CONNECTIONS} connections for {SUBMIT_SECONDS} s each after a
  5 s warm-up, the same JSON body. Every submit asks for a different free half hour (10 rooms in turn, each
  wrk thread in its own stretch of time), with a different booker email, on a module that holds pending
  slots (so each creates the booking, a TENTATIVE event and its reservation, the contact, the log and the
  two notifications). The baseline (`/bench/baseline`, only in `config.urls_bench`) parses the body,
  inserts one row into a bench-only table in a transaction and returns it as JSON.
- Booking list: {LARGE:,} bookings (60 % approved with a confirmed event, 40 % pending with a hold), paged
  with `limit={PAGE}` and `nextCursor` by the organization's manager (knox token); the time is the sum over
  the pages, median of 5 passes. The dump (`/bench/dump/bookings`, bench-only, same server, no
  authentication) returns the same rows as plain `values()` serialized with `json.dumps`, in one request.
- Availability: the staff endpoint for one room over 31 days ({r['avail_1k']['busy']} busy blocks both
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

        progress(f"seeding {SMALL} and {LARGE:,} bookings, pending bookings to approve, "
                 f"filler up to {TABLE_LARGE:,} reservations")
        small, large, load = Org("small"), Org("large"), Org("load")
        bulk_bookings(small, week_slots(small, monday, random.Random(SEED)), rng)
        large_rng = random.Random(SEED)  # its first week is the small org's week, booking for booking
        bulk_bookings(large, [s for w in range(LARGE // SMALL)
                              for s in week_slots(large, monday + timedelta(weeks=w), large_rng)], rng)
        pending = []
        for t in range(WRK_THREADS):
            slots = []
            for k in range(APPROVALS_PER_THREAD):
                resource = load.resources[k % len(load.resources)]
                start = load_base + timedelta(hours=t * HOURS_PER_THREAD + k // len(load.resources))
                slots.append((resource, start, start + timedelta(minutes=30), False))
            pending.append(bulk_bookings(load, slots, rng))
        seed_filler(avail_org, month, layout, TABLE_LARGE - Reservation.objects.count(), rng)
        assert Reservation.objects.count() == TABLE_LARGE
        analyze()

        progress("availability with 100,000 reservations")
        results["avail_100k"] = measure_availability(server, avail_org, layout["measured"], month)
        assert results["avail_100k"]["busy"] == results["avail_1k"]["busy"]

        stamps = dict(Booking.objects.filter(organization=load.org).values_list("pk", "updated_at"))
        approvals = [[[str(b.pk), stamps[b.pk].isoformat()] for b in chunk] for chunk in pending]

        progress(f"public submit vs baseline insert (wrk, {SUBMIT_CONNECTIONS} connections, "
                 f"5 s warm-up + {SUBMIT_SECONDS} s each)")
        submit = "/api/v1/bookings/submit"
        server.wrk("submit.lua", submit_data(load, 1, load_base), connections=SUBMIT_CONNECTIONS, seconds=5,
                   workdir=workdir, path=submit)
        results["submit"] = server.wrk("submit.lua", submit_data(load, 2, load_base),
                                       connections=SUBMIT_CONNECTIONS, seconds=SUBMIT_SECONDS, workdir=workdir,
                                       path=submit)
        server.wrk("submit.lua", submit_data(load, 3, load_base), connections=SUBMIT_CONNECTIONS, seconds=5,
                   workdir=workdir, path="/bench/baseline")
        results["baseline"] = server.wrk("submit.lua", submit_data(load, 4, load_base),
                                         connections=SUBMIT_CONNECTIONS, seconds=SUBMIT_SECONDS, workdir=workdir,
                                         path="/bench/baseline")

        progress(f"booking list of {LARGE:,} vs plain dump")
        results["list_api"], results["list_dump"] = measure_booking_list(server, large)

        progress("admin bookings list and calendar at 100 and 10,000 bookings")
        results["admin_small"] = measure_admin(server, small, monday)
        results["admin_large"] = measure_admin(server, large, monday)

        progress(f"mixed load: {MIXED_CONNECTIONS} clients for {MIXED_SECONDS} s")
        week_day = (load_base + timedelta(days=1)).date().isoformat()
        room = load.resources[0]
        mixed = {
            **submit_data(load, 5, load_base), "token": load.token, "approvals": approvals,
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
        results["mixed"] = server.wrk("mixed.lua", mixed, connections=MIXED_CONNECTIONS, seconds=MIXED_SECONDS,
                                      workdir=workdir)
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
    print(f"Mixed load, requests sent by kind: {results['mixed_mix']}; approved bookings in the database: "
          f"{results['mixed']['approved_in_db']:,}")
    print(f"Written to {RESULTS.relative_to(ROOT)} ({(time.perf_counter() - started) / 60:.1f} min).")


if __name__ == "__main__":
    main()
