"""The helpers of the repeat rule tests (tests/bookings/test_repeat.py, test_repeat_cycles.py): the weekdays
and a repeat rule's body."""

from __future__ import annotations

WEEKDAY_KEYS = (
    "repeatOnMondays",
    "repeatOnTuesdays",
    "repeatOnWednesdays",
    "repeatOnThursdays",
    "repeatOnFridays",
    "repeatOnSaturdays",
    "repeatOnSundays",
)
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def rule(repeats: int, until: str, every: int | None = None, days: tuple[int, ...] = ()) -> dict:
    body = {"repeats": repeats, "repeatUntil": until, **{WEEKDAY_KEYS[d]: True for d in days}}
    if every is not None:
        body["repeatEvery"] = every
    return body
