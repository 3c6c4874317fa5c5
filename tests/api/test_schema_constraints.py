"""The schema says what the server enforces (docs/architecture.md#the-schema-is-the-contract): for each
constraint the schema states, the server refuses a value just outside it (400, with the field and the code)
and accepts the value at its edge; and the schema states it (the keyword is there, so a generated client and
`make schema-check` see the same rule).

Each row names a request as an OWNER of setup's organization: (method, url, query or JSON body, expected status,
expected code, expected field). The URLs are built from the seeded objects (tests/api/test_tenancy.py's
`Objects`)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator

from bookings.models import FormField
from core.api.fields import CLOCK_PATTERN, CURSOR_PATTERN, MOMENT_PATTERN, NO_NUL_PATTERN, NOT_BLANK_PATTERN
from core.api.schema import MAX_REQUEST_LINE
from resources.models import Role
from tests.api.booking_helpers import submit_body
from tests.api.conftest import assert_error
from tests.api.test_tenancy import Objects
from tests.conftest import future

V1 = "/api/v1"


@pytest.fixture
def objects(setup) -> Objects:
    return Objects(setup)


def _call(api, method: str, url: str, data: dict | None):
    client = api[Role.OWNER]
    if method == "get":
        return client.get(url, data or {})
    return getattr(client, method)(url, data if data is not None else {}, format="json")


def _check(response, status: int, code: str | None, field: str | None) -> None:
    if status >= 400:
        assert_error(response, status, code, field)
    else:
        assert response.status_code == status, (response.status_code, response.content[:400])


# --- query parameters ------------------------------------------------------------------------------------

# (url template, query, status, code, field); {deliveries} and {room} are filled from the seeded objects.
QUERY = [
    # limit: minimum 1, maximum 10000 (bookings) / 500 (deliveries)
    ("/bookings", {"limit": "0"}, 400, "MIN_VALUE", "limit"),
    ("/bookings", {"limit": "1"}, 200, None, None),
    ("/bookings", {"limit": "10000"}, 200, None, None),
    ("/bookings", {"limit": "10001"}, 400, "MAX_VALUE", "limit"),
    ("{deliveries}", {"limit": "0"}, 400, "MIN_VALUE", "limit"),
    ("{deliveries}", {"limit": "500"}, 200, None, None),
    ("{deliveries}", {"limit": "501"}, 400, "MAX_VALUE", "limit"),
    # a parameter sent empty is an error, not "no filter" (no empty value in the schema)
    ("/bookings", {"limit": ""}, 400, "REQUIRED", "limit"),
    ("/bookings", {"cursor": ""}, 400, "REQUIRED", "cursor"),
    ("{deliveries}", {"cursor": ""}, 400, "REQUIRED", "cursor"),
    ("/bookings", {"portalId": ""}, 400, "INVALID", "portalId"),  # the list reports its filter errors as INVALID
    ("/contacts", {"orgId": ""}, 400, "REQUIRED", "orgId"),
    ("/contacts", {"email": ""}, 400, "REQUIRED", "email"),
    ("/contacts", {"email": "ada@example.com"}, 200, None, None),
    ("/customers", {"orgId": ""}, 400, "REQUIRED", "orgId"),
    ("/portals", {"orgId": ""}, 400, "REQUIRED", "orgId"),
    ("/booking-modules", {"resourceId": ""}, 400, "REQUIRED", "resourceId"),
    ("{room}/availability", {"start": "", "end": ""}, 400, "REQUIRED", "start"),
    # booleans are true or false
    ("/bookings", {"returnEvents": "1"}, 400, "INVALID", "returnEvents"),
    ("/bookings", {"returnEvents": "true"}, 200, None, None),
    ("/resources", {"archived": "True"}, 400, "INVALID", "archived"),
    ("/resources", {"archived": "false"}, 200, None, None),
    # datetimes: a year from 1900 to 2999 (the schema's pattern)
    ("/bookings", {"start": "1899-12-31T23:59:59Z"}, 400, "INVALID", "start"),
    ("/bookings", {"start": "1900-01-01T00:00:00Z"}, 200, None, None),
    ("/events", {"windowEnd": "2999-12-31T00:00:00Z"}, 200, None, None),
    ("/events", {"windowEnd": "3000-01-01T00:00:00Z"}, 400, "INVALID", "windowEnd"),
    ("/charges", {"end": "0575-09-20T15:26:22Z"}, 400, "INVALID", "end"),
]


@pytest.mark.parametrize(("url", "query", "status", "code", "field"), QUERY)
def test_query_parameters(api, objects, url, query, status, code, field):
    url = url.format(
        deliveries=f"/webhook-endpoints/{objects.webhook_endpoint.pk}/deliveries", room=f"/resources/{objects.room.pk}"
    )
    _check(api[Role.OWNER].get(V1 + url, query), status, code, field)


# --- JSON types ------------------------------------------------------------------------------------------


def _submit(objects, **changes):
    body = submit_body(objects.setup, objects.setup.event(future(30, 10)))
    for key, value in changes.items():
        if "__" in key:
            outer, inner = key.split("__")
            body[outer] = {**body[outer], inner: value}
        else:
            body[key] = value
    return body


# (method, url template, body builder, status, code, field)
BODIES = [
    # text is a string: a number is refused, not turned into "0"
    (
        "post",
        "/booking-change-requests/{change_request}/deny",
        lambda o: {"notification": {"message": 0}},
        400,
        "INVALID",
        "notification.message",
    ),
    (
        "post",
        "/booking-change-requests/{change_request}/deny",
        lambda o: {"notification": {"message": ""}},
        204,
        None,
        None,
    ),
    ("patch", "/customers/{customer}", lambda o: {"phone": 0}, 400, "INVALID", "phone"),
    ("patch", "/customers/{customer}", lambda o: {"phone": "0"}, 200, None, None),
    ("patch", "/venues/{venue}", lambda o: {"address": 0}, 400, "INVALID", "address"),
    ("patch", "/resources/{room}", lambda o: {"description": 0}, 400, "INVALID", "description"),
    ("post", "/bookings/submit", lambda o: _submit(o, title=12), 400, "INVALID", "title"),
    ("post", "/bookings/submit", lambda o: _submit(o, event__title=12), 400, "INVALID", "event.title"),
    ("post", "/bookings/submit", lambda o: _submit(o, event__attendees="2"), 400, "INVALID", "event.attendees"),
    ("post", "/bookings/submit", lambda o: _submit(o, contact__name=7), 400, "INVALID", "contact.name"),
    # integers are integers, booleans booleans, enums of integers integers
    ("patch", "/resources/{room}", lambda o: {"capacity": "5"}, 400, "INVALID", "capacity"),
    ("patch", "/resources/{room}", lambda o: {"capacity": True}, 400, "INVALID", "capacity"),
    ("patch", "/resources/{room}", lambda o: {"capacity": 5}, 200, None, None),
    ("post", "/bookings/{approved}/cancel", lambda o: {"eventProcedure": "0"}, 400, "INVALID_CHOICE", "eventProcedure"),
    ("post", "/bookings/{pending}/deny", lambda o: {"notification": {"send": 1}}, 400, "INVALID", "notification.send"),
    # amounts: a number (cut to 4 decimals) or a decimal string
    ("patch", "/events/{event}", lambda o: {"overridePrice": True}, 400, "INVALID", "overridePrice"),
    ("patch", "/events/{event}", lambda o: {"overridePrice": "1e3"}, 400, "INVALID", "overridePrice"),
]


def _url(template: str, objects: Objects) -> str:
    names = ("change_request", "customer", "venue", "room", "approved", "pending", "event", "module")
    return V1 + template.format(**{name: getattr(objects, name).pk for name in names})


@pytest.mark.parametrize(("method", "url", "body", "status", "code", "field"), BODIES)
def test_json_types(api, objects, method, url, body, status, code, field):
    _check(_call(api, method, _url(url, objects), body(objects)), status, code, field)


# --- constraints of single fields and of combinations ------------------------------------------------------

HOURS = {"weekday": 0, "start": "09:00", "end": "17:00"}
CONSTRAINTS = [
    # HH:MM times (pattern), every bookable-hours window whole in a PATCH too (it was a 500)
    (
        "patch",
        "/resources/{room}",
        lambda o: {"bookableHours": [{**HOURS, "start": "9:00"}]},
        400,
        "INVALID",
        "bookableHours[0].start",
    ),
    (
        "patch",
        "/resources/{room}",
        lambda o: {"bookableHours": [{**HOURS, "start": "09:00:00Z"}]},
        400,
        "INVALID",
        "bookableHours[0].start",
    ),
    (
        "patch",
        "/resources/{room}",
        lambda o: {"bookableHours": [{"start": "09:00", "end": "10:00"}]},
        400,
        "REQUIRED",
        "bookableHours[0].weekday",
    ),
    (
        "patch",
        "/resources/{room}",
        lambda o: {"bookableHours": [{**HOURS, "start": "00:00", "end": "23:59"}]},
        200,
        None,
        None,
    ),
    # IANA time zones (enum)
    ("patch", "/venues/{venue}", lambda o: {"timezone": "Mars/Olympus"}, 400, "INVALID", "timezone"),
    ("patch", "/venues/{venue}", lambda o: {"timezone": "Pacific/Chatham"}, 200, None, None),
    ("patch", "/venues/{venue}", lambda o: {"timezone": ""}, 200, None, None),
    # at least one item (minItems)
    (
        "post",
        "/bookings/submit",
        lambda o: {k: v for k, v in _submit(o, events=[]).items() if k != "event"},
        400,
        "MIN_LENGTH",
        "events",
    ),
    (
        "post",
        "/webhook-endpoints",
        lambda o: {"orgId": str(o.org.pk), "url": "https://8.8.8.8/h", "eventTypes": []},
        400,
        "REQUIRED",
        "eventTypes",
    ),
    # event or events, never both (not), and one of them (anyOf)
    (
        "post",
        "/bookings/submit",
        lambda o: _submit(o, events=[o.setup.event(future(31, 10))]),
        400,
        "INVALID",
        "events",
    ),
    # a new event is confirmed or tentative (enum 0, 1)
    (
        "post",
        "/events",
        lambda o: {
            "orgId": str(o.org.pk),
            "title": "T",
            "start": "2030-01-01T10:00:00Z",
            "end": "2030-01-01T11:00:00Z",
            "resourceIds": [str(o.room.pk)],
            "status": 2,
        },
        400,
        "INVALID_CHOICE",
        "status",
    ),
    # the contact's phone (pattern): as sent, no tab; spaces only is no phone
    ("post", "/bookings/submit", lambda o: _submit(o, contact__phone="\t0123 456"), 400, "INVALID", "contact.phone"),
    ("post", "/bookings/submit", lambda o: _submit(o, contact__phone="   "), 201, None, None),
    ("post", "/bookings/submit", lambda o: _submit(o, contact__phone="+44 (0)20 7946-0958"), 201, None, None),
    # null is not a custom answer
    ("post", "/bookings/submit", lambda o: _submit(o, contact__nickname=None), 400, "REQUIRED", "contact.nickname"),
]


@pytest.mark.parametrize(("method", "url", "body", "status", "code", "field"), CONSTRAINTS)
def test_constraints(api, objects, method, url, body, status, code, field):
    _check(_call(api, method, _url(url, objects), body(objects)), status, code, field)


def test_validate_refuses_a_requested_time_outside_1970_to_2200(api, objects):
    body = (
        api[Role.OWNER]
        .post(f"{V1}/bookings/validate", _submit(objects, event__start="1969-12-31T10:00:00Z"), format="json")
        .json()
    )
    assert not body["valid"] and ("event.start", "INVALID") in {(e["field"], e["code"]) for e in body["errors"]}


def test_a_number_with_more_decimals_than_kept_is_cut(api, objects):
    field = {"label": "Chairs", "type": "number", "min": 1.000099, "max": 10.99999}
    response = api[Role.OWNER].patch(
        _url("/booking-modules/{module}", objects), {"bookingForm": {"eventFields": [field]}}, format="json"
    )
    assert response.status_code == 200, response.content[:400]
    stored = FormField.objects.get(module=objects.module, label="Chairs")
    assert (str(stored.min_value), str(stored.max_value)) == ("1.0000", "10.9999")


# --- the schema states each of them ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _param(schema: dict, path: str, name: str) -> dict:
    return next(p["schema"] for p in schema["paths"][V1 + path]["get"]["parameters"] if p["name"] == name)


def test_the_schema_states_the_query_constraints(schema):
    assert _param(schema, "/bookings", "limit") == {"type": "integer", "minimum": 1, "maximum": 10000}
    assert _param(schema, "/bookings", "cursor")["minLength"] == 1
    assert _param(schema, "/webhook-endpoints/{id}/deliveries", "limit")["maximum"] == 500
    for path, name in (("/bookings", "start"), ("/events", "windowEnd"), ("/charges", "end")):
        assert _param(schema, path, name)["pattern"] == MOMENT_PATTERN, (path, name)
    assert _param(schema, "/contacts", "email")["minLength"] == 1
    for path in ("/bookings", "/webhook-endpoints/{id}/deliveries"):
        assert _param(schema, path, "cursor")["pattern"] == CURSOR_PATTERN


def test_operations_with_a_query_document_the_servers_414(schema):
    """gunicorn refuses a request line over MAX_REQUEST_LINE bytes before the API reads it (config/gunicorn.py)."""
    operations = [op for item in schema["paths"].values() for op in item.values()]
    with_query = [op for op in operations if any(p["in"] == "query" for p in op.get("parameters", []))]
    assert with_query and all("414" in op["responses"] for op in with_query)
    assert not any("414" in op["responses"] for op in operations if op not in with_query)
    assert f"over {MAX_REQUEST_LINE} bytes" in with_query[0]["responses"]["414"]["description"]


def test_gunicorn_reads_the_longest_request_line_the_schema_documents():
    config = Path(__file__).resolve().parents[2] / "config" / "gunicorn.py"
    assert runpy.run_path(str(config))["limit_request_line"] == MAX_REQUEST_LINE


def test_the_schema_states_the_body_constraints(schema):
    components = schema["components"]["schemas"]
    assert components["BookableHoursRequest"]["properties"]["start"]["pattern"] == CLOCK_PATTERN
    assert "Europe/London" in components["TimezoneEnum"]["enum"]
    assert components["VenueCreateRequest"]["properties"]["name"]["pattern"] == NOT_BLANK_PATTERN
    assert components["NotificationInRequest"]["properties"]["message"]["oneOf"][0]["pattern"] == NO_NUL_PATTERN
    assert components["EventCreateRequest"]["properties"]["resourceIds"]["minItems"] == 1
    assert components["WebhookEndpointRequest"]["properties"]["eventTypes"]["minItems"] == 1
    assert components["SubmitRequest"]["properties"]["events"]["minItems"] == 1
    assert {"not": {"required": ["event", "events"]}} in components["SubmitRequest"]["allOf"]
    assert {"required": ["contact"]} in components["SubmitRequest"]["allOf"]
    assert components["NewEventRequest"]["required"] == ["end", "resourceIds", "start", "title"]
    assert components["FormFieldRequest"]["anyOf"] == [{"required": ["id"]}, {"required": ["label"]}]
    assert components["RepeatInRequest"]["not"]["properties"]["repeats"]["enum"] == [3, 4]
    assert len(components["DiscountCodeWriteRequest"]["allOf"][0]["oneOf"]) == 2  # a percentage or an amount
    assert len(components["BookingCreditWriteRequest"]["allOf"][0]["oneOf"]) == 2  # a contact or a customer
    assert "oneOf" in components["RateWriteRequest"]["not"]  # both ends of the window or neither
    contact_id = components["PatchedBookingPatchRequest"]["properties"]["contactId"]
    assert contact_id["oneOf"][0] == {"type": "string", "format": "uuid"} and contact_id["nullable"] is True
    overridable = components["PatchedEventUpdateRequest"]["properties"]["overridePrice"]["oneOf"]
    assert [alternative["type"] for alternative in overridable] == ["number", "string"]
