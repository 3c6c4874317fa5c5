"""Occurrences of a series (docs/architecture.md#series): which of them
a change or a deletion addresses, and how a time change carries over to them.

A series' repeat settings are create-only: after it exists, occurrences are only changed or deleted,
never added. A change addressed to one occurrence can apply to this one only, this one and the later
ones, or all of them. A time change moves every chosen occurrence by the same wall-clock shift in the
series' timezone, so a weekly 09:00 Europe/London series moved to 10:30 is at 10:30 local in winter and
in summer alike (the UTC shift differs across the clock change; the local one does not).

Pure functions: events.services writes events with them, bookings.lifecycle spreads a change request
over a booked series with the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import FieldError, ValidationFailed

WHICH_EVENTS = "whichEventsToUpdate"


class WhichEvents(IntEnum):
    """The wire values (docs/architecture.md#series, docs/adr/0007-camelcase-integer-enum-wire-format.md)."""

    THIS = 1  # UpdateThisBookingOnly (also: delete this one)
    THIS_AND_FUTURE = 2  # UpdateFutureBookingsOnly: this occurrence and the later ones
    ALL = 3  # UpdateAllBookings
    NOT_CHARGED = 4  # UpdateNotChargedBookings: every occurrence that is not charged
    DELETE_ALL = 5  # DeleteAllBookings
    DELETE_THIS_AND_AFTER = 6  # DeleteBookingsAfterThis (this one included)
    DELETE_NOT_CHARGED = 7  # DeleteNotChargedBookings: every occurrence that is not charged
    REVERT_ALL_CHARGES = 8  # RevertAllCharges: the change applies to all occurrences; their charges are reverted


# "Charged" (4 and 7): one of the occurrence's charges is CHARGED or INVOICED; an occurrence without a
# charge, or whose charges are NOT_CHARGED or REVERTED, is not charged (bookings.pricing.charges.charged_event_ids).
UPDATE_VALUES = (
    WhichEvents.THIS,
    WhichEvents.THIS_AND_FUTURE,
    WhichEvents.ALL,
    WhichEvents.NOT_CHARGED,
    WhichEvents.REVERT_ALL_CHARGES,
)
DELETE_VALUES = (
    WhichEvents.THIS,
    WhichEvents.THIS_AND_FUTURE,
    WhichEvents.ALL,
    WhichEvents.DELETE_ALL,
    WhichEvents.DELETE_THIS_AND_AFTER,
    WhichEvents.DELETE_NOT_CHARGED,
)
PRICING_VALUES = (WhichEvents.NOT_CHARGED, WhichEvents.DELETE_NOT_CHARGED, WhichEvents.REVERT_ALL_CHARGES)
UPDATE_HELP = (
    "Which occurrences of the event's series the change applies to: 1 this event only (default), 2 this "
    "and the later occurrences, 3 all occurrences, 4 every occurrence that is not charged (none of its "
    "charges CHARGED or INVOICED; this event must not be charged: else 400 EVENT_CHARGED), 8 all "
    "occurrences, and every charge of the series that is not final (NOT_CHARGED, CHARGED) is REVERTED "
    "(invoiced ones stay; nothing is canceled; a body with only whichEventsToUpdate 8 just reverts). For "
    "an event outside a series every value means this event. Canceled occurrences other than this one "
    "are left as they are. A time change moves each chosen occurrence by the same wall-clock shift in "
    "the series' timezone. 5, 6 and 7 delete (send them with DELETE): 400 INVALID_CHOICE."
)
DELETE_HELP = (
    "Which occurrences of the event's series to delete: 1 this event only (default), 5 all occurrences, "
    "6 this and the later occurrences, 7 every occurrence that is not charged (this event must not be "
    "charged: else 400 EVENT_CHARGED). 3 and 2 are accepted as 5 and 6. 4 and 8 change (send them with "
    "PATCH): 400 INVALID_CHOICE."
)


def which_events_parse(value: Any, *, deleting: bool, field: str = WHICH_EVENTS, charges: bool = True) -> WhichEvents:
    """The scope of a change (deleting false: 1, 2, 3, 4 or 8) or of a deletion (1, 5, 6 or 7; 2 and 3 are
    read as 6 and 5). None is 1. A numeric string is accepted (query parameters are strings). `charges`
    false refuses 4, 7 and 8 with NOT_SUPPORTED (a booker's change request knows nothing of charges)."""
    if value is None or value == "":
        return WhichEvents.THIS
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    allowed = DELETE_VALUES if deleting else UPDATE_VALUES
    if isinstance(value, bool) or not isinstance(value, int) or value not in set(WhichEvents):
        raise ValidationFailed(errors=[FieldError(field, "INVALID_CHOICE", _choices_text(deleting))])
    which = WhichEvents(value)
    if which in PRICING_VALUES and not charges:
        raise ValidationFailed(
            errors=[
                FieldError(
                    field,
                    "NOT_SUPPORTED",
                    f"{int(which)} ({which.name}) is about charges: staff use it on the events API.",
                )
            ]
        )
    if which not in allowed:
        verb = "changes occurrences: send it with PATCH" if deleting else "deletes occurrences: send it with DELETE"
        raise ValidationFailed(
            errors=[FieldError(field, "INVALID_CHOICE", f"{int(which)} {verb}. {_choices_text(deleting)}")]
        )
    if deleting:
        which = {
            WhichEvents.ALL: WhichEvents.DELETE_ALL,
            WhichEvents.THIS_AND_FUTURE: WhichEvents.DELETE_THIS_AND_AFTER,
        }.get(which, which)
    return which


def _choices_text(deleting: bool) -> str:
    if deleting:
        return (
            "whichEventsToUpdate is 1 (this event), 5 (all events), 6 (this and the later events) or 7 (the "
            "events not charged)."
        )
    return (
        "whichEventsToUpdate is 1 (this event), 2 (this and the later events), 3 (all events), 4 (the events "
        "not charged) or 8 (all events, reverting the series' charges)."
    )


def which_events_covers(which: WhichEvents, *, start: datetime, target_start: datetime) -> bool:
    """Whether another occurrence of the series, starting at `start`, is chosen as well by a change (or a
    deletion) addressed to the one starting at `target_start` (which is always chosen)."""
    if which in (
        WhichEvents.ALL,
        WhichEvents.DELETE_ALL,
        WhichEvents.NOT_CHARGED,
        WhichEvents.DELETE_NOT_CHARGED,
        WhichEvents.REVERT_ALL_CHARGES,
    ):
        return True  # 4 and 7 leave out the charged ones afterwards (events.services)
    if which in (WhichEvents.THIS_AND_FUTURE, WhichEvents.DELETE_THIS_AND_AFTER):
        return start >= target_start
    return False


def series_tz(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else fallback
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


def wall_clock(moment: datetime, tz: ZoneInfo) -> datetime:
    """The naive wall-clock reading of `moment` in tz."""
    return moment.astimezone(tz).replace(tzinfo=None)


def local_delta(old: datetime, new: datetime, tz: ZoneInfo) -> timedelta:
    """How far the wall clock of tz moves from `old` to `new` (09:00 → 10:30 is 1:30, whatever the UTC gap)."""
    return wall_clock(new, tz) - wall_clock(old, tz)


def local_shift(moment: datetime, delta: timedelta, tz: ZoneInfo) -> datetime:
    """`moment` moved by `delta` on the wall clock of tz, in UTC. A wall-clock time the clocks skip (01:30
    on a spring-forward night) is read with the offset before the gap, i.e. it lands just after the gap;
    a repeated one (autumn) is its first occurrence."""
    if not delta:
        return moment
    return (wall_clock(moment, tz) + delta).replace(tzinfo=tz).astimezone(UTC)


FREQUENCIES = {
    "daily": ("daily", "day"),
    "weekly": ("weekly", "week"),
    "monthly": ("monthly", "month"),
    "yearly": ("yearly", "year"),
}
# The rule's frequency however it is spelled: RFC 5545 names, and the repeat-cycle numbers clients send
# (what bookings.validation.repeat stores: 1 Daily … 4 Yearly; 5-9 the first … fourth or last
# weekday of a month; docs/architecture.md#series).
_FREQUENCY_ALIASES = {
    "DAILY": "daily",
    "WEEKLY": "weekly",
    "MONTHLY": "monthly",
    "YEARLY": "yearly",
    "1": "daily",
    "2": "weekly",
    "3": "monthly",
    "4": "yearly",
    "5": "monthly",
    "6": "monthly",
    "7": "monthly",
    "8": "monthly",
    "9": "monthly",
}
_NTH = {"5": "first", "6": "second", "7": "third", "8": "last", "9": "fourth"}
_DAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


def series_describe(rule: Mapping[str, Any] | None, count: int) -> str:
    """ "weekly, 10 occurrences", "every 2 weeks on Mondays and Thursdays, 6 occurrences", "monthly on the
    last Friday, 4 occurrences" (or "repeating, …" for a rule it cannot read)."""
    rule = rule if isinstance(rule, Mapping) else {}
    raw = next((rule[k] for k in ("repeats", "freq", "frequency", "cycle") if rule.get(k) is not None), None)
    key = str(raw).strip().upper() if raw is not None else ""
    freq = _FREQUENCY_ALIASES.get(key)
    interval = next((rule[k] for k in ("repeatEvery", "interval", "every") if rule.get(k) is not None), 1)
    try:
        interval = int(interval)
    except (TypeError, ValueError):
        interval = 1
    days = [name for name in _DAYS if rule.get(f"repeatOn{name}") is True]
    if freq is None:
        what = "repeating"
    else:
        what = f"every {interval} {FREQUENCIES[freq][1]}s" if interval > 1 else FREQUENCIES[freq][0]
        if key in _NTH:
            weekdays = " or ".join(d[:-1] for d in days) or "weekday"
            what += f" on the {_NTH[key]} {weekdays}"
        elif days and freq in ("daily", "weekly"):
            what += " on " + (", ".join(days[:-1]) + " and " + days[-1] if len(days) > 1 else days[0])
    return f"{what}, {count} occurrence{'s' if count != 1 else ''}"
