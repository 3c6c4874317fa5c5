"""Reads for the public pages (docs/architecture.md#public-site): published portals and their modules,
the availability grid, and a booking as its booker sees it. Nothing here hands out another person's
name, title or answers: the calendar knows only when a resource is taken (bookings.selectors.public_busy_periods)
and closures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from bookings.models import (
    Booking,
    BookingChangeRequest,
    BookingEvent,
    BookingModule,
    BookingStatus,
    FieldType,
    ModuleResource,
    Portal,
    PortalStatus,
)
from bookings.pricing.estimate import has_price, price_total, public_price
from bookings.selectors import active_fields_prefetch, public_busy_periods
from core.errors import NotFound
from events.rules import check_rules
from events.selectors import ClosureSpan, closure_spans, closures_for, local_midnight
from resources.models import Closure, Resource

# --- portals and modules ---------------------------------------------------------------------------


def live_portal(slug: str) -> Portal:
    """A LIVE portal by its slug; a DRAFT one is as absent as a missing one."""
    portal = Portal.objects.select_related("organization").filter(slug=slug, status=PortalStatus.LIVE).first()
    if portal is None:
        raise NotFound("No such booking site.")
    return portal


def portal_modules(portal: Portal) -> list[BookingModule]:
    return list(portal.modules.filter(organization_id=portal.organization_id).order_by("name", "pk"))


def _offered_queryset(organization_id: UUID) -> QuerySet[Resource]:
    return (
        Resource.objects.filter(archived=False, venue__organization_id=organization_id)
        .select_related("venue__organization")
        .prefetch_related("bookable_hours")
        .order_by("name", "pk")
    )


def offered_resources(module: BookingModule) -> list[Resource]:
    """The module's bookable resources (loaded with the module by portal_module, else read here)."""
    loaded = getattr(module, "public_resources", None)
    if loaded is not None:
        return list(loaded)
    return list(_offered_queryset(module.organization_id).filter(module_resources__module=module))


def portal_module(portal: Portal, slug: str) -> BookingModule:
    """A module published on this portal, with what its pages need: its active fields in form order and
    its bookable resources (venue, organization and weekly hours loaded)."""
    resources = _offered_queryset(portal.organization_id)
    module = (
        portal.modules.filter(organization_id=portal.organization_id, slug=slug)
        .select_related("organization", "admin_user")
        .prefetch_related(
            active_fields_prefetch(), Prefetch("resources", queryset=resources, to_attr="public_resources")
        )
        .first()
    )
    if module is None:
        raise NotFound("No such booking form.")
    return module


def module_title(module: BookingModule) -> str:
    return module.about_title or module.name


def venue_timezone(resources: list[Resource], fallback: ZoneInfo) -> ZoneInfo:
    return resources[0].venue.tz if resources else fallback


# --- the availability grid -------------------------------------------------------------------------

DEFAULT_HOURS = (8 * 60, 22 * 60)  # the rows shown for a resource without weekly bookable hours
SLOT_CHOICES = (15, 20, 30, 45, 60, 90, 120, 180, 240)
DEFAULT_SLOT = 60
FURTHEST_DAYS = 2 * 366


class CellState:
    FREE = "free"
    BOOKED = "booked"
    REQUESTED = "requested"
    CLOSED = "closed"
    UNAVAILABLE = "unavailable"


CELL_LABELS = {
    CellState.FREE: "Free",
    CellState.BOOKED: "Booked",
    CellState.REQUESTED: "Requested",
    CellState.CLOSED: "Closed",
    CellState.UNAVAILABLE: "Unavailable",
}


@dataclass(frozen=True)
class Cell:
    state: str
    resource: Resource
    start: datetime  # aware, in the resource's venue timezone
    end: datetime  # the period a free cell offers (the resource's usual booking length)
    note: str = ""  # a closure's message

    @property
    def label(self) -> str:
        return CELL_LABELS[self.state]

    @property
    def is_free(self) -> bool:
        return self.state == CellState.FREE

    @property
    def start_input(self) -> str:
        return self.start.strftime("%Y-%m-%dT%H:%M")

    @property
    def end_input(self) -> str:
        return self.end.strftime("%Y-%m-%dT%H:%M")

    @property
    def time_range(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"

    @property
    def day_text(self) -> str:
        return f"{self.start:%A} {self.start.day} {self.start:%B}"


@dataclass(frozen=True)
class Column:
    day: date
    resource: Resource
    clocks_change: bool


@dataclass(frozen=True)
class Row:
    minute: int  # minutes after local midnight

    @property
    def label(self) -> str:
        return f"{self.minute // 60:02d}:{self.minute % 60:02d}"


@dataclass
class CalendarGrid:
    view: str  # "day" or "week"
    day: date
    today: date
    tz: ZoneInfo
    resources: list[Resource]  # every resource the module offers
    selected: Resource | None  # the one chosen, if any
    columns: list[Column]
    rows: list[tuple[Row, list[Cell]]]
    step: int
    days_shown: int

    @property
    def previous(self) -> date | None:
        back = self.day - timedelta(days=self.days_shown if self.view == "week" else 1)
        return max(back, self.today) if self.day > self.today else None

    @property
    def next(self) -> date | None:
        ahead = self.day + timedelta(days=self.days_shown if self.view == "week" else 1)
        return ahead if ahead <= self.today + timedelta(days=FURTHEST_DAYS) else None

    @property
    def last_day(self) -> date:
        return self.columns[-1].day if self.columns else self.day

    @property
    def has_free(self) -> bool:
        return any(cell.is_free for _, cells in self.rows for cell in cells)


def _slot_minutes(resource: Resource, settings: dict[str, Any]) -> int:
    """The grid step of a resource: its module's `slotMinutes` setting when it names a usual step, else
    half an hour for resources booked in short stretches, else an hour."""
    wanted = settings.get("slotMinutes") if isinstance(settings, dict) else None
    if isinstance(wanted, int) and not isinstance(wanted, bool) and wanted in SLOT_CHOICES:
        return wanted
    return 30 if resource.min_duration_minutes is not None and resource.min_duration_minutes < 60 else DEFAULT_SLOT


def _booking_minutes(resource: Resource, slot: int) -> int:
    """How long a request made from a free cell lasts: one slot, stretched to the minimum duration and
    cut to the maximum."""
    length = max(slot, resource.min_duration_minutes or 0)
    if resource.max_duration_minutes:
        length = min(length, resource.max_duration_minutes)
    return max(length, 1)


def _day_windows(resource: Resource, weekday: int) -> list[tuple[int, int]] | None:
    """The weekday's bookable windows in minutes; None when the resource has no weekly hours at all."""
    hours = list(resource.bookable_hours.all())
    if not hours:
        return None
    return [
        (h.start_time.hour * 60 + h.start_time.minute, (h.end_time.hour * 60 + h.end_time.minute) or 24 * 60)
        for h in hours
        if h.weekday == weekday
    ]


def _row_range(resources: list[Resource], days: list[date]) -> tuple[int, int]:
    spans = []
    for resource in resources:
        for day in days:
            windows = _day_windows(resource, day.weekday())
            spans += [DEFAULT_HOURS] if windows is None else windows
    if not spans:
        return DEFAULT_HOURS
    return min(s for s, _ in spans), max(e for _, e in spans)


@dataclass(frozen=True)
class _Taken:
    start: datetime
    end: datetime
    requested: bool


def _full(resource: Resource, taken: list[_Taken]) -> bool:
    return bool(taken) if resource.exclusive else len(taken) >= resource.capacity


def _shown(
    view: str, resources: list[Resource], selected: Resource | None, day: date, days_shown: int
) -> tuple[list[Resource], list[date]]:
    """The resources and days the grid shows: a week of one resource, or a day of every resource (or the
    chosen one)."""
    if view == "week":
        return ([selected or resources[0]] if resources else []), [day + timedelta(days=i) for i in range(days_shown)]
    return ([selected] if selected else resources), [day]


@dataclass(frozen=True)
class _GridContext:
    """What the cells of a grid are read from, loaded once for the window it shows."""

    lengths: dict[Any, int]  # resource id -> minutes a free cell offers
    step: int  # minutes of a row
    taken: dict[str, list[_Taken]]  # resource id (str) -> its busy periods
    closed: dict[UUID, list[ClosureSpan]]  # resource id -> its closures' spans
    closures: list[Closure]
    now: datetime


def _grid_context(
    module: BookingModule, shown: list[Resource], days: list[date], tz: ZoneInfo, now: datetime
) -> _GridContext:
    settings = dict(
        ModuleResource.objects.filter(module=module, resource__in=shown).values_list("resource_id", "settings")
    )
    slots = {r.pk: _slot_minutes(r, settings.get(r.pk) or {}) for r in shown}
    lengths = {r.pk: _booking_minutes(r, slots[r.pk]) for r in shown}
    step = min(slots.values())
    window_start = local_midnight(days[0], tz)
    window_end = local_midnight(days[-1] + timedelta(days=1), tz) + timedelta(minutes=max(lengths.values()))
    taken: dict[str, list[_Taken]] = {}
    for resource_id, busy_start, busy_end, requested in public_busy_periods(
        module, start=window_start, end=window_end, resource_ids=[r.pk for r in shown]
    ):
        taken.setdefault(str(resource_id), []).append(_Taken(busy_start, busy_end, requested))
    closures = closures_for(organization=module.organization_id, start=window_start, end=window_end)
    return _GridContext(
        lengths=lengths,
        step=step,
        taken=taken,
        closed=_closed(shown, closures, window_start, window_end),
        closures=closures,
        now=now,
    )


def _closed(
    shown: list[Resource], closures: list[Closure], window_start: datetime, window_end: datetime
) -> dict[UUID, list[ClosureSpan]]:
    """Each shown resource's closure spans in the window (a closure without resources closes them all)."""
    closed: dict[UUID, list[ClosureSpan]] = {}
    for resource in shown:
        for closure in closures:
            applies_to = {r.pk for r in closure.resources.all()}
            if not applies_to or resource.pk in applies_to:
                closed.setdefault(resource.pk, []).extend(
                    closure_spans(closure, resource.venue.tz, window_start, window_end)
                )
    return closed


def _cell(context: _GridContext, resource: Resource, on: date, minute: int) -> Cell:
    """One cell: the resource at that wall-clock minute of that day."""
    rtz = resource.venue.tz
    wall = datetime.combine(on, time(minute // 60, minute % 60))
    start = wall.replace(tzinfo=rtz).astimezone(UTC)
    period_end = start + timedelta(minutes=context.lengths[resource.pk])
    offered = Cell(CellState.UNAVAILABLE, resource, start.astimezone(rtz), period_end.astimezone(rtz))
    if start.astimezone(rtz).replace(tzinfo=None) != wall:  # skipped when the clocks go forward
        return offered
    cell_end = start + timedelta(minutes=context.step)
    for span in context.closed.get(resource.pk, []):
        if span.start < cell_end and start < span.end:
            return Cell(CellState.CLOSED, resource, offered.start, offered.end, span.message)
    busy = context.taken.get(str(resource.pk), [])
    here = [b for b in busy if b.start < cell_end and start < b.end]
    if _full(resource, here):
        state = CellState.REQUESTED if all(b.requested for b in here) else CellState.BOOKED
        return Cell(state, resource, offered.start, offered.end)
    if _full(resource, [b for b in busy if b.start < period_end and start < b.end]):
        return offered
    if check_rules(resource=resource, start=start, end=period_end, now=context.now, closures=context.closures):
        return offered
    return Cell(CellState.FREE, resource, offered.start, offered.end)


def calendar_grid(
    *,
    module: BookingModule,
    view: str,
    day: date | None = None,
    resource_id: Any = None,
    now: datetime | None = None,
) -> CalendarGrid:
    """When the module's resources can be requested: a day (every resource, or the chosen one) or a
    week (`calendar_days_shown` days of one resource), in slots on the venue's wall clock.

    A cell is Booked or Requested when the resource is taken then (buffers included; a non-exclusive
    resource only when full), Closed during a closure, Unavailable when a request starting there would
    break a rule (outside bookable hours, in the past, too little notice, too far ahead) or run into a
    booking, and Free otherwise: a free cell offers the resource's usual booking length.

    Rows are local wall-clock times, so the grid is the same on the days the clocks change; a time the
    clocks skip is Unavailable. Four queries: the module's resource settings, busy periods, closures and
    the closures' resources (the module comes with its resources and their hours, see portal_module).
    """
    now = now or timezone.now()
    resources: list[Resource] = list(getattr(module, "public_resources", None) or [])
    selected = next((r for r in resources if str(r.pk) == str(resource_id)), None) if resource_id else None
    view = "week" if view == "week" else "day"
    tz = venue_timezone([selected] if selected else resources, module.organization.tz)
    today = now.astimezone(tz).date()
    day = min(max(day or today, today), today + timedelta(days=FURTHEST_DAYS))
    days_shown = min(max(module.calendar_days_shown or 7, 1), 31)
    shown, days = _shown(view, resources, selected, day, days_shown)
    grid = CalendarGrid(
        view=view,
        day=day,
        today=today,
        tz=tz,
        resources=resources,
        selected=selected,
        columns=[],
        rows=[],
        step=DEFAULT_SLOT,
        days_shown=days_shown,
    )
    if not shown:
        return grid
    context = _grid_context(module, shown, days, tz, now)
    step = context.step
    first, last = _row_range(shown, days)
    grid.step = step
    grid.columns = [
        Column(
            day=d,
            resource=r,
            clocks_change=(local_midnight(d + timedelta(days=1), tz) - local_midnight(d, tz)) != timedelta(days=1),
        )
        for d in days
        for r in shown
    ]
    grid.rows = [
        (Row(minute), [_cell(context, column.resource, column.day, minute) for column in grid.columns])
        for minute in range(first, last, step)
    ]
    return grid


# --- a booking as its booker sees it -----------------------------------------------------------------

STATUS_TEXT = {
    BookingStatus.PENDING: ("Waiting for approval", "We have your request; the organizers will confirm or decline it."),
    BookingStatus.APPROVED: ("Confirmed", "Your booking is confirmed."),
    BookingStatus.DENIED: ("Declined", "The organizers could not accept this request."),
    BookingStatus.CANCELED: ("Canceled", "This booking was canceled."),
}


def when_text(start: datetime, end: datetime) -> str:
    """A period on its local wall clock: "Tue 5 May 2026, 10:00–11:00" or both dates when it spans days."""
    if start.date() == end.date():
        return f"{start:%a} {start.day} {start:%b %Y}, {start:%H:%M}–{end:%H:%M}"
    return f"{start:%a} {start.day} {start:%b %Y} {start:%H:%M} – {end:%a} {end.day} {end:%b %Y} {end:%H:%M}"


def _answer_text(value: Any, field_type: str = "") -> str:
    """A stored answer as a person reads it: Yes/No, lists joined, dates and times spelled out."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if value is None:
        return ""
    try:
        if field_type == FieldType.DATE:
            day = date.fromisoformat(value)
            return f"{day:%a} {day.day} {day:%b %Y}"
        if field_type == FieldType.TIME:
            return time.fromisoformat(value).strftime("%H:%M")
        if field_type == FieldType.DATETIME:
            moment = datetime.fromisoformat(value)
            return f"{moment:%a} {moment.day} {moment:%b %Y}, {moment:%H:%M}"
    except (TypeError, ValueError):
        pass
    return str(value)


@dataclass
class EventLine:
    title: str
    when: str
    timezone: str
    resources: str
    venue: str
    attendees: int | None
    answers: list[tuple[str, str]] = field(default_factory=list)
    series: str = ""  # a repeated request: "Weekly until Tue 5 May 2026, 10 dates"
    dates: list[str] = field(default_factory=list)  # and each of its dates (`when` is the first)

    @property
    def long_series(self) -> bool:
        return len(self.dates) > SHORT_SERIES


@dataclass
class BookingSummary:
    booking: Booking
    status_label: str
    status_text: str
    events: list[EventLine]
    contact: list[tuple[str, str]]
    open_request: BookingChangeRequest | None
    can_change: bool
    can_cancel: bool
    price: dict[str, Any] | None = None  # bookings.pricing.estimate.price_total, as the public sees it (no credit)


SHORT_SERIES = 6  # a repeated request with more dates shows them folded (a <details> list)
CYCLE_TEXT = {1: ("Daily", "days"), 2: ("Weekly", "weeks"), 3: ("Monthly", "months"), 4: ("Yearly", "years")}
NTH_TEXT = {5: "first", 6: "second", 7: "third", 9: "fourth", 8: "last"}
WEEKDAY_PLURALS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


def repeat_text(rule: dict[str, Any], first: datetime, count: int) -> str:
    """A repeated request in words: "Weekly until Tue 5 May 2026, 10 dates"."""
    cycle, every = rule.get("repeats"), rule.get("repeatEvery") or 1
    days = [name for name in WEEKDAY_PLURALS if rule.get(f"repeatOn{name}")]
    if cycle in CYCLE_TEXT:
        name, unit = CYCLE_TEXT[cycle]
        text = name if every == 1 else f"Every {every} {unit}"
        if days and cycle in (1, 2):
            text += f" on {', '.join(days)}"
    elif cycle in NTH_TEXT:
        weekday = ", ".join(d[:-1] for d in days) if days else f"{first:%A}"
        text = f"The {NTH_TEXT[cycle]} {weekday} of {'each month' if every == 1 else f'every {every} months'}"
    else:
        text = "Repeats"
    until = rule.get("repeatUntil")
    try:
        last = date.fromisoformat(until) if until else None
    except ValueError:
        last = None
    if last is not None:
        text += f" until {last:%a} {last.day} {last:%b %Y}"
    return f"{text}, {count} date{'' if count == 1 else 's'}"


def booking_events(booking: Booking) -> list[BookingEvent]:
    return list(
        booking.requested_times.prefetch_related(
            Prefetch(
                "resources", queryset=Resource.objects.select_related("venue__organization").order_by("name", "pk")
            )
        )
    )


def event_timezone(be: BookingEvent, booking: Booking) -> ZoneInfo:
    return venue_timezone(list(be.resources.all()), booking.organization.tz)


def _price(booking: Booking) -> dict[str, Any] | None:
    prices = [public_price(price) for price in booking.requested_times.values_list("price", flat=True)]
    return price_total(prices, booking.organization.currency, public=True) if has_price(prices) else None


def booking_summary(booking: Booking) -> BookingSummary:
    """The booker's own booking: status, requested times in the venue's local time, their answers under
    the form's labels, and what they may still do with it."""
    fields = {str(ff.pk): ff for ff in booking.module.fields.all()}
    labels = {fid: ff.label for fid, ff in fields.items()}
    events = []
    series: dict[Any, EventLine] = {}  # repeat group → its line
    rules: dict[Any, tuple[dict[str, Any], datetime]] = {}  # repeat group → its rule and first start
    for be in booking_events(booking):
        tz = event_timezone(be, booking)
        when = when_text(be.start.astimezone(tz), be.end.astimezone(tz))
        if be.repeat_group is not None and be.repeat_group in series:
            series[be.repeat_group].dates.append(when)
            continue
        resources = list(be.resources.all())
        events.append(
            EventLine(
                title=be.title,
                when=when_text(be.start.astimezone(tz), be.end.astimezone(tz)),
                timezone=tz.key,
                resources=", ".join(r.name for r in resources),
                venue=", ".join(dict.fromkeys(r.venue.name for r in resources)),
                attendees=be.attendees,
                answers=[
                    (labels[k], _answer_text(v, fields[k].type))
                    for k, v in be.answers.items()
                    if k in labels and v not in ("", None)
                ],
            )
        )
        if be.repeat_group is not None:
            events[-1].dates = [when]
            series[be.repeat_group] = events[-1]
            rules[be.repeat_group] = (be.repeat or {}, be.start.astimezone(tz))
    for group, line in series.items():  # worded once every date is known
        line.series = repeat_text(*rules[group], len(line.dates))
    builtin = {"name": "Name", "email": "Email", "phone": "Phone"}
    contact = [
        (builtin[k], _answer_text(v)) if k in builtin else (labels[k], _answer_text(v, fields[k].type))
        for k, v in booking.contact_answers.items()
        if (k in builtin or k in labels) and v not in ("", None)
    ]
    open_request = BookingChangeRequest.open.filter(booking=booking).first()
    active = booking.status in (BookingStatus.PENDING, BookingStatus.APPROVED)
    canceling = open_request is not None and open_request.cancellation
    label, text = STATUS_TEXT[BookingStatus(booking.status)]
    return BookingSummary(
        booking=booking,
        status_label=label,
        status_text=text,
        events=events,
        contact=contact,
        open_request=open_request,
        can_change=active and booking.module.allow_change_requests and not canceling,
        can_cancel=active and booking.module.allow_cancellation and not canceling,
        price=_price(booking),
    )


# The types whose stored answer is not already what the form's input shows.
def answer_as_input(field_type: str, value: Any) -> Any:
    """A stored custom answer as its form input holds it (for the change form)."""
    if field_type == FieldType.CHECKBOX:
        return bool(value)
    if field_type == FieldType.MULTISELECT:
        return [str(v) for v in value] if isinstance(value, list) else ([] if value in (None, "") else [str(value)])
    if value is None:
        return ""
    if field_type == FieldType.TIME and isinstance(value, str):
        return value[:5]
    if field_type == FieldType.DATETIME and isinstance(value, str):
        return value[:16]
    return str(value)
