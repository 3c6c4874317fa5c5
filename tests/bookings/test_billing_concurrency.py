"""Two approvals racing for the last use of a discount code, or for a credit balance that covers one
booking (real threads on their own connections, released together by race()): the code is counted once
and the balance spent once; the other approval gets the clear domain error and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bookings.lifecycle.decide import booking_approve
from bookings.lifecycle.requested_times import load_booking_events
from bookings.models import (
    Booking,
    BookingStatus,
    Charge,
    Contact,
    CreditUse,
    DiscountCodeUse,
)
from bookings.pricing.estimate import booking_estimate
from bookings.validation.billing import BookingBilling
from core.errors import CreditUnavailable, InvalidDiscountCode
from resources.models import RateUnit
from tests.conftest import Setup, future, postgres_only, race
from tests.factories import BookingCreditFactory, DiscountCodeFactory, RateFactory

from ..events.test_concurrency import split

pytestmark = [pytest.mark.django_db(transaction=True), postgres_only]
D = Decimal


def two_requests(setup: Setup, **choices) -> list[Booking]:
    RateFactory(resource=setup.room, name="Standard", unit=RateUnit.HOUR, price=D("20.00"))
    bookings = []
    for i in range(2):
        start = future(7 + i, 10)
        bookings.append(
            setup.submit(
                setup.event(start, start + timedelta(minutes=90)), billing_choices=BookingBilling(**choices)
            ).booking
        )
    return bookings


def approve_both(setup: Setup, bookings: list[Booking]):
    def approve(i: int):
        return booking_approve(booking_id=bookings[i].pk, actor=setup.staff, client_last_updated_at=None).booking.pk

    return race(2, approve)


def test_a_code_with_one_use_left_is_used_once():
    setup = Setup()
    code = DiscountCodeFactory(organization=setup.org, code="LAST", percentage=D("50"), max_uses_total=1)
    bookings = two_requests(setup, discount_code="last")
    wins, errors = split(approve_both(setup, bookings), InvalidDiscountCode)
    assert len(wins) == 1 and len(errors) == 1
    assert [(e.field, e.code) for e in errors[0].errors] == [("discountCode", "INVALID_DISCOUNT_CODE")]
    assert errors[0].message == "This discount code has been used up."
    assert list(DiscountCodeUse.objects.values_list("code_id", "booking_id")) == [(code.pk, wins[0])]
    statuses = dict(Booking.objects.values_list("pk", "status"))
    assert statuses.pop(wins[0]) == BookingStatus.APPROVED and list(statuses.values()) == [BookingStatus.PENDING]
    assert list(Charge.objects.values_list("booking_id", "amount")) == [(wins[0], D("15.00"))]  # 30.00 - 50 %


def test_a_credit_that_covers_one_booking_is_spent_once():
    setup = Setup()
    bookings = two_requests(setup)  # both by ada@example.com: one contact
    contact = Contact.objects.get()
    pot = BookingCreditFactory(organization=setup.org, contact=contact, amount=D("30.00"), balance=D("30.00"))
    Booking.objects.filter(pk__in=[b.pk for b in bookings]).update(contact=contact)
    # Estimated now, while the balance covers either of them.

    for booking in bookings:
        booking.refresh_from_db()
        [be] = booking_estimate(booking=booking, booking_events=load_booking_events(booking))
        assert be.credit_used == D("30.00")
    wins, errors = split(approve_both(setup, bookings), CreditUnavailable)
    assert len(wins) == 1 and len(errors) == 1
    assert errors[0].errors[0].meta == {"expected": "30.00", "available": "0.00"}
    pot.refresh_from_db()
    assert pot.balance == D("0.00")
    assert list(CreditUse.objects.values_list("booking_id", "amount")) == [(wins[0], D("30.00"))]
    assert not Charge.objects.exists()  # the winner is paid by credit; the loser is not approved
    loser = next(b for b in bookings if b.pk != wins[0])
    loser.refresh_from_db()
    assert loser.status == BookingStatus.PENDING
