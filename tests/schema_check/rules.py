"""The business rules of `make schema-check`: the refusals of a schema-valid request that no schema can express,
each named by its error code, the fields it may stand at and the reason (docs/architecture.md#the-schema-is-the-
contract). tests/schema_check/hooks.py drops a "schema-valid request rejected" failure only when every error of
the 4xx answer is one of these."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

# (error code, the fields it may stand at as a regular expression or None for any, why no schema can say
# it). A refused schema-valid request is not a failure only when every error of the answer matches one of
# these, and only for the "schema-valid request rejected" check (positive_data_acceptance): every other check
# (no 5xx, documented status, body and headers, negative data refused, ...) still judges the same response.
# The in-process tests hold each rule to its code; docs/architecture.md#the-schema-is-the-contract.
_EVENT = r"(event|events\[\d+\])"
_ANY = None
# A fourth element narrows a rule to the operations it names ("METHOD /path" as a regular expression).
_CATALOG_PATCH = r"PATCH /api/v1/(rates|products|units|discount-codes|booking-credits)/\{id\}"
_RULES: list[tuple[Any, ...]] = [
    # What exists
    (
        "NOT_FOUND",
        _ANY,
        "an id that names no object of the caller's organizations: the schema says what an id "
        "looks like, not which objects exist (in the path it is a 404, which the check allows)",
    ),
    (
        "NOT_UNIQUE",
        _ANY,
        "a slug, an email address, a name or a discount code that another object of the organization already has",
    ),
    ("INSUFFICIENT_BALANCE", r"delta", "an adjustment that takes back more credit than is left unspent (its state)"),
    (
        "MAX_VALUE",
        r"delta",
        "an adjustment that would lift the credit's amount above what the column holds: the schema bounds the "
        "delta alone, not the stored amount plus the delta (its state)",
        r"POST /api/v1/booking-credits/\{id\}/adjust",
    ),
    ("RESOURCE_NOT_OFFERED", rf"{_EVENT}\.resourceIds", "a resource the module does not offer (its configuration)"),
    ("RESOURCE_ARCHIVED", _ANY, "a resource archived since (its state)"),
    ("INVALID_UNIT", rf"{_EVENT}\.unitId", "a unit that is not an active unit of the event's resources"),
    (
        "UNKNOWN_FIELD",
        rf"({_EVENT}|contact)\.[^.\[]*",
        "a key of a requested event or of the contact that is no "
        "custom field of the module: the schema allows the answers keyed by field id, not which fields exist",
    ),
    ("INVALID", r"eventId", "an event that an approved booking cannot be based on (its state)"),
    ("EVENT_ALREADY_BOOKED", r"eventId", "an event that already belongs to another booking"),
    ("INVALID", r"cursor", "a cursor is the nextCursor of a previous page; the schema can only say it is text"),
    (
        "PRECONDITION_FAILED",
        _ANY,
        "If-Match names another version of the object (412): the schema cannot know the current ETag",
    ),
    ("NO_CHANGES", _ANY, "a change request that asks for nothing the booking does not already have"),
    ("NOT_PRICED", _ANY, "overridePrice for an event no approved booking priced (its state)"),
    (
        "IMMUTABLE_FIELD",
        r"orgId|resourceId|contactId|customerId|amount",
        "a field of a rate, product, unit, discount code or credit fixed once created, sent with another value "
        "than the stored one (the stored value echoed back is accepted): the schema cannot know the stored value",
        _CATALOG_PATCH,
    ),
    (
        "INVALID",
        r"startTime|endTime",
        "a PATCH that gives one end of a rate's time window while the stored rate has no other end (its state; "
        "a new rate's schema asks for both or neither)",
        r"PATCH /api/v1/rates/\{id\}",
    ),
    (
        "INVALID",
        r"amount",
        "a PATCH that leaves a discount code with neither a percentage nor an amount: the other is the stored "
        "one (its state; a new code's schema asks for exactly one)",
        r"PATCH /api/v1/discount-codes/\{id\}",
    ),
    ("PRIVATE_ADDRESS", r"url", "a webhook URL whose host resolves to a private address (DNS, at the time)"),
    # Two fields compared
    ("END_BEFORE_START", _ANY, "an end that is not after its start: the schema cannot compare two fields"),
    ("WINDOW_TOO_LONG", _ANY, "an availability window longer than allowed: the schema cannot subtract two fields"),
    (
        "INVALID",
        r"maxDurationMinutes|maxMinutes",
        "a maximum duration below the minimum (a resource's, a rate's): two fields compared",
    ),
    ("INVALID", r"whichEventsToUpdate", "whichEventsToUpdate in the query string and the body with two values"),
    # The booking rules, in the venue's local time and against the calendar (docs/architecture.md#booking-rules)
    ("IN_THE_PAST", _ANY, "a time already past in the venue's time zone"),
    ("START_TIME_TOO_EARLY", _ANY, "less notice than the resource asks"),
    ("START_TIME_TOO_LATE", _ANY, "further ahead than the resource takes bookings"),
    ("TOO_SHORT", _ANY, "shorter than the resource's minimum duration"),
    ("TOO_LONG", _ANY, "longer than the resource's maximum duration"),
    ("OUTSIDE_BOOKABLE_HOURS", _ANY, "outside the resource's bookable hours, in the venue's local time"),
    ("RESOURCE_CLOSED", _ANY, "a closure of the resource"),
    ("TOO_MANY_ATTENDEES", _ANY, "more people than the resources hold together"),
    ("CAPACITY_EXCEEDED", _ANY, "more visitors than the smallest resource holds"),
    ("TOO_MANY_OCCURRENCES", _ANY, "a repeat with more occurrences than allowed until its last date"),
    ("NO_OCCURRENCES", _ANY, "a repeat whose rule gives no date before its end"),
    (
        "NOT_ALLOWED",
        _ANY,
        "what the caller may not ask (a staff-only field in a public request, a repeat the "
        "module does not allow): the schema is the same for every caller",
    ),
    # Prices (docs/architecture.md#prices)
    ("RATE_NOT_APPLICABLE", _ANY, "a rate that does not apply to that time or customer"),
    ("NO_APPLICABLE_RATE", _ANY, "no rate of the resource applies"),
    ("INVALID_PRODUCT", _ANY, "a product that is not an active product of the event's resources"),
    ("INVALID_DISCOUNT_CODE", _ANY, "a discount code that does not exist, expired or is used up"),
]


def errors_of(response: Any) -> list[tuple[str, str]]:
    """(field, code) of each error of an error body `{status, error, errors: [{field, code, message}]}`."""
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return []
    return [(str(e.get("field")), str(e.get("code"))) for e in body["errors"] if isinstance(e, dict)]


class Rule(NamedTuple):
    code: str
    where: str | None  # the fields it may stand at (a regular expression); None: any
    reason: str
    operations: str | None = None  # "METHOD /path" of the operations it is for (a regular expression); None: all

    def covers(self, operation: str, field: str, code: str) -> bool:
        return (
            code == self.code
            and (self.where is None or re.fullmatch(self.where, field, re.DOTALL) is not None)
            and (self.operations is None or re.fullmatch(self.operations, operation) is not None)
        )


BUSINESS_RULES = [Rule(*rule) for rule in _RULES]


def is_business_rule(status: int, errors: list[tuple[str, str]], operation: str = "") -> bool:
    """Whether a 4xx answer to `operation` ("METHOD /path" as the schema writes it) is a business rule refusal."""
    return (
        400 <= status < 500
        and bool(errors)
        and all(any(rule.covers(operation, field, code) for rule in BUSINESS_RULES) for field, code in errors)
    )
