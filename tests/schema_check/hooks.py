"""Schemathesis hooks of `make schema-check` (loaded by tests/schema_check/schemathesis.toml).

Two jobs:

1. Steering (`before_call`): generated ids are random UUIDs that match nothing, so three quarters of the
   requests (chosen by a hash of the request, so every phase is steered alike) get the seeded objects' ids
   (tests/schema_check/seed.py) in the path, then in the body and query, then what a success needs (a valid
   contact and requested time), as the in-process fuzz test does (tests/api/test_schema_fuzz.py). Only parts
   generated as valid are steered, so every schema-violating part still reaches the server; Schemathesis
   re-validates whatever a hook changed before it judges the response.

2. Business rules (`filter_failure`): a "schema-valid request rejected" failure is dropped only when the
   answer is a documented refusal that no schema can express, named by its error code in BUSINESS_RULES
   below with the reason. Every other 4xx to a schema-valid request is a failure: the schema must say what
   the server refuses.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase

# (error code, the fields it may stand at as a regular expression or None for any, why no schema can say
# it). A refused schema-valid request is not a failure only when every error of the answer matches one of
# these, and only for the "schema-valid request rejected" check (positive_data_acceptance): every other check
# (no 5xx, documented status, body and headers, negative data refused, ...) still judges the same response.
# The in-process tests hold each rule to its code; docs/architecture.md#the-schema-is-the-contract.
_EVENT = r"(event|events\[\d+\])"
_ANY = None
BUSINESS_RULES: list[tuple[str, str | None, str]] = [
    # What exists
    (
        "NOT_FOUND",
        _ANY,
        "an id that names no object of the caller's organizations: the schema says what an id "
        "looks like, not which objects exist (in the path it is a 404, which the check allows)",
    ),
    ("NOT_UNIQUE", _ANY, "a slug or an email address that another object of the organization already has"),
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
    ("PRIVATE_ADDRESS", r"url", "a webhook URL whose host resolves to a private address (DNS, at the time)"),
    # Two fields compared
    ("END_BEFORE_START", _ANY, "an end that is not after its start: the schema cannot compare two fields"),
    ("WINDOW_TOO_LONG", _ANY, "an availability window longer than allowed: the schema cannot subtract two fields"),
    ("INVALID", r"maxDurationMinutes", "a maximum duration below the minimum: two fields compared"),
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
    # Until request schemas forbid unknown keys (additionalProperties: false, with 400 UNKNOWN_FIELD for them),
    # Schemathesis adds keys the schema does not declare to valid bodies; PATCH /bookings/{id} refuses them.
    (
        "IMMUTABLE_FIELD",
        r"(?!(customerId|contactId|internalNotes)$).*",
        "a key PATCH /bookings/{id} does not declare (every other field of a booking is immutable)",
    ),
]
SEED: dict[str, Any] = json.loads(Path(os.environ["SCHEMA_CHECK_DATA"]).read_text())

# The seeded object each path's `{id}` stands for (seed.py's "objects"; DELETE takes the "spares").
PATH_OBJECTS = {
    "/api/v1/webhook-endpoints/{id}": "webhook_endpoint",
    "/api/v1/webhook-endpoints/{id}/deliveries": "webhook_endpoint",
    "/api/v1/bookings/{id}": "pending",
    "/api/v1/bookings/{id}/approve": "pending",
    "/api/v1/bookings/{id}/deny": "pending",
    "/api/v1/bookings/{id}/cancel": "approved",
    "/api/v1/booking-change-requests/{id}": "change_request",
    "/api/v1/booking-change-requests/{id}/approve": "change_request",
    "/api/v1/booking-change-requests/{id}/deny": "change_request",
    "/api/v1/booking-modules/{id}": "module",
    "/api/v1/public/booking-modules/{id}": "module",
    "/api/v1/public/booking-modules/{id}/availability": "module",
    "/api/v1/portals/{id}": "portal",
    "/api/v1/venues/{id}": "venue",
    "/api/v1/resources/{id}": "room",
    "/api/v1/resources/{id}/availability": "room",
    "/api/v1/events/{id}": "event",
    "/api/v1/customers/{id}": "customer",
    "/api/v1/contacts/{id}": "contact",
    "/api/v1/charges/{id}/charge": "charge",
    "/api/v1/charges/{id}/invoice": "charge",
    "/api/v1/charges/{id}/revert": "charge",
}


def _references() -> dict[str, Any]:
    """Body and query keys that name another object (or a time) → a value that exists in the seeded data."""
    objects = SEED["objects"]
    return {
        "orgId": objects["org"],
        "venueId": objects["venue"],
        "bookingModuleId": objects["module"],
        "portalId": objects["portal"],
        "bookingId": objects["approved"],
        "customerId": objects["customer"],
        "contactId": objects["contact"],
        "resourceId": objects["room"],
        "resourceIds": [objects["room"]],
        "clientBookingLastUpdatedAt": SEED["pendingUpdatedAt"],
        "start": SEED["start"],
        "end": SEED["end"],
    }


REFERENCES = _references()


def _choice(case: Any) -> int:
    """0: as generated; 1: the path id of a seeded object; 2: references too; 3: what a success needs too."""
    key = repr((case.method, case.path, case.path_parameters, case.query, case.body))
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % 4


def _positive(case: Any, location: ParameterLocation) -> bool:
    meta = case.meta
    if meta is None:
        return True
    component = meta.components.get(location)
    return component is None or component.mode.is_positive


def _steer_path(case: Any) -> None:
    name = PATH_OBJECTS.get(case.path)
    if not (name and isinstance(case.path_parameters, dict) and "id" in case.path_parameters):
        return
    pool = SEED["spares"] if case.method.upper() == "DELETE" and name in SEED["spares"] else SEED["objects"]
    case.path_parameters = {**case.path_parameters, "id": pool[name]}


def _steer_references(case: Any) -> None:
    if isinstance(case.query, dict) and _positive(case, ParameterLocation.QUERY):
        query = {key: REFERENCES.get(key, value) for key, value in case.query.items()}
        if case.path.endswith("/availability"):
            query.update(start=REFERENCES["start"], end=REFERENCES["end"])
        case.query = query
    if isinstance(case.body, dict) and _positive(case, ParameterLocation.BODY):
        case.body = {
            key: REFERENCES[key] if key in REFERENCES and key not in ("start", "end") else value
            for key, value in case.body.items()
        }


def _event(days: int) -> dict[str, Any]:
    """A requested time `days` after the seeded one (different cases, different days: fewer conflicts)."""
    start = datetime.fromisoformat(SEED["start"]) + timedelta(days=days)
    return {
        "title": "Team meeting",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "resourceIds": [SEED["objects"]["room"]],
    }


def _steer_success(case: Any) -> None:
    """What a success needs, for a dict body generated as valid."""
    if not (isinstance(case.body, dict) and _positive(case, ParameterLocation.BODY)):
        return
    method, body = case.method.upper(), dict(case.body)
    if method == "POST" and case.path in ("/api/v1/bookings/submit", "/api/v1/bookings", "/api/v1/bookings/validate"):
        body.update(
            orgId=REFERENCES["orgId"],
            bookingModuleId=REFERENCES["bookingModuleId"],
            portalId=REFERENCES["portalId"],
            contact={"name": "Ada Lovelace", "email": "ada@example.com"},
            event=_event(len(repr(case.body)) % 60),
        )
        for key in ("events", "eventId"):
            body.pop(key, None)
    elif case.path == "/api/v1/bookings/change-requests/submit":
        body.update(bookingId=REFERENCES["bookingId"], accessToken=SEED["accessToken"])
    elif case.path.startswith("/api/v1/events") and method in ("POST", "PATCH"):
        body.update(start=REFERENCES["start"], end=REFERENCES["end"], resourceIds=REFERENCES["resourceIds"])
    case.body = body


def _is_stateful(case: Any) -> bool:
    meta = case.meta
    return meta is not None and meta.phase.name == TestPhase.STATEFUL


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Put the seeded objects into three quarters of the requests (module docstring)."""
    if _is_stateful(case):  # the stateful phase follows links with ids from earlier responses
        return
    choice = _choice(case)
    if choice >= 1 and _positive(case, ParameterLocation.PATH):
        _steer_path(case)
    if choice >= 2:
        _steer_references(case)
    if choice >= 3:
        _steer_success(case)


def errors_of(response: Any) -> list[tuple[str, str]]:
    """(field, code) of each error of an error body `{status, error, errors: [{field, code, message}]}`."""
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return []
    return [(str(e.get("field")), str(e.get("code"))) for e in body["errors"] if isinstance(e, dict)]


def _is_rule(field: str, code: str) -> bool:
    return any(
        code == rule_code and (where is None or re.fullmatch(where, field, re.DOTALL) is not None)
        for rule_code, where, _reason in BUSINESS_RULES
    )


def is_business_rule(status: int, errors: list[tuple[str, str]]) -> bool:
    return 400 <= status < 500 and bool(errors) and all(_is_rule(field, code) for field, code in errors)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but a schema-valid request refused by a business rule (BUSINESS_RULES)."""
    if failure.code != "ST202":  # RejectedPositiveData: "Schema-valid request rejected"
        return True
    errors = errors_of(response)
    if not is_business_rule(response.status_code, errors):
        return True
    log = os.environ.get("SCHEMA_CHECK_FILTERED")
    if log:  # run.py counts them by rule at the end
        with open(log, "a", encoding="utf-8") as out:
            out.writelines(f"{code} {field}\n" for field, code in errors)
    return False
