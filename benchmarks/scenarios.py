"""The measurements of `make bench` (benchmarks/run.py): availability, the booking list next to its dump,
the admin pages, and the data of the submit and mixed wrk scenarios."""

import json
import statistics
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.test import Client

from benchmarks.parameters import HOURS_PER_THREAD, LARGE, PAGE, SMALL, WRK_THREADS
from benchmarks.seed import Org
from benchmarks.server import Server, bearer
from events.models import Reservation
from resources.models import Resource


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def measure_availability(server: Server, org: Org, resource: Resource, month: datetime) -> dict:
    path = f"/api/v1/resources/{resource.pk}/availability?start={iso(month)}&end={iso(month + timedelta(days=31))}"
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

    path = f"/bench/dump/bookings?org={org.org.pk}"
    page_through()  # warm-up
    body = json.loads(server.request("GET", path)[3])
    assert len(body["bookings"]) == LARGE and len(body["events"]) == LARGE
    passes, dumps, dump_queries = [], [], set()
    for _ in range(runs):  # alternated, so that a change in the machine's load weighs on both alike
        passes.append(page_through())
        status, seconds, count, _ = server.request("GET", path)
        assert status == 200, (path, status)
        dumps.append(seconds)
        dump_queries.add(count)
    _, _, _, bookings, events = passes[0]
    assert bookings == LARGE and events == LARGE, (bookings, events)
    api = {"median": statistics.median(p[0] for p in passes), "queries": passes[0][1], "pages": passes[0][2]}
    dump = {"median": statistics.median(dumps), "min": min(dumps), "max": max(dumps), "queries": sorted(dump_queries)}
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
    return {
        "list": server.timed("/admin/bookings/booking/", runs, cookie),
        "calendar": server.timed(calendar, runs, cookie),
    }


def submit_data(org: Org, region: int, base: datetime) -> dict:
    region_hours = WRK_THREADS * HOURS_PER_THREAD
    return {
        "region": region,
        "org": str(org.org.pk),
        "module": str(org.module.pk),
        "portal": str(org.portal.pk),
        "resources": [str(r.pk) for r in org.resources],
        "hours_per_thread": HOURS_PER_THREAD,
        "base_epoch": int((base + timedelta(hours=region * region_hours)).timestamp()),
    }
