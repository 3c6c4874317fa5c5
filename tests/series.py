"""A weekly series for the series tests: 10 occurrences at 09:00 Europe/London, the first four before the
clocks go forward (GMT) and the other six after (BST), so every scoped change crosses a DST boundary."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from bookings.lifecycle.submit import booking_create
from bookings.models import BookingStatus
from events.models import Event, EventSeries, EventStatus
from events.services.saving import events_save
from events.services.scheduling import EventSpec
from tests.factories import EventSeriesFactory

LONDON = ZoneInfo("Europe/London")
UTC = ZoneInfo("UTC")
RULE = {"freq": "WEEKLY", "interval": 1, "count": 10}


def dst_start(year: int) -> date:
    """The last Sunday of March: the clocks go forward in London."""
    last = date(year, 3, 31)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def first_monday() -> date:
    """The Monday four weeks before the next spring clock change that is at least a month away."""
    today = timezone.now().astimezone(LONDON).date()
    year = today.year
    while dst_start(year) - timedelta(days=27) < today + timedelta(days=14):
        year += 1
    return dst_start(year) - timedelta(days=27)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


def weekly_times(count: int = 10, hour: int = 9, minutes: int = 60) -> list[tuple[datetime, datetime]]:
    starts = [local(first_monday() + timedelta(weeks=i), hour) for i in range(count)]
    return [(start, start + timedelta(minutes=minutes)) for start in starts]


def make_series(
    setup, *, resources=None, title: str = "Weekly sync", status: int = EventStatus.CONFIRMED, count: int = 10
) -> tuple[EventSeries, list[Event]]:
    """An EventSeries row and its occurrences (with their reservations) written by events_save."""
    series = EventSeriesFactory(organization=setup.org, timezone="Europe/London", rule=RULE)
    specs = [
        EventSpec(title=title, start=start, end=end, resource_ids=[r.pk for r in resources or [setup.room]])
        for start, end in weekly_times(count)
    ]
    return series, events_save(organization=setup.org, specs=specs, status=status, series=series)


def make_booked_series(setup, *, count: int = 10):
    """An approved booking of `count` weekly times whose events form one series (as approving a repeated
    request leaves them). Returns (booking, series, events in start order)."""
    result = booking_create(
        module=setup.module,
        actor=setup.staff,
        status=BookingStatus.APPROVED,
        contact={"name": "Ada Lovelace", "email": "ada@example.com"},
        events=[
            {"title": "Weekly sync", "start": s.isoformat(), "end": e.isoformat(), "resourceIds": [str(setup.room.pk)]}
            for s, e in weekly_times(count)
        ],
    )
    series = EventSeriesFactory(organization=setup.org, timezone="Europe/London", rule=RULE)
    Event.objects.filter(pk__in=[e.pk for e in result.events]).update(series=series)
    return result.booking, series, list(Event.objects.filter(series=series).order_by("start"))


def rows(series: EventSeries) -> list[tuple[datetime, datetime, str]]:
    """The series' occurrences as (start, end, title), in start order."""
    return list(Event.objects.filter(series=series).order_by("start").values_list("start", "end", "title"))


def wall(moment: datetime) -> str:
    """The London wall-clock time of a moment, "HH:MM"."""
    return f"{moment.astimezone(LONDON):%H:%M}"


def moved(before, indexes, start_to=(10, 30), end_to=(11, 30)):
    """`before` with the occurrences at `indexes` at the given local times of their own day."""
    out = list(before)
    for i in indexes:
        start, end, title = before[i]
        day = start.astimezone(LONDON).date()
        out[i] = (local(day, *start_to), local(day, *end_to), title)
    return out
