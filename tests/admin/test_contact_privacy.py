"""A person's data in the admin (docs/architecture.md#personal-data): the contact page's download and erasure,
for admins of the contact's organization only, and the confirmation page that asks before erasing someone
with approved times to come."""

from __future__ import annotations

import json

import pytest

from bookings.lifecycle.decide import booking_approve
from bookings.models import Contact
from resources.models import Role
from tests.conftest import Setup
from tests.factories import ContactFactory

EMAIL = "ada.lovelace@example.com"


def _pages(contact: Contact) -> dict[str, str]:
    base = f"/admin/bookings/contact/{contact.pk}"
    return {"change": f"{base}/change/", "data": f"{base}/personal-data/", "erase": f"{base}/erase/"}


@pytest.mark.parametrize(("role", "allowed"), [(Role.MANAGER, False), (Role.ADMIN, True), (Role.OWNER, True)])
def test_the_contact_page_offers_the_download_and_the_erasure_to_admins(setup: Setup, member, role, allowed):
    contact = setup.submit(setup.event(), email=EMAIL, name="Ada Lovelace").booking.contact
    _, client = member(role)
    pages = _pages(contact)

    change = client.get(pages["change"])
    assert change.status_code == 200
    assert (pages["data"] in change.content.decode(), pages["erase"] in change.content.decode()) == (allowed,) * 2

    download = client.get(pages["data"])
    erase = client.post(pages["erase"])
    if allowed:
        assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment;")
        assert json.loads(download.content)["contact"]["email"] == EMAIL
        assert erase.status_code == 302 and Contact.objects.get(pk=contact.pk).erased_at is not None
    else:
        assert (download.status_code, erase.status_code) == (403, 403)
        assert Contact.objects.get(pk=contact.pk).erased_at is None


def test_another_organizations_contact_is_not_found(setup: Setup, member, other: Setup):
    contact = ContactFactory(organization=other.org, email=EMAIL)
    _, client = member(Role.OWNER)
    pages = _pages(contact)
    assert client.get(pages["data"]).status_code == 404
    assert client.post(pages["erase"]).status_code == 404
    assert Contact.objects.get(pk=contact.pk).erased_at is None


def test_approved_times_to_come_are_shown_and_erasing_needs_the_box_ticked(setup: Setup, member):
    booking = setup.submit(setup.event(), email=EMAIL, name="Ada Lovelace").booking
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    _, client = member(Role.ADMIN)
    pages = _pages(booking.contact)

    page = client.get(pages["erase"]).content.decode()
    assert "1 approved time still to come" in page and 'name="force"' in page

    refused = client.post(pages["erase"])
    assert refused.status_code == 200 and "erase with force" in refused.content.decode()
    assert Contact.objects.get(pk=booking.contact_id).erased_at is None

    done = client.post(pages["erase"], {"force": "on"})
    assert done.status_code == 302 and done["Location"] == pages["change"]
    assert Contact.objects.get(pk=booking.contact_id).name == "Erased person"
    again = client.get(pages["erase"])  # nothing left to erase: back to the contact
    assert again.status_code == 302
    assert pages["erase"] not in client.get(pages["change"]).content.decode()
