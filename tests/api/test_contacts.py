"""/api/v1/customers and /api/v1/contacts: shape, unique emails, same-organization customers, roles
(managers write), tenants, ETags, unlinking on delete, query counts."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.models import Booking, Contact, Customer
from resources.models import Role
from tests.api.conftest import assert_error
from tests.factories import ContactFactory, CustomerFactory

CUSTOMERS = "/api/v1/customers"
CONTACTS = "/api/v1/contacts"
CUSTOMER_KEYS = {"id", "orgId", "name", "email", "phone", "createdAt", "lastUpdatedAt"}
CONTACT_KEYS = CUSTOMER_KEYS | {"customerId", "erasedAt"}


def detail(url, obj) -> str:
    return f"{url}/{getattr(obj, 'pk', obj)}"


def post(client, url, setup, **body):
    return client.post(url, {"orgId": str(setup.org.pk), "name": "Ada", **body}, format="json")


@pytest.fixture
def customer(setup):
    return CustomerFactory(organization=setup.org, name="Acme", email="office@acme.test", phone="+44 20 1234 5678")


@pytest.fixture
def contact(setup, customer):
    return ContactFactory(organization=setup.org, customer=customer, name="Ada", email="ada@acme.test")


# --- customers --------------------------------------------------------------------------------------


def test_customer_shape(api, setup, customer):
    response = api.viewer.get(detail(CUSTOMERS, customer))
    assert response.status_code == 200 and response["ETag"]
    body = response.json()
    assert body == {
        "id": str(customer.pk),
        "orgId": str(setup.org.pk),
        "name": "Acme",
        "email": "office@acme.test",
        "phone": "+44 20 1234 5678",
        "createdAt": body["createdAt"],
        "lastUpdatedAt": body["lastUpdatedAt"],
    }
    assert body["lastUpdatedAt"].endswith("Z")
    assert [c["id"] for c in api.viewer.get(CUSTOMERS).json()] == [str(customer.pk)]


def test_managers_write_customers(api, setup, customer):
    response = post(api.manager, CUSTOMERS, setup, name="Globex", email="hq@globex.test")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == CUSTOMER_KEYS
    assert (body["name"], body["email"], body["phone"]) == ("Globex", "hq@globex.test", "")
    response = api.manager.patch(
        detail(CUSTOMERS, body["id"]), {"phone": "123", "orgId": str(uuid.uuid4())}, format="json"
    )
    assert response.status_code == 200 and response.json()["phone"] == "123"
    assert response.json()["orgId"] == str(setup.org.pk)
    assert api.admin.delete(detail(CUSTOMERS, body["id"])).status_code == 204
    assert not Customer.objects.filter(pk=body["id"]).exists()


@pytest.mark.parametrize(
    ("body", "code", "path"),
    [
        ({"name": ""}, "REQUIRED", "name"),
        ({"email": "not-an-email"}, "INVALID", "email"),
        ({"phone": "1" * 51}, "MAX_LENGTH", "phone"),
        ({"name": {"a": 1}}, "INVALID", "name"),
    ],
)
def test_bad_customer_input(api, setup, customer, body, code, path):
    assert_error(post(api.manager, CUSTOMERS, setup, **body), 400, code, path)
    assert_error(api.manager.patch(detail(CUSTOMERS, customer), body, format="json"), 400, code, path)


def test_deleting_a_customer_unlinks_it(api, setup, customer, contact):
    booking = setup.submit().booking
    Booking.objects.filter(pk=booking.pk).update(customer=customer)
    assert api.manager.delete(detail(CUSTOMERS, customer)).status_code == 204
    booking.refresh_from_db()
    contact.refresh_from_db()
    assert booking.customer_id is None and contact.customer_id is None


# --- contacts ---------------------------------------------------------------------------------------


def test_contact_shape_and_filters(api, setup, customer, contact):
    loner = ContactFactory(organization=setup.org, name="Zed", email="zed@example.test")
    response = api.viewer.get(detail(CONTACTS, contact))
    assert response.status_code == 200 and response["ETag"]
    body = response.json()
    assert body == {
        "id": str(contact.pk),
        "orgId": str(setup.org.pk),
        "customerId": str(customer.pk),
        "name": "Ada",
        "email": "ada@acme.test",
        "phone": "",
        "createdAt": body["createdAt"],
        "lastUpdatedAt": body["lastUpdatedAt"],
        "erasedAt": None,
    }
    assert [c["id"] for c in api.viewer.get(CONTACTS).json()] == [str(contact.pk), str(loner.pk)]
    assert [c["id"] for c in api.viewer.get(CONTACTS, {"customerId": str(customer.pk)}).json()] == [str(contact.pk)]
    assert [c["id"] for c in api.viewer.get(CONTACTS, {"email": "ZED@example.test"}).json()] == [str(loner.pk)]
    assert_error(api.viewer.get(CONTACTS, {"customerId": "x"}), 400, "INVALID", "customerId")


def test_create_and_update_a_contact(api, setup, customer):
    response = post(
        api.manager, CONTACTS, setup, email="grace@example.test", phone="+1 555 0100", customerId=str(customer.pk)
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == CONTACT_KEYS and body["customerId"] == str(customer.pk)
    response = api.manager.patch(detail(CONTACTS, body["id"]), {"customerId": None, "name": "Grace"}, format="json")
    assert response.status_code == 200
    assert response.json()["customerId"] is None and response.json()["name"] == "Grace"
    # Blank emails are not unique.
    assert post(api.manager, CONTACTS, setup, email="").status_code == 201
    assert post(api.manager, CONTACTS, setup).status_code == 201


def test_contact_email_is_unique_per_organization_whatever_its_case(api, setup, contact, other):
    assert_error(post(api.manager, CONTACTS, setup, email="ADA@Acme.Test"), 400, "NOT_UNIQUE", "email")
    mine = ContactFactory(organization=setup.org)
    assert_error(
        api.manager.patch(detail(CONTACTS, mine), {"email": "ada@ACME.test"}, format="json"), 400, "NOT_UNIQUE", "email"
    )
    assert api.manager.patch(detail(CONTACTS, contact), {"email": "Ada@acme.test"}, format="json").status_code == 200
    # Another organization has its own contacts.
    assert post(other.manager, CONTACTS, other.setup, email="ada@acme.test").status_code == 201


def test_contact_customer_must_be_of_the_same_organization(api, setup, contact, other):
    foreign = CustomerFactory(organization=other.setup.org)
    for customer_id in (str(foreign.pk), str(uuid.uuid4())):
        assert_error(post(api.manager, CONTACTS, setup, customerId=customer_id), 400, "NOT_FOUND", "customerId")
        assert_error(
            api.manager.patch(detail(CONTACTS, contact), {"customerId": customer_id}, format="json"),
            400,
            "NOT_FOUND",
            "customerId",
        )
    assert_error(post(api.manager, CONTACTS, setup, customerId="nope"), 400, "INVALID", "customerId")
    # Nor can the other organization link our customer to its contact.
    theirs = ContactFactory(organization=other.setup.org)
    assert_error(
        other.manager.patch(detail(CONTACTS, theirs), {"customerId": str(contact.customer_id)}, format="json"),
        400,
        "NOT_FOUND",
        "customerId",
    )


def test_deleting_a_contact_unlinks_its_bookings(api, setup):
    booking = setup.submit().booking
    assert booking.contact_id is not None  # the submission found or created it
    assert api.manager.delete(detail(CONTACTS, booking.contact_id)).status_code == 204
    booking.refresh_from_db()
    assert booking.contact_id is None


# --- both -------------------------------------------------------------------------------------------

BOTH = pytest.mark.parametrize("url", [CUSTOMERS, CONTACTS])


@BOTH
def test_anonymous_is_401(api, setup, contact, url):
    obj = contact if url == CONTACTS else contact.customer
    for response in (
        api.public.get(url),
        api.public.get(detail(url, obj)),
        post(api.public, url, setup),
        api.public.patch(detail(url, obj), {}, format="json"),
        api.public.delete(detail(url, obj)),
    ):
        assert_error(response, 401, "NOT_AUTHENTICATED")


@BOTH
def test_viewers_cannot_write(api, setup, contact, url):
    obj = contact if url == CONTACTS else contact.customer
    assert api.viewer.get(detail(url, obj)).status_code == 200
    assert_error(post(api.viewer, url, setup), 403, "PERMISSION_DENIED")
    assert_error(api.viewer.patch(detail(url, obj), {"name": ""}, format="json"), 403)
    assert_error(api.viewer.delete(detail(url, obj)), 403)
    for role in (Role.ADMIN, Role.OWNER):
        assert api[role].patch(detail(url, obj), {"name": role.label}, format="json").status_code == 200


@BOTH
def test_other_organization_gets_404(api, setup, contact, other, url):
    obj = contact if url == CONTACTS else contact.customer
    assert other.manager.get(url).json() == []
    assert_error(other.manager.get(detail(url, obj)), 404, "NOT_FOUND")
    assert_error(other.manager.patch(detail(url, obj), {"name": "Mine"}, format="json"), 404)
    assert_error(other.manager.delete(detail(url, obj)), 404)
    assert_error(post(other.manager, url, setup, name="Mine"), 404)
    assert not Customer.objects.filter(name="Mine").exists() and not Contact.objects.filter(name="Mine").exists()
    assert_error(api.manager.get(detail(url, uuid.uuid4())), 404)
    assert_error(api.manager.patch(detail(url, uuid.uuid4()), {}, format="json"), 404)
    assert_error(api.manager.delete(detail(url, uuid.uuid4())), 404)
    assert_error(post(api.manager, url, setup, orgId=str(uuid.uuid4())), 404)


@BOTH
def test_if_match(api, setup, contact, url):
    obj = contact if url == CONTACTS else contact.customer
    etag = api.viewer.get(detail(url, obj))["ETag"]
    response = api.manager.patch(detail(url, obj), {"name": "New"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200 and response["ETag"] != etag
    assert_error(api.manager.patch(detail(url, obj), {"name": "Newer"}, format="json", HTTP_IF_MATCH=etag), 412)
    assert_error(api.manager.delete(detail(url, obj), HTTP_IF_MATCH=etag), 412)
    assert api.manager.delete(detail(url, obj), HTTP_IF_MATCH=f"W/{response['ETag']}").status_code == 204


@BOTH
def test_list_query_count_does_not_grow(api, setup, url, django_assert_num_queries):
    def add(n):
        for _ in range(n):
            customer = CustomerFactory(organization=setup.org)
            ContactFactory(organization=setup.org, customer=customer)

    add(3)
    with CaptureQueriesContext(connection) as small:
        assert len(api.viewer.get(url).json()) == 3
    add(27)
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(api.viewer.get(url).json()) == 30
