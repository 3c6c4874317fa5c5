"""The write path's query budget (docs/architecture.md#the-write-path): what a warm public submit and an
approval cost in statements, as production runs them (the database task queue, so the outbox's task row is
written in the request's transaction), and the answers they build from what they wrote instead of reading it
back. Counted statements include the transaction's own (BEGIN and COMMIT here, a savepoint pair in a test
that runs inside a transaction)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tasks import task_backends

from bookings.email_templates import email_template_save
from bookings.models import Booking, ModuleResource
from bookings.selectors import booking_payload
from events.models import Event
from events.selectors import events_payload
from notifications.models import Notification
from resources.models import Role
from tests.api.booking_helpers import SUBMIT, booking_url, pending, post, stamp, submit_body
from tests.conftest import future
from tests.factories import ContactFactory, RateFactory, ResourceUnitFactory

SUBMIT_BUDGET = 12
APPROVE_BUDGET = 15


@pytest.fixture
def database_task_queue(settings):
    """Production's task backend: the send task's row is one more statement of the request."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    task_backends._settings = None  # type: ignore[attr-defined]  # the handler reads TASKS again
    task_backends.__dict__.pop("settings", None)
    yield
    task_backends.__dict__.pop("settings", None)


def _body(setup, *starts, email="grace@example.com"):
    body = submit_body(setup, *[setup.event(start=s, title=f"Time {i}") for i, s in enumerate(starts)])
    body["contact"]["email"] = email
    return body


def _warm(api, setup):
    response = post(api.public, SUBMIT, _body(setup, future(40), email="warm@example.com"))
    assert response.status_code == 201, response.json()


def _count(client, url, body) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as ctx:
        response = post(client, url, body)
    assert response.status_code in (200, 201), response.json()
    return len(ctx.captured_queries), response.json()


@pytest.mark.usefixtures("database_task_queue")
def test_a_warm_public_submit_of_one_time_costs_at_most_the_budget(api, setup, django_assert_max_num_queries):
    _warm(api, setup)
    with django_assert_max_num_queries(SUBMIT_BUDGET):
        response = post(api.public, SUBMIT, _body(setup, future(5)))
    assert response.status_code == 201, response.json()


@pytest.mark.usefixtures("database_task_queue")
def test_staff_email_templates_cost_a_warm_submit_nothing(api, setup, django_assert_max_num_queries):
    # They come with the cached module (docs/architecture.md#email-templates); both emails use theirs.
    for kind in ("booking_received", "admin_new_request"):
        email_template_save(
            module_id=setup.module.pk,
            kind=kind,
            language="en",
            subject="Hi {{ booker_name }}",
            body="",
            actor=setup.staff,
        )
    _warm(api, setup)
    with django_assert_max_num_queries(SUBMIT_BUDGET):
        response = post(api.public, SUBMIT, _body(setup, future(5)))
    assert response.status_code == 201, response.json()
    booking_id = response.json()["booking"]["id"]
    assert set(Notification.objects.filter(object_id=booking_id).values_list("subject", flat=True)) == {
        "Hi Ada Lovelace"
    }


@pytest.mark.usefixtures("database_task_queue")
def test_a_returning_booker_costs_the_same(api, setup):
    _warm(api, setup)
    ContactFactory(organization=setup.org, email="Grace@Example.com", name="Grace")
    new, _ = _count(api.public, SUBMIT, _body(setup, future(5), email="someone@example.com"))
    returning, body = _count(api.public, SUBMIT, _body(setup, future(6)))
    assert returning == new
    assert Booking.objects.get(pk=body["booking"]["id"]).contact.name == "Grace"  # found, not created again


@pytest.mark.usefixtures("database_task_queue")
def test_ten_requested_times_cost_what_one_does(api, setup):
    _warm(api, setup)
    one, _ = _count(api.public, SUBMIT, _body(setup, future(5)))
    ten, body = _count(api.public, SUBMIT, _body(setup, *[future(10 + i) for i in range(10)], email="ten@x.org"))
    assert len(body["booking"]["events"]) == 10
    assert ten == one


@pytest.mark.parametrize("priced", [False, True])
def test_the_submit_answers_with_what_it_wrote_exactly_as_a_read_would(api, setup, priced):
    if priced:
        RateFactory(resource=setup.room, price="12.50")
    ResourceUnitFactory(resource=setup.desks, name="Desk 1")
    body = submit_body(
        setup,
        setup.event(start=future(5)),
        setup.event(start=future(5), resources=[setup.desks]),
        visitors=[{"name": "Ben", "email": "ben@example.com"}, {"name": "Ann", "email": "ann@example.com"}],
    )
    response = post(api.public, SUBMIT, body)
    assert response.status_code == 201, response.json()
    answered = response.json()["booking"]
    assert answered == booking_payload(Booking.objects.get(pk=answered["id"]), staff=False)
    assert [e["units"] for e in answered["events"]][1][0]["name"] == "Desk 1"


@pytest.mark.usefixtures("database_task_queue")
def test_an_approval_costs_at_most_its_budget_and_answers_with_what_it_wrote(api, setup):
    warm = pending(setup, setup.event(start=future(3)))
    warmed = post(api.manager, booking_url(warm.pk, "approve"), {"clientBookingLastUpdatedAt": stamp(warm)})
    assert warmed.status_code == 200, warmed.json()
    booking = pending(setup, setup.event(start=future(4)), setup.event(start=future(4) + timedelta(hours=3)))
    count, body = _count(
        api.manager, booking_url(booking.pk, "approve"), {"clientBookingLastUpdatedAt": stamp(booking)}
    )
    assert count <= APPROVE_BUDGET, count
    _assert_answer_is_the_read(booking, body)


def _assert_answer_is_the_read(booking, body):
    assert body["booking"] == booking_payload(Booking.objects.get(pk=booking.pk), staff=True)
    assert body["events"] == events_payload(Event.objects.filter(pk__in=[e["id"] for e in body["events"]]))
    assert {e["bookingId"] for e in body["events"]} == {str(booking.pk)}


def test_an_approval_with_units_and_visitors_answers_exactly_as_a_read_would(api, setup):
    """The answer's events come from what the approval wrote: the units the holds took with their names, the
    resources in the order a read lists them, the venue's timezone."""
    desk = ResourceUnitFactory(resource=setup.desks, name="Desk 9")
    setup.venue.timezone = "America/New_York"
    setup.venue.save()
    visitors = [{"name": "Ben", "email": "ben@example.com"}]
    booking = pending(
        setup,
        setup.event(start=future(4), resources=[setup.desks, setup.room], unitId=str(desk.pk)),
        setup.event(start=future(5), resources=[setup.room]),
        visitors=visitors,
    )
    _, body = _count(api.manager, booking_url(booking.pk, "approve"), {"clientBookingLastUpdatedAt": stamp(booking)})
    _assert_answer_is_the_read(booking, body)
    assert body["events"][0]["units"] == [{"resourceId": str(setup.desks.pk), "unitId": str(desk.pk), "name": "Desk 9"}]
    assert body["events"][0]["startLocal"] != body["events"][0]["start"][:19]  # shown in New York time
    assert [v["name"] for v in body["booking"]["visitors"]] == ["Ben"]


# --- a change is seen by the very next submit (the configuration cache) ----------------------------------------


def test_a_change_made_over_the_api_is_seen_by_the_next_submit(api, setup, config_cache_strict):
    _warm(api, setup)
    changed = api.admin.patch(f"/api/v1/resources/{setup.room.pk}", {"minNoticeMinutes": 60 * 24 * 60}, format="json")
    assert changed.status_code == 200, changed.json()

    response = post(api.public, SUBMIT, _body(setup, future(5)))

    assert response.status_code == 400, response.json()
    assert {e["code"] for e in response.json()["errors"]} == {"START_TIME_TOO_LATE"}  # the minimum notice


def test_a_change_made_in_the_admin_is_seen_by_the_next_submit(api, setup, client, config_cache_strict):
    _warm(api, setup)
    when = future(5)
    owner = api.users[Role.OWNER]
    client.force_login(owner)
    local = when.astimezone(setup.venue.tz)
    added = client.post(
        reverse("admin:resources_closure_add"),
        {
            "organization": str(setup.org.pk),
            "message": "Floor works",
            "start_0": local.date().isoformat(),
            "start_1": "00:00",
            "end_0": (local.date() + timedelta(days=1)).isoformat(),
            "end_1": "00:00",
        },
    )
    assert added.status_code == 302, added.context["adminform"].form.errors

    response = post(api.public, SUBMIT, _body(setup, when))

    assert response.status_code == 400, response.json()
    assert {e["code"] for e in response.json()["errors"]} == {"RESOURCE_CLOSED"}


def test_an_approval_answers_with_the_units_of_a_resource_no_longer_offered(api, setup):
    ResourceUnitFactory(resource=setup.desks, name="Desk 7")
    booking = pending(setup, setup.event(start=future(4), resources=[setup.desks]))
    ModuleResource.objects.filter(module=setup.module, resource=setup.desks).delete()  # read, not from the cache

    count, body = _count(
        api.manager, booking_url(booking.pk, "approve"), {"clientBookingLastUpdatedAt": stamp(booking)}
    )

    assert body["booking"] == booking_payload(Booking.objects.get(pk=booking.pk), staff=True)
    assert body["booking"]["events"][0]["units"][0]["name"] == "Desk 7"


def test_an_approval_answers_with_a_unit_archived_since_the_request(api, setup):
    unit = ResourceUnitFactory(resource=setup.desks, name="Desk 8")
    booking = pending(setup, setup.event(start=future(4), resources=[setup.desks]))
    unit.archived = True  # the hold still occupies it
    unit.save()

    _, body = _count(api.manager, booking_url(booking.pk, "approve"), {"clientBookingLastUpdatedAt": stamp(booking)})

    assert body["booking"] == booking_payload(Booking.objects.get(pk=booking.pk), staff=True)
    assert body["booking"]["events"][0]["units"][0]["name"] == "Desk 8"
