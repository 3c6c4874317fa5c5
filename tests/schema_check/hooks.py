"""Schemathesis hooks of `make schema-check` (loaded by tests/schema_check/schemathesis.toml).

Two jobs:

1. Steering (`before_call`): generated ids are random UUIDs that match nothing, so three quarters of the
   requests (chosen by a hash of the request, so every phase is steered alike) get the seeded objects' ids
   (tests/schema_check/seed.py) in the path, then in the body and query, then what a success needs (a valid
   contact and requested time), as the in-process fuzz test does (tests/api/test_schema_fuzz.py). Every
   Idempotency-Key generated as valid gets a unique suffix: Hypothesis draws the same few keys ("0", "00")
   for every operation, and a key already used with another request is refused with 422 before the request
   is read (the in-process tests cover that refusal). Only parts generated as valid are steered, so every
   schema-violating part still reaches the server; Schemathesis re-validates whatever a hook changed before it
   judges the response.

2. Business rules (`filter_failure`): a "schema-valid request rejected" failure is dropped only when the
   answer is a documented refusal that no schema can express, named by its error code in tests/schema_check/rules.py
   below with the reason. Every other 4xx to a schema-valid request is a failure: the schema must say what
   the server refuses.
"""

from __future__ import annotations

import functools
import json
import os
import uuid
import zlib
from collections.abc import MutableMapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase

from tests.api.path_objects import PATH_OBJECTS
from tests.schema_check.rules import errors_of, is_business_rule


@functools.cache
def seed() -> dict[str, Any]:
    """tests/schema_check/seed.py's output (its path in SCHEMA_CHECK_DATA, set by run.py)."""
    data: dict[str, Any] = json.loads(Path(os.environ["SCHEMA_CHECK_DATA"]).read_text())
    return data


# The seeded object each path's `{id}` stands for (seed.py's "objects"; DELETE takes the "spares").


@functools.cache
def references() -> dict[str, Any]:
    """Body and query keys that name another object (or a time) → a value that exists in the seeded data."""
    objects = seed()["objects"]
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
        "adminUserId": seed()["ownerId"],
        "clientBookingLastUpdatedAt": seed()["pendingUpdatedAt"],
        "start": seed()["start"],
        "end": seed()["end"],
    }


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
    pool = seed()["spares"] if case.method.upper() == "DELETE" and name in seed()["spares"] else seed()["objects"]
    case.path_parameters = {**case.path_parameters, "id": pool[name]}


def _steer_references(case: Any) -> None:
    if isinstance(case.query, dict) and _positive(case, ParameterLocation.QUERY):
        query = {key: references().get(key, value) for key, value in case.query.items()}
        if case.path.endswith("/availability"):
            query.update(start=references()["start"], end=references()["end"])
        case.query = query
    if isinstance(case.body, dict) and _positive(case, ParameterLocation.BODY):
        case.body = {
            key: references()[key] if key in references() and key not in ("start", "end") else value
            for key, value in case.body.items()
        }


def _steer_idempotency_key(case: Any) -> None:
    headers = case.headers  # a case-insensitive mapping, not a dict
    if (
        isinstance(headers, MutableMapping)
        and "Idempotency-Key" in headers
        and _positive(case, ParameterLocation.HEADER)
    ):
        headers["Idempotency-Key"] = f"{headers['Idempotency-Key'][:200]}-{uuid.uuid4()}"  # 1 to 255 printable


def _event(days: int) -> dict[str, Any]:
    """A requested time `days` after the seeded one (different cases, different days: fewer conflicts)."""
    start = datetime.fromisoformat(seed()["start"]) + timedelta(days=days)
    return {
        "title": "Team meeting",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "resourceIds": [seed()["objects"]["room"]],
    }


def _steer_success(case: Any) -> None:
    """What a success needs, for a dict body generated as valid."""
    if not (isinstance(case.body, dict) and _positive(case, ParameterLocation.BODY)):
        return
    method, body = case.method.upper(), dict(case.body)
    if method == "POST" and case.path in ("/api/v1/bookings/submit", "/api/v1/bookings", "/api/v1/bookings/validate"):
        body.update(
            orgId=references()["orgId"],
            bookingModuleId=references()["bookingModuleId"],
            portalId=references()["portalId"],
            contact={"name": "Ada Lovelace", "email": "ada@example.com"},
            event=_event(len(repr(case.body)) % 60),
        )
        for key in ("events", "eventId"):
            body.pop(key, None)
    elif case.path == "/api/v1/bookings/change-requests/submit":
        body.update(bookingId=references()["bookingId"], accessToken=seed()["accessToken"])
    elif case.path.startswith("/api/v1/events") and method in ("POST", "PATCH"):
        body.update(start=references()["start"], end=references()["end"], resourceIds=references()["resourceIds"])
    case.body = body


def _is_stateful(case: Any) -> bool:
    meta = case.meta
    return meta is not None and meta.phase.name == TestPhase.STATEFUL


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Put the seeded objects into three quarters of the requests (module docstring)."""
    _steer_idempotency_key(case)
    if _is_stateful(case):  # the stateful phase follows links with ids from earlier responses
        return
    choice = _choice(case)
    if choice >= 1 and _positive(case, ParameterLocation.PATH):
        _steer_path(case)
    if choice >= 2:
        _steer_references(case)
    if choice >= 3:
        _steer_success(case)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but a schema-valid request refused by a business rule (rules.BUSINESS_RULES)."""
    if failure.code != "ST202":  # RejectedPositiveData: "Schema-valid request rejected"
        return True
    errors = errors_of(response)
    if not is_business_rule(response.status_code, errors, f"{case.method.upper()} {case.path}"):
        return True
    log = os.environ.get("SCHEMA_CHECK_FILTERED")
    if log:  # run.py counts them by rule at the end
        with open(log, "a", encoding="utf-8") as out:
            out.writelines(json.dumps([code, field]) + "\n" for field, code in errors)
    return False
