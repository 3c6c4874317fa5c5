"""Utilization reports (docs/architecture.md#utilization-reports): per resource and period (day, week or month
in the venue's local time), the minutes it could be booked, the minutes it was, the bookings by status and
the revenue of fixed prices; with totals and the median time staff took to decide.

A fixed number of queries whatever the period and the number of bookings: the resources with their
bookable hours and the closures (configuration: a few rows), then one aggregate query each for the booked
minutes, the bookings by status, the revenue and the decision times. The aggregates run in the database,
grouped by resource and period: the periods go into the query as a small table of UTC instants
(`WITH periods(...) AS (VALUES ...)`), one set per time zone, so an event that spans two periods counts in
each for the part that falls in it. The bookable minutes are counted here from the configuration, day by day
in local time, so a 23-hour or a 25-hour day has the minutes it really has.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Q

from core.api.fields import MAX_YEAR, MIN_YEAR
from core.errors import FieldError, ValidationFailed
from core.exports import Table
from events.models import Event, EventStatus, Reservation
from events.rules import MINUTES_PER_DAY, merged_windows
from events.selectors import closure_spans, local_midnight
from resources.models import Closure, Organization, Resource

from .models import Booking, BookingEvent, BookingStatus, Charge, ChargeStatus
from .pricing.money import round_money

GRANULARITIES = ("day", "week", "month")
MAX_PERIODS = 400  # a year and a month of days; ten years of weeks would be 520
MAX_DAYS = 3 * 366  # the longest range: three years, whatever the granularity
STATUS_NAMES = {s.value: s.name.lower() for s in BookingStatus}


@dataclass(frozen=True)
class Period:
    index: int
    first_day: date  # local dates, both included
    last_day: date


@dataclass
class Row:
    resource: Resource
    period: Period
    bookable_minutes: int = 0
    booked_minutes: int = 0
    bookings: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_NAMES.values(), 0))
    revenue: Decimal = Decimal("0.00")

    @property
    def occupancy(self) -> float | None:
        return occupancy(self.booked_minutes, self.bookable_minutes)


@dataclass
class Totals:
    bookable_minutes: int
    booked_minutes: int
    bookings: dict[str, int]
    revenue: Decimal
    median_decision_minutes: int | None

    @property
    def occupancy(self) -> float | None:
        return occupancy(self.booked_minutes, self.bookable_minutes)


@dataclass
class Report:
    organization: Organization
    start: date
    end: date
    granularity: str
    resources: list[Resource]
    periods: list[Period]
    rows: list[Row]
    totals: Totals


def occupancy(booked: int, bookable: int) -> float | None:
    """Booked over bookable minutes, 4 decimals; None when nothing was bookable. Staff may book outside the
    bookable hours, so it can pass 1."""
    return round(booked / bookable, 4) if bookable else None


# --- periods ----------------------------------------------------------------------------------------------


def _next_start(day: date, granularity: str) -> date:
    if granularity == "day":
        return day + timedelta(days=1)
    if granularity == "week":
        return day + timedelta(days=7 - day.weekday())
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def report_periods(start: date, end: date, granularity: str) -> list[Period]:
    """The calendar days, ISO weeks (from Monday) or months of [start, end] (local dates, both included); the
    first and the last are cut to the range."""
    periods: list[Period] = []
    day = start
    while day <= end:
        following = _next_start(day, granularity)
        periods.append(Period(len(periods), day, min(following - timedelta(days=1), end)))
        day = following
    return periods


def period_count(start: date, end: date, granularity: str) -> int:
    """How many periods report_periods would give, without building them (to refuse a range first)."""
    if granularity == "day":
        return (end - start).days + 1
    if granularity == "week":
        return (end - (start - timedelta(days=start.weekday()))).days // 7 + 1
    return (end.year - start.year) * 12 + end.month - start.month + 1


def report_range_errors(start: date, end: date, granularity: str) -> list[FieldError]:
    """What is wrong with a report's range: the same refusals for the API and the admin."""
    outside = [
        FieldError(name, "OUT_OF_RANGE", f"Use a year from {MIN_YEAR} to {MAX_YEAR}.")
        for name, day in (("start", start), ("end", end))
        if not MIN_YEAR <= day.year <= MAX_YEAR
    ]
    if outside:
        return outside
    if end < start:
        return [FieldError("end", "END_BEFORE_START", "The end must not be before the start.")]
    if (end - start).days + 1 > MAX_DAYS:
        return [FieldError("end", "WINDOW_TOO_LONG", f"A report covers at most {MAX_DAYS} days.")]
    if period_count(start, end, granularity) > MAX_PERIODS:
        return [
            FieldError("end", "WINDOW_TOO_LONG", f"A report has at most {MAX_PERIODS} periods: choose weeks or months.")
        ]
    return []


# --- bookable minutes: from the configuration, in local time -------------------------------------------


def _minus(start: datetime, end: datetime, closed: list[tuple[datetime, datetime]]) -> float:
    """Seconds of [start, end) outside the closed spans (sorted, may overlap)."""
    open_seconds, cursor = 0.0, start
    for c_start, c_end in closed:
        if c_end <= cursor or c_start >= end:
            continue
        if c_start > cursor:
            open_seconds += (c_start - cursor).total_seconds()
        cursor = max(cursor, c_end)
        if cursor >= end:
            return open_seconds
    return open_seconds + max((end - cursor).total_seconds(), 0.0)


def _instant(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """The UTC instant of `minute` minutes after `day`'s local midnight (1440: the next midnight). A wall time
    that the clocks skip (spring forward) is the moment they jump: a window from 01:00 to 01:30 on that day
    in London has no minutes, and one from 01:30 to 03:00 has the hour from the jump to 03:00."""
    if minute >= MINUTES_PER_DAY:
        return local_midnight(day + timedelta(days=1), tz)
    wall = datetime.combine(day, time(minute // 60, minute % 60))
    instant = wall.replace(tzinfo=tz).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant
    # In the gap: fold=1 reads it with the offset after the jump, an instant before it; step to the jump.
    before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    offset = before.astimezone(tz).utcoffset()
    while before < instant and (before + timedelta(minutes=1)).astimezone(tz).utcoffset() == offset:
        before += timedelta(minutes=1)
    return before + timedelta(minutes=1)


def _windows(merged: dict[int, list[tuple[int, int]]], day: date, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The day's bookable windows in UTC, from the resource's weekly windows merged where they overlap (as the
    booking rules read them). A resource without bookable hours: the whole local day (23 or 25 hours on a day
    the clocks change); a weekday without any: nothing."""
    if not merged:
        return [(local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz))]
    windows = [(_instant(day, a, tz), _instant(day, b, tz)) for a, b in merged.get(day.weekday(), [])]
    return [(s, e) for s, e in windows if e > s]


def _bookable_minutes(resource: Resource, period: Period, tz: ZoneInfo, closed: list[tuple[datetime, datetime]]) -> int:
    seconds, merged = 0.0, merged_windows(resource)
    day = period.first_day
    while day <= period.last_day:
        seconds += sum(_minus(s, e, closed) for s, e in _windows(merged, day, tz))
        day += timedelta(days=1)
    # report_resources counts the active units (n_units); a resource without units is one.
    return round(seconds / 60) * max(getattr(resource, "n_units", 0), 1)


def _closed_spans(
    resource: Resource, closures: Iterable[Closure], tz: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    spans = []
    for closure in closures:
        applies_to = {r.pk for r in closure.resources.all()}
        if not applies_to or resource.pk in applies_to:
            spans += [(s.start, s.end) for s in closure_spans(closure, tz, start, end)]
    return sorted(spans)


# --- the aggregates, in the database -------------------------------------------------------------------


class _Sql:
    """The shared head of the aggregate queries: `scope(resource_id, tz)` (the resources reported on and their
    time zone's key) and `periods(tz, idx, ps, pe)` (each zone's periods as UTC instants, [ps, pe))."""

    def __init__(self, resources: list[Resource], periods: list[Period]) -> None:
        self.pg = connection.vendor == "postgresql"
        zones = sorted({r.venue.tz.key for r in resources})
        key = {zone: n for n, zone in enumerate(zones)}
        uuid_field = Resource._meta.pk
        cast = ("::uuid", "::int", "::int", "::timestamptz") if self.pg else ("", "", "", "")
        scope_rows, self.params = [], []
        for r in resources:
            scope_rows.append(f"(%s{cast[0]}, %s{cast[1]})")
            self.params += [uuid_field.get_db_prep_value(r.pk, connection), key[r.venue.tz.key]]
        period_rows, edges = [], []
        for zone in zones:
            tz = ZoneInfo(zone)
            for p in periods:
                period_rows.append(f"(%s{cast[1]}, %s{cast[2]}, %s{cast[3]}, %s{cast[3]})")
                ps, pe = local_midnight(p.first_day, tz), local_midnight(p.last_day + timedelta(days=1), tz)
                self.params += [key[zone], p.index, self._moment(ps), self._moment(pe)]
                edges += [ps, pe]
        # The whole range, every zone's periods in it: the bound each query also states on its own table, so
        # the planner reads the rows of the range through the indexes rather than every row of the history.
        self.bounds = (self._moment(min(edges)), self._moment(max(edges)))
        self.head = (
            f"WITH scope(resource_id, tz) AS (VALUES {', '.join(scope_rows)}), "
            f"periods(tz, idx, ps, pe) AS (VALUES {', '.join(period_rows)}) "
        )

    @staticmethod
    def _moment(value: datetime) -> Any:
        return Booking._meta.get_field("created_at").get_db_prep_value(value, connection)

    def minutes(self, start: str, end: str) -> str:
        """Minutes between two timestamps (an expression)."""
        if self.pg:
            return f"EXTRACT(EPOCH FROM ({end} - {start})) / 60.0"
        return f"(julianday({end}) - julianday({start})) * 1440.0"

    def clip(self, which: str, a: str, b: str) -> str:
        """The later (GREATEST) or the earlier (LEAST) of two timestamps."""
        if self.pg:
            return f"{which}({a}, {b})"
        return f"{'MAX' if which == 'GREATEST' else 'MIN'}({a}, {b})"

    def rows(self, body: str, *params: Any) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(self.head + body, [*self.params, *params])
            return cursor.fetchall()


def _t(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _booked(sql: _Sql) -> list[tuple[Any, ...]]:
    """(resource, period, minutes): confirmed events' time on each resource, cut to each period."""
    start, end = "e.start", 'e."end"'
    overlap = sql.minutes(sql.clip("GREATEST", start, "p.ps"), sql.clip("LEAST", end, "p.pe"))
    return sql.rows(
        f"SELECT s.resource_id, p.idx, SUM({overlap}) FROM {_t(Reservation)} r "
        f"JOIN {_t(Event)} e ON e.id = r.event_id JOIN scope s ON s.resource_id = r.resource_id "
        f"JOIN periods p ON p.tz = s.tz AND {start} < p.pe AND {end} > p.ps "
        f'WHERE r.active AND e.status = %s AND r.start < %s AND r."end" > %s AND {start} < %s AND {end} > %s '
        "GROUP BY s.resource_id, p.idx",
        EventStatus.CONFIRMED.value,
        sql.bounds[1],
        sql.bounds[0],
        sql.bounds[1],
        sql.bounds[0],
    )


def _requested_join() -> str:
    """Requested times on the reported resources, in the period their start falls in. Its two parameters are
    the range's bounds (_Sql.bounds)."""
    through = BookingEvent.resources.through
    return (
        f"FROM {_t(BookingEvent)} be JOIN {_t(through)} ber ON ber.bookingevent_id = be.id "
        "AND be.start >= %s AND be.start < %s "
        f"JOIN scope s ON s.resource_id = ber.resource_id "
        f"JOIN periods p ON p.tz = s.tz AND be.start >= p.ps AND be.start < p.pe "
    )


def _by_status(sql: _Sql) -> list[tuple[Any, ...]]:
    """(resource, period, status, bookings): a booking counts once per resource and period it asked for."""
    return sql.rows(
        f"SELECT s.resource_id, p.idx, b.status, COUNT(DISTINCT b.id) {_requested_join()}"
        f"JOIN {_t(Booking)} b ON b.id = be.booking_id GROUP BY s.resource_id, p.idx, b.status",
        *sql.bounds,
    )


def _status_totals(sql: _Sql) -> list[tuple[Any, ...]]:
    """(status, bookings): each booking once, however many resources and periods it asked for."""
    return sql.rows(
        f"SELECT b.status, COUNT(*) FROM {_t(Booking)} b WHERE b.id IN (SELECT be.booking_id {_requested_join()}) "
        "GROUP BY b.status",
        *sql.bounds,
    )


def _revenue(sql: _Sql) -> list[tuple[Any, ...]]:
    """(resource, period, amount) and, as resource None, the total with each charge once: the charges of the
    fixed prices (not reverted) of the requested times. A requested time of two resources counts for each."""
    charges = f"JOIN {_t(Charge)} c ON c.booking_event_id = be.id AND c.status <> %s "
    per_row = sql.rows(
        f"SELECT s.resource_id, p.idx, SUM(c.amount) {_requested_join()}{charges}GROUP BY s.resource_id, p.idx",
        *sql.bounds,
        ChargeStatus.REVERTED.value,
    )
    total = sql.rows(
        f"SELECT NULL, NULL, SUM(c.amount) FROM {_t(Charge)} c WHERE c.status <> %s AND c.booking_event_id IN "
        f"(SELECT be.id {_requested_join()})",
        ChargeStatus.REVERTED.value,
        *sql.bounds,
    )
    return per_row + total


def _median_decision(sql: _Sql) -> int | None:
    """The median minutes from a booker's request to staff's decision, for the bookings asking for the
    reported resources and periods. Automatic approvals are not staff decisions and are left out."""
    decided = (
        f"FROM {_t(Booking)} b WHERE b.submission AND b.decided_by_id IS NOT NULL AND b.decided_at IS NOT NULL "
        f"AND b.id IN (SELECT be.booking_id {_requested_join()})"
    )
    waited = sql.minutes("b.created_at", "b.decided_at")
    if sql.pg:
        value = sql.rows(f"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY {waited}) {decided}", *sql.bounds)[0][0]
        return None if value is None else round(value)
    # SQLite has no percentile: the decision times (one number per decided booking) come back instead.
    values = [v for (v,) in sql.rows(f"SELECT {waited} {decided}", *sql.bounds)]
    return round(statistics.median(values)) if values else None


# --- the report ----------------------------------------------------------------------------------------


def _as_uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _money(value: Any, currency: str) -> Decimal:
    # SQLite sums decimals as floats: back to the currency's minor unit.
    return round_money(Decimal(str(value or 0)), currency)


def _visible(qs: Any, organization_ids: Collection[UUID] | None, path: str) -> Any:
    return qs if organization_ids is None else qs.filter(**{f"{path}__in": list(organization_ids)})


def _not_found(name: str, what: str) -> ValidationFailed:
    return ValidationFailed(errors=[FieldError(name, "NOT_FOUND", f"No such {what} in your organizations.")])


def report_organization(
    *,
    organization_ids: Collection[UUID] | None,
    org_id: UUID | None = None,
    venue_id: UUID | None = None,
    resource_id: UUID | None = None,
) -> Organization:
    """The one organization a report is of (its currency and its closures): the named resource's, venue's or
    organization's, else the caller's only one. NOT_FOUND at the parameter that names something outside
    `organization_ids` (None: every organization), REQUIRED at `orgId` for a member of several."""
    orgs = _visible(Organization.objects.all(), organization_ids, "pk")
    for name, value, path, what in (
        ("resourceId", resource_id, "venues__resources", "resource"),
        ("venueId", venue_id, "venues", "venue"),
        ("orgId", org_id, "pk", "organization"),
    ):
        if value is not None:
            orgs = orgs.filter(**{path: value})
            found = list(orgs[:2])
            if len(found) != 1:
                raise _not_found(name, what)
    in_venue = Resource.objects.filter(pk=resource_id, venue_id=venue_id) if resource_id and venue_id else None
    if in_venue is not None and not in_venue.exists():
        raise _not_found("resourceId", "resource in that venue")
    found = list(orgs.order_by("name", "pk")[:2])
    if len(found) != 1:
        raise ValidationFailed(
            errors=[FieldError("orgId", "REQUIRED", "You belong to several organizations: choose one.")]
        )
    return found[0]


def report_resources(
    *, organization: Organization, venue_id: UUID | None = None, resource_id: UUID | None = None
) -> list[Resource]:
    """The resources a report covers: one, a venue's, or all of the organization's (archived ones only when
    named), with what the bookable minutes read."""
    qs = Resource.objects.filter(venue__organization=organization).select_related("venue__organization")
    qs = qs.filter(pk=resource_id) if resource_id is not None else qs.filter(archived=False)
    if venue_id is not None:
        qs = qs.filter(venue_id=venue_id)
    qs = qs.annotate(n_units=Count("units", filter=Q(units__archived=False))).prefetch_related("bookable_hours")
    resources: list[Resource] = list(qs.order_by("venue__name", "name", "pk"))
    return resources


def utilization_report(
    *, organization: Organization, resources: list[Resource], start: date, end: date, granularity: str
) -> Report:
    """The report of `resources` (all of `organization`, from report_resources) over the local dates
    [start, end]. The caller checks the range (MAX_DAYS, MAX_PERIODS) and the granularity."""
    periods = report_periods(start, end, granularity)
    rows = {(r.pk, p.index): Row(r, p) for r in resources for p in periods}
    totals = Totals(0, 0, dict.fromkeys(STATUS_NAMES.values(), 0), Decimal("0.00"), None)
    if not resources:
        return Report(organization, start, end, granularity, resources, periods, [], totals)
    _fill_bookable(rows, resources, periods, organization)
    sql = _Sql(resources, periods)
    for resource_id, index, minutes in _booked(sql):
        rows[(_as_uuid(resource_id), index)].booked_minutes = round(minutes or 0)
    for resource_id, index, status, count in _by_status(sql):
        rows[(_as_uuid(resource_id), index)].bookings[STATUS_NAMES[status]] = count
    for status, count in _status_totals(sql):
        totals.bookings[STATUS_NAMES[status]] = count
    for resource_id, index, amount in _revenue(sql):
        if resource_id is None:
            totals.revenue = _money(amount, organization.currency)
        else:
            rows[(_as_uuid(resource_id), index)].revenue = _money(amount, organization.currency)
    totals.median_decision_minutes = _median_decision(sql)
    ordered = [rows[(r.pk, p.index)] for r in resources for p in periods]
    totals.bookable_minutes = sum(r.bookable_minutes for r in ordered)
    totals.booked_minutes = sum(r.booked_minutes for r in ordered)
    return Report(organization, start, end, granularity, resources, periods, ordered, totals)


def report_build(
    *,
    organization_ids: Collection[UUID] | None,
    start: date,
    end: date,
    granularity: str,
    org_id: UUID | None = None,
    venue_id: UUID | None = None,
    resource_id: UUID | None = None,
) -> Report:
    """The report the API and the admin page ask for: its organization (report_organization, which raises
    ValidationFailed at the parameter that names nothing of `organization_ids`), its resources, its figures."""
    organization = report_organization(
        organization_ids=organization_ids, org_id=org_id, venue_id=venue_id, resource_id=resource_id
    )
    resources = report_resources(organization=organization, venue_id=venue_id, resource_id=resource_id)
    return utilization_report(
        organization=organization, resources=resources, start=start, end=end, granularity=granularity
    )


def _fill_bookable(
    rows: dict[tuple[UUID, int], Row], resources: list[Resource], periods: list[Period], organization: Organization
) -> None:
    first, last = periods[0].first_day, periods[-1].last_day
    # A day either side: the range's instants differ from zone to zone.
    span_start = datetime.combine(first - timedelta(days=1), time(0), tzinfo=UTC)
    span_end = datetime.combine(last + timedelta(days=2), time(0), tzinfo=UTC)
    closures = list(
        Closure.objects.filter(organization=organization)
        .filter(Q(repeats_yearly=True) | Q(start__lt=span_end, end__gt=span_start))
        .prefetch_related("resources")
    )
    for resource in resources:
        tz = resource.venue.tz
        closed = _closed_spans(resource, closures, tz, span_start, span_end)
        for period in periods:
            rows[(resource.pk, period.index)].bookable_minutes = _bookable_minutes(resource, period, tz, closed)


def report_by_period(report: Report) -> list[dict[str, Any]]:
    """The report's rows summed over its resources, one per period: what the charts draw."""
    summed: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"bookable": 0, "booked": 0, "bookings": dict.fromkeys(STATUS_NAMES.values(), 0)}
    )
    for row in report.rows:
        entry = summed[row.period.index]
        entry["bookable"] += row.bookable_minutes
        entry["booked"] += row.booked_minutes
        for name, count in row.bookings.items():
            entry["bookings"][name] += count
    return [
        {"period": p, **summed[p.index], "occupancy": occupancy(summed[p.index]["booked"], summed[p.index]["bookable"])}
        for p in report.periods
    ]


def report_table(report: Report) -> Table:
    """The rows as a spreadsheet: one line per resource and period, with the period's local dates."""
    columns = ["Resource", "Venue", "Period start", "Period end", "Bookable minutes", "Booked minutes", "Occupancy"]
    columns += [f"Bookings {name}" for name in STATUS_NAMES.values()] + [f"Revenue ({report.organization.currency})"]
    rows = (
        [
            row.resource.name,
            row.resource.venue.name,
            row.period.first_day,
            row.period.last_day,
            row.bookable_minutes,
            row.booked_minutes,
            row.occupancy,
            *row.bookings.values(),
            row.revenue,
        ]
        for row in report.rows
    )
    return Table(f"utilization-{report.start:%Y%m%d}-{report.end:%Y%m%d}", columns, rows)
