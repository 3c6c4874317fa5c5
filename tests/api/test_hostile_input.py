"""Hostile input never reaches a 500 (docs/architecture.md#strict-input): lone surrogates in any text field or
key (400 INVALID at the field), error messages that would quote one back, bodies nested too deep, bytes that
are not UTF-8, and lone surrogates in query parameters. Bodies are sent as raw bytes, as an attacker would
(json.dumps writes a lone surrogate as the escape `\\ud800`, which is what arrives over the wire). The last
test sends the same bodies to a live server from outside, with urllib."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from rest_framework.renderers import JSONRenderer

from bookings.api.booking_serializers import CancelSerializer
from bookings.models import Booking
from core.api.errors import api_exception_handler
from core.api.input import valid
from core.api.parsers import MAX_DEPTH
from core.errors import FieldError, ValidationFailed
from events.services.single import event_create
from tests.api.booking_helpers import SUBMIT, approved, booking_url, submit_body
from tests.api.conftest import assert_error
from tests.conftest import future

LONE = "\ud800"
VALIDATE = "/api/v1/bookings/validate"
JSON = "application/json"


def raw_post(client, url: str, body, method: str = "post"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return getattr(client, method)(url, data, content_type=JSON)


def assert_json_400(response, code: str | None = None, field: str | None = None) -> dict:
    """A 400 with the API's error body, whose bytes are valid UTF-8 (a lone surrogate would not encode)."""
    response.content.decode("utf-8")
    return assert_error(response, 400, code, field)


# --- lone surrogates in text fields --------------------------------------------------------------------------


def _submit_with(setup, *, event=None, **top) -> dict:
    return submit_body(setup, setup.event(**(event or {})), **top)


def _cancel(api, setup):
    booking = approved(setup, setup.event(start=future(9)))
    return api.manager, booking_url(booking.pk, "cancel"), {"eventProcedure": LONE}


def _event_status(api, setup):
    event = event_create(
        organization=setup.org, title="Board", start=future(9, 10), end=future(9, 11), resource_ids=[setup.room.pk]
    )
    return api.manager, f"/api/v1/events/{event.pk}", {"status": LONE}


SURROGATES = [
    # (id, (api, setup) → (client, url, body), the field, the method)
    ("submit-event-title", lambda a, s: (a.public, SUBMIT, _submit_with(s, event={"title": LONE})), "event.title"),
    ("submit-contact-name", lambda a, s: (a.public, SUBMIT, _submit_with(s, contact={"name": LONE})), "contact.name"),
    ("submit-request-note", lambda a, s: (a.public, SUBMIT, _submit_with(s, requestNote=f"a{LONE}b")), "requestNote"),
    ("submit-event-unit", lambda a, s: (a.public, SUBMIT, _submit_with(s, event={"unitId": LONE})), "event.unitId"),
    ("validate-event-unit", lambda a, s: (a.public, VALIDATE, _submit_with(s, event={"unitId": LONE})), "event.unitId"),
    (
        "submit-events-title",
        lambda a, s: (a.public, SUBMIT, submit_body(s, s.event(title=LONE), single=False)),
        "events[0].title",
    ),
    (
        "create-visitor",
        lambda a, s: (a.manager, "/api/v1/bookings", _submit_with(s, visitors=[{"name": LONE}])),
        "visitors[0].name",
    ),
    ("cancel-event-procedure", _cancel, "eventProcedure"),
    ("event-status", _event_status, "status"),
]


@pytest.mark.parametrize(("request_of", "field"), [c[1:] for c in SURROGATES], ids=[c[0] for c in SURROGATES])
def test_a_lone_surrogate_in_a_text_field_is_invalid_at_that_field(api, setup, request_of, field):
    client, url, body = request_of(api, setup)
    before = Booking.objects.count()
    method = "patch" if url.startswith("/api/v1/events/") else "post"
    body = assert_json_400(raw_post(client, url, body, method), "INVALID", field)
    assert [e["field"] for e in body["errors"]] == [field]
    assert Booking.objects.count() == before


def test_a_lone_surrogate_in_a_key_is_invalid_at_that_key_shown_escaped(api, setup):
    body = _submit_with(setup, event={LONE: "x", "title": f"{LONE}{LONE}"})
    errors = assert_json_400(raw_post(api.public, SUBMIT, body))["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("event.title", "INVALID"), ("event.\\ud800", "INVALID")]


def test_a_surrogate_pair_is_one_character_and_welcome(api, setup):
    response = raw_post(api.public, SUBMIT, _submit_with(setup, event={"title": "Team \ud83d\ude00"}))
    assert response.status_code == 201, response.content[:300]
    assert response.json()["booking"]["title"] == "Team \U0001f600"


# --- messages that would quote input back ------------------------------------------------------------------------


def test_an_error_message_quoting_a_lone_surrogate_still_renders():
    """Behind the parser no surrogate arrives; were one quoted back anyway, the body shows its escape."""
    with pytest.raises(ValidationFailed) as caught:
        valid(CancelSerializer, {"eventProcedure": LONE})
    response = api_exception_handler(caught.value, {})
    [error] = response.data["errors"]
    # The JSON type check answers first now ("Expected an integer."); a message that quotes it shows its escape.
    assert error["field"] == "eventProcedure" and LONE not in error["message"]
    JSONRenderer().render(response.data)  # encodes
    wrapped = api_exception_handler(ValidationFailed(f"x{LONE}", [FieldError(f"a{LONE}", "INVALID", "m")]), {})
    assert (wrapped.data["error"], wrapped.data["errors"][0]["field"]) == ("x\\ud800", "a\\ud800")


# --- depth, bytes, query parameters ---------------------------------------------------------------------------


def nested(depth: int, leaf: str = "1") -> str:
    return '{"a":' * (depth - 1) + "[" + leaf + "]" + "}" * (depth - 1)


@pytest.mark.parametrize(
    ("url", "method"),
    [(SUBMIT, "post"), (VALIDATE, "post"), ("/api/v1/booking-modules", "post"), ("/api/v1/venues", "post")],
)
def test_a_body_nested_1000_deep_is_a_400(api, url, method):
    response = getattr(api.manager, method)(url, nested(1000), content_type=JSON)
    body = assert_json_400(response, "PARSE_ERROR", "")
    assert str(MAX_DEPTH) in body["error"]
    array = getattr(api.manager, method)(url, "[" * 100_000 + "]" * 100_000, content_type=JSON)
    assert_json_400(array, "PARSE_ERROR")


def test_the_depth_cap_is_exact(api, setup):
    """MAX_DEPTH levels are parsed and answered by the endpoint; one more is a PARSE_ERROR."""
    body = _submit_with(setup)
    text = json.dumps(body)[:-1] + ', "deep": ' + nested(MAX_DEPTH - 1) + "}"
    response = api.public.post(VALIDATE, text, content_type=JSON)
    assert_json_400(response, "UNKNOWN_FIELD", "deep")  # parsed: the serializer saw it
    too_deep = json.dumps(body)[:-1] + ', "deep": ' + nested(MAX_DEPTH) + "}"
    assert_json_400(api.public.post(VALIDATE, too_deep, content_type=JSON), "PARSE_ERROR", "")


@pytest.mark.parametrize(
    "raw",
    [b'{"title": "\xff"}', b'{"title": "\xed\xa0\x80"}', b"\xfe\xff\x00{", b'{"title": "caf\xe9"}'],
    ids=["0xff", "cesu-surrogate", "utf16-bom", "latin-1"],
)
def test_bytes_that_are_not_utf8_are_a_400(api, raw):
    body = assert_json_400(api.public.post(SUBMIT, raw, content_type=JSON), "PARSE_ERROR", "")
    assert "UTF-8" in body["error"].upper()


def test_a_body_over_the_upload_limit_is_a_json_400(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = assert_json_400(api.public.post(SUBMIT, '{"title": "' + "x" * 20_000 + '"}', content_type=JSON))
    assert body["errors"][0]["code"] == "BAD_REQUEST"
    page = api.public.post("/admin/login/", {"username": "x" * 20_000, "password": "y"})
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "query",
    [
        "status=%ED%A0%80",
        "bookingModuleId=%ED%A0%80",
        "updatedSince=%ED%A0%80",
        "cursor=%ED%A0%80",
        "cursor=WyJcdWQ4MDAiLCAieCJd",  # base64 of ["\ud800", "x"]: a crafted cursor whose JSON holds one
        "limit=%ED%A0%80",
    ],
)
def test_a_lone_surrogate_in_a_list_filter_is_no_500(api, setup, query):
    response = api.manager.get(f"/api/v1/bookings?{query}")
    assert response.status_code in (200, 400), response.content[:300]
    response.content.decode("utf-8")
    if response.status_code == 400:
        assert_json_400(response)
    events = api.manager.get("/api/v1/events?windowStart=%ED%A0%80&title=%5Cud800")
    assert events.status_code in (200, 400)


# --- from outside ---------------------------------------------------------------------------------------------


HOSTILE = [
    ("nested-1000", nested(1000).encode()),
    ("title-surrogate", b'{"submission": true, "event": {"title": "\\ud800"}}'),
    ("key-surrogate", b'{"\\udfff": 1}'),
    ("not-utf8", b'{"title": "\xff\xfe"}'),
    ("cesu", b'{"title": "\xed\xa0\x80"}'),
]


@pytest.mark.slow
def test_a_live_server_answers_hostile_bodies_with_json_400s(live_server):
    for name, raw in HOSTILE:
        for path in ("/api/v1/bookings/submit", "/api/v1/bookings/validate"):
            request = urllib.request.Request(
                live_server.url + path, data=raw, method="POST", headers={"Content-Type": JSON}
            )
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(request, timeout=30)  # noqa: S310 - the test's own live server
            reply = caught.value
            assert reply.code == 400, (name, path, reply.code)
            assert reply.headers["Content-Type"].startswith(JSON), (name, reply.headers["Content-Type"])
            body = json.loads(reply.read().decode("utf-8"))
            assert body["status"] == 400 and body["errors"], (name, body)
    query = urllib.request.Request(live_server.url + "/api/v1/public/booking-modules/x/availability?start=%ED%A0%80")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(query, timeout=30)  # noqa: S310
    assert caught.value.code in (400, 404) and json.loads(caught.value.read())["status"] in (400, 404)
