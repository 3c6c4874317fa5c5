"""Who may import where (docs/architecture.md#imports): the role that may add the model, in the chosen
organization only; the signed rows between preview and confirmation refuse any change, another user, another
list and age; CSRF stays on; the queries of a 50-row import are the services' own, per row."""

from __future__ import annotations

import pytest
from django.core import signing
from django.test import Client

from bookings.models import Contact
from resources import admin_imports
from resources.models import Membership, Role
from tests.conftest import Setup
from tests.factories import MembershipFactory, UserFactory, VenueFactory

from .config_helpers import url
from .imports_helpers import IMPORTABLES, confirm, csv_file, errors_of, upload

CONTACTS = IMPORTABLES["bookings.contact"]


def _payload(client, setup: Setup, spec=CONTACTS) -> str:
    response = upload(client, spec.app_model, setup.org, csv_file([spec.header, *spec.good]))
    assert response.context["failing"] == 0
    return response.context["payload"]


# --- roles -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("app_model", "role", "allowed"),
    [
        ("resources.resource", Role.MANAGER, False),
        ("resources.resource", Role.ADMIN, True),
        ("bookings.contact", Role.VIEWER, False),
        ("bookings.contact", Role.MANAGER, True),
        ("bookings.customer", Role.VIEWER, False),
        ("bookings.customer", Role.MANAGER, True),
    ],
)
def test_importing_needs_the_role_that_may_add_the_model(setup, member, app_model, role, allowed):
    spec = IMPORTABLES[app_model]
    _, client = member(role)
    before = spec.count(setup.org)

    listed = client.get(url(app_model, "changelist"))
    page = client.get(url(app_model, "import"))
    posted = upload(client, app_model, setup.org, csv_file([spec.header, *spec.good]))

    assert (url(app_model, "import").encode() in listed.content) is allowed
    assert page.status_code == (200 if allowed else 403)
    assert posted.status_code == (200 if allowed else 403)
    assert spec.count(setup.org) == before


def test_the_organization_choices_are_the_users_where_the_role_allows(setup, member, other):
    user, client = member(Role.MANAGER)
    MembershipFactory(user=user, organization=other.org, role=Role.VIEWER)

    page = client.get(url(CONTACTS.app_model, "import"))

    choices = page.context["form"].fields["organization"].queryset
    assert list(choices) == [setup.org]
    assert page.context["form"].fields["organization"].initial == setup.org.pk


def test_another_organization_is_refused(setup, member, other):
    _, client = member(Role.MANAGER)
    before = CONTACTS.count(other.org)

    response = upload(client, CONTACTS.app_model, other.org, csv_file([CONTACTS.header, *CONTACTS.good]))

    assert response.status_code == 200 and "organization" in response.context["form"].errors
    assert "payload" not in response.context
    assert CONTACTS.count(other.org) == before


def test_a_role_lost_between_preview_and_confirmation_is_refused(setup, member):
    user, client = member(Role.MANAGER)
    payload = _payload(client, setup)
    Membership.objects.filter(user=user, organization=setup.org).update(role=Role.VIEWER)
    before = CONTACTS.count(setup.org)

    assert confirm(client, CONTACTS.app_model, payload).status_code == 403
    assert CONTACTS.count(setup.org) == before


def test_a_resource_import_into_another_organization_finds_none_of_its_venues(setup, member, other):
    user, client = member(Role.ADMIN)
    MembershipFactory(user=user, organization=other.org, role=Role.ADMIN)
    VenueFactory(organization=other.org, name="Main hall")
    spec = IMPORTABLES["resources.resource"]

    response = upload(client, spec.app_model, setup.org, csv_file([spec.header, *spec.good]))

    assert errors_of(response) == [(2, "venue", "NOT_FOUND"), (3, "venue", "NOT_FOUND")]


def test_signing_in_is_required(setup):
    response = Client().get(url(CONTACTS.app_model, "import"))

    assert response.status_code == 302 and "/login/" in response["Location"]


# --- the signed rows -------------------------------------------------------------------------------------


def _tampered(payload: str) -> str:
    body, signature = payload.rsplit(":", 1)
    return f"{body}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}"


def _rows_swapped(setup: Setup, user) -> str:
    data = {"u": str(user.pk), "m": "bookings.Contact", "o": str(setup.org.pk), "c": ["name"], "r": [[2, ["Eve"]]]}
    return signing.dumps(data, salt="another salt", compress=True)


@pytest.mark.parametrize("how", ["tampered", "another-user", "another-list", "expired", "forged", "missing"])
def test_a_changed_or_foreign_payload_is_refused(setup, member, monkeypatch, how):
    user, client = member(Role.MANAGER)
    payload = _payload(client, setup)
    app_model = CONTACTS.app_model
    if how == "tampered":
        payload = _tampered(payload)
    elif how == "another-user":
        client = member(Role.MANAGER)[1]
    elif how == "another-list":
        app_model = "bookings.customer"
    elif how == "expired":
        monkeypatch.setattr(admin_imports, "MAX_AGE_SECONDS", -1)
    elif how == "forged":
        payload = _rows_swapped(setup, user)
    else:
        payload = ""
    before = CONTACTS.count(setup.org), IMPORTABLES["bookings.customer"].count(setup.org)

    response = confirm(client, app_model, payload)

    assert response.status_code == 400
    assert b"could not be confirmed" in response.content
    assert (CONTACTS.count(setup.org), IMPORTABLES["bookings.customer"].count(setup.org)) == before


def test_the_confirmation_page_is_only_posted_to(setup, member):
    _, client = member(Role.MANAGER)

    response = client.get(url(CONTACTS.app_model, "import_confirm"))

    assert response.status_code == 302 and response["Location"] == url(CONTACTS.app_model, "import")


def test_csrf_is_checked_on_upload_and_confirmation(setup):
    user = UserFactory()
    MembershipFactory(user=user, organization=setup.org, role=Role.MANAGER)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    rows = csv_file([CONTACTS.header, *CONTACTS.good])

    refused = upload(client, CONTACTS.app_model, setup.org, rows)
    client.get(url(CONTACTS.app_model, "import"))
    token = client.cookies["csrftoken"].value
    preview = client.post(
        url(CONTACTS.app_model, "import"),
        {
            "organization": str(setup.org.pk),
            "file": csv_file([CONTACTS.header, *CONTACTS.good]),
            "csrfmiddlewaretoken": token,
        },
    )
    payload = preview.context["payload"]
    unconfirmed = client.post(url(CONTACTS.app_model, "import_confirm"), {"payload": payload})
    confirmed = client.post(
        url(CONTACTS.app_model, "import_confirm"), {"payload": payload, "csrfmiddlewaretoken": token}
    )

    assert (refused.status_code, preview.status_code, unconfirmed.status_code, confirmed.status_code) == (
        403,
        200,
        403,
        302,
    )
    assert Contact.objects.filter(organization=setup.org, name="Grace Hopper").count() == 1


# --- queries ---------------------------------------------------------------------------------------------

# Measured for 50 rows (the same on SQLite and PostgreSQL): about ten queries for the page (session, user,
# roles, organization, what `prepare` reads, the confirmation's lock and history) and then each row's service,
# nothing more: a resource 5 (savepoint, insert, its bookable hours, the configuration version, release), a
# contact 7 (savepoint, the organization, the email, savepoint, insert, release, release), a customer 4
# (savepoint, the organization, insert, release).
FIFTY_ROWS_MAX_QUERIES = {
    "resources.resource": 12 + 5 * 50,
    "bookings.contact": 11 + 7 * 50,
    "bookings.customer": 11 + 4 * 50,
}


def _fifty(app_model: str) -> list[list[str]]:
    if app_model == "resources.resource":
        return [["Main hall", f"Room {n}", "", "", "", ""] for n in range(50)]
    return [[f"Person {n}", f"p{n}@example.com" if app_model == "bookings.contact" else "", ""] for n in range(50)]


@pytest.mark.parametrize("app_model", IMPORTABLES)
def test_a_50_row_import_costs_the_services_queries_per_row(setup, member, django_assert_max_num_queries, app_model):
    spec = IMPORTABLES[app_model]
    VenueFactory(organization=setup.org, name="Main hall")
    _, client = member(spec.role)
    rows = csv_file([spec.header, *_fifty(app_model)])
    budget = FIFTY_ROWS_MAX_QUERIES[app_model]

    with django_assert_max_num_queries(budget):
        preview = upload(client, app_model, setup.org, rows)
    with django_assert_max_num_queries(budget):
        confirm(client, app_model, preview.context["payload"])

    assert preview.context["failing"] == 0 and spec.count(setup.org) >= 50
