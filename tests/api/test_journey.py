"""An integrator's whole journey over HTTP: configure a module with custom fields, take a public
request, list it, approve it at an edited time, take the booker's change request (with the access token
from the submit response), approve it, and cancel with DELETE so the Event is gone."""

from __future__ import annotations

from datetime import timedelta

from django.core import mail

from events.models import Event, EventStatus
from resources.models import Role
from tests.api.booking_helpers import (
    BOOKINGS,
    CHANGE_REQUESTS,
    CR_SUBMIT,
    SUBMIT,
    booking_url,
    change_request_url,
    check_booking,
    check_change_request,
    check_event,
    is_uuid,
    local,
    post,
    utc,
)
from tests.api.conftest import assert_error
from tests.conftest import future

BOOKER = "grace@example.com"


def _create_module(api, setup) -> tuple[str, dict[str, str], str]:
    """(module id, custom field ids by label, the admin's email), made by an ADMIN through the API."""
    admin = api.users[Role.ADMIN]
    response = post(
        api.admin,
        "/api/v1/booking-modules",
        {
            "orgId": str(setup.org.pk),
            "name": "Meeting rooms",
            "adminUserId": admin.pk,
            "portalIds": [str(setup.portal.pk)],
            "resourceIds": [str(setup.room.pk), str(setup.hall.pk)],
            "config": {"holdPendingSlots": True, "allowChangeRequests": True, "allowCancellation": True},
            "bookingForm": {
                "contactFields": [{"label": "Organisation", "type": "text", "required": True}],
                "eventFields": [
                    {"label": "Layout", "type": "select", "options": ["theatre", "boardroom"], "required": True},
                    {"label": "Guests", "type": "number", "min": 1, "max": 40},
                ],
            },
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    module = body.get("bookingModule", body)
    assert is_uuid(module["id"])
    form = module["bookingForm"]
    fields = {f["label"]: f["id"] for f in form["contactFields"] + form["eventFields"]}
    assert set(fields) == {"Organisation", "Layout", "Guests"}
    assert all(is_uuid(fid) for fid in fields.values())  # ids are assigned by the server
    return module["id"], fields, admin.email


def _list(api, **query) -> dict:
    response = api.manager.get(BOOKINGS, {"returnEvents": "true", **query})
    assert response.status_code == 200, response.json()
    body = response.json()
    for item in body["bookings"].values():
        check_booking(item)
    for event in body["associatedEvents"]:
        check_event(event)
    return body


def test_integrator_journey_over_http(api, setup, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        module_id, fields, admin_email = _create_module(api, setup)

        # --- the public submits (a first try with a bad answer is refused and changes nothing) -----------
        requested = future(12, 9)
        submission = {
            "submission": True,
            "orgId": str(setup.org.pk),
            "bookingModuleId": module_id,
            "portalId": str(setup.portal.pk),
            "contact": {"name": "Grace Hopper", "email": BOOKER, fields["Organisation"]: "Navy"},
            "event": {
                "title": "Compiler workshop",
                "start": utc(requested),
                "end": utc(requested + timedelta(hours=2)),
                "resourceIds": [str(setup.room.pk)],
                fields["Layout"]: "banquet",
                fields["Guests"]: 12,
            },
            "requestNote": "<p>We need a <b>projector</b>.</p><script>alert(1)</script>",
        }
        assert_error(post(api.public, SUBMIT, submission), 400, "INVALID_CHOICE", f"event.{fields['Layout']}")
        submission["event"][fields["Layout"]] = "theatre"
        response = post(api.public, SUBMIT, submission)
        assert response.status_code == 201, response.json()
        submitted = response.json()
        token = submitted["accessToken"]
        booking_id = submitted["booking"]["id"]
        assert check_booking(submitted["booking"], staff=False)["requestNote"] == ("<p>We need a <b>projector</b>.</p>")
        assert submitted["booking"]["events"][0]["answers"] == {fields["Layout"]: "theatre", fields["Guests"]: 12}

        # --- staff list it, with its hold -----------------------------------------------------------------
        listed = _list(api, bookingModuleId=module_id)
        assert list(listed["bookings"]) == [booking_id]
        booking = listed["bookings"][booking_id]
        assert (booking["status"], booking["contact"][fields["Organisation"]]) == (0, "Navy")
        (hold,) = listed["associatedEvents"]
        assert (hold["status"], hold["start"], hold["bookingId"]) == (EventStatus.TENTATIVE, utc(requested), booking_id)

        # --- approve at an edited time: the Event exists at that time ------------------------------------
        edited = future(12, 14)
        response = post(
            api.manager,
            booking_url(booking_id, "approve"),
            {
                "clientBookingLastUpdatedAt": booking["lastUpdatedAt"],
                "event": {"start": utc(edited), "end": utc(edited + timedelta(hours=2))},
            },
        )
        assert response.status_code == 200, response.json()
        assert response.json()["booking"]["status"] == 1
        listed = _list(api, bookingModuleId=module_id)
        booking = listed["bookings"][booking_id]
        (event,) = listed["associatedEvents"]
        assert (event["id"], event["status"], event["start"], event["end"], event["startLocal"]) == (
            booking["events"][0]["eventId"],
            EventStatus.CONFIRMED,
            utc(edited),
            utc(edited + timedelta(hours=2)),
            local(edited),
        )
        assert event["resourceIds"] == [str(setup.room.pk)]
        assert booking["events"][0]["start"] == utc(edited)
        # The time first requested is free again; the edited one is not.
        assert _list(api, start=utc(requested), end=utc(requested + timedelta(hours=1)))["bookings"] == {}
        assert list(_list(api, start=utc(edited), end=utc(edited + timedelta(minutes=1)))["bookings"]) == [booking_id]

        # --- the booker asks for a change with the access token --------------------------------------------
        later = future(13, 10)
        response = post(
            api.public,
            CR_SUBMIT,
            {
                "bookingId": booking_id,
                "accessToken": token,
                "event": {"start": utc(later), "end": utc(later + timedelta(hours=3)), fields["Guests"]: 30},
                "requestNote": "Thirty people now, and a longer slot.",
            },
        )
        assert response.status_code == 201, response.json()
        change = check_change_request(response.json()["changeRequest"])
        assert change["events"] == [
            {
                "bookingEventId": booking["events"][0]["id"],
                "start": utc(later),
                "end": utc(later + timedelta(hours=3)),
                fields["Guests"]: 30,
            }
        ]
        queue = api.manager.get(CHANGE_REQUESTS).json()["changeRequests"]
        assert [c["id"] for c in queue] == [change["id"]]
        assert api.manager.get(change_request_url(change["id"])).json() == {"changeRequest": change}

        # --- staff approve it: the Event moves --------------------------------------------------------------
        response = post(api.manager, change_request_url(change["id"], "approve"), {})
        assert response.status_code == 200, response.json()
        listed = _list(api, bookingModuleId=module_id)
        booking = listed["bookings"][booking_id]
        (moved,) = listed["associatedEvents"]
        assert (moved["id"], moved["start"], moved["end"], moved["status"]) == (
            event["id"],
            utc(later),
            utc(later + timedelta(hours=3)),
            EventStatus.CONFIRMED,
        )
        assert booking["events"][0]["answers"] == {fields["Layout"]: "theatre", fields["Guests"]: 30}
        assert api.manager.get(CHANGE_REQUESTS).json() == {"changeRequests": []}

        # --- cancel with DELETE: the Event is gone --------------------------------------------------------
        response = post(api.manager, booking_url(booking_id, "cancel"), {"eventProcedure": 1})
        assert response.status_code == 200, response.json()
        assert response.json()["events"] == [] and "event" not in response.json()
        final = api.manager.get(booking_url(booking_id)).json()["booking"]
        assert (final["status"], final["events"][0]["eventId"]) == (3, None)
        listed = _list(api, bookingModuleId=module_id)
        assert listed["associatedEvents"] == []
        assert not Event.objects.filter(pk=event["id"]).exists()
        # The freed slot takes a new request.
        submission["event"].update(start=utc(later), end=utc(later + timedelta(hours=1)))
        submission["contact"]["email"] = "ada@example.com"
        assert post(api.public, SUBMIT, submission).status_code == 201

    sent = [(m.to[0], m.subject) for m in mail.outbox]
    booker_mail = [subject for to, subject in sent if to == BOOKER]
    assert booker_mail == [
        "We received your booking request: Compiler workshop",
        "Your booking is confirmed: Compiler workshop",
        "We received your change request: Compiler workshop",
        "Your change request was approved: Compiler workshop",
        "Your booking was canceled: Compiler workshop",
    ]
    assert (admin_email, "New booking request: Compiler workshop") in sent
    assert (admin_email, "New change request: Compiler workshop") in sent
    private_link = next(m for m in mail.outbox if m.to == [BOOKER])
    assert f"/b/{token}/" in private_link.body
