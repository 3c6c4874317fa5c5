"""bookings.pricing.quote: what a requested event costs. Pure functions over plain terms, so most tables here
need no database; every expected amount is written out (the rule it follows is in the test's name or
comment). The terms are loaded from the models by bookings.pricing.terms, whose models' constraints are
checked on both databases.

This module: discount codes, products, credit and the snapshot."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from bookings.pricing.quote import quote_events
from bookings.pricing.terms import CreditTerms, DiscountTerms, ProductTerms, check_discount
from core.errors import InvalidDiscountCode, InvalidProduct
from resources.models import ProductUnit

from .pricing_helpers import BOOKING, COFFEE, NOW, PROJECTOR, D, at, price, rate, request, room

# --- discount codes ------------------------------------------------------------------------------------


def code(**kwargs) -> DiscountTerms:
    kwargs.setdefault("percentage", None if "amount" in kwargs else D("10"))
    return DiscountTerms(id=uuid.uuid5(uuid.NAMESPACE_OID, "code"), code="SPRING", **kwargs)


@pytest.mark.parametrize(
    ("discount", "hours", "unit_price", "off", "final"),
    [
        (code(percentage=D("10")), 2, "10", "2.00", "18.00"),
        (code(percentage=D("12.5")), 1, "3.30", "0.41", "2.89"),  # 0.4125
        (code(percentage=D("15")), 1, "0.10", "0.02", "0.08"),  # 0.015 half up
        (code(percentage=D("100")), 2, "10", "20.00", "0.00"),
        (code(amount=D("5")), 2, "10", "5.00", "15.00"),
        (code(amount=D("50")), 2, "10", "20.00", "0.00"),  # never below zero
        (code(amount=D("2.555")), 2, "10", "2.56", "17.44"),  # the amount is rounded half up too
    ],
)
def test_discount_percentage_and_amount(discount, hours, unit_price, off, final) -> None:
    quote = price(room(rate("Hourly", unit_price)), at(7, 9), at(7, 9 + hours), discount=discount)
    assert (str(quote.discount.amount), str(quote.price), str(quote.total)) == (off, final, final)
    assert quote.discount.code == "SPRING"


def test_discount_applies_to_products_too() -> None:
    quote = price(
        room(rate("Hourly", "10"), products=[COFFEE]), at(7, 9), at(7, 10), discount=code(), products=((COFFEE.id, 4),)
    )
    assert (quote.subtotal, quote.discount_amount, quote.price) == (D("20.00"), D("2.00"), D("18.00"))


def test_a_fixed_amount_is_per_booking_spent_on_the_earliest_events_first() -> None:
    resource = room(rate("Hourly", "10"))
    later, earlier = request(resource, at(8, 9), at(8, 11)), request(resource, at(7, 9), at(7, 11))
    quotes = quote_events([later, earlier], currency="GBP", discount=code(amount=D("25")), now=NOW)
    assert [str(q.discount.amount) for q in quotes] == ["5.00", "20.00"]  # in the order given
    assert [str(q.total) for q in quotes] == ["15.00", "0.00"]


def test_a_percentage_applies_to_every_event() -> None:
    resource = room(rate("Hourly", "10"))
    quotes = quote_events(
        [request(resource, at(7, 9), at(7, 11)), request(resource, at(8, 9), at(8, 10))],
        currency="GBP",
        discount=code(percentage=D("50")),
        now=NOW,
    )
    assert [str(q.total) for q in quotes] == ["10.00", "5.00"]


def test_a_code_for_some_resources_discounts_only_their_lines() -> None:
    hall = room(rate("Hall", "30", BOOKING), name="Hall")
    own = room(rate("Room", "10"))
    restricted = code(percentage=D("50"), resource_ids=frozenset({hall.id}))
    quote = price((own, hall), at(7, 9), at(7, 11), discount=restricted)
    assert (quote.subtotal, quote.discount_amount, quote.price) == (D("50.00"), D("15.00"), D("35.00"))
    with pytest.raises(InvalidDiscountCode):
        price(own, at(7, 9), at(7, 11), discount=restricted)


@pytest.mark.parametrize(
    ("discount", "message"),
    [
        (None, "There is no such discount code."),
        (code(active=False), "This discount code is no longer active."),
        (code(valid_from=NOW + timedelta(seconds=1)), "This discount code is not valid yet."),
        (code(valid_until=NOW), "This discount code has expired."),
        (code(max_uses_total=3, uses_total=3), "This discount code has been used up."),
        (
            code(max_uses_per_contact=1, uses_by_contact=1),
            "You have already used this discount code as often as it allows.",
        ),
        (code(resource_ids=frozenset({uuid.uuid4()})), "This discount code is not valid for the chosen resources."),
    ],
)
def test_invalid_codes(discount, message) -> None:
    with pytest.raises(InvalidDiscountCode) as caught:
        check_discount(discount, now=NOW, resource_ids={room().id})
    assert caught.value.status == 400
    assert caught.value.as_dict() == {
        "status": 400,
        "error": message,
        "errors": [{"field": "discountCode", "code": "INVALID_DISCOUNT_CODE", "message": message}],
    }
    if discount is not None:  # the quote refuses it too
        with pytest.raises(InvalidDiscountCode):
            price(room(rate("Hourly", "10")), at(7, 9), at(7, 10), discount=discount)


@pytest.mark.parametrize(
    "discount",
    [
        code(valid_from=NOW, valid_until=NOW + timedelta(seconds=1)),
        code(max_uses_total=3, uses_total=2),
        code(max_uses_per_contact=2, uses_by_contact=1, uses_total=50),
    ],
)
def test_codes_at_the_edge_of_their_limits_are_valid(discount) -> None:
    assert price(room(rate("Hourly", "10")), at(7, 9), at(7, 10), discount=discount).discount_amount == D("1.00")


# --- products ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "quantity", "minutes", "amount"),
    [
        (COFFEE, 1, 90, "2.50"),
        (COFFEE, 4, 90, "10.00"),  # per use: unit price × quantity
        (PROJECTOR, 1, 90, "9.00"),  # per minute: 0.10 × 90
        (PROJECTOR, 2, 90, "18.00"),  # × quantity
        (
            ProductTerms(id=uuid.uuid4(), name="Heating", unit=ProductUnit.PER_MINUTE, unit_price=D("0.0125")),
            1,
            90,
            "1.13",
        ),  # 1.125 half up
    ],
)
def test_products(product, quantity, minutes, amount) -> None:
    quote = price(
        room(rate("Hourly", "10"), products=[product]),
        at(7, 9),
        at(7, 9) + timedelta(minutes=minutes),
        products=((product.id, quantity),),
    )
    (line,) = quote.products
    assert (str(line.amount), line.quantity) == (amount, quantity)
    assert quote.subtotal == D("15.00") + D(amount)
    assert quote.total == quote.subtotal


def test_products_without_rates_are_still_priced() -> None:
    quote = price(room(products=[COFFEE]), at(7, 9), at(7, 10), products=((COFFEE.id, 2),))
    assert (quote.amount, quote.subtotal) == (D("0"), D("5.00"))


@pytest.mark.parametrize("case", ["another resource's", "inactive", "zero", "negative", "not a number"])
def test_invalid_products(case) -> None:
    retired = ProductTerms(id=uuid.uuid4(), name="Retired", unit=ProductUnit.PER_USE, unit_price=D("1"), active=False)
    product_id, quantity = {
        "another resource's": (PROJECTOR.id, 1),
        "inactive": (retired.id, 1),
        "zero": (COFFEE.id, 0),
        "negative": (COFFEE.id, -1),
        "not a number": (COFFEE.id, "2"),
    }[case]
    with pytest.raises(InvalidProduct) as caught:
        price(
            room(rate("Hourly", "10"), products=[COFFEE, retired]),
            at(7, 9),
            at(7, 10),
            products=((product_id, quantity),),
        )
    assert caught.value.as_dict()["errors"][0]["code"] == "INVALID_PRODUCT"


# --- credit --------------------------------------------------------------------------------------------


def credit(name: str, balance: str, **kwargs) -> CreditTerms:
    return CreditTerms(id=uuid.uuid5(uuid.NAMESPACE_OID, name), balance=D(balance), **kwargs)


def used(quote) -> list[tuple[uuid.UUID, str]]:
    return [(line.credit_id, str(line.amount)) for line in quote.credits]


HOURLY_20 = room(rate("Hourly", "10"))  # two hours: 20.00


def test_credit_fully_covering_the_price() -> None:
    big = credit("big", "50")
    quote = price(HOURLY_20, at(7, 9), at(7, 11), credits=[big])
    assert used(quote) == [(big.id, "20.00")]
    assert (quote.price, quote.credit_used, quote.total) == (D("20.00"), D("20.00"), D("0.00"))


def test_credit_partly_covering_the_price() -> None:
    small = credit("small", "5")
    quote = price(HOURLY_20, at(7, 9), at(7, 11), credits=[small])
    assert used(quote) == [(small.id, "5.00")]
    assert (quote.credit_used, quote.total) == (D("5.00"), D("15.00"))


def test_credits_expiring_first_are_spent_first() -> None:
    later = credit("later", "100", valid_until=at(31, 0))
    sooner = credit("sooner", "5", valid_until=at(20, 0))
    forever = credit("forever", "100")
    quote = price(HOURLY_20, at(7, 9), at(7, 11), credits=[forever, later, sooner])
    assert used(quote) == [(sooner.id, "5.00"), (later.id, "15.00")]


@pytest.mark.parametrize(
    "unusable",
    [
        credit("expired", "50", valid_until=at(7, 9)),  # until is exclusive
        credit("not yet", "50", valid_from=at(7, 9, 1)),
        credit("for the hall", "50", resource_ids=frozenset({uuid.uuid4()})),
        credit("empty", "0"),
        credit("less than a penny", "0.009"),
    ],
)
def test_credit_not_valid_for_the_event_is_ignored(unusable) -> None:
    quote = price(HOURLY_20, at(7, 9), at(7, 11), credits=[unusable])
    assert (quote.credits, quote.total) == ((), D("20.00"))


def test_credit_for_the_events_resource_and_period_is_used() -> None:
    fitting = credit("fits", "50", valid_from=at(7, 9), valid_until=at(7, 9, 1), resource_ids=frozenset({HOURLY_20.id}))
    assert used(price(HOURLY_20, at(7, 9), at(7, 11), credits=[fitting])) == [(fitting.id, "20.00")]


def test_credit_is_applied_after_the_discount() -> None:
    quote = price(HOURLY_20, at(7, 9), at(7, 11), credits=[credit("big", "50")], discount=code(percentage=D("10")))
    assert (quote.price, quote.credit_used, quote.total) == (D("18.00"), D("18.00"), D("0.00"))


def test_a_balance_finer_than_the_currency_is_rounded_down() -> None:
    quote = price(HOURLY_20, at(7, 9), at(7, 11), credits=[credit("odd", "10.0059")])
    assert (quote.credit_used, quote.total) == (D("10.00"), D("10.00"))


def test_do_not_use_credit() -> None:
    quote = price(HOURLY_20, at(7, 9), at(7, 11), credits=[credit("big", "50")], use_credit=False)
    assert (quote.credits, quote.total) == ((), D("20.00"))


def test_one_credit_is_shared_by_the_events_of_a_booking_earliest_first() -> None:
    shared = credit("shared", "30")
    later, earlier = request(HOURLY_20, at(8, 9), at(8, 11)), request(HOURLY_20, at(7, 9), at(7, 11))
    quotes = quote_events([later, earlier], currency="GBP", credits=[shared])
    assert [used(q) for q in quotes] == [[(shared.id, "10.00")], [(shared.id, "20.00")]]
    assert [str(q.total) for q in quotes] == ["10.00", "0.00"]


def test_a_free_event_uses_no_credit() -> None:
    assert price(room(), at(7, 9), at(7, 11), credits=[credit("big", "50")]).credits == ()


# --- the snapshot --------------------------------------------------------------------------------------


def test_snapshot_is_json_with_decimals_as_strings() -> None:
    hourly = rate("Hourly", "10")
    resource = room(hourly, products=[COFFEE])
    big = credit("big", "5")
    quote = price(resource, at(7, 9), at(7, 10, 30), products=((COFFEE.id, 2),), discount=code(), credits=[big])
    snapshot = quote.to_snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot == {
        "currency": "GBP",
        "rateId": str(hourly.id),
        "rateName": "Hourly",
        "unit": 0,
        "quantity": "1.5",
        "rates": [
            {
                "resourceId": str(resource.id),
                "resourceName": "Room",
                "rateId": str(hourly.id),
                "rateName": "Hourly",
                "unit": 0,
                "unitPrice": "10",
                "quantity": "1.5",
                "minutes": 90,
                "amount": "15.00",
            }
        ],
        "computedAmount": "15.00",
        "overridePrice": None,
        "amount": "15.00",
        "products": [
            {
                "productId": str(COFFEE.id),
                "name": "Coffee",
                "resourceId": str(resource.id),
                "unit": 0,
                "unitPrice": "2.50",
                "quantity": 2,
                "minutes": None,
                "amount": "5.00",
            }
        ],
        "subtotal": "20.00",
        "discount": {
            "codeId": str(code().id),
            "code": "SPRING",
            "percentage": "10",
            "fixedAmount": None,
            "amount": "2.00",
        },
        "price": "18.00",
        "credits": [{"creditId": str(big.id), "amount": "5.00"}],
        "creditUsed": "5.00",
        "total": "13.00",
    }
