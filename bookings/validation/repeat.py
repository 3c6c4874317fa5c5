"""Repeat rules on booking requests (docs/architecture.md#series).

A requested event may carry `repeat`:

    {"repeats": 2, "repeatEvery": 1, "repeatUntil": "2027-04-01",
     "repeatOnMondays": false, ..., "repeatOnSundays": false}

`repeats` is the cycle: 1 Daily, 2 Weekly, 3 Monthly, 4 Yearly, 5 FirstOfMonth,
6 SecondOfMonth, 7 ThirdOfMonth, 8 LastOfMonth, 9 FourthOfMonth; left out (or null), 2 Weekly, the
reference's default. `repeatEvery` is the interval in days,
weeks, months or years (default 1). `repeatUntil` is a local date, inclusive (required). The weekday flags:

- Daily: only on the chosen weekdays (none chosen: every day).
- Weekly: on the chosen weekdays (none chosen: the start's weekday).
- Monthly: the start's day of the month; months without that day (the 31st, 30 February) are skipped, as
  RFC 5545 does. Yearly: the start's month and day (29 February: leap years only). No weekday applies.
- FirstOfMonth … FourthOfMonth, LastOfMonth: the first … fourth or last of each chosen weekday (none
  chosen: the start's weekday) in every `repeatEvery`-th month.

The start gives the time of day and the first possible date; the start date is an occurrence only when
it matches the rule (dateutil's semantics). The rule is expanded with dateutil.rrule in the venue's
local wall-clock time, so 09:00 stays 09:00 local across DST changes, and each occurrence keeps the
request's wall-clock length. Converting to UTC: a local time that does not exist (the spring change's
skipped hour) moves forward by the gap, and the whole occurrence with it (01:30 on 2026-03-29 in
Europe/London becomes 02:30 BST); a local time that exists twice (the autumn change's repeated hour)
takes the first (fold=0, summer time).

This module is pure: parsing, expansion and the per-occurrence shape of errors. The validator
(bookings.validation.events) applies it and the module's cap (`BookingModule.max_occurrences`); the booking
rules, including the resource's advance limit, are then checked for every occurrence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import IntEnum
from itertools import islice
from typing import Any, TypedDict
from uuid import UUID
from zoneinfo import ZoneInfo

from dateutil import rrule as rr

from core.errors import FieldError


class Cycle(IntEnum):
    """The repeat cycles: the wire values of `repeats`."""

    DAILY = 1
    WEEKLY = 2
    MONTHLY = 3
    YEARLY = 4
    FIRST_OF_MONTH = 5
    SECOND_OF_MONTH = 6
    THIRD_OF_MONTH = 7
    LAST_OF_MONTH = 8
    FOURTH_OF_MONTH = 9


# The Nth-of-month cycles → which occurrence of the weekday in the month (-1: the last).
NTH_OF_MONTH = {
    Cycle.FIRST_OF_MONTH: 1,
    Cycle.SECOND_OF_MONTH: 2,
    Cycle.THIRD_OF_MONTH: 3,
    Cycle.FOURTH_OF_MONTH: 4,
    Cycle.LAST_OF_MONTH: -1,
}
# The weekday flags, in Python's weekday order (0 = Monday).
WEEKDAY_KEYS = (
    "repeatOnMondays",
    "repeatOnTuesdays",
    "repeatOnWednesdays",
    "repeatOnThursdays",
    "repeatOnFridays",
    "repeatOnSaturdays",
    "repeatOnSundays",
)
REPEAT_KEYS = frozenset({"repeats", "repeatEvery", "repeatUntil", *WEEKDAY_KEYS})
MAX_EVERY = 99
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200
RRULE_WEEKDAYS = (rr.MO, rr.TU, rr.WE, rr.TH, rr.FR, rr.SA, rr.SU)
# Cycles whose occurrences are pinned to the start's date: a chosen weekday would contradict them.
DATE_CYCLES = {Cycle.MONTHLY, Cycle.YEARLY}


@dataclass(frozen=True)
class RepeatRule:
    """A parsed repeat: the cycle, its interval, the last local date (inclusive), the chosen weekdays."""

    repeats: Cycle
    every: int
    until: date
    weekdays: tuple[int, ...] = ()  # 0 = Monday, sorted, no repeats

    def as_wire(self) -> dict[str, Any]:
        """The rule as the API shows it (and as BookingEvent.repeat and EventSeries.rule store it)."""
        return {
            "repeats": int(self.repeats),
            "repeatEvery": self.every,
            "repeatUntil": self.until.isoformat(),
            **{key: day in self.weekdays for day, key in enumerate(WEEKDAY_KEYS)},
        }


@dataclass(frozen=True)
class Occurrence:
    """What a clean event knows of the series it belongs to: the rule (wire form), the id that groups the
    occurrences of one repeated request, and its place in the expansion (0-based)."""

    rule: dict[str, Any]
    group: UUID
    index: int


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value) < 12:
        return int(value.strip())
    return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None or value == "":
        return False
    if isinstance(value, str) and value.lower() in {"true", "on", "1", "yes", "false", "off", "0", "no"}:
        return value.lower() in {"true", "on", "1", "yes"}
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        parsed = value
    elif isinstance(value, str) and len(value.strip()) == 10:
        try:
            parsed = date.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return parsed if EARLIEST_YEAR <= parsed.year <= LATEST_YEAR else None


def parse_repeat(raw: Any, path: str) -> tuple[RepeatRule | None, list[FieldError]]:
    """The rule, or None with every problem as a field error under `path` (`event.repeat.repeatEvery`)."""
    if not isinstance(raw, Mapping):
        return None, [
            FieldError(
                path,
                "INVALID",
                "repeat must be an object (repeats, repeatEvery, repeatUntil, repeatOnMondays … repeatOnSundays).",
            )
        ]
    errors = [
        FieldError(f"{path}.{key}", "UNKNOWN_FIELD", f"{key} is not a repeat setting.")
        for key in raw
        if key not in REPEAT_KEYS
    ]
    cycle = _parse_cycle(raw.get("repeats"), path, errors)
    every = _parse_every(raw.get("repeatEvery"), path, errors)
    until = _parse_until(raw.get("repeatUntil"), path, errors)
    weekdays = _parse_weekdays(raw, cycle, path, errors)
    if errors or cycle is None or until is None:
        return None, errors
    return RepeatRule(repeats=cycle, every=every, until=until, weekdays=tuple(weekdays)), []


def _parse_cycle(value: Any, path: str, errors: list[FieldError]) -> Cycle | None:
    """The cycle; WEEKLY when not given (the default of the products' references, as for repeatEvery's 1)."""
    if value is None or value == "":
        return Cycle.WEEKLY
    number = _int(value)
    if number is None or number not in Cycle._value2member_map_:
        errors.append(
            FieldError(
                f"{path}.repeats",
                "INVALID_CHOICE",
                "repeats is 1 Daily, 2 Weekly, 3 Monthly, 4 Yearly, 5 FirstOfMonth, "
                "6 SecondOfMonth, 7 ThirdOfMonth, 8 LastOfMonth or 9 FourthOfMonth.",
            )
        )
        return None
    return Cycle(number)


def _parse_every(value: Any, path: str, errors: list[FieldError]) -> Any:
    """The interval (1 when not given); what was sent when it is not valid (the problem is in `errors`)."""
    if value is None or value == "":
        return 1
    every = _int(value)
    if every is None:
        errors.append(FieldError(f"{path}.repeatEvery", "INVALID", "repeatEvery must be a whole number."))
    elif every < 1:
        errors.append(FieldError(f"{path}.repeatEvery", "MIN_VALUE", "repeatEvery must be at least 1."))
    elif every > MAX_EVERY:
        errors.append(FieldError(f"{path}.repeatEvery", "MAX_VALUE", f"repeatEvery must be at most {MAX_EVERY}."))
    return every


def _parse_until(value: Any, path: str, errors: list[FieldError]) -> date | None:
    if value is None or value == "":
        errors.append(FieldError(f"{path}.repeatUntil", "REQUIRED", "Say until which date the booking repeats."))
        return None
    until = _date(value)
    if until is None:
        errors.append(FieldError(f"{path}.repeatUntil", "INVALID", "repeatUntil must be a date (YYYY-MM-DD)."))
    return until


def _parse_weekdays(raw: Mapping[str, Any], cycle: Cycle | None, path: str, errors: list[FieldError]) -> list[int]:
    weekdays = []
    for day, key in enumerate(WEEKDAY_KEYS):
        flag = _bool(raw.get(key))
        if flag is None:
            errors.append(FieldError(f"{path}.{key}", "INVALID", f"{key} is true or false."))
        elif flag:
            weekdays.append(day)
            if cycle in DATE_CYCLES:
                errors.append(
                    FieldError(
                        f"{path}.{key}",
                        "INVALID",
                        f"A {cycle.name.lower()} repeat keeps the start's date; weekdays do not apply to it.",
                    )
                )
    return weekdays


def _naive_local(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None) if moment.tzinfo is not None else moment


def local_to_utc(naive: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time in `tz` as UTC. fold=0: a time in the skipped hour takes the offset before the
    change, which lands the gap's length later (01:30 → 02:30 BST); a repeated time takes its first pass."""
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


class _RRuleCommon(TypedDict):
    """The keyword arguments every cycle's rrule shares."""

    dtstart: datetime
    interval: int
    until: datetime
    wkst: rr.weekday


def _rrule(rule: RepeatRule, start_local: datetime) -> rr.rrule:
    until = datetime.combine(rule.until, time.max)
    common: _RRuleCommon = {"dtstart": start_local, "interval": rule.every, "until": until, "wkst": rr.MO}
    own_day = (start_local.weekday(),)
    if rule.repeats == Cycle.DAILY:
        return rr.rrule(rr.DAILY, byweekday=rule.weekdays or None, **common)
    if rule.repeats == Cycle.WEEKLY:
        return rr.rrule(rr.WEEKLY, byweekday=rule.weekdays or own_day, **common)
    if rule.repeats == Cycle.MONTHLY:
        return rr.rrule(rr.MONTHLY, bymonthday=start_local.day, **common)
    if rule.repeats == Cycle.YEARLY:
        return rr.rrule(rr.YEARLY, bymonth=start_local.month, bymonthday=start_local.day, **common)
    nth = NTH_OF_MONTH[rule.repeats]
    return rr.rrule(rr.MONTHLY, byweekday=[RRULE_WEEKDAYS[d](nth) for d in rule.weekdays or own_day], **common)


def expand_repeat(
    *, start_local: datetime, end_local: datetime, tz: ZoneInfo, rule: RepeatRule, limit: int | None = None
) -> list[tuple[datetime, datetime]]:
    """The occurrences of `rule` from the requested period on, as (start, end) in UTC, in order.

    `start_local`/`end_local` are the first requested period as naive wall-clock times in `tz` (aware
    values are converted to it). Every occurrence lasts as long on the wall clock as the request. With
    `limit`, at most that many are computed (a caller that caps a series at N asks for N + 1 to know
    whether the rule gives more)."""
    start_local, end_local = _naive_local(start_local, tz), _naive_local(end_local, tz)
    length = end_local - start_local
    dates = _rrule(rule, start_local.replace(microsecond=0))
    out = []
    for occurrence in islice(dates, limit):
        occurrence = occurrence.replace(microsecond=start_local.microsecond)
        start = local_to_utc(occurrence, tz)
        # A start in the skipped hour moved forward on the wall clock; the end moves with it.
        shift = start.astimezone(tz).replace(tzinfo=None) - occurrence
        end = local_to_utc(occurrence + length + shift, tz)
        if end <= start:  # pragma: no cover - only if two changes fell inside one occurrence
            end = start + length
        out.append((start, end))
    return out


# --- errors, one per occurrence ---------------------------------------------------------------------


@dataclass(frozen=True)
class OccurrenceRef:
    """Where an occurrence's errors are filed (`event.occurrences[6]`, or `events[6]` at approval), and
    what names it in them."""

    field: str
    index: int
    start: datetime
    end: datetime
    tz: ZoneInfo


def occurrence_label(start: datetime, tz: ZoneInfo) -> str:
    return f"{start.astimezone(tz):%a %d %b %Y %H:%M}"


def _ref_of(path: str, refs: Mapping[str, OccurrenceRef]) -> OccurrenceRef | None:
    if path in refs:
        return refs[path]
    for position, char in enumerate(path):
        if char == "." and path[:position] in refs:
            return refs[path[:position]]
    return None


def collapse_occurrence_errors(errors: Sequence[FieldError], refs: Iterable[OccurrenceRef]) -> list[FieldError]:
    """The errors with those of each occurrence merged into one, filed at the occurrence's path: its
    code is the first problem's (all codes in meta `codes`), its message starts with the local date and
    time, and meta carries `occurrence`, `date`, `start`, `end` (UTC), `startLocal`, `timezone`, plus
    the first problem's own meta (`resourceId`, `conflictingEventIds`). Other errors come first, as given;
    then the occurrences' in the order of `refs`."""
    by_field = {ref.field: ref for ref in refs}
    if not by_field:
        return list(errors)
    others: list[FieldError] = []
    grouped: dict[str, list[FieldError]] = {}
    for error in errors:
        ref = _ref_of(error.field, by_field)
        if ref is None:
            others.append(error)
        else:
            grouped.setdefault(ref.field, []).append(error)
    merged = []
    for field_name, ref in by_field.items():
        problems = grouped.get(field_name)
        if not problems:
            continue
        first = problems[0]
        if first.meta.get("occurrence") == ref.index and len(problems) == 1:
            merged.append(first)  # already in this form (collapsed before)
            continue
        messages = list(dict.fromkeys(p.message for p in problems))
        local = ref.start.astimezone(ref.tz)
        meta = {
            **first.meta,
            "occurrence": ref.index,
            "date": local.date().isoformat(),
            "start": ref.start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "end": ref.end.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "startLocal": local.replace(tzinfo=None).isoformat(),
            "timezone": ref.tz.key,
            "codes": list(dict.fromkeys(p.code for p in problems)),
        }
        merged.append(
            FieldError(field_name, first.code, f"{occurrence_label(ref.start, ref.tz)}: {' '.join(messages)}", meta)
        )
    return others + merged


def failed_occurrences(errors: Iterable[FieldError], refs: Iterable[OccurrenceRef]) -> set[str]:
    """The paths of the occurrences (of `refs`) that have an error."""
    by_field = {ref.field: ref for ref in refs}
    return {ref.field for error in errors if (ref := _ref_of(error.field, by_field)) is not None}
