"""The public module endpoints: the form definition and busy blocks of modules on a LIVE portal, for
anyone, without any private detail."""

import uuid
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.models import Booking, FormSection, PortalStatus
from events.models import EventStatus
from events.services.saving import events_save
from events.services.scheduling import EventSpec
from events.services.status import events_set_status
from tests.api.conftest import assert_error
from tests.conftest import future
from tests.factories import (
    BookingModuleFactory,
    FormFieldFactory,
    ModuleResourceFactory,
    PortalFactory,
    ResourceFactory,
)

URL = "/api/v1/public/booking-modules"


def z(moment) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def detail(module) -> str:
    return f"{URL}/{getattr(module, 'pk', module)}"


def availability(module) -> str:
    return f"{detail(module)}/availability"


def window(start, days=1) -> dict:
    return {"start": start.isoformat(), "end": (start + timedelta(days=days)).isoformat()}


def confirmed(setup, start, resources=None, title="Private board meeting"):
    spec = EventSpec(
        title=title, start=start, end=start + timedelta(hours=1), resource_ids=[r.pk for r in resources or [setup.room]]
    )
    return events_save(organization=setup.org, specs=[spec], status=EventStatus.CONFIRMED)[0]


# --- the form definition ----------------------------------------------------------------------------


def test_form_definition_has_the_exact_shape(api, setup):
    m = setup.module
    m.about_title, m.about_description, m.terms = "Book a room", "<p>Welcome</p>", "<p>Be kind</p>"
    m.save()
    field = FormFieldFactory(
        module=m,
        section=FormSection.CONTACT,
        label="Company",
        type="select",
        options=["A", "B"],
        required=True,
        order=0,
    )
    FormFieldFactory(module=m, label="Old question", archived=True)
    draft = PortalFactory(organization=setup.org, status=PortalStatus.DRAFT)
    m.portals.add(draft)
    setup.desks.archived = True
    setup.desks.save()

    response = api.public.get(detail(m))
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": str(m.pk),
        "orgId": str(setup.org.pk),
        "name": m.name,
        "about": {"title": "Book a room", "description": "<p>Welcome</p>"},
        "calendar": {"daysShown": 7, "showRequested": True},
        "config": {
            "allowChangeRequests": True,
            "allowCancellation": True,
            "terms": "<p>Be kind</p>",
            "maxOccurrences": 150,
            "allowRepeatRequests": False,
            "autoApprove": False,
        },
        "bookingForm": {
            "contactFields": [
                {
                    "id": str(field.pk),
                    "label": "Company",
                    "type": "select",
                    "required": True,
                    "helpText": "",
                    "options": ["A", "B"],
                    "min": None,
                    "max": None,
                    "order": 0,
                }
            ],
            "eventFields": [],
        },
        "resources": [
            {
                "id": str(r.pk),
                "name": r.name,
                "kind": "room",
                "description": "",
                "capacity": r.capacity,
                "timezone": "Europe/London",
                "units": [],
                "rates": [],  # tests/api/test_rates.py: the public rates and products
                "products": [],
            }
            for r in (setup.hall, setup.room)  # by name; the archived one is left out
        ],
        "portals": [{"id": str(setup.portal.pk), "name": setup.portal.name, "slug": setup.portal.slug}],
    }


def test_no_private_detail(api, setup):
    booking = setup.submit().booking
    Booking.objects.filter(pk=booking.pk).update(internal_notes="Secret staff note")
    draft = PortalFactory(organization=setup.org, status=PortalStatus.DRAFT, name="Hidden portal")
    setup.module.portals.add(draft)
    text = api.public.get(detail(setup.module)).content.decode()
    for secret in (
        setup.admin.email,
        setup.admin.username,
        "adminUserId",
        "holdPendingSlots",
        "Secret staff note",
        "Hidden portal",
        str(draft.pk),
        str(booking.pk),
        "Ada",
        "createdAt",
        "password",
        "hasPassword",
        str(setup.venue.pk),
        setup.venue.name,
    ):
        assert secret not in text, secret


@pytest.mark.parametrize("case", ["draft_only", "no_portal", "other_org_live_portal_only"])
def test_unpublished_modules_are_404(api, setup, other, case):
    module = BookingModuleFactory(organization=setup.org, offered=[setup.room])
    if case == "draft_only":
        module.portals.add(PortalFactory(organization=setup.org, status=PortalStatus.DRAFT))
    elif case == "other_org_live_portal_only":
        module.portals.add(other.setup.portal)  # cannot happen through the API; still not published
        module.portals.add(PortalFactory(organization=setup.org, status=PortalStatus.DRAFT))
        other.setup.portal.status = PortalStatus.DRAFT
        other.setup.portal.save()
    assert_error(api.public.get(detail(module)), 404, "NOT_FOUND")
    assert_error(api.public.get(availability(module), window(future())), 404, "NOT_FOUND")


def test_taking_the_portal_down_hides_the_module(api, setup):
    assert api.public.get(detail(setup.module)).status_code == 200
    setup.portal.status = PortalStatus.DRAFT
    setup.portal.save()
    assert_error(api.public.get(detail(setup.module)), 404)
    assert_error(api.public.get(availability(setup.module), window(future())), 404)


def test_unknown_module_is_404(api, setup):
    assert_error(api.public.get(detail(uuid.uuid4())), 404, "NOT_FOUND")
    assert_error(api.public.get(availability(uuid.uuid4()), window(future())), 404, "NOT_FOUND")


def test_any_caller_even_with_a_bad_token(api, setup):
    api.public.credentials(HTTP_AUTHORIZATION="Bearer allot_not-a-token")
    assert api.public.get(detail(setup.module)).status_code == 200
    assert api.public.get(availability(setup.module), window(future())).status_code == 200
    assert api.viewer.get(detail(setup.module)).status_code == 200


def test_form_definition_query_count_does_not_grow_with_fields(api, setup, django_assert_num_queries):
    FormFieldFactory(module=setup.module)
    with CaptureQueriesContext(connection) as few:
        api.public.get(detail(setup.module))
    for _ in range(20):
        FormFieldFactory(module=setup.module)
        ModuleResourceFactory(module=setup.module, resource=ResourceFactory(venue=setup.venue))
    with django_assert_num_queries(len(few.captured_queries)):
        body = api.public.get(detail(setup.module)).json()
    assert len(body["bookingForm"]["eventFields"]) == 21 and len(body["resources"]) == 23


# --- availability -----------------------------------------------------------------------------------


def test_busy_blocks(api, setup):
    start = future(days=3, hour=9)
    setup.room.buffer_minutes = 15
    setup.room.save()
    booked = confirmed(setup, start)
    requested = setup.submit(setup.event(start=start + timedelta(hours=3))).events[0]
    assert requested.status == EventStatus.TENTATIVE
    # Not shown: a canceled event, another organization's event, a resource the module does not offer.
    canceled = confirmed(setup, start + timedelta(hours=5), title="Gone")
    events_set_status(events=[canceled], status=EventStatus.CANCELED)
    other_room = ResourceFactory(venue=setup.venue)
    confirmed(setup, start, resources=[other_room])

    response = api.public.get(availability(setup.module), window(start - timedelta(hours=1)))
    assert response.status_code == 200
    assert response.json() == {
        "bookingModuleId": str(setup.module.pk),
        "busy": [
            {
                "resourceId": str(setup.room.pk),
                "start": z(start),
                "end": z(start + timedelta(hours=1, minutes=15)),
                "status": "BOOKED",
            },
            {
                "resourceId": str(setup.room.pk),
                "start": z(requested.start),
                "end": z(requested.end + timedelta(minutes=15)),
                "status": "REQUESTED",
            },
        ],
    }
    text = response.content.decode()
    for secret in (booked.title, str(booked.pk), str(requested.pk), "Team meeting", "Ada", "title", "eventId"):
        assert secret not in text, secret


def test_requests_show_as_booked_when_the_calendar_hides_them(api, setup):
    setup.module.calendar_show_requested = False
    setup.module.save()
    start = future(days=3, hour=9)
    setup.submit(setup.event(start=start))
    busy = api.public.get(availability(setup.module), window(start)).json()["busy"]
    assert [b["status"] for b in busy] == ["BOOKED"]


def test_window_overlap_and_offsets(api, setup):
    start = future(days=3, hour=9)
    confirmed(setup, start)
    # A window that only touches the end is free; one that overlaps by a minute is not.
    after = {"start": (start + timedelta(hours=1)).isoformat(), "end": (start + timedelta(hours=2)).isoformat()}
    assert api.public.get(availability(setup.module), after).json()["busy"] == []
    overlapping = {
        "start": (start + timedelta(minutes=59)).isoformat().replace("+00:00", "Z"),
        "end": (start + timedelta(hours=2)).astimezone(ZoneInfo("Asia/Tokyo")).isoformat(),
    }
    assert len(api.public.get(availability(setup.module), overlapping).json()["busy"]) == 1


def test_availability_is_two_queries_whatever_the_number_of_blocks(api, setup, django_assert_num_queries):
    start = future(days=3, hour=8)
    for hour in range(3):
        confirmed(setup, start + timedelta(hours=hour), resources=[setup.hall])
    with django_assert_num_queries(2):  # the published module, the busy blocks
        assert len(api.public.get(availability(setup.module), window(start)).json()["busy"]) == 3


@pytest.mark.parametrize(
    ("params", "code", "path"),
    [
        ({}, "REQUIRED", "start"),
        ({"start": "2030-01-01T00:00:00Z"}, "REQUIRED", "end"),
        ({"start": "yesterday", "end": "2030-01-01T00:00:00Z"}, "INVALID", "start"),
        ({"start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"}, "END_BEFORE_START", "end"),
        ({"start": "2030-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"}, "END_BEFORE_START", "end"),
        ({"start": "2030-01-01T00:00:00Z", "end": "2030-03-05T00:00:00Z"}, "WINDOW_TOO_LONG", "end"),
        ({"start": "9999-12-31T23:59:59-12:00", "end": "2030-01-01T00:00:00Z"}, "INVALID", "start"),
    ],
)
def test_bad_windows_are_400(api, setup, params, code, path):
    assert_error(api.public.get(availability(setup.module), params), 400, code, path)


def test_a_62_day_window_is_fine(api, setup):
    params = {"start": "2030-01-01T00:00:00Z", "end": "2030-03-04T00:00:00Z"}
    assert api.public.get(availability(setup.module), params).status_code == 200


def test_public_endpoints_are_read_only(api, setup):
    for method in ("post", "patch", "put", "delete"):
        assert_error(getattr(api.public, method)(detail(setup.module), {}, format="json"), 405)
