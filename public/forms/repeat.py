"""The optional "Repeat" questions of a requested date and how their errors read
(docs/architecture.md#series). The rule itself is checked by bookings.validation."""

from __future__ import annotations

from bookings.validation.repeat import WEEKDAY_KEYS, Cycle
from core.errors import FieldError

from .fields import Field

# The "Repeats" choices, as bookings.validation.repeat's cycles (the wire values of `repeats`).
REPEAT_CHOICES = [
    (str(Cycle.DAILY.value), "Daily"),
    (str(Cycle.WEEKLY.value), "Weekly"),
    (str(Cycle.MONTHLY.value), "Monthly, on the same date"),
    (str(Cycle.YEARLY.value), "Yearly, on the same date"),
    (str(Cycle.FIRST_OF_MONTH.value), "First weekday of the month (such as the first Monday)"),
    (str(Cycle.SECOND_OF_MONTH.value), "Second weekday of the month"),
    (str(Cycle.THIRD_OF_MONTH.value), "Third weekday of the month"),
    (str(Cycle.FOURTH_OF_MONTH.value), "Fourth weekday of the month"),
    (str(Cycle.LAST_OF_MONTH.value), "Last weekday of the month (such as the last Friday)"),
]
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
REPEAT_PREFIX = "repeat-"  # the repeat inputs' keys on a block: repeat-repeats, repeat-every, ...


def repeat_fields(prefix: str) -> list[Field]:
    """The optional "Repeat" questions of a date. Always read (a module that does not take repeats
    refuses one with NOT_ALLOWED), shown only when the module takes them."""
    return [
        Field(
            name=f"{prefix}repeats",
            key="repeats",
            label="Repeats",
            kind="select",
            options=REPEAT_CHOICES,
            empty_label="Does not repeat",
            help_text="Ask for the same time on several dates. The organizers review every date.",
        ),
        Field(
            name=f"{prefix}repeatEvery",
            key="repeatEvery",
            label="Every",
            kind="number",
            help_text="1: every day, week, month or year; 2: every other one, and so on. Empty means 1.",
            attrs={"min": 1, "max": 99, "step": 1, "inputmode": "numeric"},
        ),
        Field(
            name=f"{prefix}repeatUntil",
            key="repeatUntil",
            label="Until",
            kind="date",
            help_text="The last date, included. Needed when the booking repeats.",
        ),
        Field(
            name=f"{prefix}repeatDays",
            key="days",
            label="On these weekdays",
            kind="weekdays",
            options=list(zip(WEEKDAY_KEYS, WEEKDAY_NAMES, strict=True)),
            value=[],
            help_text="Daily: only these days (none ticked: every day). Weekly, or first … last of the "
            "month: these weekdays (none ticked: the start's weekday). Not for monthly or "
            "yearly on the same date.",
        ),
    ]


def repeat_message(error: FieldError, key: str) -> str:
    """A repeat question's error, worded for the booker."""
    if error.code == "NOT_ALLOWED":
        return "This form does not take repeating bookings. Add each date with “Add another date”."
    if key == "repeats":
        return "Choose how the booking repeats."
    if key == "repeatEvery":
        return "Enter “Every” as a whole number from 1 to 99."
    if key == "repeatUntil" and error.code == "REQUIRED":
        return "Enter the last date of the repeat (“Until”)."
    if key == "repeatUntil" and error.code == "TOO_MANY_OCCURRENCES":
        return (
            f"A repeating booking can have at most {error.meta.get('maxOccurrences')} dates. "
            "Choose an earlier “Until” date."
        )
    if key == "repeatUntil" and "before" in error.message:
        return "“Until” must not be before the start date."
    if key == "repeatUntil":
        return "Enter “Until” as a date."
    if key in WEEKDAY_KEYS:
        return "Weekdays do not apply to a monthly or yearly repeat on the same date. Untick them."
    if error.code == "NO_OCCURRENCES":
        return "This repeat gives no date up to “Until”. Check the weekdays and the dates."
    return error.message
