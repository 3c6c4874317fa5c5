"""The configuration services of discount codes and booking credits (bookings.pricing.config): what they
write, and their refusals as field errors at the wire names."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bookings.models import BookingCredit, DiscountCode, RateCustomer
from bookings.pricing.config import (
    booking_credit_adjust,
    booking_credit_create,
    booking_credit_update,
    customer_rates_set,
    discount_code_archive,
    discount_code_create,
    discount_code_update,
)
from core.actor import Actor
from core.errors import ValidationFailed
from tests.conftest import Setup
from tests.factories import ContactFactory, CustomerFactory, RateCustomerFactory, RateFactory

pytestmark = pytest.mark.django_db
D = Decimal


def fields(caught) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in caught.value.errors]


def test_a_code_is_created_updated_and_archived(setup) -> None:
    code = discount_code_create(organization=setup.org, code=" Spring ", percentage=D("10"), resources=[setup.room])
    assert (code.code, list(code.resources.all()), code.active) == ("Spring", [setup.room], True)
    code = discount_code_update(discount_code=code, changes={"percentage": None, "amount": D("5"), "resources": []})
    code.refresh_from_db()
    assert (code.percentage, code.amount, list(code.resources.all())) == (None, D("5.0000"), [])
    assert discount_code_archive(discount_code=code).active is False
    assert DiscountCode.objects.get().active is False


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"amount": D("5")}, (None, D("5.0000"))),  # a new amount alone: the code becomes a fixed amount
        ({"percentage": D("20")}, (D("20.00"), None)),
        ({"description": "x"}, (D("10.00"), None)),  # neither given: the kind stays
    ],
)
def test_an_update_with_one_kind_switches_to_it(setup, changes, expected) -> None:
    code = discount_code_create(organization=setup.org, code="SPRING", percentage=D("10"))
    code = discount_code_update(discount_code=code, changes=changes)
    code.refresh_from_db()
    assert (code.percentage, code.amount) == expected


@pytest.mark.parametrize(
    "changes", [{"percentage": D("10"), "amount": D("5")}, {"percentage": None}, {"percentage": None, "amount": None}]
)
def test_an_update_leaving_both_kinds_or_neither_is_refused(setup, changes) -> None:
    code = discount_code_create(organization=setup.org, code="SPRING", percentage=D("10"))
    with pytest.raises(ValidationFailed) as caught:
        discount_code_update(discount_code=code, changes=changes)
    assert fields(caught) == [("amount", "INVALID")]
    code.refresh_from_db()
    assert (code.percentage, code.amount) == (D("10.00"), None)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"percentage": D("10"), "amount": D("5")}, [("amount", "INVALID")]),
        ({}, [("amount", "INVALID")]),
        ({"percentage": D("101")}, [("percentage", "INVALID")]),
        ({"amount": D("0")}, [("amount", "MIN_VALUE")]),
        ({"code": "spring", "percentage": D("5")}, [("code", "NOT_UNIQUE")]),
        ({"code": " ", "percentage": D("5")}, [("code", "REQUIRED")]),
        ({"percentage": D("5"), "max_uses_total": 0}, [("maxUsesTotal", "MIN_VALUE")]),
        (
            {"percentage": D("5"), "valid_from": timezone.now(), "valid_until": timezone.now() - timedelta(days=1)},
            [("validUntil", "END_BEFORE_START")],
        ),
    ],
)
def test_a_code_is_refused_at_its_fields(setup, kwargs, expected) -> None:
    discount_code_create(organization=setup.org, code="SPRING", percentage=D("10"))
    kwargs.setdefault("code", "SUMMER")
    with pytest.raises(ValidationFailed) as caught:
        discount_code_create(organization=setup.org, **kwargs)
    assert fields(caught) == expected
    assert DiscountCode.objects.count() == 1


def test_a_code_names_only_resources_of_its_organization(setup) -> None:
    other = Setup()
    with pytest.raises(ValidationFailed) as caught:
        discount_code_create(organization=setup.org, code="X", percentage=D("5"), resources=[other.room])
    assert fields(caught) == [("resourceIds", "NOT_FOUND")]
    code = discount_code_create(organization=setup.org, code="X", percentage=D("5"))
    with pytest.raises(ValidationFailed):
        discount_code_update(discount_code=code, changes={"resources": [other.room]})
    with pytest.raises(TypeError):
        discount_code_update(discount_code=code, changes={"organization": other.org})


def test_a_credit_is_created_with_all_of_it_left_then_updated_and_adjusted(setup) -> None:
    contact = ContactFactory(organization=setup.org)
    credit = booking_credit_create(organization=setup.org, contact=contact, amount=D("50"), description="Pack")
    assert (credit.amount, credit.balance) == (D("50"), D("50"))
    booking_credit_update(credit=credit, changes={"description": "Ten-pack", "resources": [setup.room]})
    BookingCredit.objects.filter(pk=credit.pk).update(balance=D("20"))  # 30 spent
    staff = Actor.staff(setup.manager)
    credit = booking_credit_adjust(credit=credit, delta=D("10"), reason="Bonus", actor=staff)
    assert (credit.amount, credit.balance) == (D("60"), D("30"))
    with pytest.raises(ValidationFailed) as caught:
        booking_credit_adjust(credit=credit, delta=D("-31"), reason="Refund", actor=staff)
    assert fields(caught) == [("delta", "INSUFFICIENT_BALANCE")]
    credit = booking_credit_adjust(credit=credit, delta=D("-30"), reason="Refund", actor=staff)
    credit.refresh_from_db()
    assert (credit.amount, credit.balance, credit.description) == (D("30"), D("0"), "Ten-pack")
    assert list(credit.adjustments.values_list("delta", "reason", "balance_after", "actor_user")) == [
        (D("10"), "Bonus", D("30"), setup.manager.pk),
        (D("-30"), "Refund", D("0"), setup.manager.pk),
    ]
    with pytest.raises(TypeError):
        booking_credit_update(credit=credit, changes={"amount": D("100")})


@pytest.mark.parametrize(
    ("owner", "expected"),
    [
        ("nobody", [("customerId", "INVALID")]),
        ("both", [("customerId", "INVALID")]),
        ("stranger", [("contactId", "NOT_FOUND")]),
    ],
)
def test_a_credit_is_refused_at_its_fields(setup, owner, expected) -> None:
    other = Setup()
    kwargs = {
        "nobody": {},
        "both": {
            "contact": ContactFactory(organization=setup.org),
            "customer": CustomerFactory(organization=setup.org),
        },
        "stranger": {"contact": ContactFactory(organization=other.org)},
    }[owner]
    with pytest.raises(ValidationFailed) as caught:
        booking_credit_create(organization=setup.org, amount=D("10"), **kwargs)
    assert fields(caught) == expected
    assert not BookingCredit.objects.exists()


def test_customer_rates_are_set_exactly_and_only_from_the_customers_organization(setup) -> None:
    customer = CustomerFactory(organization=setup.org)
    members, evening, kept = (RateFactory(resource=setup.room, name=n) for n in ("Members", "Evening", "Kept"))
    RateCustomerFactory(rate=members, customer=customer)
    RateCustomerFactory(rate=kept, customer=customer)

    customer_rates_set(customer=customer, rate_ids=[kept.pk, evening.pk])
    assert set(RateCustomer.objects.filter(customer=customer).values_list("rate_id", flat=True)) == {
        kept.pk,
        evening.pk,
    }

    foreign = RateFactory(resource=Setup().room)
    with pytest.raises(ValidationFailed) as caught:
        customer_rates_set(customer=customer, rate_ids=[kept.pk, foreign.pk])
    assert fields(caught) == [("rateIds[1]", "NOT_FOUND")]
    assert RateCustomer.objects.filter(customer=customer).count() == 2  # nothing changed
