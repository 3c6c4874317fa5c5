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

# Error code → why a request the schema allows may still be refused with it, and the fields it may stand at
# (a regular expression; None: any). Only 4xx answers whose every error is one of these are let through, and
# only for the "schema-valid request rejected" check (positive_data_acceptance): the other checks (no 5xx,
# documented status and body, negative data rejected, ...) still judge the same response.
BUSINESS_RULES: dict[str, tuple[str, str | None]] = {
    "NOT_FOUND": (
        "an id in the body or the query that names no object of the caller's organizations: the schema says "
        "what an id looks like, not which objects exist (a path id that names none is a 404, which the check "
        "allows)",
        None,
    ),
    "PRECONDITION_FAILED": (
        "If-Match names another version of the object (412): the schema cannot know the current ETag",
        None,
    ),
    "END_BEFORE_START": ("an end that is not after its start: the schema cannot compare two fields", None),
    "WINDOW_TOO_LONG": ("an availability window longer than allowed: the schema cannot subtract two fields", None),
    "NOT_UNIQUE": ("a slug or an email address another object of the organization already has", None),
    "UNKNOWN_FIELD": (
        "a key of a requested event or of the contact that names no custom field of the module: the schema "
        "allows the module's answers keyed by field id, not which fields the module has",
        r"(event|events\[\d+\]|contact)\.[^.\[]*",
    ),
}
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
    rule = BUSINESS_RULES.get(code)
    return rule is not None and (rule[1] is None or re.fullmatch(rule[1], field) is not None)


def is_business_rule(status: int, errors: list[tuple[str, str]]) -> bool:
    return 400 <= status < 500 and bool(errors) and all(_is_rule(field, code) for field, code in errors)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but a schema-valid request refused by a business rule (BUSINESS_RULES)."""
    if failure.code != "ST202":  # RejectedPositiveData: "Schema-valid request rejected"
        return True
    return not is_business_rule(response.status_code, errors_of(response))
