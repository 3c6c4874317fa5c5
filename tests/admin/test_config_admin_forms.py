"""The configuration part of the staff admin: organizations, venues, resources, closures, booking modules
with their form fields, portals, customers and contacts — who may see and change what, scoping to the
user's organizations, and the form-field inline's rules.

This module: the form-field inline, portals, customers and contacts, organizations, venues,
resources and closures, and the changelists' queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bookings.models import Contact, FieldType, FormField, FormSection, ModuleResource, Portal
from resources.models import Membership, Organization, Role

from ..conftest import Setup, future
from ..factories import (
    BookableHoursFactory,
    BookingEventFactory,
    BookingFactory,
    BookingModuleFactory,
    ClosureFactory,
    ContactFactory,
    CustomerFactory,
    FormFieldFactory,
    MembershipFactory,
    OrganizationFactory,
    PortalFactory,
    ResourceFactory,
    UserFactory,
    VenueFactory,
)
from .config_helpers import ROLES, add_rows, form_data, has_save_button, inline_rows, url
from .conftest import admin_client_for

pytestmark = pytest.mark.usefixtures("module_admin_is_member")


# --- the form-field inline -----------------------------------------------------------------------------


@pytest.fixture
def admin_client(member) -> Client:
    return member(Role.ADMIN)[1]


def module_page(client: Client, setup: Setup):
    return client.get(url("bookings.bookingmodule", "change", setup.module))


def post_module(client: Client, setup: Setup, data: dict[str, Any]):
    return client.post(url("bookings.bookingmodule", "change", setup.module), data)


@pytest.mark.parametrize("field_type", [FieldType.SELECT, FieldType.MULTISELECT])
def test_a_select_field_without_options_is_an_error_on_its_row(
    setup: Setup, admin_client: Client, field_type: str
) -> None:
    data = add_rows(
        form_data(module_page(admin_client, setup)),
        "fields",
        [{"section": "event", "label": "Layout", "type": field_type, "options": " \n ", "order": "1"}],
    )
    response = post_module(admin_client, setup, data)
    assert response.status_code == 200
    assert inline_rows(response, "fields")[0].errors["options"] == ["A select field needs at least one option."]
    assert b"A select field needs at least one option." in response.content
    assert not setup.module.fields.exists()


def test_field_limits_are_checked_like_the_api(setup: Setup, admin_client: Client) -> None:
    data = add_rows(
        form_data(module_page(admin_client, setup)),
        "fields",
        [
            {
                "section": "event",
                "label": "Guests",
                "type": "number",
                "min_value": "10",
                "max_value": "5",
                "order": "0",
            },
            {"section": "contact", "label": "Code", "type": "text", "min_value": "-1", "order": "0"},
        ],
    )
    response = post_module(admin_client, setup, data)
    rows = inline_rows(response, "fields")
    assert rows[0].errors["max_value"] == ["max must not be smaller than min."]
    assert rows[1].errors["min_value"] == ["A length cannot be negative."]


def test_fields_are_added_in_order_and_normalized(setup: Setup, admin_client: Client) -> None:
    data = add_rows(
        form_data(module_page(admin_client, setup)),
        "fields",
        [
            {"section": "event", "label": "Second", "type": "text", "order": "2", "options": "ignored"},
            {"section": "event", "label": "First", "type": "date", "order": "1", "min_value": "3"},
            {
                "section": "contact",
                "label": "<script>alert(1)</script>Company",
                "type": "text",
                "order": "5",
                "help_text": "<i>Your</i> employer",
                "required": True,
            },
        ],
    )
    assert post_module(admin_client, setup, data).status_code == 302
    fields = list(setup.module.fields.order_by("section", "order"))
    assert [f.label for f in fields] == ["alert(1)Company", "First", "Second"]
    company, first, second = fields
    assert (company.help_text, company.required, company.section) == ("Your employer", True, FormSection.CONTACT)
    assert second.options == []  # options only for selects, as the API stores them
    assert first.min_value is None  # no limits on a date

    rows = inline_rows(module_page(admin_client, setup), "fields")
    assert [row.instance.label for row in rows] == ["alert(1)Company", "First", "Second"]


def test_fields_are_reordered(setup: Setup, admin_client: Client) -> None:
    a = FormFieldFactory(module=setup.module, label="A", order=0)
    b = FormFieldFactory(module=setup.module, label="B", order=1)
    page = module_page(admin_client, setup)
    data = form_data(page)
    rows = inline_rows(page, "fields")
    assert [row.instance for row in rows] == [a, b]
    data[f"{rows[0].prefix}-order"], data[f"{rows[1].prefix}-order"] = "1", "0"
    assert post_module(admin_client, setup, data).status_code == 302
    assert [row.instance for row in inline_rows(module_page(admin_client, setup), "fields")] == [b, a]


def test_deleting_a_field_archives_it_and_its_answers_keep_their_label(setup: Setup, admin_client: Client) -> None:
    kept = FormFieldFactory(module=setup.module, label="Kept", order=0)
    answered = FormFieldFactory(module=setup.module, label="Catering", order=1)
    booking = BookingFactory(module=setup.module)
    BookingEventFactory(
        booking=booking, title="Lunch", start=future(), end=future(hour=11), answers={str(answered.pk): "Vegan"}
    )
    page = module_page(admin_client, setup)
    data = form_data(page)
    row = next(r for r in inline_rows(page, "fields") if r.instance == answered)
    data[f"{row.prefix}-DELETE"] = "on"
    assert post_module(admin_client, setup, data).status_code == 302

    answered.refresh_from_db()
    assert answered.archived and answered.label == "Catering"
    assert not FormField.objects.get(pk=kept.pk).archived
    assert [r.instance for r in inline_rows(module_page(admin_client, setup), "fields")] == [kept]
    # The next save of the page leaves the archived field alone.
    assert post_module(admin_client, setup, form_data(module_page(admin_client, setup))).status_code == 302
    assert FormField.objects.filter(pk=answered.pk, archived=True).exists()


def test_options_are_edited_one_per_line(setup: Setup, admin_client: Client) -> None:
    field = FormFieldFactory(module=setup.module, type=FieldType.MULTISELECT, options=["Tea", "Coffee"])
    page = module_page(admin_client, setup)
    assert b"Tea\nCoffee</textarea>" in page.content
    assert b'["Tea"' not in page.content
    data = form_data(page)
    row = inline_rows(page, "fields")[0]
    assert data[f"{row.prefix}-options"] == "Tea\nCoffee"
    data[f"{row.prefix}-options"] = "Tea\r\n  Juice <b>fresh</b> \r\n\r\nTea\r\n"
    assert post_module(admin_client, setup, data).status_code == 302
    field.refresh_from_db()
    assert field.options == ["Tea", "Juice fresh"]
    assert b"Tea\nJuice fresh</textarea>" in module_page(admin_client, setup).content


def test_a_viewer_sees_the_fields_without_json_or_inputs(setup: Setup, member) -> None:
    FormFieldFactory(module=setup.module, type=FieldType.SELECT, label="Layout", options=["Theatre", "Banquet"])
    FormFieldFactory(module=setup.module, label="Gone", archived=True)
    _, client = member(Role.VIEWER)
    response = module_page(client, setup)
    assert b"Theatre, Banquet" in response.content
    assert b'["Theatre"' not in response.content
    assert b"Gone" not in response.content
    assert b"<textarea" not in response.content


# --- portals -------------------------------------------------------------------------------------------


def test_portal_password_is_set_and_removed_without_showing_the_hash(setup: Setup, admin_client: Client) -> None:
    change = url("bookings.portal", "change", setup.portal)
    page = admin_client.get(change)
    assert b"None: the portal is open." in page.content
    data = form_data(page)
    assert "password" not in data

    assert admin_client.post(change, {**data, "new_password": "open sesame"}).status_code == 302
    portal = Portal.objects.get(pk=setup.portal.pk)
    assert portal.check_password("open sesame")
    page = admin_client.get(change)
    assert portal.password.encode() not in page.content
    assert b"open sesame" not in page.content
    assert b"Set: bookers must enter it." in page.content

    # Saving without a new password keeps the old one.
    assert admin_client.post(change, {**form_data(page), "name": "Renamed"}).status_code == 302
    assert Portal.objects.get(pk=portal.pk).check_password("open sesame")

    response = admin_client.post(change, {**form_data(page), "new_password": "x", "remove_password": "on"})
    assert "remove_password" in response.context["adminform"].form.errors

    assert admin_client.post(change, {**form_data(page), "remove_password": "on"}).status_code == 302
    assert Portal.objects.get(pk=portal.pk).password == ""


def test_portal_modules_are_linked_from_the_portal(setup: Setup, other: Setup, admin_client: Client) -> None:
    second = BookingModuleFactory(organization=setup.org, admin_user=None)
    change = url("bookings.portal", "change", setup.portal)
    data = form_data(admin_client.get(change))
    assert data["booking_modules"] == [setup.module.pk]

    assert admin_client.post(change, {**data, "booking_modules": [str(second.pk)]}).status_code == 302
    assert list(setup.portal.modules.all()) == [second]

    response = admin_client.post(change, {**data, "booking_modules": [str(other.module.pk)]})
    assert "booking_modules" in response.context["adminform"].form.errors
    assert list(other.portal.modules.all()) == [other.module]


def test_a_viewer_sees_the_portal_modules_and_password_state_only(setup: Setup, member) -> None:
    setup.portal.set_password("secret")
    setup.portal.save()
    _, client = member(Role.VIEWER)
    response = client.get(url("bookings.portal", "change", setup.portal))
    assert setup.module.name.encode() in response.content
    assert b"Set: bookers must enter it." in response.content
    assert b'type="password"' not in response.content
    assert setup.portal.password.encode() not in response.content


# --- customers and contacts ----------------------------------------------------------------------------


def contact_data(setup: Setup, **changes: Any) -> dict[str, Any]:
    return {
        "organization": str(setup.org.pk),
        "name": "Ada",
        "email": "ada@example.com",
        "phone": "",
        "_save": "Save",
        **changes,
    }


def test_a_duplicate_contact_email_is_a_form_error(setup: Setup, member) -> None:
    ContactFactory(organization=setup.org, email="ada@example.com")
    _, client = member(Role.MANAGER)

    response = client.post(url("bookings.contact", "add"), contact_data(setup, email="ADA@example.com"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [
        "Another contact of this organization has this email address."
    ]

    # On a change page, where the organization is read-only, too.
    grace = ContactFactory(organization=setup.org, email="grace@example.com")
    change = url("bookings.contact", "change", grace)
    response = client.post(change, {**form_data(client.get(change)), "email": "Ada@Example.com"})
    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors

    # Another organization may have a contact with the same email.
    assert Contact.objects.filter(email__iexact="ada@example.com").count() == 1
    other = OrganizationFactory()
    user, other_client = member(Role.MANAGER, organization=other)
    assert (
        other_client.post(url("bookings.contact", "add"), contact_data(setup, organization=str(other.pk))).status_code
        == 302
    )


def test_a_contacts_customer_is_of_its_organization(setup: Setup, other: Setup, member) -> None:
    user, client = member(Role.MANAGER)
    MembershipFactory(user=user, organization=other.org, role=Role.MANAGER)
    foreign = CustomerFactory(organization=other.org)
    response = client.post(url("bookings.contact", "add"), contact_data(setup, customer=str(foreign.pk)))
    assert "customer" in response.context["adminform"].form.errors
    mine = CustomerFactory(organization=setup.org)
    assert client.post(url("bookings.contact", "add"), contact_data(setup, customer=str(mine.pk))).status_code == 302
    assert Contact.objects.get(organization=setup.org, email="ada@example.com").customer == mine


def test_names_are_stored_as_plain_text(setup: Setup, member) -> None:
    _, client = member(Role.MANAGER)
    response = client.post(
        url("bookings.customer", "add"), {"organization": str(setup.org.pk), "name": "<img src=x onerror=alert(1)>Acme"}
    )
    assert response.status_code == 302
    assert setup.org.customers.get().name == "Acme"
    response = client.post(url("bookings.customer", "add"), {"organization": str(setup.org.pk), "name": "<b></b>"})
    assert response.context["adminform"].form.errors["name"] == ["This field is required."]


# --- organizations, venues, resources, closures --------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_organization_page_by_role(setup: Setup, member, role: str) -> None:
    _, client = member(role)
    change = url("resources.organization", "change", setup.org)
    response = client.get(change)
    assert response.status_code == 200
    assert has_save_button(response) is (role == Role.OWNER)
    assert client.get(url("resources.organization", "add")).status_code == 403  # only superusers add
    assert client.get(url("resources.organization", "delete", setup.org)).status_code == 403
    if role != Role.OWNER:
        assert client.post(change, {"name": "Mine"}).status_code == 403


def test_owner_adds_a_member_and_keeps_an_owner(setup: Setup, member) -> None:
    owner, client = member(Role.OWNER)
    newcomer = UserFactory(username="newcomer", email="newcomer@example.net")
    change = url("resources.organization", "change", setup.org)
    page = client.get(change)
    assert b"newcomer (newcomer@example.net)" in page.content  # any user may be invited, shown with email

    data = add_rows(form_data(page), "memberships", [{"user": str(newcomer.pk), "role": Role.VIEWER}])
    assert client.post(change, data).status_code == 302
    assert Membership.objects.get(user=newcomer, organization=setup.org).role == Role.VIEWER

    page = client.get(change)
    data = form_data(page)
    row = next(r for r in inline_rows(page, "memberships") if r.instance.user == owner)
    data[f"{row.prefix}-role"] = Role.ADMIN
    response = client.post(change, data)
    assert response.status_code == 200
    assert "at least one owner" in str(response.context["inline_admin_formsets"][0].formset.non_form_errors())


def test_superuser_adds_an_organization(db) -> None:
    client = admin_client_for(UserFactory(is_superuser=True))
    response = client.post(
        url("resources.organization", "add"),
        {
            "name": "New <i>org</i>",
            "slug": "new-org",
            "timezone": "Europe/Paris",
            "currency": "EUR",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert Organization.objects.get(slug="new-org").name == "New org"


def test_venue_timezone_is_chosen_from_the_tz_database(setup: Setup, admin_client: Client) -> None:
    response = admin_client.post(
        url("resources.venue", "add"), {"organization": str(setup.org.pk), "name": "Annex", "timezone": "Mars/Olympus"}
    )
    assert "timezone" in response.context["adminform"].form.errors
    response = admin_client.post(
        url("resources.venue", "add"), {"organization": str(setup.org.pk), "name": "Annex", "timezone": ""}
    )
    assert response.status_code == 302


def test_resource_rules_and_bookable_hours(setup: Setup, admin_client: Client) -> None:
    change = url("resources.resource", "change", setup.room)
    page = admin_client.get(change)
    assert b"Booking rules" in page.content
    data = add_rows(form_data(page), "bookable_hours", [{"weekday": "0", "start_time": "18:00", "end_time": "09:00"}])
    data.update(min_duration_minutes="60", max_duration_minutes="30")
    response = admin_client.post(change, data)
    assert response.status_code == 200
    assert "max_duration_minutes" in response.context["adminform"].form.errors
    assert "end_time" in inline_rows(response, "bookable_hours")[0].errors

    data.update({"max_duration_minutes": "120", "bookable_hours-0-end_time": "00:00"})
    assert admin_client.post(change, data).status_code == 302
    hours = setup.room.bookable_hours.get()
    assert (hours.start_time.hour, hours.end_time.hour) == (18, 0)


def test_filters_list_only_the_users_venues_and_organizations(setup: Setup, other: Setup, member) -> None:
    _, client = member(Role.VIEWER)
    response = client.get(url("resources.resource", "changelist"))
    assert setup.venue.name.encode() in response.content
    assert other.venue.name.encode() not in response.content
    assert other.org.name.encode() not in client.get(url("bookings.bookingmodule", "changelist")).content


# --- queries -------------------------------------------------------------------------------------------


def _fill_modules(setup: Setup, count: int) -> None:
    for _ in range(count):
        module = BookingModuleFactory(
            organization=setup.org, admin_user=setup.manager, portals=[setup.portal], offered=[setup.room]
        )
        FormFieldFactory(module=module)
        FormFieldFactory(module=module, archived=True)


def _fill_portals(setup: Setup, count: int) -> None:
    for _ in range(count):
        setup.module.portals.add(PortalFactory(organization=setup.org))


def _fill_resources(setup: Setup, count: int) -> None:
    for _ in range(count):
        BookableHoursFactory(resource=ResourceFactory(venue=VenueFactory(organization=setup.org)))


def _fill_closures(setup: Setup, count: int) -> None:
    for _ in range(count):
        ClosureFactory(organization=setup.org).resources.add(setup.room, setup.hall)


def _fill_contacts(setup: Setup, count: int) -> None:
    for _ in range(count):
        ContactFactory(organization=setup.org, customer=CustomerFactory(organization=setup.org))


def _fill_venues(setup: Setup, count: int) -> None:
    for _ in range(count):
        VenueFactory(organization=setup.org)


LISTS = {
    "bookings.bookingmodule": _fill_modules,
    "bookings.portal": _fill_portals,
    "resources.resource": _fill_resources,
    "resources.closure": _fill_closures,
    "bookings.contact": _fill_contacts,
    "bookings.customer": _fill_contacts,
    "resources.venue": _fill_venues,
}


@pytest.mark.parametrize("model", LISTS)
def test_changelists_use_a_constant_number_of_queries(
    setup: Setup, member, django_assert_num_queries, model: str
) -> None:
    _, client = member(Role.ADMIN)
    LISTS[model](setup, 3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(model, "changelist")).status_code == 200
    LISTS[model](setup, 27)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url(model, "changelist"))
    assert response.context["cl"].result_count >= 30


def test_module_list_shows_active_field_counts_and_portals(setup: Setup, member) -> None:
    FormFieldFactory(module=setup.module)
    FormFieldFactory(module=setup.module, archived=True)
    _, client = member(Role.VIEWER)
    response = client.get(url("bookings.bookingmodule", "changelist"))
    module = next(m for m in response.context["cl"].result_list if m.pk == setup.module.pk)
    assert module.active_fields == 1
    assert setup.portal.name.encode() in response.content
    assert ModuleResource.objects.filter(module=setup.module).count() == 3
