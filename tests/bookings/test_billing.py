"""Prices in the booking lifecycle (bookings.pricing): the estimate on submit, the price fixed on approval
(the code counted, the credit spent, the charges made), cancel giving credit back and reverting charges,
staff's overridePrice, the charge services, and whichEventsToUpdate 4, 7 and 8 on a booked series with
some occurrences charged. Every amount is written out: the room costs 20.00 GBP an hour, so 90 minutes
are 30.00."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from bookings.lifecycle.change_requests import change_request_submit
from bookings.lifecycle.decide import booking_approve, booking_cancel
from bookings.lifecycle.submit import booking_create
from bookings.lifecycle.transitions import EventProcedure
from bookings.models import (
    BookingLog,
    BookingStatus,
    Charge,
    ChargeStatus,
    CreditUse,
    DiscountCodeUse,
)
from bookings.pricing.charges import charge_mark_charged, charge_mark_invoiced, charge_revert
from bookings.validation.billing import BookingBilling
from core.actor import Actor
from core.errors import (
    ChargeLocked,
    CreditUnavailable,
    InvalidDiscountCode,
    InvalidProduct,
    InvalidTransition,
    NoApplicableRate,
    NotFound,
    RateNotApplicable,
    ValidationFailed,
)
from events.models import Event, EventStatus
from events.series import WhichEvents
from events.services.occurrences import occurrences_delete, occurrences_update
from events.services.single import event_create
from resources.models import ProductUnit, RateUnit
from tests.conftest import future
from tests.factories import BookingCreditFactory, CustomerFactory, DiscountCodeFactory, ProductFactory, RateFactory
from tests.series import make_booked_series

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def rate(setup):
    return RateFactory(resource=setup.room, name="Standard", unit=RateUnit.HOUR, price=D("20.00"))


def ninety(setup, days=7, hour=10, **extra):
    start = future(days, hour)
    return setup.event(start, start + timedelta(minutes=90), **extra)


def approve(booking, setup, **kwargs):
    return booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, **kwargs)


def credit(setup, contact, amount="50.00", **kwargs):
    return BookingCreditFactory(organization=setup.org, contact=contact, amount=D(amount), balance=D(amount), **kwargs)


def amounts(price: dict) -> tuple:
    return (
        price["amount"],
        price["subtotal"],
        (price["discount"] or {}).get("amount"),
        price["price"],
        price["creditUsed"],
        price["total"],
        price["fixed"],
    )


# --- estimate on submit ----------------------------------------------------------------------------


def test_submit_stores_the_estimate_and_consumes_nothing(setup, rate):
    booking = setup.submit(ninety(setup)).booking
    be = booking.requested_times.get()
    assert amounts(be.price) == ("30.00", "30.00", None, "30.00", "0.00", "30.00", False)
    assert (be.price["rateName"], be.price["quantity"], be.price["currency"]) == ("Standard", "1.5", "GBP")
    assert not Charge.objects.exists() and not CreditUse.objects.exists() and not DiscountCodeUse.objects.exists()
    assert be.event.price is None  # the hold carries no price: it is fixed on approval


def test_products_and_a_named_rate_are_priced_into_the_estimate(setup, rate):
    cheap = RateFactory(resource=setup.room, name="Members", unit=RateUnit.HOUR, price=D("10.00"))
    coffee = ProductFactory(resource=setup.room, name="Coffee", unit_price=D("2.50"), unit=ProductUnit.PER_USE)
    # Without rateId the cheapest applies; with it, the named one (if it applies).
    booking = setup.submit(ninety(setup, products=[{"productId": str(coffee.pk), "quantity": 3}])).booking
    assert amounts(booking.requested_times.get().price)[:2] == ("15.00", "22.50")  # 1.5 h × 10.00 + 3 × 2.50
    booking = setup.submit(ninety(setup, days=8, rateId=str(rate.pk))).booking
    be = booking.requested_times.get()
    assert (be.rate_id, be.price["amount"]) == (rate.pk, "30.00")
    assert cheap.pk != rate.pk


@pytest.mark.parametrize(
    "extra, error, field",
    [
        ({"rateId": "not-an-id"}, ValidationFailed, "event.rateId"),
        ({"products": [{"productId": "x", "quantity": 1}]}, ValidationFailed, "event.products[0].productId"),
        (
            {"products": [{"productId": "6f1c3a52-3a0e-4a4f-9d0e-1a2b3c4d5e6f", "quantity": 0}]},
            ValidationFailed,
            "event.products[0].quantity",
        ),
        # Digits int() cannot read (a superscript, a run past Python's limit) are an answer's error, never a 500.
        (
            {"products": [{"productId": "6f1c3a52-3a0e-4a4f-9d0e-1a2b3c4d5e6f", "quantity": "²"}]},
            ValidationFailed,
            "event.products[0].quantity",
        ),
        (
            {"products": [{"productId": "6f1c3a52-3a0e-4a4f-9d0e-1a2b3c4d5e6f", "quantity": "1" * 5000}]},
            ValidationFailed,
            "event.products[0].quantity",
        ),
        ({"products": "coffee"}, ValidationFailed, "event.products"),
        (
            {"products": [{"productId": "6f1c3a52-3a0e-4a4f-9d0e-1a2b3c4d5e6f", "quantity": 1}]},
            InvalidProduct,
            "event.products[0]",
        ),
        ({"rateId": "6f1c3a52-3a0e-4a4f-9d0e-1a2b3c4d5e6f"}, RateNotApplicable, "event.rateId"),
    ],
)
def test_pricing_choices_that_cannot_be_used_are_refused_at_their_path(setup, rate, extra, error, field):
    with pytest.raises(error) as caught:
        setup.submit(ninety(setup, **extra))
    assert field in [e.field for e in caught.value.errors], caught.value.errors
    assert not setup.org.bookings.exists()


def test_a_time_no_rate_covers_is_refused_unless_staff_set_a_price(setup):
    RateFactory(
        resource=setup.room, name="Evenings", unit=RateUnit.HOUR, price=D("5"), start_time="18:00", end_time="22:00"
    )
    with pytest.raises(NoApplicableRate) as caught:
        setup.submit(ninety(setup))
    assert [(e.field, e.code) for e in caught.value.errors] == [("event", "NO_APPLICABLE_RATE")]
    result = booking_create(
        module=setup.module,
        actor=setup.staff,
        status=BookingStatus.APPROVED,
        contact={"name": "Ada", "email": "ada@example.com"},
        events=[ninety(setup, overridePrice="45.5")],
        single_event=True,
    )
    price = Event.objects.get(pk=result.events[0].pk).price
    assert (price["computedAmount"], price["amount"], price["total"], price["fixed"]) == (None, "45.50", "45.50", True)
    log = BookingLog.objects.get(booking=result.booking, action="price_fixed")
    assert log.note == "event override 45.50 replaces computed none (no rate)"


def test_a_public_request_may_not_set_a_price(setup, rate):
    with pytest.raises(ValidationFailed) as caught:
        setup.submit(ninety(setup, overridePrice="1.00"))
    assert [(e.field, e.code) for e in caught.value.errors] == [("event.overridePrice", "NOT_ALLOWED")]


def test_an_unknown_discount_code_is_refused_on_submit(setup, rate):
    with pytest.raises(InvalidDiscountCode) as caught:
        setup.submit(ninety(setup), billing_choices=BookingBilling(discount_code="NOPE"))
    assert [(e.field, e.code) for e in caught.value.errors] == [("discountCode", "INVALID_DISCOUNT_CODE")]


# --- approval fixes the price --------------------------------------------------------------------------


def test_approval_fixes_the_price_on_the_event_and_charges_the_contact(setup, rate):
    booking = setup.submit(ninety(setup), billing_choices=BookingBilling(purchase_order="PO-7")).booking
    result = approve(booking, setup)
    be = booking.requested_times.get()
    event = Event.objects.get(pk=result.events[0].pk)
    assert event.price == be.price
    assert amounts(event.price) == ("30.00", "30.00", None, "30.00", "0.00", "30.00", True)
    [charge] = Charge.objects.all()
    assert (charge.amount, charge.currency, charge.status, charge.purchase_order) == (
        D("30.00"),
        "GBP",
        ChargeStatus.NOT_CHARGED,
        "PO-7",
    )
    assert (charge.customer_id, charge.contact_id, charge.event_id, charge.booking_event_id) == (
        None,
        booking.contact_id,
        event.pk,
        be.pk,
    )  # no customer: the contact is charged
    log = BookingLog.objects.get(booking=booking, action="price_fixed")
    assert (log.after["price"], log.after["total"], log.after["charges"]) == ("30.00", "30.00", 1)


def test_the_customer_is_charged_unless_the_request_says_invoice_this_contact(setup, rate):
    customer = CustomerFactory(organization=setup.org)
    first = setup.submit(ninety(setup)).booking
    approve(first, setup, customer_id=str(customer.pk))
    second = setup.submit(ninety(setup, days=8)).booking
    approve(second, setup, customer_id=str(customer.pk), billing_changes={"invoiceThisContact": True})
    owners = {c.booking_id: (c.customer_id, c.contact_id) for c in Charge.objects.all()}
    assert owners == {first.pk: (customer.pk, None), second.pk: (None, second.contact_id)}


def test_the_fixed_price_survives_a_rate_change(setup, rate):
    booking = setup.submit(ninety(setup)).booking
    result = approve(booking, setup)
    rate.price = D("99.00")
    rate.save()
    ProductFactory(resource=setup.room, name="Late addition", unit_price=D("1"))
    event = Event.objects.get(pk=result.events[0].pk)
    assert (event.price["amount"], event.price["rates"][0]["unitPrice"]) == ("30.00", "20.0000")
    client = APIClient()
    client.force_authenticate(setup.manager)
    body = client.get(f"/api/v1/bookings/{booking.pk}").json()["booking"]
    assert body["events"][0]["price"]["total"] == "30.00"
    assert body["priceTotal"] == {
        "currency": "GBP",
        "subtotal": "30.00",
        "discount": "0.00",
        "price": "30.00",
        "creditUsed": "0.00",
        "total": "30.00",
        "fixed": True,
    }
    assert Charge.objects.get().amount == D("30.00")
    # A pending booking estimated before the change is re-priced on approval at the new rate: 1.5 × 99.
    later = setup.submit(ninety(setup, days=9)).booking
    approve(later, setup)
    assert later.requested_times.get().price["amount"] == "148.50"


def test_staff_create_approved_with_charge_now_or_invoice_now(setup, rate):
    def create(days, **choices):
        return booking_create(
            module=setup.module,
            actor=setup.staff,
            status=BookingStatus.APPROVED,
            contact={"name": "Ada", "email": "ada@example.com"},
            events=[ninety(setup, days=days)],
            single_event=True,
            billing_choices=BookingBilling(**choices),
        ).booking

    charged = create(7, charge_now=True)
    invoiced = create(8, invoice_now=True)
    statuses = {c.booking_id: (c.status, bool(c.charged_at), bool(c.invoiced_at)) for c in Charge.objects.all()}
    assert statuses == {
        charged.pk: (ChargeStatus.CHARGED, True, False),
        invoiced.pk: (ChargeStatus.INVOICED, True, True),
    }
    with pytest.raises(ValidationFailed) as caught:
        create(9, charge_now=True, invoice_now=True)
    assert [e.code for e in caught.value.errors] == ["INVALID"]
    with pytest.raises(ValidationFailed):
        booking_create(
            module=setup.module,
            actor=setup.staff,
            status=BookingStatus.PENDING,
            contact={"name": "Ada", "email": "ada@example.com"},
            events=[ninety(setup, days=10)],
            single_event=True,
            billing_choices=BookingBilling(charge_now=True),
        )


# --- discount codes ------------------------------------------------------------------------------------------


def test_a_percentage_code_is_counted_once_on_approval(setup, rate):
    code = DiscountCodeFactory(organization=setup.org, code="SPRING", percentage=D("10"), max_uses_total=5)
    booking = setup.submit(ninety(setup), billing_choices=BookingBilling(discount_code="spring")).booking
    assert amounts(booking.requested_times.get().price)[:4] == ("30.00", "30.00", "3.00", "27.00")
    assert not DiscountCodeUse.objects.exists()
    approve(booking, setup)
    assert list(DiscountCodeUse.objects.values_list("code_id", "booking_id")) == [(code.pk, booking.pk)]
    assert Charge.objects.get().amount == D("27.00")


def test_a_code_used_up_meanwhile_refuses_the_approval_and_changes_nothing(setup, rate):
    DiscountCodeFactory(organization=setup.org, code="ONCE", amount=D("5.00"), max_uses_total=1)
    first = setup.submit(ninety(setup), billing_choices=BookingBilling(discount_code="ONCE")).booking
    second = setup.submit(
        ninety(setup, days=8), billing_choices=BookingBilling(discount_code="ONCE"), email="bob@example.com"
    ).booking
    approve(first, setup)
    assert Charge.objects.get().amount == D("25.00")
    with pytest.raises(InvalidDiscountCode) as caught:
        approve(second, setup)
    assert [(e.field, e.code) for e in caught.value.errors] == [("discountCode", "INVALID_DISCOUNT_CODE")]
    second.refresh_from_db()
    assert second.status == BookingStatus.PENDING
    assert second.requested_times.get().event.status == EventStatus.TENTATIVE
    assert Charge.objects.filter(booking=second).count() == 0 and DiscountCodeUse.objects.count() == 1
    # Staff may approve it without the code.
    approve(second, setup, billing_changes={"discountCode": ""})
    assert Charge.objects.get(booking=second).amount == D("30.00")


# --- credit -------------------------------------------------------------------------------------------------


def test_credit_pays_first_and_a_spent_credit_refuses_the_second_approval(setup, rate):
    first = setup.submit(ninety(setup)).booking
    pot = credit(setup, first.contact, "50.00")
    second = setup.submit(ninety(setup, days=8)).booking  # the same booker: estimated with the same 50.00
    assert second.requested_times.get().price["creditUsed"] == "30.00"
    approve(first, setup)
    pot.refresh_from_db()
    assert pot.balance == D("20.00")
    assert not Charge.objects.exists()  # paid in full by credit: nothing to charge
    assert Event.objects.get(pk=first.requested_times.get().event_id).price["creditUsed"] == "30.00"
    with pytest.raises(CreditUnavailable) as caught:
        approve(second, setup)
    [error] = caught.value.errors
    assert (error.code, error.meta) == ("CREDIT_UNAVAILABLE", {"expected": "30.00", "available": "20.00"})
    assert caught.value.status == 409
    pot.refresh_from_db()
    assert pot.balance == D("20.00") and CreditUse.objects.count() == 1
    approve(second, setup, accept_available_credit=True)
    pot.refresh_from_db()
    assert pot.balance == D("0.00")
    assert Charge.objects.get(booking=second).amount == D("10.00")


def test_do_not_use_booking_credit(setup, rate):
    booking = setup.submit(ninety(setup), billing_choices=BookingBilling(do_not_use_booking_credit=True)).booking
    pot = credit(setup, booking.contact)
    approve(booking, setup)
    pot.refresh_from_db()
    assert pot.balance == D("50.00") and Charge.objects.get().amount == D("30.00")


def test_cancel_before_the_start_gives_credit_back_and_reverts_the_charge(setup, rate):
    booking = setup.submit(ninety(setup, days=9), ninety(setup, days=10)).booking
    pot = credit(setup, booking.contact, "40.00")
    booking.requested_times.update(price=None)  # estimated before the credit existed: approval uses what it finds
    approve(booking, setup)  # 30.00 + 30.00: 40.00 from credit (the earliest first), 20.00 charged
    pot.refresh_from_db()
    assert pot.balance == D("0.00")
    [charge] = Charge.objects.filter(booking=booking)
    assert charge.amount == D("20.00")
    booking_cancel(booking_id=booking.pk, actor=setup.staff, event_procedure=EventProcedure.CANCEL)
    pot.refresh_from_db()
    charge.refresh_from_db()
    assert pot.balance == D("40.00")
    assert charge.status == ChargeStatus.REVERTED and charge.reverted_at is not None
    assert not CreditUse.objects.filter(returned_at__isnull=True).exists()
    log = BookingLog.objects.get(booking=booking, action="charges_released")
    assert (log.after["creditReturned"], log.note) == ("40.00", "1 charge reverted")


def test_a_charged_charge_stays_when_the_booking_is_canceled(setup, rate):
    booking = setup.submit(ninety(setup)).booking
    approve(booking, setup)
    charge = Charge.objects.get()
    charge_mark_charged(charge_id=charge.pk, actor=setup.staff)
    booking_cancel(booking_id=booking.pk, actor=setup.staff, event_procedure=EventProcedure.DELETE)
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.CHARGED
    log = BookingLog.objects.get(booking=booking, action="charges_released")
    assert log.note == f"charge {charge.pk} (30.00 GBP) is CHARGED and stays: revert it or issue a credit note"


# --- overridePrice after approval ---------------------------------------------------------------------------


def test_staff_override_after_approval_re_fixes_the_price_and_the_charge(setup, rate):
    coffee = ProductFactory(resource=setup.room, name="Coffee", unit_price=D("2.00"))
    booking = setup.submit(ninety(setup, products=[{"productId": str(coffee.pk), "quantity": 2}])).booking
    [event] = approve(booking, setup).events
    assert Charge.objects.get().amount == D("34.00")
    occurrences_update(event=event, price_override=D("12.345"), actor=setup.manager)
    event.refresh_from_db()
    assert amounts(event.price) == ("12.35", "16.35", None, "16.35", "0.00", "16.35", True)
    assert (event.price["computedAmount"], event.price["overridePrice"]) == ("30.00", "12.35")
    assert booking.requested_times.get().price == event.price
    assert Charge.objects.get().amount == D("16.35")
    log = BookingLog.objects.get(booking=booking, action="price_override")
    assert log.note == "Team meeting: override 12.35 GBP replaces computed 30.00 (was 30.00)"
    charge_mark_invoiced(charge_id=Charge.objects.get().pk, actor=setup.staff)
    with pytest.raises(ChargeLocked):
        occurrences_update(event=event, price_override=D("1"), actor=setup.manager)
    event.refresh_from_db()
    assert event.price["amount"] == "12.35"


def test_override_of_an_event_no_booking_priced_is_refused(setup):
    event = event_create(
        organization=setup.org, title="Board", start=future(5, 10), end=future(5, 11), resource_ids=[setup.room.pk]
    )
    with pytest.raises(ValidationFailed) as caught:
        occurrences_update(event=event, price_override=D("10"))
    assert [e.code for e in caught.value.errors] == ["NOT_PRICED"]


# --- charge services -------------------------------------------------------------------------------------------


def test_charge_transitions(setup, rate):
    approve(setup.submit(ninety(setup)).booking, setup)
    charge = Charge.objects.get()
    charge_mark_charged(charge_id=charge.pk, actor=setup.staff)
    with pytest.raises(InvalidTransition):
        charge_mark_charged(charge_id=charge.pk, actor=setup.staff)
    charge_mark_invoiced(charge_id=charge.pk, actor=setup.staff)
    for service in (charge_revert, charge_mark_charged, charge_mark_invoiced):
        with pytest.raises(InvalidTransition) as caught:
            service(charge_id=charge.pk, actor=setup.staff)
        assert caught.value.errors[0].code == "INVALID_TRANSITION"
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.INVOICED
    actions = list(
        BookingLog.objects.filter(booking=charge.booking, action__startswith="charge_").values_list(
            "action", "before", "after"
        )
    )
    assert actions == [
        ("charge_charged", {"status": "NOT_CHARGED"}, {"status": "CHARGED"}),
        ("charge_invoiced", {"status": "CHARGED"}, {"status": "INVOICED"}),
    ]
    with pytest.raises(NotFound):
        charge_revert(charge_id="nope", actor=setup.staff)


# --- whichEventsToUpdate 4, 7 and 8 on a 10-event series with some charged -------------------------------------


@pytest.fixture
def charged_series(setup, rate):
    """A booked weekly series of 10 (each 20.00: one hour), occurrences 2 and 5 CHARGED, 7 INVOICED."""
    booking, series, events = make_booked_series(setup)
    charges = {c.event_id: c for c in Charge.objects.filter(booking=booking)}
    assert len(charges) == 10 and {c.amount for c in charges.values()} == {D("20.00")}
    for i in (2, 5):
        charge_mark_charged(charge_id=charges[events[i].pk].pk, actor=setup.staff)
    charge_mark_invoiced(charge_id=charges[events[7].pk].pk, actor=setup.staff)
    return booking, series, events


def statuses(events) -> list[str]:
    by_event = {
        c.event_id or c.booking_event.event_id: ChargeStatus(c.status).name
        for c in Charge.objects.select_related("booking_event")
    }
    return [by_event.get(e.pk, "-") for e in events]


def test_4_updates_the_events_not_charged(setup, charged_series):
    booking, series, events = charged_series
    occurrences_update(event=events[0], which=WhichEvents.NOT_CHARGED, title="Renamed", actor=setup.manager)
    titles = list(Event.objects.filter(series=series).order_by("start").values_list("title", flat=True))
    assert (
        titles
        == ["Renamed"] * 2
        + ["Weekly sync"]
        + ["Renamed"] * 2
        + ["Weekly sync"]
        + ["Renamed"]
        + ["Weekly sync"]
        + ["Renamed"] * 2
    )
    assert list(booking.requested_times.order_by("start").values_list("title", flat=True)) == titles


def test_4_addressed_to_a_charged_occurrence_is_refused(setup, charged_series):
    _, series, events = charged_series
    with pytest.raises(ValidationFailed) as caught:
        occurrences_update(event=events[2], which=4, title="Renamed")
    assert [(e.field, e.code) for e in caught.value.errors] == [("whichEventsToUpdate", "EVENT_CHARGED")]
    assert set(Event.objects.filter(series=series).values_list("title", flat=True)) == {"Weekly sync"}


def test_7_deletes_the_events_not_charged_and_reverts_their_charges(setup, charged_series):
    booking, series, events = charged_series
    deleted = occurrences_delete(event=events[0], which=WhichEvents.DELETE_NOT_CHARGED, actor=setup.manager)
    assert sorted(deleted) == sorted(events[i].pk for i in (0, 1, 3, 4, 6, 8, 9))
    assert list(Event.objects.filter(series=series).order_by("start").values_list("pk", flat=True)) == [
        events[2].pk,
        events[5].pk,
        events[7].pk,
    ]
    assert _count_statuses(booking) == {"REVERTED": 7, "CHARGED": 2, "INVOICED": 1}
    with pytest.raises(ValidationFailed) as caught:
        occurrences_delete(event=events[2], which=7)
    assert caught.value.errors[0].code == "EVENT_CHARGED"


def _count_statuses(booking) -> dict[str, int]:
    out: dict[str, int] = {}
    for status in Charge.objects.filter(booking=booking).values_list("status", flat=True):
        out[ChargeStatus(status).name] = out.get(ChargeStatus(status).name, 0) + 1
    return out


def test_8_reverts_all_charges_of_the_series_that_are_not_final(setup, charged_series):
    booking, series, events = charged_series
    occurrences_update(event=events[2], which=WhichEvents.REVERT_ALL_CHARGES, actor=setup.manager)
    assert statuses(events) == ["REVERTED"] * 7 + ["INVOICED"] + ["REVERTED"] * 2
    assert set(Event.objects.filter(series=series).values_list("status", "title")) == {
        (EventStatus.CONFIRMED, "Weekly sync")
    }  # nothing canceled, nothing else changed
    log = BookingLog.objects.get(booking=booking, action="charges_reverted")
    assert log.note == "whichEventsToUpdate 8: 9 charges of the series reverted"
    # With a change, the change applies to every occurrence.
    occurrences_update(event=events[0], which=8, title="All", actor=setup.manager)
    assert set(Event.objects.filter(series=series).values_list("title", flat=True)) == {"All"}


def test_a_change_request_cannot_use_the_charge_scopes(setup, rate):
    booking, _, events = make_booked_series(setup, count=3)
    be = booking.requested_times.get(event=events[0])
    with pytest.raises(ValidationFailed) as caught:
        change_request_submit(
            booking_id=booking.pk,
            actor=Actor.booker("ada@example.com"),
            events=[{"bookingEventId": str(be.pk), "title": "X", "whichEventsToUpdate": 4}],
        )
    assert [e.code for e in caught.value.errors] == ["NOT_SUPPORTED"]
    with pytest.raises(ValidationFailed) as caught:
        change_request_submit(
            booking_id=booking.pk,
            actor=Actor.booker("ada@example.com"),
            events=[{"bookingEventId": str(be.pk), "overridePrice": "1"}],
        )
    assert [(e.field, e.code) for e in caught.value.errors] == [("event.overridePrice", "NOT_ALLOWED")]
