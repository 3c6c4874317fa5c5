"""Reads with logic for events: overlaps, closures, availability."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.apps import apps
from django.contrib.postgres.fields import DateTimeRangeField
from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.db.models import Func, OuterRef, QuerySet, Subquery, UUIDField
from django.utils import timezone

from core.db import in_values, timestamp_from_text, timestamp_text
from core.time import iso, local_times
from resources.config_cache import cached
from resources.models import Closure, Organization, Resource, Venue

from .models import Event, EventStatus, Reservation
from .rules import shift_years


class _Span(Func):
    """`tstzrange(start, end)`, half-open: the expression of the GiST index in migration 0004."""

    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


def reservations_overlapping(
    *, resource_ids: Iterable[UUID], start: datetime, end: datetime, exclude_event_ids: Iterable[UUID] = ()
) -> QuerySet[Reservation]:
    """Active reservations of these resources that share a moment with [start, end).

    One indexed query. On PostgreSQL the overlap is `tstzrange(start, end) && [start, end)` on the GiST index
    of migration 0004, which reads only the overlapping rows however many later ones the resource has;
    elsewhere it is `start < end AND end > start` on the btree index (resource, end, start).
    """
    qs = Reservation.objects.filter(resource_id__in=list(resource_ids), active=True)
    if connection.vendor == "postgresql":
        qs = qs.alias(span=_Span("start", "end")).filter(span__overlap=DateTimeTZRange(start, end, "[)"))
    else:
        qs = qs.filter(start__lt=end, end__gt=start)
    qs = qs.select_related("event")
    exclude = list(exclude_event_ids)
    if exclude:
        qs = qs.exclude(event_id__in=exclude)
    return qs


def closures_for(*, organization: Organization | UUID, start: datetime, end: datetime) -> list[Closure]:
    """The organization's closures that can touch [start, end): dated ones overlapping it, and every
    yearly one (they are few and their dates move from year to year)."""
    org_id = organization.pk if isinstance(organization, Organization) else organization
    every = cached(
        org_id,
        "closures",
        # The organization's closures are few: all of them are cached, and filtered here on each call.
        lambda: tuple(Closure.objects.filter(organization_id=org_id).prefetch_related("resources").order_by("start")),
    )
    return [c for c in every if c.repeats_yearly or (c.start < end and c.end > start)]


def resources_for_rules(resource_ids: Iterable[UUID]) -> dict[UUID, Resource]:
    return {
        r.pk: r
        for r in Resource.objects.filter(pk__in=list(resource_ids))
        .select_related("venue__organization")
        .prefetch_related("bookable_hours")
    }


# --- the Event wire form and availability (docs/architecture.md#http-api-conventions) -------------


def events_payload(
    events: QuerySet[Event],
    booking_of: Mapping[UUID, UUID | None] | None = None,
) -> list[dict[str, Any]]:
    """Events in their wire form (docs/architecture.md#http-api-conventions), in three queries whatever their
    number: the events, their reservations (resource ids and the first resource's venue timezone), and the
    bookings they came from. `booking_of` maps event id → booking id when the caller knows it already."""
    rows = list(
        events.values(
            "id",
            "organization_id",
            "organization__timezone",
            "title",
            "description",
            "status",
            "series_id",
            "price",
            # As text (core.db.timestamp_text): Django's own conversion is the slowest part of a long list.
            start_text=timestamp_text("start"),
            end_text=timestamp_text("end"),
            created_text=timestamp_text("created_at"),
            updated_text=timestamp_text("updated_at"),
        )
    )
    ids = [r["id"] for r in rows]
    resources: dict[Any, list[str]] = defaultdict(list)
    units: dict[Any, list[dict[str, str]]] = defaultdict(list)
    tz_name: dict[Any, str] = {}
    for event_id, resource_id, venue_tz, org_tz, unit_id, unit_name in (
        Reservation.objects.filter(in_values("event_id", ids))
        .order_by(*Reservation.WIRE_ORDER)
        .values_list(
            "event_id",
            "resource_id",
            "resource__venue__timezone",
            "resource__venue__organization__timezone",
            "unit_id",
            "unit__name",
        )
    ):
        resources[event_id].append(str(resource_id))
        tz_name.setdefault(event_id, venue_tz or org_tz)
        if unit_id is not None:
            units[event_id].append({"resourceId": str(resource_id), "unitId": str(unit_id), "name": unit_name})
    if booking_of is None:
        # Through the reverse relation the bookings app declares (BookingEvent.event), without importing it.
        booking_of = dict(
            Event.objects.filter(pk__in=ids, booking_events__isnull=False).values_list(
                "id", "booking_events__booking_id"
            )
        )
    out = []
    for read in rows:
        r: dict[str, Any] = dict(read)
        r["start"], r["end"] = timestamp_from_text(r["start_text"]), timestamp_from_text(r["end_text"])
        r["created_at"], r["updated_at"] = (
            timestamp_from_text(r["created_text"]),
            timestamp_from_text(r["updated_text"]),
        )
        tz = tz_name.get(r["id"]) or r["organization__timezone"]
        out.append(_event_wire(r, resources.get(r["id"], []), units.get(r["id"], []), tz, booking_of.get(r["id"])))
    return out


def events_written_payload(
    events: Sequence[Event], booking_of: Mapping[UUID, UUID | None]
) -> list[dict[str, Any]] | None:
    """The wire form of events a service just wrote, built from what it wrote (events_save's `placement`) as
    events_payload would read it; None when it does not know every event's placement (then read them)."""
    out = []
    for event in events:
        placement = event.placement
        if placement is None:
            return None
        row = {name: getattr(event, name) for name in _WRITTEN_FIELDS}
        resources = [str(rid) for rid, _unit, _name in placement.reservations]
        units = [
            {"resourceId": str(rid), "unitId": str(unit_id), "name": name or ""}
            for rid, unit_id, name in placement.reservations
            if unit_id is not None
        ]
        out.append(_event_wire(row, resources, units, placement.timezone, booking_of.get(event.pk)))
    return out


_WRITTEN_FIELDS: tuple[str, ...] = ("id", "organization_id", "title", "description", "status", "series_id", "price")
_WRITTEN_FIELDS += ("start", "end", "created_at", "updated_at")


def _event_wire(
    r: Mapping[str, Any], resources: list[str], units: list[dict[str, str]], tz_name: str, booking_id: UUID | None
) -> dict[str, Any]:
    start, end = r["start"], r["end"]
    return {
        "id": str(r["id"]),
        "orgId": str(r["organization_id"]),
        "title": r["title"],
        "description": r["description"],
        "start": iso(start),
        "end": iso(end),
        "status": r["status"],
        "resourceIds": resources,
        # The unit (desk, seat) of each resource with units that the event occupies.
        "units": units,
        "bookingId": str(booking_id) if booking_id else None,
        "seriesId": str(r["series_id"]) if r["series_id"] else None,
        "price": r["price"],  # the snapshot fixed on approval (bookings.pricing.fixing), or None
        "createdAt": iso(r["created_at"]),
        "lastUpdatedAt": iso(r["updated_at"]),
        **local_times(start, end, ZoneInfo(tz_name)),
    }


@dataclass(frozen=True)
class Busy:
    start: datetime  # the event's times
    end: datetime
    occupied_until: datetime  # the event's end plus the resource's buffer
    event_id: UUID
    status: int


@dataclass(frozen=True)
class ClosureSpan:
    closure_id: UUID
    start: datetime
    end: datetime
    message: str


@dataclass(frozen=True)
class Availability:
    resource_id: UUID
    busy: list[Busy]
    closures: list[ClosureSpan]


def closure_spans(closure: Closure, tz: ZoneInfo, start: datetime, end: datetime) -> list[ClosureSpan]:
    """The closure's periods overlapping [start, end): itself, or for a yearly one each year's repeat
    (shifted on the local calendar of `tz`, as the rules do)."""
    if closure.repeats_yearly:
        local_start, local_end = closure.start.astimezone(tz), closure.end.astimezone(tz)
        first, last = start.astimezone(tz).year, end.astimezone(tz).year
        years = range(first - local_start.year - 1, last - local_start.year + 1)
        spans = [(shift_years(local_start, y), shift_years(local_end, y)) for y in years]
    else:
        spans = [(closure.start, closure.end)]
    return [
        ClosureSpan(closure.pk, s.astimezone(UTC), e.astimezone(UTC), closure.message)
        for s, e in spans
        if s < end and start < e
    ]


def resource_availability(*, resource: Resource, start: datetime, end: datetime) -> Availability:
    """What occupies the resource during [start, end): its active reservations (one query on the
    partial index) and the closures that apply to it."""
    busy = [
        Busy(start=r.event.start, end=r.event.end, occupied_until=r.end, event_id=r.event_id, status=r.event.status)
        for r in reservations_overlapping(resource_ids=[resource.pk], start=start, end=end).order_by("start", "end")
    ]
    tz = resource.venue.tz
    closures = []
    for closure in closures_for(organization=resource.venue.organization_id, start=start, end=end):
        applies_to = {r.pk for r in closure.resources.all()}
        if not applies_to or resource.pk in applies_to:
            closures += closure_spans(closure, tz, start, end)
    closures.sort(key=lambda c: (c.start, c.end))
    return Availability(resource_id=resource.pk, busy=busy, closures=closures)


# --- the staff week calendar (docs/architecture.md#staff-admin) -----------------------------------

# bookings.models.BookingStatus.PENDING: bookings depend on events, so the value is repeated here rather
# than imported (tests/events/test_calendar_selector.py checks that the two agree).
BOOKING_PENDING = 0


class BlockKind:
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"  # a pending request holding its slot
    PENDING = "pending"  # a pending request of a module that does not hold slots: no event yet
    CLOSED = "closed"


_KIND_OF_STATUS: dict[int, str] = {
    EventStatus.CONFIRMED: BlockKind.CONFIRMED,
    EventStatus.TENTATIVE: BlockKind.TENTATIVE,
}
# At the same time, what blocks the resource comes first.
_KIND_ORDER = {BlockKind.CLOSED: 0, BlockKind.CONFIRMED: 1, BlockKind.TENTATIVE: 2, BlockKind.PENDING: 3}


@dataclass(frozen=True)
class CalendarBlock:
    """One item's part inside one day: `start`/`end` are the whole item (UTC), `local_start`/`local_end`
    the part that falls on the day, in the venue's timezone."""

    kind: str
    title: str
    start: datetime
    end: datetime
    local_start: datetime
    local_end: datetime
    continues_before: bool  # began on an earlier day
    continues_after: bool  # goes on into the next day
    from_midnight: bool  # starts with the day
    until_midnight: bool  # lasts to the end of the day (its local end reads 00:00, of the next day)
    event_id: UUID | None = None
    booking_id: UUID | None = None
    booking_event_id: UUID | None = None
    closure_id: UUID | None = None

    @property
    def all_day(self) -> bool:
        return self.from_midnight and self.until_midnight


@dataclass(frozen=True)
class CalendarDay:
    date: date
    start: datetime  # the day's local midnight, in UTC
    end: datetime  # the next local midnight, in UTC
    is_today: bool

    @property
    def hours(self) -> float:
        """23 or 25 on the days the clocks change, 24 otherwise."""
        return (self.end - self.start) / timedelta(hours=1)

    @property
    def clocks_change(self) -> bool:
        return self.hours != 24


@dataclass(frozen=True)
class CalendarCell:
    day: CalendarDay
    blocks: list[CalendarBlock]


@dataclass(frozen=True)
class CalendarRow:
    resource: Resource
    cells: list[CalendarCell]  # one per day, Monday first


@dataclass(frozen=True)
class CalendarWeek:
    venue: Venue
    tz: ZoneInfo
    week_start: date  # a Monday
    days: list[CalendarDay]
    rows: list[CalendarRow]

    @property
    def start(self) -> datetime:
        return self.days[0].start

    @property
    def end(self) -> datetime:
        return self.days[-1].end

    @property
    def previous_week(self) -> date:
        return self.week_start - timedelta(days=7)

    @property
    def next_week(self) -> date:
        return self.week_start + timedelta(days=7)


def week_monday(day: date) -> date:
    """The Monday that starts `day`'s week."""
    return day - timedelta(days=day.weekday())


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first moment of `day` in `tz`, in UTC. Where midnight falls in a spring-forward gap, fold=0
    maps it onto the transition itself, which is the day's first real moment."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def calendar_week(*, venue: Venue, week_start: date, today: date | None = None) -> CalendarWeek:
    """The week of `venue` that contains `week_start` (Monday to Sunday in the venue's timezone): one row
    per non-archived resource, and in each day's cell what occupies the resource that day, by time.

    Shown: CONFIRMED and TENTATIVE events, PENDING requests without an event (modules that do not hold
    slots) and closures. CANCELED events are not. An item crossing midnight appears on every day it
    touches. Days are local calendar days, so a week with a clock change has a 23- or 25-hour day.

    Five queries whatever the number of events: resources, reservations with their events, pending
    requests, closures and the closures' resources. `venue.organization` should be loaded already.
    """
    tz = venue.tz
    monday = week_monday(week_start)
    today = today if today is not None else timezone.now().astimezone(tz).date()
    midnights = [local_midnight(monday + timedelta(days=i), tz) for i in range(8)]
    days = [
        CalendarDay(
            date=monday + timedelta(days=i),
            start=midnights[i],
            end=midnights[i + 1],
            is_today=monday + timedelta(days=i) == today,
        )
        for i in range(7)
    ]
    window_start, window_end = midnights[0], midnights[7]

    resources = list(Resource.objects.filter(venue=venue, archived=False).order_by("name", "pk"))
    resource_ids = [r.pk for r in resources]
    # (resource id, block kind, title, start, end, ids) before they are cut into days
    items: list[tuple[UUID, str, str, datetime, datetime, dict[str, UUID | None]]] = []

    # bookings depends on events: reach its models through the relations it declares, not an import.
    booking_event_model = apps.get_model("bookings", "BookingEvent")
    # An explicit UUIDField: as a ForeignKey output the value would come back from SQLite as bare hex.
    booking_of_event = Subquery(
        booking_event_model.objects.filter(event_id=OuterRef("event_id"))
        .order_by("created_at")
        .values("booking_id")[:1],
        output_field=UUIDField(),
    )
    # Reservation.end includes the resource's buffer; the calendar shows the event's own times.
    reservations = (
        Reservation.objects.filter(
            resource_id__in=resource_ids,
            active=True,
            start__lt=window_end,
            end__gt=window_start,
            event__end__gt=window_start,
        )
        .exclude(event__status=EventStatus.CANCELED)
        .annotate(booking_id=booking_of_event)
        .values_list(
            "resource_id", "event_id", "event__title", "event__start", "event__end", "event__status", "booking_id"
        )
    )
    for resource_id, event_id, title, start, end, status, booking_id in reservations:
        items.append(
            (
                resource_id,
                _KIND_OF_STATUS.get(status, BlockKind.CONFIRMED),
                title,
                start,
                end,
                {"event_id": event_id, "booking_id": booking_id},
            )
        )

    through = booking_event_model.resources.through
    pending = through.objects.filter(
        resource_id__in=resource_ids,
        bookingevent__event__isnull=True,
        bookingevent__booking__status=BOOKING_PENDING,
        bookingevent__start__lt=window_end,
        bookingevent__end__gt=window_start,
    ).values_list(
        "resource_id",
        "bookingevent_id",
        "bookingevent__title",
        "bookingevent__start",
        "bookingevent__end",
        "bookingevent__booking_id",
    )
    for resource_id, booking_event_id, title, start, end, booking_id in pending:
        items.append(
            (
                resource_id,
                BlockKind.PENDING,
                title,
                start,
                end,
                {"booking_event_id": booking_event_id, "booking_id": booking_id},
            )
        )

    for closure in closures_for(organization=venue.organization_id, start=window_start, end=window_end):
        # No resources chosen means every resource of the organization.
        chosen = {r.pk for r in closure.resources.all()}
        applies_to = [pk for pk in resource_ids if pk in chosen] if chosen else resource_ids
        for span in closure_spans(closure, tz, window_start, window_end):
            for resource_id in applies_to:
                items.append(
                    (resource_id, BlockKind.CLOSED, span.message, span.start, span.end, {"closure_id": closure.pk})
                )

    cells: dict[tuple[UUID, int], list[CalendarBlock]] = defaultdict(list)
    for resource_id, kind, title, start, end, ids in items:
        for index, day in enumerate(days):
            if start < day.end and day.start < end:
                cells[resource_id, index].append(
                    CalendarBlock(
                        kind=kind,
                        title=title,
                        start=start,
                        end=end,
                        local_start=max(start, day.start).astimezone(tz),
                        local_end=min(end, day.end).astimezone(tz),
                        continues_before=start < day.start,
                        continues_after=end > day.end,
                        from_midnight=start <= day.start,
                        until_midnight=end >= day.end,
                        **ids,
                    )
                )

    # In UTC: two local times of the 25-hour day read the same on the wall clock.
    def order(b: CalendarBlock) -> tuple[datetime, datetime, int, str]:
        return b.local_start.astimezone(UTC), b.local_end.astimezone(UTC), _KIND_ORDER[b.kind], b.title

    rows = [
        CalendarRow(
            resource=resource,
            cells=[
                CalendarCell(day=day, blocks=sorted(cells.get((resource.pk, index), []), key=order))
                for index, day in enumerate(days)
            ],
        )
        for resource in resources
    ]
    return CalendarWeek(venue=venue, tz=tz, week_start=monday, days=days, rows=rows)
