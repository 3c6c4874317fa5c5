"""/api/v1/rates (docs/architecture.md#prices): the exact shape (money as decimal strings, the organization's
currency, weekdays as a list, "HH:MM" windows, the customers it is reserved for), filters, roles, tenant
isolation, each validation code, PATCH with If-Match, DELETE that archives a rate bookings refer to, and the
resource and public module representations that list the rates a request may name. Every write gives the
organization a new configuration version (tests/resources/test_config_cache.py pins the services)."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

import pytest

from bookings.models import RateCustomer
from core.api.etags import etag_of
from core.time import iso
from resources.models import Rate, RateUnit, Role, weekday_mask
from tests.api.catalog_helpers import WRITERS, errors, patch, post, queries, url, version
from tests.api.conftest import assert_error
from tests.conftest import future
from tests.factories import CustomerFactory, ProductFactory, RateCustomerFactory, RateFactory

pytestmark = pytest.mark.django_db
D = Decimal
RATES = "rates"


@pytest.fixture
def standard(setup) -> Rate:
    return RateFactory(resource=setup.room, name="Standard", unit=RateUnit.HOUR, price=D("20"))


def expected(rate: Rate, price: str, customers=()) -> dict:
    """The representation, with the price as the wire writes it."""
    rate.refresh_from_db()
    return {
        "id": str(rate.pk),
        "resourceId": str(rate.resource_id),
        "name": rate.name,
        "unit": rate.unit,
        "price": price,
        "currency": "GBP",
        "weekdays": rate.weekday_list,
        "startTime": rate.start_time.strftime("%H:%M") if rate.start_time else None,
        "endTime": rate.end_time.strftime("%H:%M") if rate.end_time else None,
        "minMinutes": rate.min_minutes,
        "maxMinutes": rate.max_minutes,
        "customerIds": [str(c.pk) for c in customers],
        "active": rate.active,
        "createdAt": iso(rate.created_at),
        "lastUpdatedAt": iso(rate.updated_at),
    }


def weekend_body(setup, **changes) -> dict:
    return {
        "resourceId": str(setup.hall.pk),
        "name": "Weekend day",
        "unit": 1,
        "price": "80.5",
        "weekdays": [5, 6],
        "startTime": "09:00",
        "endTime": "17:00",
        "minMinutes": 60,
        "maxMinutes": 480,
        **changes,
    }


# --- reading -------------------------------------------------------------------------------------------


def test_the_list_has_the_exact_shape_and_its_filters(api, setup, other, standard):
    customer = CustomerFactory(organization=setup.org)
    members = RateFactory(
        resource=setup.hall,
        name="Members",
        unit=RateUnit.DAY,
        price=D("0.1234"),
        weekdays=weekday_mask([0, 4]),
        start_time=time(9),
        end_time=time(0),
        min_minutes=30,
        max_minutes=600,
    )
    RateCustomerFactory(rate=members, customer=customer)
    old = RateFactory(resource=setup.room, name="Old", price=D("5"), active=False)
    RateFactory(resource=other.setup.room, name="Theirs")

    body = api.viewer.get(url(RATES)).json()

    # Hall's, then Room's by price; four decimals where a unit price has them, else the currency's two.
    assert body == [expected(members, "0.1234", [customer]), expected(old, "5.00"), expected(standard, "20.00")]
    assert body[0]["weekdays"] == [0, 4] and (body[0]["startTime"], body[0]["endTime"]) == ("09:00", "00:00")
    get = api.viewer.get
    assert [r["name"] for r in get(url(RATES), {"resourceId": str(setup.room.pk)}).json()] == ["Old", "Standard"]
    assert [r["name"] for r in get(url(RATES), {"active": "false"}).json()] == ["Old"]
    assert [r["name"] for r in get(url(RATES), {"orgId": str(setup.org.pk), "active": "true"}).json()] == [
        "Members",
        "Standard",
    ]
    assert get(url(RATES), {"orgId": str(other.setup.org.pk)}).json() == []
    assert get(url(RATES), {"resourceId": str(other.setup.room.pk)}).json() == []
    assert_error(get(url(RATES), {"resourceId": "x"}), 400, "INVALID", "resourceId")
    assert_error(get(url(RATES), {"active": ""}), 400, "REQUIRED", "active")
    assert_error(get(url(RATES), {"active": "maybe"}), 400, "INVALID", "active")


def test_the_list_takes_the_same_queries_for_1_and_for_5_rates(api, setup, standard, django_assert_num_queries):
    RateCustomerFactory(rate=standard)
    few, body = queries(api.viewer, url(RATES))
    assert len(body) == 1
    for resource in (setup.room, setup.hall, setup.desks, setup.hall):
        RateCustomerFactory(rate=RateFactory(resource=resource))
    with django_assert_num_queries(few):
        assert len(api.viewer.get(url(RATES)).json()) == 5


@pytest.mark.parametrize("role", list(Role))
def test_every_role_reads_with_an_etag(api, standard, role):
    response = api[role].get(url(RATES, standard.pk))
    assert response.status_code == 200
    assert response["ETag"] == etag_of(standard) and response.json() == expected(standard, "20.00")


def test_another_organizations_rate_is_not_found(api, other, standard):
    for client in (other[Role.OWNER], other[Role.VIEWER]):
        assert_error(client.get(url(RATES, standard.pk)), 404, "NOT_FOUND")
        assert_error(patch(client, url(RATES, standard.pk), {"price": "1"}), 404, "NOT_FOUND")
        assert_error(client.delete(url(RATES, standard.pk)), 404, "NOT_FOUND")
    assert other[Role.OWNER].get(url(RATES)).json() == []
    standard.refresh_from_db()
    assert standard.price == D("20")


# --- creating ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_only_admins_create(api, setup, role, django_assert_max_num_queries):
    before = version(setup.org)
    with django_assert_max_num_queries(14):
        response = post(api[role], url(RATES), weekend_body(setup))
    if not WRITERS[role]:
        assert_error(response, 403, "PERMISSION_DENIED")
        assert not Rate.objects.exists() and version(setup.org) == before
        return
    assert response.status_code == 201, response.json()
    rate = Rate.objects.get()
    assert response.json() == expected(rate, "80.50") and response["ETag"] == etag_of(rate)
    assert (rate.resource, rate.unit, rate.price, rate.weekday_list) == (setup.hall, RateUnit.DAY, D("80.5"), [5, 6])
    assert (rate.start_time, rate.end_time, rate.min_minutes, rate.max_minutes) == (time(9), time(17), 60, 480)
    assert version(setup.org) != before


def test_a_minimal_rate_applies_every_day_all_day_per_hour_and_may_be_for_customers(api, setup):
    customers = [CustomerFactory(organization=setup.org) for _ in range(2)]
    body = {
        "resourceId": str(setup.room.pk),
        "name": "Members",
        "price": "0",
        "customerIds": [str(c.pk) for c in customers],
    }
    response = post(api.admin, url(RATES), body)
    assert response.status_code == 201, response.json()
    rate = Rate.objects.get()
    assert response.json() == expected(rate, "0.00", customers)
    assert (rate.unit, rate.weekday_list, rate.start_time, rate.active) == (RateUnit.HOUR, list(range(7)), None, True)


@pytest.mark.parametrize(
    "changes, field, code",
    [
        ({"price": "-1"}, "price", "INVALID"),
        ({"price": 12.5}, "price", "INVALID"),  # money is a string
        ({"price": "12.34567"}, "price", "INVALID"),
        ({"price": "1e3"}, "price", "INVALID"),
        ({"price": None}, "price", "REQUIRED"),
        ({"name": "<b></b>"}, "name", "REQUIRED"),
        ({"unit": 3}, "unit", "INVALID_CHOICE"),
        ({"unit": "1"}, "unit", "INVALID_CHOICE"),
        ({"weekdays": [7]}, "weekdays[0]", "MAX_VALUE"),
        ({"weekdays": [0, -1]}, "weekdays[1]", "MIN_VALUE"),
        ({"weekdays": []}, "weekdays", "MIN_LENGTH"),
        ({"startTime": "9:00"}, "startTime", "INVALID"),
        ({"endTime": "24:00"}, "endTime", "INVALID"),
        ({"startTime": None}, "startTime", "INVALID"),  # an end without a start
        ({"endTime": None}, "endTime", "INVALID"),  # a start without an end
        ({"startTime": "18:00", "endTime": "09:00"}, "endTime", "END_BEFORE_START"),
        ({"minMinutes": 120, "maxMinutes": 60}, "maxMinutes", "INVALID"),
        ({"minMinutes": -1}, "minMinutes", "MIN_VALUE"),
        ({"resourceId": None}, "resourceId", "REQUIRED"),
        ({"resourceId": "5a0c6f1e-2b3d-4c5e-8f90-a1b2c3d4e5f6"}, "resourceId", "NOT_FOUND"),
        ({"customerIds": ["5a0c6f1e-2b3d-4c5e-8f90-a1b2c3d4e5f6"]}, "customerIds[0]", "NOT_FOUND"),
        ({"customerIds": ["x"]}, "customerIds[0]", "INVALID"),
    ],
)
def test_each_refusal_names_its_field_and_code(api, setup, changes, field, code):
    before = version(setup.org)
    response = post(api.admin, url(RATES), weekend_body(setup, **changes))
    assert_error(response, 400, code, field)
    assert not Rate.objects.exists() and version(setup.org) == before


def test_ids_of_another_organization_are_not_found_at_their_field(api, setup, other):
    theirs = other.setup
    response = post(
        api.admin,
        url(RATES),
        weekend_body(setup, customerIds=[str(CustomerFactory(organization=theirs.org).pk)]),
    )
    assert errors(response) == [("customerIds[0]", "NOT_FOUND")]
    assert errors(post(api.admin, url(RATES), weekend_body(setup, resourceId=str(theirs.room.pk)))) == [
        ("resourceId", "NOT_FOUND")
    ]
    assert not Rate.objects.exists() and not RateCustomer.objects.exists()


# --- changing ------------------------------------------------------------------------------------------


def test_patch_changes_what_is_given_and_replaces_the_customers(api, setup, standard):
    kept, dropped, added = (CustomerFactory(organization=setup.org) for _ in range(3))
    RateCustomerFactory(rate=standard, customer=kept)
    RateCustomerFactory(rate=standard, customer=dropped)
    before = version(setup.org)
    echo = api.viewer.get(url(RATES, standard.pk)).json()  # what was read may be sent back, read-only fields too
    response = patch(
        api.admin,
        url(RATES, standard.pk),
        {**echo, "price": "22.5", "weekdays": [0, 1, 2, 3, 4], "customerIds": [str(kept.pk), str(added.pk)]},
        HTTP_IF_MATCH=etag_of(standard),
    )
    assert response.status_code == 200, response.json()
    standard.refresh_from_db()
    assert (standard.price, standard.weekday_list, standard.name) == (D("22.5"), [0, 1, 2, 3, 4], "Standard")
    assert set(RateCustomer.objects.filter(rate=standard).values_list("customer", flat=True)) == {kept.pk, added.pk}
    assert response.json()["price"] == "22.50" and response["ETag"] == etag_of(standard)
    assert version(setup.org) != before
    # Without customerIds they stay; [] opens the rate to everyone.
    patch(api.admin, url(RATES, standard.pk), {"name": "Weekday"})
    assert RateCustomer.objects.filter(rate=standard).count() == 2
    patch(api.admin, url(RATES, standard.pk), {"customerIds": []})
    assert not RateCustomer.objects.filter(rate=standard).exists()


@pytest.mark.parametrize(
    "body, status, code, field",
    [
        ({"resourceId": "HALL"}, 400, "IMMUTABLE_FIELD", "resourceId"),
        ({"startTime": "10:00"}, 400, "INVALID", "endTime"),  # the rate has no window: a start alone
        ({"endTime": "00:00", "startTime": "00:00"}, 200, None, None),  # midnight to midnight: all day
        ({"maxMinutes": 10, "minMinutes": 20}, 400, "INVALID", "maxMinutes"),
        ({"active": "yes"}, 400, "INVALID", "active"),
    ],
)
def test_patch_refusals(api, setup, standard, body, status, code, field):
    body = {k: (str(setup.hall.pk) if v == "HALL" else v) for k, v in body.items()}
    response = patch(api.admin, url(RATES, standard.pk), body)
    assert response.status_code == status, response.json()
    if code:
        assert_error(response, status, code, field)
        standard.refresh_from_db()
        assert (standard.resource, standard.start_time, standard.max_minutes) == (setup.room, None, None)


@pytest.mark.parametrize("role", list(Role))
def test_only_admins_change_and_delete(api, standard, role):
    response = patch(api[role], url(RATES, standard.pk), {"name": "Mine"})
    assert response.status_code == (200 if WRITERS[role] else 403)
    response = api[role].delete(url(RATES, standard.pk))
    assert response.status_code == (204 if WRITERS[role] else 403)
    assert Rate.objects.filter(pk=standard.pk).exists() is not WRITERS[role]


def test_a_stale_if_match_is_412_and_changes_nothing(api, standard):
    stale = etag_of(standard)
    patch(api.admin, url(RATES, standard.pk), {"name": "Peak"})
    assert_error(patch(api.admin, url(RATES, standard.pk), {"name": "Off-peak"}, HTTP_IF_MATCH=stale), 412)
    assert_error(api.admin.delete(url(RATES, standard.pk), HTTP_IF_MATCH=stale), 412)
    standard.refresh_from_db()
    assert standard.name == "Peak"


# --- deleting keeps what bookings refer to -------------------------------------------------------------


def test_delete_erases_an_unused_rate_and_archives_one_a_booking_refers_to(api, setup, standard):
    unused = RateFactory(resource=setup.room, name="Unused", price=D("30"))
    start = future(7, 10)
    setup.submit(setup.event(start, start + timedelta(hours=1)))  # its estimate lists the cheapest rate
    before = version(setup.org)

    assert api.admin.delete(url(RATES, unused.pk)).status_code == 204
    assert not Rate.objects.filter(pk=unused.pk).exists()

    response = api.admin.delete(url(RATES, standard.pk))
    assert response.status_code == 200
    standard.refresh_from_db()
    assert standard.active is False and response.json() == expected(standard, "20.00")
    assert version(setup.org) != before
    # Archived: no longer offered (neither on the resource nor to the public), still readable.
    assert api.viewer.get(url("resources", setup.room.pk)).json()["rates"] == []
    assert api.viewer.get(url(RATES, standard.pk)).json()["active"] is False
    # Deleting it again keeps it archived.
    assert api.admin.delete(url(RATES, standard.pk)).status_code == 200


def test_a_rate_a_request_named_is_archived(api, setup):
    cheap = RateFactory(resource=setup.room, name="Cheap", price=D("1"))
    named = RateFactory(resource=setup.room, name="Named", price=D("50"))
    start = future(7, 10)
    setup.submit(setup.event(start, start + timedelta(hours=1), rateId=str(named.pk)))
    assert api.admin.delete(url(RATES, cheap.pk)).status_code == 204  # the estimate priced it with `named`
    assert api.admin.delete(url(RATES, named.pk)).status_code == 200


# --- where a request finds the rates it may name -------------------------------------------------------


def test_the_resource_lists_its_active_rates_and_products(api, setup, standard):
    members = RateFactory(resource=setup.room, name="Members", price=D("5"))
    RateCustomerFactory(rate=members)
    RateFactory(resource=setup.room, name="Old", active=False)
    coffee = ProductFactory(resource=setup.room, name="Coffee", unit_price=D("2.5"))
    ProductFactory(resource=setup.room, name="Gone", active=False)

    body = api.viewer.get(url("resources", setup.room.pk)).json()

    assert [r["name"] for r in body["rates"]] == ["Members", "Standard"]  # by price, customers' ones too
    assert body["rates"][1] == {k: v for k, v in expected(standard, "20.00").items() if k != "customerIds"}
    assert body["products"] == [
        {
            "id": str(coffee.pk),
            "resourceId": str(setup.room.pk),
            "name": "Coffee",
            "unitPrice": "2.50",
            "unit": 0,
            "currency": "GBP",
            "active": True,
            "createdAt": iso(coffee.created_at),
            "lastUpdatedAt": iso(coffee.updated_at),
        }
    ]


def test_the_public_module_lists_the_rates_open_to_everyone_and_they_can_be_sent(api, setup, standard):
    members = RateFactory(resource=setup.room, name="Members", price=D("5"))
    RateCustomerFactory(rate=members)
    RateFactory(resource=setup.room, name="Old", price=D("1"), active=False)
    coffee = ProductFactory(resource=setup.room, name="Coffee", unit_price=D("2.5"))

    body = api.public.get(f"/api/v1/public/booking-modules/{setup.module.pk}").json()

    room = next(r for r in body["resources"] if r["id"] == str(setup.room.pk))
    assert [r["id"] for r in room["rates"]] == [str(standard.pk)]
    assert room["rates"][0]["price"] == "20.00" and room["rates"][0]["currency"] == "GBP"
    assert [(p["id"], p["unitPrice"]) for p in room["products"]] == [(str(coffee.pk), "2.50")]
    start = future(7, 10)
    event = {
        **setup.event(start, start + timedelta(hours=2)),
        "rateId": room["rates"][0]["id"],
        "products": [{"productId": room["products"][0]["id"], "quantity": 2}],
    }
    submit = {
        "orgId": str(setup.org.pk),
        "bookingModuleId": str(setup.module.pk),
        "portalId": str(setup.portal.pk),
        "contact": {"name": "Ada Lovelace", "email": "ada@example.com"},
        "event": event,
    }
    response = post(api.public, "/api/v1/bookings/submit", submit)
    assert response.status_code == 201, response.json()
    assert response.json()["booking"]["priceTotal"]["price"] == "45.00"  # 2 h at 20.00 and two coffees at 2.50


def test_the_public_module_takes_the_same_queries_for_1_and_for_5_rates(
    api, setup, standard, django_assert_num_queries
):
    path = f"/api/v1/public/booking-modules/{setup.module.pk}"
    ProductFactory(resource=setup.room)
    few, _ = queries(api.public, path)
    for resource in (setup.hall, setup.hall, setup.room, setup.desks):
        RateFactory(resource=resource)
        ProductFactory(resource=resource)
    with django_assert_num_queries(few):
        body = api.public.get(path).json()
    assert sum(len(r["rates"]) for r in body["resources"]) == 5
