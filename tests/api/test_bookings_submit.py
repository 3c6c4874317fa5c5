"""The booking endpoints over HTTP (docs/architecture.md#http-api-conventions): exact response shapes, every
error status each endpoint can give (with the error body), tenant isolation, paging and filters, and the
query budget of the list.

This module: POST /bookings/submit (public and staff), its throttle, and requestNote/internalNotes."""

from __future__ import annotations

import hashlib
from datetime import UTC, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from bookings.models import Booking, FieldType, FormSection, PortalStatus
from core.html import sanitize_html
from core.throttles import PublicSubmitThrottle
from core.time import iso
from events.models import EventStatus
from tests.api.booking_helpers import (
    BOOKER,
    SUBMIT,
    bad_token_client,
    booking_url,
    check_booking,
    check_event,
    event_of,
    local,
    pending,
    post,
    submit_body,
    utc,
)
from tests.api.conftest import assert_error
from tests.conftest import LONDON, future
from tests.factories import FormFieldFactory, PortalFactory

# === POST /bookings/submit ===========================================================================


def test_submit_as_the_public_returns_the_pending_booking_and_its_access_token(
    api, setup, django_capture_on_commit_callbacks
):
    start = future(7, 10)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api.public, SUBMIT, submit_body(setup, setup.event(start=start, attendees=4)))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"booking", "accessToken"}  # no event: a request is not on the calendar yet
    booking = check_booking(body["booking"], staff=False)
    stored = Booking.objects.get(pk=booking["id"])
    assert booking == {
        "id": str(stored.pk),
        "orgId": str(setup.org.pk),
        "bookingModuleId": str(setup.module.pk),
        "portalId": str(setup.portal.pk),
        "customerId": None,
        "contactId": str(stored.contact_id),
        "status": 0,
        "submission": True,
        "title": "Team meeting",  # defaults to the first event's title
        "contact": {"name": "Ada Lovelace", "email": BOOKER},
        "events": [
            {
                "id": str(stored.requested_times.get().pk),
                "title": "Team meeting",
                "start": utc(start),
                "end": utc(start + timedelta(hours=1)),
                "startLocal": local(start),
                "endLocal": local(start + timedelta(hours=1)),
                "timezone": "Europe/London",
                "resourceIds": [str(setup.room.pk)],
                "attendees": 4,
                "answers": {},
                "eventId": str(event_of(stored).pk),
                "repeat": None,
                "occurrence": None,
                "unitId": None,
                "units": [],
                "rateId": None,
                "products": [],
                "overridePrice": None,
                # The room has no rates: free. An estimate, without credit for a public caller.
                "price": {
                    "currency": "GBP",
                    "rateId": None,
                    "rateName": None,
                    "unit": None,
                    "quantity": None,
                    "rates": [],
                    "computedAmount": "0.00",
                    "overridePrice": None,
                    "amount": "0.00",
                    "products": [],
                    "subtotal": "0.00",
                    "discount": None,
                    "price": "0.00",
                    "credits": [],
                    "creditUsed": None,
                    "total": "0.00",
                    "fixed": False,
                },
            }
        ],
        "repeat": None,
        "requestNote": "",
        "visitors": [],
        "discountCode": None,
        "doNotUseBookingCredit": False,
        "invoiceThisContact": False,
        "purchaseOrder": "",
        "priceTotal": {
            "currency": "GBP",
            "subtotal": "0.00",
            "discount": "0.00",
            "price": "0.00",
            "creditUsed": None,
            "total": "0.00",
            "fixed": False,
        },
        "createdAt": iso(stored.created_at),
        "lastUpdatedAt": iso(stored.updated_at),
    }
    assert event_of(stored).status == EventStatus.TENTATIVE  # the module holds pending slots
    token = body["accessToken"]
    assert isinstance(token, str) and len(token) >= 32
    assert stored.access_token_hash == hashlib.sha256(token.encode()).hexdigest()
    by_recipient = {tuple(m.to): m for m in mail.outbox}
    assert set(by_recipient) == {(BOOKER,), ("admin@example.org",)}
    assert f"/b/{token}/" in by_recipient[(BOOKER,)].body


def test_submit_accepts_an_events_list_and_an_explicit_title(api, setup):
    first, second = future(7, 10), future(8, 14)
    body = submit_body(
        setup,
        setup.event(start=first, title="Day one"),
        setup.event(start=second, resources=[setup.hall, setup.desks], title="Day two"),
        title="Conference",
    )
    response = post(api.public, SUBMIT, body)

    assert response.status_code == 201, response.json()
    booking = check_booking(response.json()["booking"], staff=False)
    assert booking["title"] == "Conference"
    assert [(e["title"], e["start"], sorted(e["resourceIds"])) for e in booking["events"]] == [
        ("Day one", utc(first), [str(setup.room.pk)]),
        ("Day two", utc(second), sorted([str(setup.hall.pk), str(setup.desks.pk)])),
    ]


@pytest.mark.parametrize(
    "written",
    [
        lambda moment: moment.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        lambda moment: moment.astimezone(ZoneInfo("Asia/Tokyo")).isoformat(),
        lambda moment: moment.astimezone(LONDON).replace(tzinfo=None).isoformat(),  # wall clock at the venue
    ],
    ids=["utc-z", "other-offset", "naive-venue-local"],
)
def test_submit_converts_any_offset_to_utc(api, setup, written):
    start = future(9, 15)
    event = setup.event(start=start)
    event["start"], event["end"] = written(start), written(start + timedelta(hours=2))
    response = post(api.public, SUBMIT, submit_body(setup, event))

    assert response.status_code == 201, response.json()
    item = response.json()["booking"]["events"][0]
    assert (item["start"], item["end"]) == (utc(start), utc(start + timedelta(hours=2)))
    assert (item["startLocal"], item["endLocal"]) == (
        "T".join([str(start.date()), "15:00:00"]),
        "T".join([str(start.date()), "17:00:00"]),
    )


def _set(path: str, value):
    """A body mutation: set (or with value DROP, remove) a dotted path."""

    def mutate(body, setup):
        *parents, last = path.split(".")
        target = body
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is DROP:
            target.pop(last)
        else:
            target[last] = value(setup) if callable(value) else value

    return mutate


DROP = object()


def _both_forms(body, setup):
    body["events"] = [body["event"]]


def _two_events(body, setup):
    body["events"] = [body.pop("event"), setup.event(start=future(8, 10))]


def _second_event_bad_start(body, setup):
    _two_events(body, setup)
    body["events"][1]["start"] = "next tuesday"


SUBMIT_400 = [
    # shape, checked by the serializer
    ("no-orgId", _set("orgId", DROP), "orgId", "REQUIRED"),
    ("no-bookingModuleId", _set("bookingModuleId", DROP), "bookingModuleId", "REQUIRED"),
    ("orgId-not-uuid", _set("orgId", "acme"), "orgId", "INVALID"),
    ("bookingModuleId-not-uuid", _set("bookingModuleId", "x1"), "bookingModuleId", "INVALID"),
    ("portalId-not-uuid", _set("portalId", "p"), "portalId", "INVALID"),
    ("no-portalId", _set("portalId", DROP), "portalId", "REQUIRED"),
    ("submission-not-bool", _set("submission", "perhaps"), "submission", "INVALID"),
    ("title-not-text", _set("title", {"a": 1}), "title", "INVALID"),
    ("title-too-long", _set("title", "x" * 301), "title", "MAX_LENGTH"),
    ("requestNote-not-text", _set("requestNote", ["x"]), "requestNote", "INVALID"),
    ("both-event-and-events", _both_forms, "events", "INVALID"),
    ("no-event", _set("event", DROP), "event", "REQUIRED"),
    ("events-empty", lambda b, s: b.update(events=[]) or b.pop("event"), "events", "MIN_LENGTH"),  # minItems 1
    ("events-not-list", lambda b, s: b.update(events="soon") or b.pop("event"), "events", "INVALID"),
    ("too-many-events", lambda b, s: b.update(events=[b.pop("event")] * 151), "events", "MAX_LENGTH"),
    ("notification-send-not-bool", _set("notification", {"send": "maybe"}), "notification.send", "INVALID"),
    # answers, checked by the one validator
    ("contact-name-missing", _set("contact.name", DROP), "contact.name", "REQUIRED"),
    ("contact-email-missing", _set("contact.email", ""), "contact.email", "REQUIRED"),
    ("contact-email-invalid", _set("contact.email", "ada-at-example"), "contact.email", "INVALID"),
    ("contact-phone-invalid", _set("contact.phone", "call me"), "contact.phone", "INVALID"),
    ("contact-unknown-field", _set("contact.shoeSize", "42"), "contact.shoeSize", "UNKNOWN_FIELD"),
    ("event-title-missing", _set("event.title", DROP), "event.title", "REQUIRED"),
    ("event-start-missing", _set("event.start", DROP), "event.start", "REQUIRED"),
    ("event-end-missing", _set("event.end", ""), "event.end", "REQUIRED"),
    ("event-start-not-a-time", _set("event.start", "tomorrow morning"), "event.start", "INVALID"),
    ("event-end-wrong-type", _set("event.end", 1234), "event.end", "INVALID"),
    ("event-resources-missing", _set("event.resourceIds", []), "event.resourceIds", "REQUIRED"),
    ("event-resources-not-list", _set("event.resourceIds", "room"), "event.resourceIds", "INVALID"),
    (
        "event-resource-not-offered",
        _set("event.resourceIds", ["9b2f1c3e-0000-4000-8000-000000000000"]),
        "event.resourceIds",
        "RESOURCE_NOT_OFFERED",
    ),
    ("event-attendees-zero", _set("event.attendees", 0), "event.attendees", "INVALID"),
    ("event-attendees-over-capacity", _set("event.attendees", 11), "event.attendees", "TOO_MANY_ATTENDEES"),
    ("event-unknown-field", _set("event.colour", "red"), "event.colour", "UNKNOWN_FIELD"),
    ("events-1-start", _second_event_bad_start, "events[1].start", "INVALID"),
    # the booking rules (docs/architecture.md#booking-rules)
    ("end-before-start", _set("event.end", lambda s: future(7, 9).isoformat()), "event.end", "END_BEFORE_START"),
    (
        "in-the-past",
        lambda b, s: b.update(event=s.event(start=timezone.now() - timedelta(days=1))),
        "event.start",
        "IN_THE_PAST",
    ),
]


@pytest.mark.parametrize(("mutate", "field", "code"), [c[1:] for c in SUBMIT_400], ids=[c[0] for c in SUBMIT_400])
def test_submit_rejects_bad_input_with_field_and_code(api, setup, mutate, field, code):
    body = submit_body(setup)
    mutate(body, setup)
    response = post(api.public, SUBMIT, body)

    assert_error(response, 400, code, field)
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    ("rule", "value", "field", "code"),
    [
        ("min_duration_minutes", 120, "event.end", "TOO_SHORT"),
        ("max_duration_minutes", 30, "event.end", "TOO_LONG"),
        ("min_notice_minutes", 60 * 24 * 30, "event.start", "START_TIME_TOO_LATE"),
        ("max_advance_days", 2, "event.start", "START_TIME_TOO_EARLY"),
        ("archived", True, "event.resourceIds", "RESOURCE_ARCHIVED"),
    ],
)
def test_submit_applies_the_resource_rules(api, setup, rule, value, field, code):
    setattr(setup.room, rule, value)
    setup.room.save()
    response = post(api.public, SUBMIT, submit_body(setup))

    body = assert_error(response, 400, code, field)
    assert {e["resourceId"] for e in body["errors"] if e["code"] == code} == {str(setup.room.pk)}


@pytest.fixture
def custom(setup):
    """Custom questions on setup's module: the ids are the answers' keys."""
    make = FormFieldFactory
    return SimpleNamespace(
        guests=make(
            module=setup.module,
            section=FormSection.EVENT,
            label="Guests",
            type=FieldType.NUMBER,
            min_value=1,
            max_value=50,
        ),
        layout=make(
            module=setup.module,
            section=FormSection.EVENT,
            label="Layout",
            type=FieldType.SELECT,
            options=["theatre", "boardroom"],
        ),
        purpose=make(module=setup.module, section=FormSection.EVENT, label="Purpose", required=True),
        terms=make(
            module=setup.module, section=FormSection.CONTACT, label="I accept", type=FieldType.CHECKBOX, required=True
        ),
        website=make(module=setup.module, section=FormSection.CONTACT, label="Website", type=FieldType.URL),
    )


def custom_body(setup, custom, **event_answers) -> dict:
    answers = {
        str(custom.purpose.pk): "Board meeting",
        str(custom.guests.pk): "12",
        str(custom.layout.pk): "boardroom",
        **event_answers,
    }
    body = submit_body(setup, setup.event(**answers))
    body["contact"][str(custom.terms.pk)] = True
    return body


def test_submit_cleans_custom_answers(api, setup, custom):
    response = post(api.public, SUBMIT, custom_body(setup, custom))

    assert response.status_code == 201, response.json()
    booking = response.json()["booking"]
    assert booking["contact"] == {"name": "Ada Lovelace", "email": BOOKER, str(custom.terms.pk): True}
    assert booking["events"][0]["answers"] == {
        str(custom.purpose.pk): "Board meeting",
        str(custom.guests.pk): 12,
        str(custom.layout.pk): "boardroom",
    }


@pytest.mark.parametrize(
    ("field_name", "section", "value", "code"),
    [
        ("guests", "event", "lots", "INVALID"),
        ("guests", "event", 51, "MAX_VALUE"),
        ("guests", "event", 0, "MIN_VALUE"),
        ("layout", "event", "banquet", "INVALID_CHOICE"),
        ("purpose", "event", "", "REQUIRED"),
        ("terms", "contact", False, "REQUIRED"),
        ("terms", "contact", "sometimes", "INVALID"),
        ("website", "contact", "javascript:alert(1)", "INVALID"),
    ],
)
def test_submit_rejects_invalid_custom_answers_with_the_validators_code_and_path(
    api, setup, custom, field_name, section, value, code
):
    body = custom_body(setup, custom)
    fid = str(getattr(custom, field_name).pk)
    (body["event"] if section == "event" else body["contact"])[fid] = value
    response = post(api.public, SUBMIT, body)

    assert_error(response, 400, code, f"{section}.{fid}")


def test_submit_reports_every_problem_at_once(api, setup):
    body = submit_body(setup, {"title": "", "start": "soon", "end": "", "resourceIds": []})
    body["contact"] = {"email": "nope"}
    body_out = assert_error(post(api.public, SUBMIT, body), 400)

    assert {(e["field"], e["code"]) for e in body_out["errors"]} == {
        ("contact.name", "REQUIRED"),
        ("contact.email", "INVALID"),
        ("event.title", "REQUIRED"),
        ("event.start", "INVALID"),
        ("event.end", "REQUIRED"),
        ("event.resourceIds", "REQUIRED"),
    }


def test_submit_with_a_body_that_is_not_json_is_a_400(api, setup):
    response = api.public.post(SUBMIT, "{not json", content_type="application/json")

    assert_error(response, 400, "PARSE_ERROR")


@pytest.mark.parametrize(
    "change",
    [
        lambda body, setup, other: body.update(bookingModuleId="0b9d7a58-3a4c-4a6e-9b1d-2f8f4f0e9a11"),
        lambda body, setup, other: body.update(orgId=str(other.org.pk)),  # module of another organization
        lambda body, setup, other: body.update(portalId=str(other.portal.pk)),
        lambda body, setup, other: body.update(portalId="0b9d7a58-3a4c-4a6e-9b1d-2f8f4f0e9a11"),
        lambda body, setup, other: body.update(portalId=str(PortalFactory(organization=setup.org).pk)),
        lambda body, setup, other: setup.portal.__class__.objects.filter(pk=setup.portal.pk).update(
            status=PortalStatus.DRAFT
        ),
    ],
    ids=[
        "unknown-module",
        "module-not-in-org",
        "portal-of-other-org",
        "unknown-portal",
        "portal-without-module",
        "draft-portal",
    ],
)
def test_submit_to_a_form_that_is_not_published_is_a_404(api, other, setup, change):
    body = submit_body(setup)
    change(body, setup, other.setup)

    assert_error(post(api.public, SUBMIT, body), 404, "NOT_FOUND")
    assert not Booking.objects.exists()


def test_submit_into_a_held_slot_is_a_409_naming_the_resource_not_the_other_booking(api, setup):
    pending(setup)
    body = submit_body(setup)
    body["contact"]["email"] = "bob@example.com"
    response = post(api.public, SUBMIT, body)

    out = assert_error(response, 409, "BOOKING_CONFLICT", "event.resourceIds")
    (error,) = out["errors"]
    assert "conflictingEventIds" not in error  # the public never sees other people's bookings
    assert error["message"] == "Room is already booked at that time."
    assert error["resourceId"] == str(setup.room.pk)
    assert Booking.objects.count() == 1


def test_submit_over_a_shared_resources_capacity_is_a_409(api, setup):
    for _ in range(3):  # desks: capacity 3, not exclusive
        assert post(api.public, SUBMIT, submit_body(setup, setup.event(resources=[setup.desks]))).status_code == 201
    response = post(api.public, SUBMIT, submit_body(setup, setup.event(resources=[setup.desks])))

    body = assert_error(response, 409, "CAPACITY_EXCEEDED", "event.resourceIds")
    assert "conflictingEventIds" not in body["errors"][0]
    assert body["errors"][0]["message"] == "Desks is fully booked at that time."


def test_submit_with_a_bad_token_is_a_401_even_though_it_is_public(setup):
    response = post(bad_token_client(), SUBMIT, submit_body(setup))

    assert_error(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_staff_submit_without_a_token_is_a_401(api, setup):
    response = post(api.public, SUBMIT, submit_body(setup, submission=False))

    assert_error(response, 401, "NOT_AUTHENTICATED")
    assert not Booking.objects.exists()


def test_staff_submit_as_a_viewer_is_a_403(api, setup):
    assert_error(post(api.viewer, SUBMIT, submit_body(setup, submission=False)), 403, "PERMISSION_DENIED")
    assert not Booking.objects.exists()


def test_staff_submit_acts_as_create(api, setup):
    response = post(api.manager, SUBMIT, submit_body(setup, submission=False, bookingStatus=1))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"booking", "event", "events"}
    booking = check_booking(body["booking"])
    assert (booking["status"], booking["submission"]) == (1, False)
    assert [check_event(e)["status"] for e in body["events"]] == [EventStatus.CONFIRMED]
    assert body["event"] == body["events"][0]
    assert booking["events"][0]["eventId"] == body["event"]["id"]


def test_public_submit_is_throttled_per_client_ip(api, setup, monkeypatch):
    monkeypatch.setattr(PublicSubmitThrottle, "rate", "2/minute", raising=False)
    for day in (7, 8):
        assert post(api.public, SUBMIT, submit_body(setup, setup.event(start=future(day)))).status_code == 201

    response = post(api.public, SUBMIT, submit_body(setup, setup.event(start=future(9))))
    body = assert_error(response, 429, "THROTTLED", "")
    assert int(response["Retry-After"]) > 0
    assert "throttled" in body["error"].lower()
    assert Booking.objects.count() == 2
    # Another address has its own allowance.
    other_ip = post(api.public, SUBMIT, submit_body(setup, setup.event(start=future(9))), REMOTE_ADDR="203.0.113.9")
    assert other_ip.status_code == 201, other_ip.json()


def test_a_forged_x_forwarded_for_does_not_escape_the_throttle(api, setup, monkeypatch):
    monkeypatch.setattr(PublicSubmitThrottle, "rate", "2/minute", raising=False)
    codes = [
        post(
            api.public,
            SUBMIT,
            submit_body(setup, setup.event(start=future(day))),
            HTTP_X_FORWARDED_FOR=f"198.51.100.{day}",
        ).status_code
        for day in (7, 8, 9)
    ]

    assert codes == [201, 201, 429]  # no proxy is configured: the header is the client's own word


def test_behind_a_proxy_the_throttle_counts_the_address_the_proxy_appended(api, setup, monkeypatch, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    monkeypatch.setattr(PublicSubmitThrottle, "rate", "1/minute", raising=False)

    def attempt(day, xff):
        return post(
            api.public,
            SUBMIT,
            submit_body(setup, setup.event(start=future(day))),
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=xff,
        ).status_code

    assert attempt(7, "198.51.100.1") == 201
    assert attempt(8, "203.0.113.66, 198.51.100.1") == 429  # a forged first hop changes nothing
    assert attempt(8, "198.51.100.2") == 201  # another client behind the same proxy


# --- requestNote and internalNotes ------------------------------------------------------------------

NOTE = (
    '<p>Hello <b>team</b><script>alert("x")</script> <img src=x onerror="alert(1)">'
    '<a href="javascript:alert(2)" onclick="steal()">link</a> <svg onload="alert(3)"></svg></p>'
)


def test_request_note_comes_back_sanitized_and_internal_notes_only_to_staff(api, setup):
    response = post(api.public, SUBMIT, submit_body(setup, requestNote=NOTE))

    assert response.status_code == 201, response.json()
    booking = response.json()["booking"]
    assert "internalNotes" not in booking
    note = booking["requestNote"]
    assert note == sanitize_html(NOTE)
    assert "<b>team</b>" in note
    for dangerous in ("<script", "onerror", "onclick", "onload", "javascript:", "<svg"):
        assert dangerous not in note.lower(), dangerous

    Booking.objects.filter(pk=booking["id"]).update(internal_notes="Regular; invoice monthly")
    staff_view = api.viewer.get(booking_url(booking["id"])).json()["booking"]
    assert staff_view["internalNotes"] == "Regular; invoice monthly"
    assert staff_view["requestNote"] == note
