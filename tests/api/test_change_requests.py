"""Change requests over HTTP (docs/architecture.md#change-requests, docs/architecture.md#http-api-conventions): the
booker's submit with the access token (or staff's), the staff list, retrieve, approve and deny, with every error status
and tenant isolation. A wrong or missing access token must look exactly like a booking that does not exist."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from bookings.lifecycle.change_requests import booking_cancel_by_booker, change_request_deny, change_request_submit
from bookings.lifecycle.decide import booking_approve, booking_deny
from bookings.models import Booking, BookingChangeRequest, BookingEvent, BookingStatus
from core.actor import Actor
from core.html import sanitize_html
from core.throttles import PublicSubmitThrottle
from core.time import iso
from events.models import Event, EventStatus
from resources.models import Role
from tests.api.booking_helpers import (
    BOOKER,
    BOOKING_KEYS,
    CHANGE_REQUESTS,
    CR_SUBMIT,
    ROLE_ERRORS,
    ROLE_IDS,
    approved,
    bad_token_client,
    booking_url,
    change_request_url,
    check_booking,
    check_change_request,
    check_event,
    event_of,
    local,
    outsider_client,
    pending,
    post,
    stamp,
    utc,
)
from tests.api.conftest import assert_error
from tests.conftest import future

UNKNOWN = "5a0c6f1e-2b3d-4c5e-8f90-a1b2c3d4e5f6"


def submitted(setup, *events, email: str = BOOKER):
    """(pending booking, its access token)."""
    result = setup.submit(*events, email=email)
    return result.booking, result.access_token


def approved_with_token(setup, *events, email: str = BOOKER):
    booking, token = submitted(setup, *events, email=email)
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    booking.refresh_from_db()
    return booking, token


def moved_to(start, hours: int = 1) -> dict:
    return {"start": utc(start), "end": utc(start + timedelta(hours=hours))}


def open_request(setup, *, cancellation: bool = False, start=None, event=None):
    """An approved booking (room, day 7 10:00) and the booker's open change request (to day 7 15:00)."""
    booking = approved(setup, *([event] if event else []))
    start = start or future(7, 15)
    result = change_request_submit(
        booking_id=booking.pk,
        actor=Actor.booker(BOOKER),
        cancellation=cancellation,
        events=None
        if cancellation
        else [{"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}],
        request_note="Later, please",
    )
    return booking, result.change_request


# === POST /bookings/change-requests/submit ========================================================


def test_booker_asks_to_move_an_approved_booking(api, setup, django_capture_on_commit_callbacks):
    booking, token = approved_with_token(setup)
    start = future(7, 15)
    note = '<p>Can we start <em>later</em>?</p><script>alert(1)</script><a href="javascript:x()">x</a>'
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            api.public,
            CR_SUBMIT,
            {"bookingId": str(booking.pk), "accessToken": token, "event": moved_to(start), "requestNote": note},
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"changeRequest"}
    request = check_change_request(body["changeRequest"])
    stored = BookingChangeRequest.objects.get()
    assert request == {
        "id": str(stored.pk),
        "bookingId": str(booking.pk),
        "cancellation": False,
        "contact": {},
        "events": [{"bookingEventId": str(BookingEvent.objects.get(booking=booking).pk), **moved_to(start)}],
        "requestNote": sanitize_html(note),
        "createdAt": request["createdAt"],
    }
    assert "<script" not in request["requestNote"] and "javascript:" not in request["requestNote"]
    # Nothing moves until staff decide.
    after = Booking.objects.get(pk=booking.pk)
    assert (after.status, event_of(after).start) == (BookingStatus.APPROVED, future(7, 10))
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        ("ada@example.com", "We received your change request: Team meeting"),
        ("admin@example.org", "New change request: Team meeting"),
    ]


def test_booker_asks_to_change_contact_details_and_to_cancel(api, setup):
    booking, token = approved_with_token(setup)
    response = post(
        api.public,
        CR_SUBMIT,
        {"bookingId": str(booking.pk), "accessToken": token, "contact": {"phone": "+44 20 7946 0000"}},
    )
    assert response.status_code == 201, response.json()
    assert response.json()["changeRequest"]["contact"] == {"phone": "+44 20 7946 0000"}
    assert response.json()["changeRequest"]["events"] == []

    cancel = post(api.public, CR_SUBMIT, {"bookingId": str(booking.pk), "accessToken": token, "cancellation": True})
    assert cancel.status_code == 201, cancel.json()
    request = check_change_request(cancel.json()["changeRequest"])
    assert (request["cancellation"], request["contact"], request["events"]) == (True, {}, [])
    # The cancellation replaced the open change request.
    assert [str(pk) for pk in BookingChangeRequest.open.values_list("pk", flat=True)] == [request["id"]]
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.APPROVED


def test_booker_change_to_a_pending_booking_is_applied_at_once(api, setup):
    booking, token = submitted(setup)
    hold = event_of(booking)
    start = future(8, 12)
    response = post(
        api.public,
        CR_SUBMIT,
        {"bookingId": str(booking.pk), "accessToken": token, "events": [{**moved_to(start, 2), "title": "Moved"}]},
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"booking"}
    item = check_booking(body["booking"], staff=False)  # the booker never sees internalNotes
    assert set(item) == BOOKING_KEYS
    assert item["status"] == BookingStatus.PENDING
    (event,) = item["events"]
    assert (event["start"], event["end"], event["title"], event["startLocal"]) == (
        utc(start),
        utc(start + timedelta(hours=2)),
        "Moved",
        local(start),
    )
    assert event["eventId"] == str(hold.pk)  # the hold moved with the request
    assert Event.objects.get(pk=hold.pk).start == start
    assert item["lastUpdatedAt"] == stamp(booking) != iso(booking.updated_at)  # staff must re-read it
    assert not BookingChangeRequest.objects.exists()


def test_booker_cancels_a_pending_booking_directly(api, setup):
    booking, token = submitted(setup)
    hold = event_of(booking)
    response = post(api.public, CR_SUBMIT, {"bookingId": str(booking.pk), "accessToken": token, "cancellation": True})

    assert response.status_code == 200, response.json()
    item = check_booking(response.json()["booking"], staff=False)
    assert (item["status"], item["events"][0]["eventId"]) == (BookingStatus.CANCELED, None)
    assert not Event.objects.filter(pk=hold.pk).exists()


def test_staff_may_submit_without_the_access_token(api, setup):
    booking = pending(setup)
    response = post(api.manager, CR_SUBMIT, {"bookingId": str(booking.pk), "event": {"title": "Renamed by staff"}})
    assert response.status_code == 200, response.json()
    item = check_booking(response.json()["booking"], staff=True)  # staff see internalNotes
    assert item["events"][0]["title"] == "Renamed by staff"

    approved_booking = approved(setup, setup.event(start=future(9)))
    response = post(api.manager, CR_SUBMIT, {"bookingId": str(approved_booking.pk), "cancellation": True})
    assert response.status_code == 201, response.json()
    assert check_change_request(response.json()["changeRequest"])["cancellation"] is True


CR_400 = [
    ("no-bookingId", {"bookingId": None}, "bookingId", "REQUIRED"),
    ("bookingId-not-uuid", {"bookingId": "b-1"}, "bookingId", "INVALID"),
    ("cancellation-not-bool", {"cancellation": "maybe"}, "cancellation", "INVALID"),
    ("accessToken-not-text", {"accessToken": ["t"]}, "accessToken", "INVALID"),
    ("requestNote-not-text", {"requestNote": {"p": 1}}, "requestNote", "INVALID"),
    ("both-event-and-events", {"event": {"title": "A"}, "events": [{"title": "A"}]}, "events", "INVALID"),
    ("events-not-list", {"event": None, "events": {"title": "A"}}, "events", "INVALID"),
    ("no-changes", {"event": None}, "", "NO_CHANGES"),
    ("event-start-invalid", {"event": {"start": "teatime"}}, "event.start", "INVALID"),
    ("event-end-before-start", {"event": {"end": utc(future(7, 9))}}, "event.end", "END_BEFORE_START"),
    ("event-resource-not-offered", {"event": {"resourceIds": [UNKNOWN]}}, "event.resourceIds", "RESOURCE_NOT_OFFERED"),
    ("event-title-blank", {"event": {"title": ""}}, "event.title", "REQUIRED"),
    ("contact-email-invalid", {"event": None, "contact": {"email": "not-an-address"}}, "contact.email", "INVALID"),
    (
        "unknown-booking-event",
        {
            "event": None,
            "events": [{"bookingEventId": UNKNOWN, "title": "x"}, {"bookingEventId": UNKNOWN, "title": "y"}],
        },
        "events[0].bookingEventId",
        "NOT_FOUND",
    ),
]


@pytest.mark.parametrize(("extra", "field", "code"), [c[1:] for c in CR_400], ids=[c[0] for c in CR_400])
@pytest.mark.parametrize("status", [BookingStatus.PENDING, BookingStatus.APPROVED])
def test_change_request_rejects_bad_input(api, setup, extra, field, code, status):
    booking, token = (submitted if status == BookingStatus.PENDING else approved_with_token)(setup)
    body = {"bookingId": str(booking.pk), "accessToken": token, "event": {"title": "Renamed"}, **extra}
    body = {k: v for k, v in body.items() if v is not None}
    assert_error(post(api.public, CR_SUBMIT, body), 400, code, field)
    after = Booking.objects.get(pk=booking.pk)
    assert (after.updated_at, after.status) == (booking.updated_at, status)
    assert not BookingChangeRequest.objects.exists()


def test_a_change_request_that_changes_nothing_is_refused(api, setup):
    booking, token = approved_with_token(setup)
    current = {"start": utc(future(7, 10)), "end": utc(future(7, 11)), "title": "Team meeting"}
    assert_error(
        post(api.public, CR_SUBMIT, {"bookingId": str(booking.pk), "accessToken": token, "event": current}),
        400,
        "NO_CHANGES",
        "",
    )


@pytest.mark.parametrize(
    ("setting", "body"),
    [("allow_change_requests", {"event": {"title": "New"}}), ("allow_cancellation", {"cancellation": True})],
    ids=["changes-not-allowed", "cancellation-not-allowed"],
)
def test_booker_is_refused_what_the_module_does_not_allow(api, setup, setting, body):
    booking, token = approved_with_token(setup)
    setattr(setup.module, setting, False)
    setup.module.save()
    response = post(api.public, CR_SUBMIT, {"bookingId": str(booking.pk), "accessToken": token, **body})

    assert_error(response, 403, "PERMISSION_DENIED")
    assert not BookingChangeRequest.objects.exists()
    # Staff may still do it on the booker's behalf.
    assert post(api.manager, CR_SUBMIT, {"bookingId": str(booking.pk), **body}).status_code == 201


def test_a_viewer_without_the_token_cannot_submit(api, setup):
    booking = approved(setup)
    assert_error(
        post(api.viewer, CR_SUBMIT, {"bookingId": str(booking.pk), "cancellation": True}), 403, "PERMISSION_DENIED"
    )
    assert not BookingChangeRequest.objects.exists()


def test_change_request_with_a_bad_bearer_token_is_a_401(setup):
    booking = approved(setup)
    assert_error(
        post(bad_token_client(), CR_SUBMIT, {"bookingId": str(booking.pk), "cancellation": True}),
        401,
        "NOT_AUTHENTICATED",
    )


@pytest.mark.parametrize("status", [BookingStatus.DENIED, BookingStatus.CANCELED])
@pytest.mark.parametrize("cancellation", [False, True])
def test_change_request_on_a_closed_booking_is_a_409_invalid_transition(api, setup, status, cancellation):
    booking, token = submitted(setup)
    if status == BookingStatus.DENIED:
        booking_deny(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    else:
        booking_cancel_by_booker(booking_id=booking.pk, actor=Actor.booker(BOOKER))
    body = {"bookingId": str(booking.pk), "accessToken": token, "cancellation": cancellation}
    if not cancellation:
        body["event"] = {"title": "Again"}
    assert_error(post(api.public, CR_SUBMIT, body), 409, "INVALID_TRANSITION")
    assert not BookingChangeRequest.objects.exists()


def test_moving_a_pending_booking_onto_a_held_time_is_a_409(api, setup):
    held = pending(setup, setup.event(start=future(8, 10)), email="bob@example.com")
    booking, token = submitted(setup)
    response = post(
        api.public, CR_SUBMIT, {"bookingId": str(booking.pk), "accessToken": token, "event": moved_to(future(8, 10))}
    )

    body = assert_error(response, 409, "BOOKING_CONFLICT", "event.resourceIds")
    # The booker learns the room is taken, never by whom (no other booking's title or event ids).
    assert body["errors"][0]["message"] == "Room is already booked at that time."
    assert "conflictingEventIds" not in body["errors"][0] and str(event_of(held).pk) not in response.content.decode()
    assert Event.objects.get(pk=event_of(booking).pk).start == future(7, 10)


# --- a wrong token reveals nothing ------------------------------------------------------------------


def _token_cases(setup, other_api):
    """setup's approved booking, its token, and the tokens that must not open it."""
    booking, token = approved_with_token(setup)
    _, second_token = approved_with_token(setup, setup.event(start=future(9)), email="bob@example.com")
    _, foreign_token = approved_with_token(other_api.setup)
    return (
        booking,
        token,
        {
            "wrong-token": "x" * 43,
            "missing-token": None,
            "empty-token": "",
            "another-bookings-token": second_token,
            "another-organizations-token": foreign_token,
            "right-token-wrong-case": token.swapcase(),
        },
    )


@pytest.mark.parametrize(
    "case",
    [
        "wrong-token",
        "missing-token",
        "empty-token",
        "another-bookings-token",
        "another-organizations-token",
        "right-token-wrong-case",
    ],
)
@pytest.mark.parametrize("kind", ["change", "cancellation"])
def test_a_wrong_or_missing_token_answers_exactly_like_a_booking_that_does_not_exist(api, other, setup, case, kind):
    booking, token, cases = _token_cases(setup, other)
    given = cases[case]
    payload = {"cancellation": True} if kind == "cancellation" else {"event": {"title": "Sneaky"}}

    def attempt(booking_id, access_token):
        body = {"bookingId": booking_id, **payload}
        if access_token is not None:
            body["accessToken"] = access_token
        return post(api.public, CR_SUBMIT, body)

    refused = attempt(str(booking.pk), given)
    missing = attempt(UNKNOWN, token)  # a real token, but no such booking

    assert_error(refused, 404, "NOT_FOUND")
    assert (refused.status_code, refused.json()) == (missing.status_code, missing.json())
    assert dict(refused.items()) == dict(missing.items())  # not even a header tells them apart
    assert not BookingChangeRequest.objects.exists()
    # The right token works.
    assert attempt(str(booking.pk), token).status_code == 201


def test_another_organizations_staff_without_the_token_get_the_same_404(api, other, setup):
    booking = approved(setup)
    refused = post(other[Role.OWNER], CR_SUBMIT, {"bookingId": str(booking.pk), "cancellation": True})
    missing = post(other[Role.OWNER], CR_SUBMIT, {"bookingId": UNKNOWN, "cancellation": True})

    assert_error(refused, 404, "NOT_FOUND")
    assert refused.json() == missing.json()
    assert not BookingChangeRequest.objects.exists()


def test_change_request_submit_is_throttled_even_for_wrong_tokens(api, setup, monkeypatch):
    monkeypatch.setattr(PublicSubmitThrottle, "rate", "2/minute", raising=False)
    booking, token = approved_with_token(setup)
    for guess in ("guess-1", "guess-2"):
        assert (
            post(
                api.public, CR_SUBMIT, {"bookingId": str(booking.pk), "accessToken": guess, "cancellation": True}
            ).status_code
            == 404
        )
    response = post(api.public, CR_SUBMIT, {"bookingId": str(booking.pk), "accessToken": token, "cancellation": True})

    assert_error(response, 429, "THROTTLED", "")
    assert "Retry-After" in response
    assert not BookingChangeRequest.objects.exists()


# === GET /booking-change-requests[/{id}] ==========================================================


def test_list_and_retrieve_open_change_requests(api, setup):
    _, first = open_request(setup)
    second_booking = approved(setup, setup.event(start=future(9)))
    second = change_request_submit(booking_id=second_booking.pk, actor=setup.staff, cancellation=True).change_request
    _, decided = open_request(setup, event=setup.event(start=future(10, 10)), start=future(10, 15))
    change_request_deny(change_request_id=decided.pk, actor=setup.staff)

    response = api.viewer.get(CHANGE_REQUESTS)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"changeRequests"}
    assert [check_change_request(r)["id"] for r in body["changeRequests"]] == [str(first.pk), str(second.pk)]
    assert body["changeRequests"][0]["requestNote"] == "Later, please"
    assert body["changeRequests"][1]["cancellation"] is True

    detail = api.viewer.get(change_request_url(first.pk))
    assert detail.status_code == 200, detail.json()
    assert detail.json() == {"changeRequest": body["changeRequests"][0]}
    # A decided request is no longer open.
    assert_error(api.viewer.get(change_request_url(decided.pk)), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("client", "status", "code"),
    [
        (lambda api: api.public, 401, "NOT_AUTHENTICATED"),
        (lambda api: bad_token_client(), 401, "NOT_AUTHENTICATED"),
        (lambda api: outsider_client(), 403, "PERMISSION_DENIED"),
    ],
    ids=["no-token", "bad-token", "member-of-nothing"],
)
@pytest.mark.parametrize("detail", [False, True], ids=["list", "detail"])
def test_change_requests_need_a_staff_token(api, setup, client, status, code, detail):
    _, request = open_request(setup)
    url = change_request_url(request.pk) if detail else CHANGE_REQUESTS
    assert_error(client(api).get(url), status, code)


def test_retrieve_of_an_unknown_change_request_is_a_404(api, setup):
    open_request(setup)
    assert_error(api.manager.get(change_request_url(UNKNOWN)), 404, "NOT_FOUND")


# === POST /booking-change-requests/{id}/approve ===================================================


def test_approve_moves_the_event_and_closes_the_request(api, setup, django_capture_on_commit_callbacks):
    booking, request = open_request(setup)
    event = event_of(booking)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api.manager, change_request_url(request.pk, "approve"), {})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"booking", "event", "events"}
    item = check_booking(body["booking"])
    assert item["status"] == BookingStatus.APPROVED
    assert (item["events"][0]["start"], item["events"][0]["eventId"]) == (utc(future(7, 15)), str(event.pk))
    check_event(body["event"])
    assert body["events"] == [body["event"]]
    assert (body["event"]["id"], body["event"]["start"], body["event"]["status"]) == (
        str(event.pk),
        utc(future(7, 15)),
        EventStatus.CONFIRMED,
    )
    assert api.manager.get(CHANGE_REQUESTS).json() == {"changeRequests": []}
    assert [(m.to, m.subject) for m in mail.outbox] == [([BOOKER], "Your change request was approved: Team meeting")]


def test_approve_with_staff_edits_on_top_of_the_request(api, setup):
    booking, request = open_request(setup)
    response = post(
        api.manager,
        change_request_url(request.pk, "approve"),
        {"event": {"end": utc(future(7, 17)), "resourceIds": [str(setup.hall.pk)]}, "notification": {"send": False}},
    )

    assert response.status_code == 200, response.json()
    event = response.json()["event"]
    assert (event["start"], event["end"], event["resourceIds"]) == (
        utc(future(7, 15)),
        utc(future(7, 17)),
        [str(setup.hall.pk)],
    )


@pytest.mark.parametrize(
    ("procedure", "event_status"), [(0, EventStatus.CANCELED), (1, None)], ids=["cancel-events", "delete-events"]
)
def test_approve_a_cancellation_request(api, setup, procedure, event_status):
    booking, request = open_request(setup, cancellation=True)
    event = event_of(booking)
    response = post(api.manager, change_request_url(request.pk, "approve"), {"eventProcedure": procedure})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert check_booking(body["booking"])["status"] == BookingStatus.CANCELED
    if event_status is None:
        assert set(body) == {"booking", "events"} and body["events"] == []
        assert not Event.objects.filter(pk=event.pk).exists()
        assert body["booking"]["events"][0]["eventId"] is None
    else:
        assert set(body) == {"booking", "event", "events"}
        assert (check_event(body["event"])["id"], body["event"]["status"]) == (str(event.pk), event_status)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"eventProcedure": 7}, "eventProcedure", "INVALID_CHOICE"),
        ({"eventProcedure": "delete"}, "eventProcedure", "INVALID_CHOICE"),
        ({"event": {}, "events": [{}]}, "events", "INVALID"),
        ({"events": []}, "events", "MIN_LENGTH"),
        ({"overrideRules": "please"}, "overrideRules", "INVALID"),
        ({"notification": {"send": "sure"}}, "notification.send", "INVALID"),
        ({"event": {"start": "soonish"}}, "event.start", "INVALID"),
        ({"event": {"resourceIds": [UNKNOWN]}}, "event.resourceIds", "RESOURCE_NOT_OFFERED"),
    ],
    ids=[
        "procedure-unknown",
        "procedure-text",
        "both-forms",
        "events-empty",
        "override-not-bool",
        "notification-send",
        "edit-start-invalid",
        "edit-resource-not-offered",
    ],
)
def test_approve_rejects_bad_input(api, setup, body, field, code):
    booking, request = open_request(setup)
    assert_error(post(api.manager, change_request_url(request.pk, "approve"), body), 400, code, field)
    assert BookingChangeRequest.open.filter(pk=request.pk).exists()
    assert event_of(booking).start == future(7, 10)


def test_approve_when_the_requested_time_was_taken_meanwhile_is_a_409(api, setup):
    booking, request = open_request(setup)
    taken = approved(setup, setup.event(start=future(7, 15)), email="bob@example.com")
    response = post(api.manager, change_request_url(request.pk, "approve"), {})

    body = assert_error(response, 409, "BOOKING_CONFLICT")
    assert body["errors"][0]["conflictingEventIds"] == [str(event_of(taken).pk)]
    assert BookingChangeRequest.open.filter(pk=request.pk).exists()
    assert event_of(booking).start == future(7, 10)


@pytest.mark.parametrize(
    ("first", "second"), [("approve", "approve"), ("approve", "deny"), ("deny", "approve"), ("deny", "deny")]
)
def test_deciding_a_change_request_twice_is_a_409_invalid_transition(api, setup, first, second):
    _, request = open_request(setup)
    assert post(api.manager, change_request_url(request.pk, first), {}).status_code in (200, 204)

    assert_error(post(api.manager, change_request_url(request.pk, second), {}), 409, "INVALID_TRANSITION")


def test_deciding_a_request_of_a_booking_canceled_meanwhile_is_a_409(api, setup):
    booking, request = open_request(setup)
    post(api.manager, booking_url(booking.pk, "cancel"), {"eventProcedure": 0})
    for action in ("approve", "deny"):
        assert_error(post(api.manager, change_request_url(request.pk, action), {}), 409, "INVALID_TRANSITION")


@pytest.mark.parametrize(("client", "status", "code"), ROLE_ERRORS, ids=ROLE_IDS)
@pytest.mark.parametrize("action", ["approve", "deny"])
def test_deciding_needs_a_manager(api, setup, client, status, code, action):
    _, request = open_request(setup)
    assert_error(post(client(api), change_request_url(request.pk, action), {}), status, code)
    assert BookingChangeRequest.open.filter(pk=request.pk).exists()


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_deciding_an_unknown_change_request_is_a_404(api, setup, action):
    open_request(setup)
    assert_error(post(api.manager, change_request_url(UNKNOWN, action), {}), 404, "NOT_FOUND")


# === POST /booking-change-requests/{id}/deny ======================================================


def test_deny_answers_204_and_leaves_the_booking_as_it_was(api, setup, django_capture_on_commit_callbacks):
    booking, request = open_request(setup)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            api.manager,
            change_request_url(request.pk, "deny"),
            {"notification": {"message": "<p>That slot is reserved for maintenance.</p>"}},
        )

    assert response.status_code == 204
    assert response.content == b""
    after = Booking.objects.get(pk=booking.pk)
    assert (after.status, event_of(after).start) == (BookingStatus.APPROVED, future(7, 10))
    assert not BookingChangeRequest.open.exists()
    (message,) = mail.outbox
    assert message.to == [BOOKER] and "reserved for maintenance" in message.body


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"notification": {"send": "nah"}}, "notification.send", "INVALID"),
        ({"notification": "quiet"}, "notification", "INVALID"),
        ({"notification": {"subject": "s" * 301}}, "notification.subject", "MAX_LENGTH"),
    ],
    ids=["send-not-bool", "not-an-object", "subject-too-long"],
)
def test_deny_rejects_bad_input(api, setup, body, field, code):
    _, request = open_request(setup)
    assert_error(post(api.manager, change_request_url(request.pk, "deny"), body), 400, code, field)
    assert BookingChangeRequest.open.filter(pk=request.pk).exists()


# === tenant isolation =============================================================================


@pytest.mark.parametrize("role", [Role.OWNER, Role.MANAGER, Role.VIEWER])
@pytest.mark.parametrize(
    ("method", "action"),
    [("get", ""), ("post", "approve"), ("post", "deny")],
    ids=["get-detail", "post-approve", "post-deny"],
)
def test_another_organizations_token_gets_404_for_each_change_request_endpoint(api, other, setup, role, method, action):
    _, request = open_request(setup)
    client = other[role]
    response = (
        client.get(change_request_url(request.pk))
        if method == "get"
        else post(client, change_request_url(request.pk, action), {})
    )

    assert_error(response, 404, "NOT_FOUND")
    assert BookingChangeRequest.open.filter(pk=request.pk).exists()
    # setup's own manager can: the 404 is isolation.
    own = (
        api.manager.get(change_request_url(request.pk))
        if method == "get"
        else post(api.manager, change_request_url(request.pk, action), {})
    )
    assert own.status_code in (200, 204)


def test_another_organizations_list_holds_none_of_its_change_requests(api, other, setup):
    _, mine = open_request(setup)
    _, theirs = open_request(other.setup)

    assert [r["id"] for r in other[Role.VIEWER].get(CHANGE_REQUESTS).json()["changeRequests"]] == [str(theirs.pk)]
    assert [r["id"] for r in api.viewer.get(CHANGE_REQUESTS).json()["changeRequests"]] == [str(mine.pk)]
