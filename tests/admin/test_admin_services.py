"""Every configuration write of the staff admin goes through the service the API calls
(docs/architecture.md#every-write-through-a-service), and a service's domain error shows at the form's
fields with everything typed kept (docs/architecture.md#domain-errors), never as a 500."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client

from bookings.models import Portal
from core.errors import FieldError, ValidationFailed
from events.models import Reservation
from feeds.models import CalendarFeed
from feeds.services import feed_create
from resources.catalog import ResourceRows, UnitSpec
from resources.catalog import rate_update as catalog_rate_update
from resources.models import Closure, Organization, Rate, Resource, Role, Venue
from resources.services import resource_update
from webhooks.services import webhook_endpoint_create

from ..conftest import Setup, future, postgres_only
from ..factories import (
    ClosureFactory,
    ContactFactory,
    CustomerFactory,
    EventFactory,
    FormFieldFactory,
    MembershipFactory,
    RateFactory,
    ResourceFactory,
)
from .config_helpers import add_rows, form_data, inline_rows, url


@pytest.fixture
def admin_client(setup: Setup, member) -> Client:
    # The module's admin user must be a member for its form to validate (as the API requires).
    MembershipFactory(user=setup.admin, organization=setup.org, role=Role.ADMIN)
    return member(Role.ADMIN)[1]


def overlapping_bookings(setup: Setup, count: int) -> None:
    """`count` pending bookings of the shared desks at the same time, each holding a reservation."""
    start = future(days=3)
    for n in range(count):
        setup.submit(
            setup.event(start=start, resources=[setup.desks], title=f"Desk {n}"), email=f"booker{n}@example.com"
        )
    assert Reservation.objects.filter(resource=setup.desks, active=True).count() == count


def closure_data(setup: Setup, **changes: Any) -> dict[str, Any]:
    """A closure's form as posted (form_data cannot split the date and time inputs)."""
    return {
        "organization": str(setup.org.pk),
        "resources": [str(setup.room.pk)],
        "message": "Works",
        "start_0": "2030-01-01",
        "start_1": "00:00",
        "end_0": "2030-01-02",
        "end_1": "00:00",
        "_save": "Save",
        **changes,
    }


def post_resource(client: Client, resource: Resource, **changes: Any):
    change = url("resources.resource", "change", resource)
    return client.post(change, {**form_data(client.get(change)), **changes})


# --- exclusive and capacity: the checks of resources.services.resource_update ---------------------------


def test_switching_exclusive_on_updates_the_live_reservations(setup: Setup, admin_client: Client) -> None:
    overlapping_bookings(setup, 1)
    assert not Reservation.objects.get(resource=setup.desks).exclusive

    assert post_resource(admin_client, setup.desks, exclusive="on").status_code == 302

    setup.desks.refresh_from_db()
    assert setup.desks.exclusive
    assert list(Reservation.objects.filter(resource=setup.desks).values_list("exclusive", flat=True)) == [True]


@postgres_only
def test_after_switching_exclusive_the_database_refuses_an_overlap(setup: Setup, admin_client: Client) -> None:
    overlapping_bookings(setup, 1)
    assert post_resource(admin_client, setup.desks, exclusive="on").status_code == 302
    held = Reservation.objects.get(resource=setup.desks)
    intruder = EventFactory(organization=setup.org)

    # Past every service check: only the exclusion constraint stands in the way, and it needs the copy.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO events_reservation (id, created_at, updated_at, event_id, resource_id, start, "end", '
            "active, exclusive) VALUES (%s, now(), now(), %s, %s, %s, %s, true, true)",
            [uuid.uuid4(), intruder.pk, setup.desks.pk, held.start + timedelta(minutes=10), held.end],
        )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"exclusive": "on"}, "exclusive", "Upcoming bookings overlap."),
        ({"capacity": "1"}, "capacity", "Upcoming bookings need more capacity."),
    ],
    ids=["exclusive", "capacity"],
)
def test_an_unsafe_capacity_change_is_refused_at_the_field(
    setup: Setup, admin_client: Client, changes: dict, field: str, message: str
) -> None:
    overlapping_bookings(setup, 2)

    response = post_resource(admin_client, setup.desks, name="Renamed desks", **changes)

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors[field] == [message]
    assert message.encode() in response.content
    assert form["name"].value() == "Renamed desks", "what was typed is kept"
    desks = Resource.objects.get(pk=setup.desks.pk)
    assert (desks.name, desks.capacity, desks.exclusive) == ("Desks", 3, False)
    assert not Reservation.objects.filter(resource=setup.desks, exclusive=True).exists()


def test_a_safe_capacity_change_is_saved(setup: Setup, admin_client: Client) -> None:
    overlapping_bookings(setup, 2)
    assert post_resource(admin_client, setup.desks, capacity="2").status_code == 302
    assert Resource.objects.get(pk=setup.desks.pk).capacity == 2


# --- a service's error at the form's fields, for every converted admin -----------------------------------


def _unit(setup: Setup) -> Resource:
    resource_update(resource=setup.desks, changes={}, rows=ResourceRows(units=[UnitSpec(name="Desk 1")]))
    return setup.desks


def _rate(setup: Setup) -> Resource:
    RateFactory(resource=setup.room, name="Hourly")
    return setup.room


def _field(setup: Setup):
    FormFieldFactory(module=setup.module, label="Guests", type="number")
    return setup.module


def _feed(setup: Setup) -> CalendarFeed:
    return feed_create(organization=setup.org, name="Front desk")


def _endpoint(setup: Setup):
    return webhook_endpoint_create(
        organization=setup.org, values={"url": "https://8.8.8.8/hooks", "event_types": ["booking.approved"]}
    )


@dataclass(frozen=True)
class Case:
    model: str  # "app.model"
    obj: Callable[[Setup], Any]
    service: str  # what the admin calls, to make refuse
    path: str  # the service's field path
    field: str | None  # the form field it shows at; None: the whole form
    inline: str | None = None  # the inline's prefix, for a row's error (row 0)

    def __str__(self) -> str:
        return f"{self.model}:{self.path or 'none'}"


CASES = [
    Case("resources.venue", lambda s: s.venue, "resources.services.venue_update", "timezone", "timezone"),
    Case(
        "resources.resource",
        lambda s: s.room,
        "resources.services.resource_update",
        "maxDurationMinutes",
        "max_duration_minutes",
    ),
    Case("resources.resource", lambda s: s.room, "resources.services.resource_update", "venueId", "venue"),
    Case("resources.resource", _unit, "resources.services.resource_update", "units[0].name", "name", "units"),
    # A row's own service (resources.catalog) refuses: its error goes to that row.
    Case("resources.resource", _unit, "resources.catalog.unit_update", "name", "name", "units"),
    Case("resources.resource", _rate, "resources.catalog.rate_update", "price", "price", "rates"),
    Case(
        "resources.closure",
        lambda s: ClosureFactory(organization=s.org),
        "resources.services.closure_update",
        "resourceIds",
        "resources",
    ),
    Case("bookings.bookingmodule", lambda s: s.module, "bookings.services.module_update", "adminUserId", "admin_user"),
    Case(
        "bookings.bookingmodule",
        _field,
        "bookings.services.module_update",
        "bookingForm.eventFields[0].max",
        "max_value",
        "fields",
    ),
    Case("bookings.portal", lambda s: s.portal, "bookings.services.portal_update", "moduleIds", "booking_modules"),
    Case(
        "bookings.customer",
        lambda s: CustomerFactory(organization=s.org),
        "bookings.services.customer_update",
        "email",
        "email",
    ),
    Case(
        "bookings.contact",
        lambda s: ContactFactory(organization=s.org),
        "bookings.services.contact_update",
        "customerId",
        "customer",
    ),
    Case(
        "bookings.contact",
        lambda s: ContactFactory(organization=s.org),
        "bookings.services.contact_update",
        "noSuchField",
        None,
    ),
    Case(
        "bookings.contact", lambda s: ContactFactory(organization=s.org), "bookings.services.contact_update", "", None
    ),
    Case("feeds.calendarfeed", _feed, "feeds.services.feed_update", "resource", "resource"),
    Case(
        "webhooks.webhookendpoint", _endpoint, "webhooks.admin.webhook_endpoint_update", "eventTypes[1]", "event_types"
    ),
]


def refusing(path: str) -> Callable[..., Any]:
    def service(**kwargs: Any) -> Any:
        raise ValidationFailed(errors=[FieldError(path, "INVALID", f"Refused by the service ({path or 'none'}).")])

    return service


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_service_error_shows_at_the_field(setup: Setup, admin_client: Client, monkeypatch, case: Case) -> None:
    obj = case.obj(setup)
    change = url(case.model, "change", obj)
    data = form_data(admin_client.get(change)) if case.model != "resources.closure" else closure_data(setup)
    monkeypatch.setattr(case.service, refusing(case.path))

    response = admin_client.post(change, data)

    assert response.status_code == 200
    message = f"Refused by the service ({case.path or 'none'})."
    assert message.encode() in response.content
    form = response.context["adminform"].form
    if case.inline:
        assert inline_rows(response, case.inline)[0].errors[case.field] == [message]
    elif case.field:
        assert form.errors[case.field] == [message]
    else:
        assert form.non_field_errors() == [message]


def test_an_add_page_shows_the_service_error_and_keeps_what_was_typed(
    setup: Setup, admin_client: Client, monkeypatch
) -> None:
    monkeypatch.setattr("resources.services.venue_create", refusing("address"))
    response = admin_client.post(
        url("resources.venue", "add"), {"organization": str(setup.org.pk), "name": "Annex", "address": "1 Main St"}
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["address"] == ["Refused by the service (address)."]
    assert (form["name"].value(), form["address"].value()) == ("Annex", "1 Main St")
    assert not Venue.objects.filter(name="Annex").exists()


# --- normal adds, changes and deletes through the services -----------------------------------------------


def test_a_resource_is_added_with_its_hours_units_rates_and_products(setup: Setup, admin_client: Client) -> None:
    add = url("resources.resource", "add")
    data = form_data(admin_client.get(add))
    data.update(venue=str(setup.venue.pk), name="Studio", kind="room", capacity="2")
    add_rows(data, "bookable_hours", [{"weekday": "1", "start_time": "08:00", "end_time": "12:00"}])
    add_rows(data, "units", [{"name": "Booth", "order": "0"}])
    add_rows(data, "rates", [{"name": "Hourly", "unit": "0", "price": "12.50", "days": ["0", "1"], "active": True}])
    add_rows(data, "products", [{"name": "Coffee", "unit_price": "2", "unit": "0", "active": True}])

    response = admin_client.post(add, data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    studio = setup.venue.resources.get(name="Studio")
    assert studio.bookable_hours.get().weekday == 1
    assert list(studio.units.values_list("name", flat=True)) == ["Booth"]
    assert studio.rates.get().weekday_list == [0, 1]
    assert studio.products.get().name == "Coffee"


def test_rates_and_units_are_changed_and_deleted_on_the_resource_page(setup: Setup, admin_client: Client) -> None:
    change = url("resources.resource", "change", setup.room)
    data = add_rows(
        form_data(admin_client.get(change)),
        "rates",
        [{"name": "Day", "unit": "1", "price": "100", "days": ["0"], "active": True}],
    )
    assert admin_client.post(change, data).status_code == 302
    rate = Rate.objects.get(resource=setup.room)

    page = admin_client.get(change)
    data = form_data(page)
    data["rates-0-price"] = "80"
    assert admin_client.post(change, data).status_code == 302
    assert Rate.objects.get(pk=rate.pk).price == 80

    data["rates-0-DELETE"] = "on"
    assert admin_client.post(change, data).status_code == 302
    assert not Rate.objects.filter(resource=setup.room).exists()


def test_a_closure_is_added_changed_and_deleted(setup: Setup, admin_client: Client) -> None:
    response = admin_client.post(url("resources.closure", "add"), closure_data(setup))
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    closure = Closure.objects.get(organization=setup.org, message="Works")
    assert list(closure.resources.all()) == [setup.room]

    change = url("resources.closure", "change", closure)
    data = closure_data(setup, resources=[str(setup.hall.pk)], message="Painting")
    assert admin_client.post(change, data).status_code == 302
    closure.refresh_from_db()
    assert (closure.message, list(closure.resources.all())) == ("Painting", [setup.hall])

    assert admin_client.post(url("resources.closure", "delete", closure), {"post": "yes"}).status_code == 302
    assert not Closure.objects.filter(pk=closure.pk).exists()


def test_a_portal_is_added_with_its_modules_and_password(setup: Setup, admin_client: Client) -> None:
    response = admin_client.post(
        url("bookings.portal", "add"),
        {
            "organization": str(setup.org.pk),
            "name": "Members",
            "slug": "members",
            "status": "LIVE",
            "booking_modules": [str(setup.module.pk)],
            "new_password": "open sesame",
        },
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    portal = Portal.objects.get(slug="members")
    assert list(portal.modules.all()) == [setup.module]
    assert portal.check_password("open sesame")


def test_a_feed_is_changed_and_deleted(setup: Setup, admin_client: Client) -> None:
    feed = _feed(setup)
    change = url("feeds.calendarfeed", "change", feed)
    data = {**form_data(admin_client.get(change)), "name": "Reception", "resource": str(setup.room.pk)}
    assert admin_client.post(change, data).status_code == 302
    feed.refresh_from_db()
    assert (feed.name, feed.resource) == ("Reception", setup.room)
    assert admin_client.post(url("feeds.calendarfeed", "delete", feed), {"post": "yes"}).status_code == 302
    assert not CalendarFeed.objects.filter(pk=feed.pk).exists()


def test_a_venue_in_use_is_not_deleted_and_the_page_says_why(setup: Setup, admin_client: Client) -> None:
    # Its resources are offered by a module: Django would cascade, the service refuses (IN_USE).
    response = admin_client.post(url("resources.venue", "delete", setup.venue), {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert b"archive its resources instead" in response.content
    assert Venue.objects.filter(pk=setup.venue.pk).exists()


def test_a_bulk_delete_of_resources_in_use_deletes_none(setup: Setup, admin_client: Client) -> None:
    spare = ResourceFactory(venue=setup.venue, name="Spare")
    response = admin_client.post(
        url("resources.resource", "changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [str(spare.pk), str(setup.room.pk)],
            "post": "yes",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert b"archive it instead" in response.content  # the room is offered by a module
    assert Resource.objects.filter(pk__in=[spare.pk, setup.room.pk]).count() == 2


def test_a_rate_edited_on_the_resource_page_goes_through_its_service(
    setup: Setup, admin_client: Client, monkeypatch
) -> None:
    """The admin writes a rate row with rate_update, as PATCH /rates/{id} does: the organization gets a new
    configuration version, so every process prices with the new rate on its next request."""
    rate = RateFactory(resource=setup.room, name="Hourly", price=20)
    calls: list[dict[str, Any]] = []

    def spy(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return catalog_rate_update(**kwargs)

    monkeypatch.setattr("resources.catalog.rate_update", spy)
    change = url("resources.resource", "change", setup.room)
    data = form_data(admin_client.get(change))
    data["rates-0-price"] = "25"
    before = Organization.objects.values_list("config_version", flat=True).get(pk=setup.org.pk)

    assert admin_client.post(change, data).status_code == 302

    assert [(c["rate"].pk, c["changes"]["price"]) for c in calls] == [(rate.pk, 25)]
    assert Rate.objects.get(pk=rate.pk).price == 25
    assert Organization.objects.values_list("config_version", flat=True).get(pk=setup.org.pk) != before


def test_a_rate_a_booking_refers_to_is_archived_when_deleted_on_the_resource_page(
    setup: Setup, admin_client: Client
) -> None:
    rate = RateFactory(resource=setup.room, name="Hourly")
    setup.submit()  # its estimate lists the rate
    change = url("resources.resource", "change", setup.room)
    data = form_data(admin_client.get(change))
    data["rates-0-DELETE"] = "on"

    assert admin_client.post(change, data).status_code == 302

    assert Rate.objects.get(pk=rate.pk).active is False
