"""Schemathesis over the whole OpenAPI schema, in process (the WSGI app, no live server), twice: with an
OWNER's Bearer token of a seeded organization (so most operations can succeed) and anonymously.

Each operation gets its 50 generated examples plus Schemathesis' coverage cases (boundary values, missing
and wrong-typed fields, unsupported methods). Every response must be no 5xx, have a documented status code
and content type, match its documented schema and headers, and not ignore authentication. Business-rule
400s are fine, so the positive-data-acceptance and negative-data-rejection checks are not run here:
`make schema-check` runs them from outside, with the business rules named (tests/schema_check/rules.py).

Generated ids are random UUIDs that match nothing, so three quarters of the cases (chosen by a hash of the
case, so the coverage phase is steered as well) get the seeded objects' ids in the path, the body and the
query, and a quarter also what a success needs (a valid contact and requested time). Each case runs in a
savepoint rolled back afterwards, so every case sees the same seeded data. Throttle counters are cleared
before each case (429 is documented, but the fuzzing should reach the views).

Run time (the whole module, 109 tests): about 3 1/2 minutes on PostgreSQL (3 1/3 on SQLite, where it is
skipped)."""

from __future__ import annotations

import base64
import json
import zlib
from collections import defaultdict
from datetime import timedelta

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections, connection, transaction
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from schemathesis.checks import max_response_time
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from config.wsgi import application
from core.time import iso
from resources.models import Role
from tests.api.conftest import Api
from tests.api.path_objects import PATH_OBJECTS
from tests.api.test_tenancy import Objects
from tests.conftest import future

MAX_EXAMPLES = 50
# About three minutes a run: CI fuzzes once, on PostgreSQL (the production database), to stay well
# inside its time budget. Everything it checks is database-independent HTTP behaviour.
pytestmark = [
    pytest.mark.fuzz,
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the schema is fuzzed once per CI run, on PostgreSQL"),
]
# Everything else Schemathesis checks by default stays on: not_a_server_error, status_code_conformance,
# content_type_conformance, response_schema_conformance, response_headers_conformance, ignored_auth, ...
EXCLUDED_CHECKS = [positive_data_acceptance, negative_data_rejection, max_response_time]

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
OPERATIONS = {f"{op.method.upper()} {op.path}" for op in (result.ok() for result in schema.get_all_operations())}

# The seeded object each path's `{id}` stands for.

# operation → status codes seen in the authenticated run (for the guard at the end of the module).
SEEN: dict[str, set[int]] = defaultdict(set)


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """Django's WSGI handler closes the connection at the end of each request (close_old_connections),
    which would end the test's transaction; Django's test client disconnects it the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(setup) -> Objects:
    return Objects(setup)


@pytest.fixture
def owner_token(setup) -> str:
    _, token = AuthToken.objects.create(user=Api(setup).users[Role.OWNER], expiry=None)
    return token


def _references(objects: Objects) -> dict[str, object]:
    """Body and query keys that name another object (or a time) → a value that exists in setup.org."""
    start = future(40, 10)
    return {
        "orgId": str(objects.org.pk),
        "venueId": str(objects.venue.pk),
        "bookingModuleId": str(objects.module.pk),
        "portalId": str(objects.portal.pk),
        "bookingId": str(objects.approved.pk),
        "customerId": str(objects.customer.pk),
        "contactId": str(objects.contact.pk),
        "resourceId": str(objects.room.pk),
        "resourceIds": [str(objects.room.pk)],
        "clientBookingLastUpdatedAt": iso(objects.pending.updated_at),
        "start": iso(start),
        "end": iso(start + timedelta(hours=1)),
    }


def _choice(case) -> int:
    """0: as generated; 1: the path id of a seeded object; 2: references too; 3: what a success needs too."""
    return zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode("utf-8", "surrogatepass")) % 4


def _steer_path(case, objects: Objects) -> None:
    """Choice 1 and up: the path id of a seeded object."""
    name = PATH_OBJECTS.get(case.path)
    if name and case.path_parameters and "id" in case.path_parameters:
        case.path_parameters["id"] = str(getattr(objects, name).pk)


def _steer_references(case, refs: dict[str, object]) -> None:
    """Choice 2 and up: query and body keys that name another object get one that exists."""
    if isinstance(case.query, dict):
        for key in list(case.query):
            if key in refs:
                case.query[key] = refs[key]
        if case.path.endswith("/availability"):
            case.query.update(start=refs["start"], end=refs["end"])
    if not isinstance(case.body, dict):
        return
    for key in list(case.body):
        if key in refs and key not in ("start", "end"):
            case.body[key] = refs[key]


def _steer_success(case, objects: Objects, refs: dict[str, object]) -> None:
    """Choice 3: what a success needs too (a dict body only)."""
    method = case.method.upper()
    if case.path in ("/api/v1/bookings/submit", "/api/v1/bookings", "/api/v1/bookings/validate") and method == "POST":
        day = 40 + len(repr(case.body)) % 60  # different cases, different days: fewer conflicts
        case.body.update(
            orgId=refs["orgId"],
            bookingModuleId=refs["bookingModuleId"],
            portalId=refs["portalId"],
            contact={"name": "Ada Lovelace", "email": "ada@example.com"},
            event=objects.setup.event(future(day, 10)),
        )
        for key in ("events", "eventId"):
            case.body.pop(key, None)
        if case.path.endswith("/submit"):
            case.body["submission"] = True
    elif case.path == "/api/v1/bookings/change-requests/submit":
        case.body["bookingId"] = refs["bookingId"]
    elif case.path.startswith("/api/v1/events") and method in ("POST", "PATCH"):
        case.body.update(start=refs["start"], end=refs["end"], resourceIds=refs["resourceIds"])


def _steer(case, objects: Objects, choice: int) -> None:
    if choice == 0:
        return
    _steer_path(case, objects)
    if choice == 1:
        return
    refs = _references(objects)
    _steer_references(case, refs)
    if choice == 2 or not isinstance(case.body, dict):
        return
    _steer_success(case, objects, refs)


def _run(case, objects: Objects, headers: dict) -> int:
    _steer(case, objects, _choice(case))
    cache.clear()
    with transaction.atomic():
        response = case.call_and_validate(headers=headers, excluded_checks=EXCLUDED_CHECKS)
        transaction.set_rollback(True)
    return response.status_code


FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_authenticated(case, seeded, owner_token):
    status = _run(case, seeded, {"Authorization": f"Bearer {owner_token}"})
    SEEN[f"{case.method.upper()} {case.path}"].add(status)


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_anonymous(case, seeded):
    _run(case, seeded, {})


def test_the_authenticated_run_reached_the_views():
    """Guard against a fuzz run that passes only because nothing got past authentication or the id
    lookup (e.g. the seeded data or the steering broke): every operation got at least one answer other
    than 401/404, and every GET a 200."""
    if not set(SEEN) >= OPERATIONS:
        pytest.skip("needs the whole module's authenticated run in this process")
    stuck = sorted(op for op in OPERATIONS if not SEEN[op] - {401, 404})
    assert not stuck, stuck
    no_success = sorted(op for op in OPERATIONS if op.startswith("GET ") and 200 not in SEEN[op])
    assert not no_success, no_success
    assert len(OPERATIONS) >= 50  # the whole schema was collected


def _cursor(created: str) -> str:
    raw = json.dumps([created, "6f1c1f0e-8d0a-4b7e-9a55-1d2f3e4a5b6c"]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("url", "query", "status"),
    [
        # Python accepts offsets up to ±23:59, PostgreSQL only up to ±15:59: these were 500s on PostgreSQL.
        ("/api/v1/bookings", {"end": "0224-04-24T21:01:10.06-20:45"}, 400),  # a year nothing is booked in
        ("/api/v1/bookings", {"start": "2026-12-01T10:00:00-20:45"}, 200),
        ("/api/v1/bookings", {"end": "2026-12-01T10:00:00+20:45"}, 200),
        ("/api/v1/bookings", {"updatedSince": "2026-12-01T10:00:00-23:59"}, 200),
        ("/api/v1/bookings", {"cursor": _cursor("2026-12-01T10:00:00-20:45")}, 200),
        ("/api/v1/events", {"windowStart": "2026-12-01T10:00:00-20:45", "windowEnd": "2026-12-02T10:00:00+23:00"}, 200),
    ],
)
def test_what_the_fuzzer_found(url, query, status, api):
    response = api[Role.OWNER].get(url, query)
    assert response.status_code == status, (response.status_code, response.content[:300])
