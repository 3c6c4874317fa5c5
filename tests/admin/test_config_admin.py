"""The configuration part of the staff admin: organizations, venues, resources, closures, booking modules
with their form fields, portals, customers and contacts — who may see and change what, scoping to the
user's organizations, and the form-field inline's rules.

This module: each page by role, other organizations' objects, choices and forged posts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from resources.models import Role

from ..conftest import Setup
from ..factories import (
    BookingModuleFactory,
    ClosureFactory,
    ContactFactory,
    CustomerFactory,
    MembershipFactory,
    OrganizationFactory,
)
from .config_helpers import (
    ROLES,
    add_rows,
    autocomplete_ids,
    changelist_names,
    form_data,
    has_save_button,
    inline_rows,
    url,
)

pytestmark = pytest.mark.usefixtures("module_admin_is_member")


# --- role × page ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    model: str  # "app.model"
    obj: Callable[[Setup], Any]
    edit_role: str  # the lowest role that may add and change
    field: str = "name"  # changed by the POST test

    def __str__(self) -> str:
        return self.model


PAGES = [
    Page("bookings.bookingmodule", lambda s: s.module, Role.ADMIN),
    Page("bookings.portal", lambda s: s.portal, Role.ADMIN),
    Page("resources.resource", lambda s: s.room, Role.ADMIN),
    Page("resources.venue", lambda s: s.venue, Role.ADMIN),
    # As in the API, whoever manages bookings keeps customers and contacts up to date.
    Page("bookings.customer", lambda s: CustomerFactory(organization=s.org), Role.MANAGER),
    Page("bookings.contact", lambda s: ContactFactory(organization=s.org), Role.MANAGER),
]
RANK = {role: rank for rank, role in enumerate(ROLES)}


@pytest.mark.parametrize("page", PAGES, ids=str)
@pytest.mark.parametrize("role", ROLES)
def test_pages_by_role(setup: Setup, member, role: str, page: Page) -> None:
    obj = page.obj(setup)
    _, client = member(role)
    may_edit = RANK[role] >= RANK[page.edit_role]

    changelist = client.get(url(page.model, "changelist"))
    assert changelist.status_code == 200
    assert str(obj) in changelist_names(changelist)
    assert (f'href="{url(page.model, "add")}"'.encode() in changelist.content) is may_edit

    change = client.get(url(page.model, "change", obj))
    assert change.status_code == 200
    assert has_save_button(change) is may_edit

    assert client.get(url(page.model, "add")).status_code == (200 if may_edit else 403)

    if not may_edit:
        assert client.post(url(page.model, "change", obj), {page.field: "Renamed"}).status_code == 403
        assert client.post(url(page.model, "add"), {page.field: "New"}).status_code == 403
        assert client.post(url(page.model, "delete", obj), {"post": "yes"}).status_code == 403
        obj.refresh_from_db()
        assert getattr(obj, page.field) != "Renamed"
        return

    data = form_data(change)
    data[page.field] = "Renamed"
    response = client.post(url(page.model, "change", obj), data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    obj.refresh_from_db()
    assert getattr(obj, page.field) == "Renamed"


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_other_organizations_objects_are_not_found(setup: Setup, member, page: Page) -> None:
    obj = page.obj(setup)
    other_org = OrganizationFactory()
    _, client = member(Role.OWNER, organization=other_org)

    assert client.get(url(page.model, "change", obj)).status_code == 404
    assert client.post(url(page.model, "change", obj), {page.field: "Stolen"}).status_code == 404
    assert client.get(url(page.model, "delete", obj)).status_code == 404
    assert client.post(url(page.model, "delete", obj), {"post": "yes"}).status_code == 404
    assert client.get(url(page.model, "history", obj)).status_code == 404
    changelist = client.get(url(page.model, "changelist"))
    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count == 0
    obj.refresh_from_db()
    assert getattr(obj, page.field) != "Stolen"


def test_an_id_that_does_not_exist_is_not_found_either(member) -> None:
    _, client = member(Role.ADMIN)
    assert client.get("/admin/bookings/bookingmodule/00000000-0000-0000-0000-000000000000/change/").status_code == 404
    assert client.get("/admin/bookings/bookingmodule/not-a-uuid/change/").status_code == 404


# (source app, source model, field) → the target admin whose rows the autocomplete lists.
AUTOCOMPLETES = {
    "resource": ("bookings", "moduleresource", "resource", lambda s: s.room),
    "venue": ("resources", "resource", "venue", lambda s: s.venue),
    "module": ("bookings", "booking", "module", lambda s: s.module),
    "portal": ("bookings", "booking", "portal", lambda s: s.portal),
    "customer": ("bookings", "contact", "customer", lambda s: CustomerFactory(organization=s.org, name="Acme")),
    "contact": ("bookings", "booking", "contact", lambda s: ContactFactory(organization=s.org)),
}


@pytest.mark.parametrize("target", AUTOCOMPLETES)
def test_autocomplete_lists_only_the_users_organizations(setup: Setup, member, target: str) -> None:
    app_label, model_name, field_name, make = AUTOCOMPLETES[target]
    obj = make(setup)
    _, own_client = member(Role.VIEWER)
    _, stranger_client = member(Role.OWNER, organization=OrganizationFactory())

    assert str(obj.pk) in autocomplete_ids(own_client, app_label, model_name, field_name)
    assert autocomplete_ids(stranger_client, app_label, model_name, field_name) == set()
    assert autocomplete_ids(stranger_client, app_label, model_name, field_name, term=str(obj)[:3]) == set()


# --- choices and forged posts --------------------------------------------------------------------------


def test_add_page_choices_are_the_organizations_where_the_user_may_configure(
    setup: Setup, other: Setup, member
) -> None:
    user, client = member(Role.ADMIN)
    MembershipFactory(user=user, organization=other.org, role=Role.MANAGER)  # may not configure there

    form = client.get(url("bookings.bookingmodule", "add")).context["adminform"].form
    assert list(form.fields["organization"].queryset) == [setup.org]
    assert set(form.fields["portals"].queryset) == {setup.portal}
    assert set(form.fields["admin_user"].queryset) == {setup.admin, setup.manager, user}

    form = client.get(url("resources.resource", "add")).context["adminform"].form
    assert list(form.fields["venue"].queryset) == [setup.venue]

    form = client.get(url("bookings.portal", "add")).context["adminform"].form
    assert set(form.fields["booking_modules"].queryset) == {setup.module}


def test_change_page_choices_are_the_objects_organization(setup: Setup, other: Setup, member) -> None:
    user, client = member(Role.ADMIN)
    MembershipFactory(user=user, organization=other.org, role=Role.ADMIN)

    response = client.get(url("bookings.bookingmodule", "change", setup.module))
    form = response.context["adminform"].form
    assert "organization" not in form.fields  # a module never moves to another organization
    assert set(form.fields["portals"].queryset) == {setup.portal}
    row = inline_rows(response, "module_resources")[0]
    assert set(row.fields["resource"].queryset) == {setup.room, setup.hall, setup.desks}
    assert f"{setup.venue.name} · Room".encode() in response.content  # which venue each resource is in

    closure = ClosureFactory(organization=setup.org)
    form = client.get(url("resources.closure", "change", closure)).context["adminform"].form
    assert set(form.fields["resources"].queryset) == {setup.room, setup.hall, setup.desks}


def module_add_data(setup: Setup, **changes: Any) -> dict[str, Any]:
    data = {
        "organization": str(setup.org.pk),
        "name": "Rooms",
        "slug": "rooms",
        "admin_user": str(setup.admin.pk),
        "portals": [str(setup.portal.pk)],
        "calendar_days_shown": "7",
        "calendar_show_requested": "on",
        "hold_pending_slots": "on",
        "max_occurrences": "150",
        "_save": "Save",
    }
    for prefix in ("module_resources", "fields"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    data.update(changes)
    return data


def test_admin_creates_a_module_with_resources_and_fields(setup: Setup, member) -> None:
    _, client = member(Role.ADMIN)
    data = add_rows(module_add_data(setup), "module_resources", [{"resource": str(setup.room.pk)}])
    add_rows(
        data,
        "fields",
        [{"section": "event", "label": "<b>Layout</b>", "type": "select", "options": "Theatre\nBanquet", "order": "0"}],
    )
    response = client.post(url("bookings.bookingmodule", "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    module = setup.org.booking_modules.get(slug="rooms")
    assert list(module.resources.all()) == [setup.room]
    assert list(module.portals.all()) == [setup.portal]
    field = module.fields.get()
    assert (field.label, field.options) == ("Layout", ["Theatre", "Banquet"])


def test_forged_posts_for_another_organization_are_refused(setup: Setup, other: Setup, member) -> None:
    _, client = member(Role.ADMIN)
    add = url("bookings.bookingmodule", "add")

    response = client.post(add, module_add_data(setup, organization=str(other.org.pk), admin_user=""))
    assert response.status_code == 200
    assert "organization" in response.context["adminform"].form.errors

    response = client.post(add, module_add_data(setup, portals=[str(other.portal.pk)]))
    assert "portals" in response.context["adminform"].form.errors

    response = client.post(add, module_add_data(setup, admin_user=str(other.manager.pk)))
    assert "admin_user" in response.context["adminform"].form.errors

    data = add_rows(module_add_data(setup), "module_resources", [{"resource": str(other.room.pk)}])
    response = client.post(add, data)
    assert response.status_code == 200
    assert "resource" in inline_rows(response, "module_resources")[0].errors

    response = client.post(
        url("resources.resource", "add"),
        {
            "venue": str(other.venue.pk),
            "name": "Mine now",
            "kind": "room",
            "capacity": "1",
            "min_notice_minutes": "0",
            "buffer_minutes": "0",
            "bookable_hours-TOTAL_FORMS": "0",
            "bookable_hours-INITIAL_FORMS": "0",
        },
    )
    assert "venue" in response.context["adminform"].form.errors
    assert not setup.org.booking_modules.filter(slug="rooms").exists()
    assert not other.venue.resources.filter(name="Mine now").exists()


def test_a_user_configuring_two_organizations_cannot_mix_them(setup: Setup, other: Setup, member) -> None:
    user, client = member(Role.ADMIN)
    MembershipFactory(user=user, organization=other.org, role=Role.ADMIN)
    add = url("bookings.bookingmodule", "add")

    response = client.post(add, module_add_data(setup, portals=[str(other.portal.pk)]))
    assert "Not portals of this organization" in str(response.context["adminform"].form.errors["portals"])

    response = client.post(
        add, add_rows(module_add_data(setup), "module_resources", [{"resource": str(other.room.pk)}])
    )
    assert inline_rows(response, "module_resources")[0].errors["resource"] == [
        "Choose a resource of the module's organization."
    ]

    closure = client.post(
        url("resources.closure", "add"),
        {
            "organization": str(setup.org.pk),
            "resources": [str(other.room.pk)],
            "message": "Works",
            "start_0": "2030-01-01",
            "start_1": "00:00",
            "end_0": "2030-01-02",
            "end_1": "00:00",
        },
    )
    assert "resources" in closure.context["adminform"].form.errors
    assert not setup.org.booking_modules.filter(slug="rooms").exists()


def test_save_model_refuses_an_object_of_an_organization_the_user_may_not_configure(
    setup: Setup, other: Setup, member
) -> None:
    from django.contrib import admin

    from bookings.models import BookingModule

    user, _ = member(Role.ADMIN)
    request = RequestFactory().post("/")
    request.user = user
    model_admin = admin.site.get_model_admin(BookingModule)
    with pytest.raises(PermissionDenied):
        model_admin.save_model(request, BookingModule(organization=other.org, name="X", slug="x"), None, False)
    model_admin.save_model(request, BookingModule(organization=setup.org, name="X", slug="x"), None, False)
    assert setup.org.booking_modules.filter(slug="x").exists()


def test_module_slug_must_be_unique_in_the_organization(setup: Setup, member) -> None:
    _, client = member(Role.ADMIN)
    BookingModuleFactory(organization=setup.org, slug="taken")
    data = form_data(client.get(url("bookings.bookingmodule", "change", setup.module)))
    response = client.post(url("bookings.bookingmodule", "change", setup.module), {**data, "slug": "taken"})
    assert response.status_code == 200
    assert "Another booking module" in str(response.context["adminform"].form.errors["slug"])
