"""bookings.pricing.quote: what a requested event costs. Pure functions over plain terms, so most tables here
need no database; every expected amount is written out (the rule it follows is in the test's name or
comment). The terms are loaded from the models by bookings.pricing.terms, whose models' constraints are
checked on both databases.

This module: the terms loaded from the models, and the models' constraints on both databases."""

from __future__ import annotations

from datetime import time

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from bookings.models import BookingCredit, ChargeStatus, DiscountCode, DiscountCodeUse, charge_transition_allowed
from bookings.pricing.quote import quote_event
from bookings.pricing.terms import EventRequest, credit_terms, discount_terms, pricing_resources
from resources.models import Product, Rate, RateUnit

from ..factories import (
    BookingCreditFactory,
    BookingFactory,
    ContactFactory,
    CustomerFactory,
    DiscountCodeFactory,
    DiscountCodeUseFactory,
    ProductFactory,
    RateCustomerFactory,
    RateFactory,
)
from .pricing_helpers import D, at

# --- from the database ---------------------------------------------------------------------------------


@pytest.fixture
def priced(setup):
    member = CustomerFactory(organization=setup.org)
    hourly = RateFactory(resource=setup.room, name="Hourly", unit=RateUnit.HOUR, price=D("10"))
    members = RateFactory(resource=setup.room, name="Members", unit=RateUnit.HOUR, price=D("6"))
    RateCustomerFactory(rate=members, customer=member)
    RateFactory(resource=setup.room, name="Retired", unit=RateUnit.HOUR, price=D("1"), active=False)
    ProductFactory(resource=setup.room, name="Coffee", unit_price=D("2.50"))
    ProductFactory(resource=setup.room, name="Gone", unit_price=D("1"), active=False)
    return setup, member, hourly, members


def test_terms_are_loaded_from_the_models(priced, django_assert_max_num_queries) -> None:
    setup, member, hourly, members = priced
    with django_assert_max_num_queries(4):
        terms = pricing_resources([setup.room.pk, setup.hall.pk])
    room_terms = terms[setup.room.pk]
    assert {r.name: r.customer_ids for r in room_terms.rates} == {
        "Hourly": frozenset(),
        "Members": frozenset({member.pk}),
    }
    assert [p.name for p in room_terms.products] == ["Coffee"]
    assert (terms[setup.hall.pk].rates, room_terms.tz) == ((), setup.venue.tz)

    coffee = room_terms.products[0]
    quote = quote_event(
        EventRequest(start=at(7, 9), end=at(7, 11), resources=(room_terms,), products=((coffee.id, 1),)),
        currency=setup.org.currency,
        customer_id=member.pk,
    )
    assert (quote.rate_id, str(quote.total)) == (members.pk, "14.50")


def test_discount_terms_find_a_code_in_any_case_and_count_other_bookings_uses(setup) -> None:
    discount = DiscountCodeFactory(
        organization=setup.org, code="Spring25", percentage=D("25"), max_uses_per_contact=2, resources=[setup.room]
    )
    contact = ContactFactory(organization=setup.org)
    first, second = BookingFactory(module=setup.module), BookingFactory(module=setup.module)
    DiscountCodeUseFactory(code=discount, booking=first, contact=contact)
    DiscountCodeUseFactory(code=discount, booking=second)

    terms = discount_terms(organization_id=setup.org.pk, code=" spring25 ", contact_id=contact.pk)
    assert (terms.id, terms.code, terms.percentage, terms.resource_ids) == (
        discount.pk,
        "Spring25",
        D("25.00"),
        frozenset({setup.room.pk}),
    )
    assert (terms.uses_total, terms.uses_by_contact) == (2, 1)
    again = discount_terms(
        organization_id=setup.org.pk, code="SPRING25", contact_id=contact.pk, exclude_booking_id=first.pk
    )
    assert (again.uses_total, again.uses_by_contact) == (1, 0)
    assert discount_terms(organization_id=setup.org.pk, code="winter") is None
    other_org = CustomerFactory().organization
    assert discount_terms(organization_id=other_org.pk, code="spring25") is None


def test_credit_terms_are_the_contacts_and_the_customers_with_a_balance(setup) -> None:
    customer = CustomerFactory(organization=setup.org)
    contact = ContactFactory(organization=setup.org, customer=customer)
    mine = BookingCreditFactory(organization=setup.org, contact=contact, amount=D("50"), balance=D("20"))
    company = BookingCreditFactory(
        organization=setup.org, customer=customer, amount=D("99"), balance=D("99"), resources=[setup.room]
    )
    BookingCreditFactory(organization=setup.org, contact=contact, amount=D("50"), balance=D("0"))
    BookingCreditFactory(organization=setup.org, amount=D("50"), balance=D("50"))  # another contact's
    terms = credit_terms(organization_id=setup.org.pk, contact_id=contact.pk, customer_id=customer.pk)
    assert {(t.id, t.balance, t.resource_ids) for t in terms} == {
        (mine.pk, D("20"), frozenset()),
        (company.pk, D("99"), frozenset({setup.room.pk})),
    }
    assert credit_terms(organization_id=setup.org.pk) == []


# --- constraints, on both databases --------------------------------------------------------------------


def refused(create) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


@pytest.mark.django_db
def test_a_discount_code_is_a_percentage_or_an_amount_never_both() -> None:
    org = CustomerFactory().organization

    def make(code, **kwargs):
        return lambda: DiscountCode.objects.create(organization=org, code=code, **kwargs)

    refused(make("BOTH", percentage=D("10"), amount=D("5")))
    refused(make("NEITHER"))
    refused(make("TOO MUCH", percentage=D("100.01")))
    refused(make("NOTHING", amount=D("0")))
    make("PERCENT", percentage=D("10"))()
    make("AMOUNT", amount=D("5"))()
    refused(make("percent", amount=D("1")))  # unique per organization, letter case aside
    DiscountCode.objects.create(organization=CustomerFactory().organization, code="PERCENT", percentage=D("5"))
    assert DiscountCode.objects.filter(organization=org).count() == 2


def test_a_code_is_used_once_per_booking(setup) -> None:
    discount = DiscountCodeFactory(organization=setup.org, code="ONCE", amount=D("5"))
    booking = BookingFactory(module=setup.module)
    DiscountCodeUseFactory(code=discount, booking=booking)
    refused(lambda: DiscountCodeUse.objects.create(code=discount, booking=booking))


def test_a_credit_balance_never_goes_below_zero(setup) -> None:
    contact = ContactFactory(organization=setup.org)
    credit_row = BookingCreditFactory(organization=setup.org, contact=contact, amount=D("10"), balance=D("10"))
    refused(lambda: BookingCredit.objects.filter(pk=credit_row.pk).update(balance=D("-0.01")))
    refused(lambda: BookingCredit.objects.filter(pk=credit_row.pk).update(balance=D("10.01")))  # above the grant
    refused(lambda: BookingCredit.objects.create(organization=setup.org, amount=D("1"), balance=D("1")))  # nobody's
    refused(
        lambda: BookingCredit.objects.create(
            organization=setup.org,
            contact=contact,
            customer=CustomerFactory(organization=setup.org),
            amount=D("1"),
            balance=D("1"),
        )
    )
    BookingCredit.objects.filter(pk=credit_row.pk).update(balance=F("balance") - D("10"))
    credit_row.refresh_from_db()
    assert credit_row.balance == 0


def test_rate_constraints(setup) -> None:
    def make(**kwargs):
        return lambda: Rate.objects.create(resource=setup.room, name="R", price=D("1"), **kwargs)

    refused(make(weekdays=0))
    refused(make(weekdays=128))
    refused(make(start_time=time(9)))  # a window needs both ends
    refused(make(start_time=time(18), end_time=time(9)))
    refused(make(min_minutes=120, max_minutes=60))
    refused(lambda: Rate.objects.create(resource=setup.room, name="R", price=D("-1")))
    make(start_time=time(18), end_time=time(0))()  # until midnight
    refused(lambda: Product.objects.create(resource=setup.room, name="P", unit_price=D("-0.01")))


def test_charge_transitions() -> None:
    S = ChargeStatus
    allowed = {(a, b) for a in S for b in S if charge_transition_allowed(a, b)}
    assert allowed == {
        (S.NOT_CHARGED, S.CHARGED),
        (S.NOT_CHARGED, S.INVOICED),
        (S.NOT_CHARGED, S.REVERTED),
        (S.CHARGED, S.INVOICED),
        (S.CHARGED, S.REVERTED),
    }


def test_a_credit_for_another_resource_does_not_pay_through_the_loaders_either(setup) -> None:
    contact = ContactFactory(organization=setup.org)
    RateFactory(resource=setup.room, name="Hourly", unit=RateUnit.HOUR, price=D("10"))
    BookingCreditFactory(
        organization=setup.org, contact=contact, amount=D("50"), balance=D("50"), resources=[setup.hall]
    )
    terms = pricing_resources([setup.room.pk])
    credits = credit_terms(organization_id=setup.org.pk, contact_id=contact.pk)
    quote = quote_event(
        EventRequest(start=at(7, 9), end=at(7, 10), resources=(terms[setup.room.pk],)), currency="GBP", credits=credits
    )
    assert (quote.credits, quote.total) == ((), D("10.00"))
