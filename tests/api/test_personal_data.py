"""A person's data over the API (docs/architecture.md#personal-data): GET /contacts/{id}/personal-data and
POST /contacts/{id}/erase, admin and above, other organizations' contacts 404; and, on PostgreSQL, that after
an erasure the person's name, email and phone are in no text column of any table."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from bookings.lifecycle.decide import booking_approve
from bookings.models import Booking, Contact
from resources.models import Role
from tests.api.booking_helpers import SUBMIT, post, submit_body
from tests.api.conftest import assert_error
from tests.conftest import postgres_only
from tests.factories import ContactFactory, WebhookEndpointFactory

NAME, EMAIL, PHONE = "Ada Lovelace", "ada.lovelace@example.com", "+44 20 7946 0958"
ROLES = [(Role.VIEWER, 403), (Role.MANAGER, 403), (Role.ADMIN, 200), (Role.OWNER, 200)]


def _url(contact, action: str) -> str:
    return f"/api/v1/contacts/{contact.pk}/{action}"


def _submit(api, setup, **extra) -> Booking:
    body = submit_body(setup, requestNote=f"Ask {NAME} at {PHONE}", **extra)
    body["contact"] = {"name": NAME, "email": EMAIL, "phone": PHONE}
    response = post(api.public, SUBMIT, body, HTTP_IDEMPOTENCY_KEY="privacy-1")
    assert response.status_code == 201, response.json()
    return Booking.objects.get(pk=response.json()["booking"]["id"])


@pytest.mark.parametrize(("role", "status"), ROLES)
def test_the_export_is_for_admins_of_the_contacts_organization(api, setup, role, status):
    booking = _submit(api, setup)
    response = api[role].get(_url(booking.contact, "personal-data"))
    if status == 200:
        body = response.json()
        assert response.status_code == 200
        assert body["contact"]["email"] == EMAIL and body["bookings"][0]["id"] == str(booking.pk)
        assert set(body) == {"contact", "bookings", "credits", "emails"}
    else:
        assert_error(response, status, "PERMISSION_DENIED")


@pytest.mark.parametrize(("role", "status"), ROLES)
def test_the_erasure_is_for_admins_of_the_contacts_organization(api, setup, role, status):
    contact = ContactFactory(organization=setup.org, name=NAME, email=EMAIL)
    response = post(api[role], _url(contact, "erase"))
    contact.refresh_from_db()
    if status == 200:
        assert response.status_code == 200, response.json()
        assert response.json()["erasedAt"] is not None and response.json()["email"] == ""
        assert contact.erased_at is not None
    else:
        assert_error(response, status, "PERMISSION_DENIED")
        assert contact.erased_at is None


@pytest.mark.parametrize("action", ["personal-data", "erase"])
def test_another_organizations_contact_is_not_found(api, other, action):
    contact = ContactFactory(organization=other.setup.org, email=EMAIL)
    call = api.admin.get if action == "personal-data" else (lambda url: post(api.admin, url))
    assert_error(call(_url(contact, action)), 404, "NOT_FOUND")
    assert_error((Client().get if action == "personal-data" else Client().post)(_url(contact, action)), 401)
    contact.refresh_from_db()
    assert contact.erased_at is None and contact.email == EMAIL


def test_approved_times_to_come_refuse_the_erasure_until_forced(api, setup):
    booking = _submit(api, setup)
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)

    assert_error(post(api.admin, _url(booking.contact, "erase")), 409, "HAS_FUTURE_BOOKINGS")
    assert Contact.objects.get(pk=booking.contact_id).erased_at is None

    response = post(api.admin, _url(booking.contact, "erase"), {"force": True})
    assert response.status_code == 200 and response.json()["name"] == "Erased person"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [({"force": "yes"}, "force", "INVALID"), ({"everything": True}, "everything", "UNKNOWN_FIELD")],
)
def test_a_bad_erase_body_is_refused_and_erases_nothing(api, setup, body, field, code):
    contact = ContactFactory(organization=setup.org, email=EMAIL)
    assert_error(post(api.admin, _url(contact, "erase"), body), 400, code, field)
    contact.refresh_from_db()
    assert contact.erased_at is None


def _admin_edits(setup, api, contact: Contact) -> None:
    """A change in the admin: its history names the contact ("Ada Lovelace <ada...>")."""
    client = Client()
    client.force_login(api.users[Role.ADMIN])
    data = {"organization": setup.org.pk, "name": NAME, "email": EMAIL, "phone": PHONE, "customer": ""}
    response = client.post(f"/admin/bookings/contact/{contact.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]


def _text_columns() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY')"
        )
        return cursor.fetchall()


def _where_found(needle: str) -> list[str]:
    found = []
    with connection.cursor() as cursor:
        for table, column in _text_columns():
            cursor.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE %s', [f"%{needle}%"])
            if cursor.fetchone()[0]:
                found.append(f"{table}.{column}")
    return found


@postgres_only
def test_after_the_erasure_the_person_is_in_no_text_column_of_any_table(
    api, setup, mailoutbox, django_capture_on_commit_callbacks
):
    WebhookEndpointFactory(organization=setup.org)
    with django_capture_on_commit_callbacks(execute=True):  # the emails are sent (and their bodies stored)
        booking = _submit(api, setup, visitors=[{"name": "Grace Hopper", "email": "grace.hopper@example.com"}])
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    _admin_edits(setup, api, booking.contact)
    assert mailoutbox and all(_where_found(needle) for needle in (NAME, EMAIL, PHONE))  # they were there

    response = post(api.admin, _url(booking.contact, "erase"), {"force": True})

    assert response.status_code == 200, response.json()
    for needle in (NAME, EMAIL, PHONE):
        assert _where_found(needle) == [], needle
    # The visitors the person named are erased from their booking (their own emails are theirs to erase).
    assert not booking.visitors.filter(name="Grace Hopper").exists()
    booking.refresh_from_db()
    assert booking.status == 1 and booking.requested_times.count() == 1  # the records stay
