"""The resource booking rules (docs/architecture.md#booking-rules), evaluated in the venue's local wall-clock time.

Pure functions over already-loaded objects: the callers (the booking validator, later the events API)
load resources with `bookable_hours` prefetched and the organization's closures once per request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from core.errors import FieldError
from resources.models import Closure, Resource

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class RuleFailure:
    code: str
    field: str  # "start", "end" or "resourceIds", relative to the event
    message: str
    resource_id: str

    def as_field_error(self, prefix: str) -> FieldError:
        return FieldError(f"{prefix}.{self.field}", self.code, self.message, {"resourceId": self.resource_id})


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def merged_windows(resource: Resource) -> dict[int, list[tuple[int, int]]]:
    """Weekday -> sorted, merged [start, end) windows in minutes since local midnight."""
    by_day: dict[int, list[tuple[int, int]]] = {}
    for hours in resource.bookable_hours.all():
        end = _minutes(hours.end_time) or MINUTES_PER_DAY  # 00:00 as an end means midnight
        by_day.setdefault(hours.weekday, []).append((_minutes(hours.start_time), end))
    merged: dict[int, list[tuple[int, int]]] = {}
    for day, windows in by_day.items():
        out: list[tuple[int, int]] = []
        for start, end in sorted(windows):
            if out and start <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            else:
                out.append((start, end))
        merged[day] = out
    return merged


def _wall_clock_spans(start_local: datetime, end_local: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) as naive wall-clock spans, one per stretch of constant UTC offset.

    Across the autumn change the repeated hour is lived twice and both passes are checked; across the
    spring change the skipped hour belongs to no span. Naive input is taken as wall-clock time already.
    """
    tz = start_local.tzinfo
    if tz is None:
        return [(start_local, end_local.replace(tzinfo=None))]

    def offset(moment: datetime) -> timedelta | None:
        return moment.astimezone(tz).utcoffset()

    spans = []
    cursor, end = start_local.astimezone(UTC), end_local.astimezone(UTC)
    while cursor < end:
        current = offset(cursor)
        assert current is not None  # tz is set: an aware time has an offset
        piece_end = end
        probe = cursor
        while probe < end:  # offsets change at most once a day: look a day ahead, then bisect to the change
            last = min(end - timedelta(microseconds=1), probe + timedelta(days=1))
            if offset(last) != current:
                same, changed = probe, last
                while changed - same > timedelta(microseconds=1):
                    middle = same + (changed - same) // 2
                    same, changed = (middle, changed) if offset(middle) == current else (same, middle)
                piece_end = changed
                break
            probe = last + timedelta(microseconds=1)
        spans.append(((cursor + current).replace(tzinfo=None), (piece_end + current).replace(tzinfo=None)))
        cursor = piece_end
    return spans


def _minute_ceil(moment: datetime) -> int:
    return moment.hour * 60 + moment.minute + (1 if moment.second or moment.microsecond else 0)


def within_bookable_hours(resource: Resource, start_local: datetime, end_local: datetime) -> bool:
    """Every local minute of [start, end) must fall inside a window of its weekday.

    Works on naive wall-clock times so a DST change does not shift the windows: 09:00 is 09:00 local
    on both sides of the change.
    """
    windows = merged_windows(resource)
    if not windows:
        return True
    for cursor, end in _wall_clock_spans(start_local, end_local):
        while cursor < end:
            next_midnight = datetime.combine(cursor.date() + timedelta(days=1), time(0))
            piece_end = min(end, next_midnight)
            a = cursor.hour * 60 + cursor.minute
            b = MINUTES_PER_DAY if piece_end == next_midnight else _minute_ceil(piece_end)
            if not any(ws <= a and b <= we for ws, we in windows.get(cursor.weekday(), [])):
                return False
            cursor = piece_end
    return True


def shift_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February in a year without one
        return moment.replace(year=moment.year + years, day=28)


def closure_overlapping(
    closures: Iterable[Closure], resource: Resource, start: datetime, end: datetime
) -> Closure | None:
    """The first closure covering any part of [start, end) for this resource, yearly repeats included."""
    for closure in closures:
        resource_ids = {r.pk for r in closure.resources.all()}
        if resource_ids and resource.pk not in resource_ids:
            continue
        if closure.repeats_yearly:
            tz = resource.venue.tz
            local_start = closure.start.astimezone(tz)
            local_end = closure.end.astimezone(tz)
            first, last = start.astimezone(tz).year, end.astimezone(tz).year
            years = range(first - local_start.year - 1, last - local_start.year + 1)
            spans = [(shift_years(local_start, y), shift_years(local_end, y)) for y in years]
        else:
            spans = [(closure.start, closure.end)]
        if any(s < end and start < e for s, e in spans):
            return closure
    return None


def check_rules(
    *, resource: Resource, start: datetime, end: datetime, now: datetime, closures: Iterable[Closure]
) -> list[RuleFailure]:
    """Every rule the period [start, end) breaks for this resource (empty: it may be booked)."""
    # In UTC: Python compares and subtracts two datetimes of the same tzinfo by wall clock, which is
    # an hour off across a DST change.
    start, end, now = start.astimezone(UTC), end.astimezone(UTC), now.astimezone(UTC)
    rid = str(resource.pk)
    tz = resource.venue.tz
    name = resource.name
    failures: list[RuleFailure] = []

    def fail(code: str, field: str, message: str) -> None:
        failures.append(RuleFailure(code, field, message, rid))

    if resource.archived:
        fail("RESOURCE_ARCHIVED", "resourceIds", f"{name} can no longer be booked.")
    if end <= start:
        fail("END_BEFORE_START", "end", "The end must be after the start.")
        return failures
    if start < now:
        fail("IN_THE_PAST", "start", "The start is in the past.")
    else:
        notice = timedelta(minutes=resource.min_notice_minutes)
        if start - now < notice:
            fail(
                "START_TIME_TOO_LATE",
                "start",
                f"{name} must be booked at least {resource.min_notice_minutes} minutes ahead.",
            )
    start_local, end_local = start.astimezone(tz), end.astimezone(tz)
    if resource.max_advance_days is not None:
        # Compared on the local wall clock, so "30 days ahead" means the same local time 30 days on.
        latest = now.astimezone(tz).replace(tzinfo=None) + timedelta(days=resource.max_advance_days)
        if start_local.replace(tzinfo=None) > latest:
            fail(
                "START_TIME_TOO_EARLY", "start", f"{name} can be booked at most {resource.max_advance_days} days ahead."
            )
    duration = end - start
    if resource.min_duration_minutes is not None and duration < timedelta(minutes=resource.min_duration_minutes):
        fail("TOO_SHORT", "end", f"Bookings of {name} last at least {resource.min_duration_minutes} minutes.")
    if resource.max_duration_minutes is not None and duration > timedelta(minutes=resource.max_duration_minutes):
        fail("TOO_LONG", "end", f"Bookings of {name} last at most {resource.max_duration_minutes} minutes.")
    if not within_bookable_hours(resource, start_local, end_local):
        fail(
            "OUTSIDE_BOOKABLE_HOURS",
            "start",
            f"{name} is not bookable from {start_local:%a %d %b %H:%M} to {end_local:%a %d %b %H:%M} ({tz.key} time).",
        )
    closure = closure_overlapping(closures, resource, start, end)
    if closure is not None:
        fail("RESOURCE_CLOSED", "start", f"{name} is closed then{': ' + closure.message if closure.message else ''}.")
    return failures
