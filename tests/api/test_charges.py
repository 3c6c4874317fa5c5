"""Prices and charges over the API: the pricing fields of submit, create, approve and validate with their
error codes, the estimate and the fixed price in the Booking representation (a booker never sees credit
in an estimate), overridePrice and whichEventsToUpdate 4 on the events API, and /charges: the list and its
filters, the CSV for accounting, charge/invoice/revert with their roles, in a fixed number of queries."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest

from bookings.lifecycle.decide import booking_approve
from bookings.lifecycle.submit import booking_create
from bookings.models import BookingStatus, Charge, ChargeStatus
from bookings.validation.billing import BookingBilling
from core.time import iso
from events.models import Event
from resources.models import RateUnit, Role
from tests.api.conftest import assert_error
from tests.conftest import future
from tests.factories import BookingCreditFactory, CustomerFactory, DiscountCodeFactory, RateFactory

pytestmark = pytest.mark.django_db
D = Decimal
CHARGES = "/api/v1/charges"


@pytest.fixture
def rate(setup):
    return RateFactory(resource=setup.room, name="Standard", unit=RateUnit.HOUR, price=D("20.00"))


def ninety(setup, days=7, **extra):
    start = future(days, 10)
    return setup.event(start, start + timedelta(minutes=90), **extra)


def body(setup, *events, **extra) -> dict:
    events = list(events) or [ninety(setup)]
    data = {
        "orgId": str(setup.org.pk),
        "bookingModuleId": str(setup.module.pk),
        "portalId": str(setup.portal.pk),
        "contact": {"name": "Ada Lovelace", "email": "ada@example.com"},
        **extra,
    }
    if len(events) == 1:
        data["event"] = events[0]
    else:
        data["events"] = events
    return data


def post(client, url, data=None):
    return client.post(url, data if data is not None else {}, format="json")


def approved(setup, *events, customer=None, **choices):
    return booking_create(
        module=setup.module,
        actor=setup.staff,
        status=BookingStatus.APPROVED,
        contact={"name": "Ada Lovelace", "email": "ada@example.com"},
        events=list(events) or [ninety(setup)],
        customer_id=str(customer.pk) if customer else None,
        billing_choices=BookingBilling(**choices),
    ).booking


# --- request fields and their errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, event_extra, field, code, status",
    [
        ({}, {"overridePrice": "5"}, "event.overridePrice", "NOT_ALLOWED", 400),
        ({"chargeNow": True}, {}, "chargeNow", "NOT_ALLOWED", 400),
        ({"discountCode": "NOPE"}, {}, "discountCode", "INVALID_DISCOUNT_CODE", 400),
        ({}, {"rateId": "6f1c3a52-3a0e-4a4f-9d0e-1a2b3c4d5e6f"}, "event.rateId", "RATE_NOT_APPLICABLE", 400),
        (
            {},
            {"products": [{"productId": "6f1c3a52-3a0e-4a4f-9d0e-1a2b3c4d5e6f", "quantity": 1}]},
            "event.products[0]",
            "INVALID_PRODUCT",
            400,
        ),
        ({}, {"products": [{"quantity": 1}]}, "event.products[0].productId", "INVALID", 400),
        ({"purchaseOrder": "x" * 201}, {}, "purchaseOrder", None, 400),
    ],
)
def test_public_submit_pricing_errors(api, setup, rate, extra, event_extra, field, code, status):
    response = post(api.public, "/api/v1/bookings/submit", body(setup, ninety(setup, **event_extra), **extra))
    assert_error(response, status, code, field)
    assert not setup.org.bookings.exists()


def test_the_error_of_the_second_time_is_at_its_path(api, setup, rate):
    response = post(
        api.public,
        "/api/v1/bookings/submit",
        body(setup, ninety(setup), ninety(setup, days=8, rateId="6f1c3a52-3a0e-4a4f-9d0e-1a2b3c4d5e6f")),
    )
    assert_error(response, 400, "RATE_NOT_APPLICABLE", "events[1].rateId")


def test_the_booker_sees_the_estimate_without_credit_and_staff_see_it_all(api, setup, rate):
    DiscountCodeFactory(organization=setup.org, code="TEN", percentage=D("10"))
    first = post(api.public, "/api/v1/bookings/submit", body(setup, discountCode="ten", purchaseOrder="PO-1"))
    assert first.status_code == 201, first.json()
    contact = setup.org.contacts.get()
    BookingCreditFactory(organization=setup.org, contact=contact, amount=D("10"), balance=D("10"))
    response = post(api.public, "/api/v1/bookings/submit", body(setup, ninety(setup, days=8), discountCode="TEN"))
    public = response.json()["booking"]
    price = public["events"][0]["price"]
    assert (
        price["subtotal"],
        price["discount"]["amount"],
        price["price"],
        price["creditUsed"],
        price["total"],
        price["credits"],
    ) == ("30.00", "3.00", "27.00", None, "27.00", [])
    assert public["priceTotal"] == {
        "currency": "GBP",
        "subtotal": "30.00",
        "discount": "3.00",
        "price": "27.00",
        "creditUsed": None,
        "total": "27.00",
        "fixed": False,
    }
    assert (public["discountCode"], public["purchaseOrder"]) == ("TEN", "")
    staff = api.viewer.get(f"/api/v1/bookings/{public['id']}").json()["booking"]
    assert (staff["events"][0]["price"]["creditUsed"], staff["priceTotal"]["total"]) == ("10.00", "17.00")
    assert (
        api.viewer.get(f"/api/v1/bookings/{first.json()['booking']['id']}").json()["booking"]["purchaseOrder"] == "PO-1"
    )


def test_validate_shows_the_estimate(api, setup, rate):
    response = post(api.public, "/api/v1/bookings/validate", body(setup))
    assert response.status_code == 200, response.json()
    result = response.json()
    assert result["valid"] is True
    assert result["price"]["priceTotal"]["total"] == "30.00"
    assert result["price"]["events"][0]["rateName"] == "Standard"
    bad = post(api.public, "/api/v1/bookings/validate", body(setup, discountCode="NOPE")).json()
    assert bad["valid"] is False and [(e["field"], e["code"]) for e in bad["errors"]] == [
        ("discountCode", "INVALID_DISCOUNT_CODE")
    ]
    assert_error(
        post(api.public, "/api/v1/bookings/validate", body(setup, ninety(setup, overridePrice=1))),
        400,
        "NOT_ALLOWED",
        "event.overridePrice",
    )


def test_staff_create_with_override_and_invoice_now(api, setup, rate):
    data = body(
        setup,
        ninety(setup, overridePrice="12.50"),
        submission=False,
        bookingStatus=1,
        invoiceNow=True,
        purchaseOrder="PO-9",
    )
    response = post(api.manager, "/api/v1/bookings", data)
    assert response.status_code == 201, response.json()
    price = response.json()["booking"]["events"][0]["price"]
    assert (price["computedAmount"], price["amount"], price["total"], price["fixed"]) == (
        "30.00",
        "12.50",
        "12.50",
        True,
    )
    assert response.json()["event"]["price"] == price
    charge = Charge.objects.get()
    assert (charge.status, charge.amount, charge.purchase_order) == (ChargeStatus.INVOICED, D("12.50"), "PO-9")
    assert_error(post(api.manager, "/api/v1/bookings", {**data, "bookingStatus": 0}), 400, "INVALID", "invoiceNow")


def test_approve_with_credit_gone_is_409_and_accept_available_credit_approves(api, setup, rate):
    first = setup.submit(ninety(setup)).booking
    BookingCreditFactory(organization=setup.org, contact=first.contact, amount=D("30"), balance=D("30"))
    second = setup.submit(ninety(setup, days=8)).booking
    booking_approve(booking_id=second.pk, actor=setup.staff, client_last_updated_at=None)
    first.refresh_from_db()
    # estimated with the credit
    first.requested_times.update(price={**first.requested_times.get().price, "creditUsed": "30.00"})
    url = f"/api/v1/bookings/{first.pk}/approve"
    first.refresh_from_db()
    response = post(api.manager, url, {"clientBookingLastUpdatedAt": iso(first.updated_at)})
    assert_error(response, 409, "CREDIT_UNAVAILABLE", "acceptAvailableCredit")
    response = post(
        api.manager, url, {"clientBookingLastUpdatedAt": iso(first.updated_at), "acceptAvailableCredit": True}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["booking"]["priceTotal"]["total"] == "30.00"


# --- the events API -----------------------------------------------------------------------------------------


def test_event_patch_with_override_price(api, setup, rate):
    booking = approved(setup)
    event = Event.objects.get(booking_events__booking=booking)
    response = api.manager.patch(f"/api/v1/events/{event.pk}", {"overridePrice": "18"}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["price"]["amount"], response.json()["price"]["total"]) == ("18.00", "18.00")
    assert Charge.objects.get().amount == D("18.00")
    assert_error(
        api.manager.patch(f"/api/v1/events/{event.pk}", {"overridePrice": "-1"}, format="json"),
        400,
        None,
        "overridePrice",
    )
    assert_error(api.viewer.patch(f"/api/v1/events/{event.pk}", {"overridePrice": "1"}, format="json"), 403)


# --- /charges ------------------------------------------------------------------------------------------------


def test_charges_list_shape_and_filters(api, setup, rate):
    customer = CustomerFactory(organization=setup.org, name="Acme")
    first = approved(setup, customer=customer, purchase_order="PO-1")
    second = approved(setup, ninety(setup, days=9), invoice_this_contact=True, customer=customer)
    response = api.viewer.get(CHARGES)
    assert response.status_code == 200
    charges = response.json()["charges"]
    assert [c["bookingId"] for c in charges] == [str(first.pk), str(second.pk)]
    c = charges[0]
    be = first.requested_times.get()
    assert c == {
        "id": c["id"],
        "orgId": str(setup.org.pk),
        "bookingId": str(first.pk),
        "bookingTitle": "Team meeting",
        "bookingEventId": str(be.pk),
        "eventId": str(be.event_id),
        "customerId": str(customer.pk),
        "contactId": None,
        "description": c["description"],
        "amount": "30.00",
        "currency": "GBP",
        "status": 0,
        "purchaseOrder": "PO-1",
        "date": iso(be.start),
        "eventStart": iso(be.start),
        "eventEnd": iso(be.end),
        "resources": ["Room"],
        "rate": "Standard",
        "createdAt": c["createdAt"],
        "chargedAt": None,
        "invoicedAt": None,
        "revertedAt": None,
        "lastUpdatedAt": c["lastUpdatedAt"],
    }
    assert charges[1]["contactId"] == str(second.contact_id) and charges[1]["customerId"] is None

    def ids(**query):
        return [c["bookingId"] for c in api.viewer.get(CHARGES, query).json()["charges"]]

    assert ids(customerId=str(customer.pk)) == [str(first.pk)]
    assert ids(contactId=str(second.contact_id)) == [str(second.pk)]
    assert ids(start=iso(future(8, 0))) == [str(second.pk)]
    assert ids(end=iso(future(8, 0))) == [str(first.pk)]
    assert ids(status="1") == []
    assert_error(api.viewer.get(CHARGES, {"status": "9"}), 400)
    assert_error(api.viewer.get(CHARGES, {"start": "soon"}), 400)


def test_charge_invoice_revert_and_their_roles(api, setup, other, rate):
    approved(setup)
    charge = Charge.objects.get()
    url = f"{CHARGES}/{charge.pk}"
    assert_error(post(api.viewer, f"{url}/charge"), 403, "PERMISSION_DENIED")
    assert_error(post(other[Role.OWNER], f"{url}/charge"), 404, "NOT_FOUND")
    assert_error(post(api.public, f"{url}/charge"), 401)
    response = post(api.manager, f"{url}/charge")
    assert response.status_code == 200 and response.json()["charge"]["status"] == 1
    assert response.json()["charge"]["chargedAt"]
    assert_error(post(api.manager, f"{url}/charge"), 409, "INVALID_TRANSITION")
    assert post(api.manager, f"{url}/invoice").json()["charge"]["status"] == 2
    assert_error(post(api.manager, f"{url}/revert"), 409, "INVALID_TRANSITION")
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.INVOICED
    assert_error(post(api.manager, f"{CHARGES}/6f1c3a52-3a0e-4a4f-9d0e-1a2b3c4d5e6f/revert"), 404, "NOT_FOUND")


def test_charges_csv_for_a_period(api, setup, rate):
    customer = CustomerFactory(organization=setup.org, name="=Acme")  # a formula would run in a spreadsheet
    booking = approved(setup, customer=customer, purchase_order="PO-1")
    approved(setup, ninety(setup, days=20))
    response = api.viewer.get(f"{CHARGES}.csv", {"start": iso(future(6, 0)), "end": iso(future(8, 0))})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    be = booking.requested_times.get()
    local = be.start.astimezone(setup.venue.tz)
    assert rows == [
        [
            "date",
            "organization",
            "customer",
            "contact",
            "booking title",
            "event start",
            "event end",
            "resources",
            "rate",
            "amount",
            "currency",
            "status",
            "purchase order",
            "charge id",
        ],
        [
            local.date().isoformat(),
            setup.org.name,
            "'=Acme",
            "Ada Lovelace <ada@example.com>",
            "Team meeting",
            f"{local:%Y-%m-%d} 10:00",
            f"{local:%Y-%m-%d} 11:30",
            "Room",
            "Standard",
            "30.00",
            "GBP",
            "NOT_CHARGED",
            "PO-1",
            str(Charge.objects.get(booking=booking).pk),
        ],
    ]


def _make_charges(setup, count: int) -> None:
    """`count` charges on the requested times of one approved booking of 10 (copies of its charges)."""
    booking = setup.org.bookings.first() or approved(setup, *[ninety(setup, days=7 + i) for i in range(10)])
    template = list(Charge.objects.filter(booking=booking)[:10])
    have = Charge.objects.count()
    Charge.objects.bulk_create(
        [
            Charge(
                organization=setup.org,
                booking=booking,
                booking_event=template[i % 10].booking_event,
                event=template[i % 10].event,
                contact=template[i % 10].contact,
                amount=D("30"),
                currency="GBP",
            )
            for i in range(count - have)
        ]
    )


def test_the_charges_list_takes_the_same_queries_for_10_and_100(api, setup, rate, django_assert_num_queries):
    _make_charges(setup, 10)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert len(api.viewer.get(CHARGES).json()["charges"]) == 10
    few = len(queries)
    assert few <= 6, [q["sql"] for q in queries]
    _make_charges(setup, 100)
    with django_assert_num_queries(few):
        charges = api.viewer.get(CHARGES).json()["charges"]
    assert len(charges) == 100 and all(c["resources"] == ["Room"] for c in charges)
    with django_assert_num_queries(few):
        assert api.viewer.get(f"{CHARGES}.csv").content.decode().count("\n") == 101
