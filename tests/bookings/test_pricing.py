"""bookings.pricing.quote: what a requested event costs. Pure functions over plain terms, so most tables here
need no database; every expected amount is written out (the rule it follows is in the test's name or
comment). The last part loads the terms from the models (bookings.pricing.terms) and checks the models'
constraints on both databases."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from bookings.models import (
    BookingCredit,
    ChargeStatus,
    DiscountCode,
    DiscountCodeUse,
    charge_transition_allowed,
)
from bookings.pricing.quote import check_discount, minor_unit, quote_event, quote_events, round_money
from bookings.pricing.terms import (
    CreditTerms,
    DiscountTerms,
    EventRequest,
    ProductTerms,
    RateTerms,
    ResourceTerms,
    credit_terms,
    discount_terms,
    pricing_resources,
)
from core.errors import InvalidDiscountCode, InvalidProduct, NoApplicableRate, RateNotApplicable
from resources.models import Product, ProductUnit, Rate, RateUnit, weekday_mask

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

LONDON = ZoneInfo("Europe/London")
HOUR, DAY, BOOKING = RateUnit.HOUR, RateUnit.DAY, RateUnit.BOOKING
D = Decimal
NOW = datetime(2029, 12, 1, 12, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    """2030-01-07 is a Monday; January is GMT, so local time is UTC."""
    return datetime(2030, month, day, hour, minute, tzinfo=LONDON)


def rate(name: str, price: str, unit: int = HOUR, **kwargs) -> RateTerms:
    return RateTerms(id=uuid.uuid5(uuid.NAMESPACE_OID, name), name=name, unit=unit, price=D(price), **kwargs)


def room(*rates: RateTerms, products=(), name: str = "Room", tz=LONDON) -> ResourceTerms:
    return ResourceTerms(id=uuid.uuid5(uuid.NAMESPACE_OID, f"resource {name}"), name=name, tz=tz, rates=rates,
                         products=tuple(products))


def request(resource: ResourceTerms | tuple, start: datetime, end: datetime, **kwargs) -> EventRequest:
    resources = resource if isinstance(resource, tuple) else (resource,)
    return EventRequest(start=start, end=end, resources=resources, **kwargs)


def price(resource, start, end, currency="GBP", **kwargs):
    return quote_event(request(resource, start, end, **{k: kwargs.pop(k) for k in
                                                           ("rate_id", "products", "override_price") if k in kwargs}),
                       currency=currency, now=NOW, **kwargs)


def lines(quote) -> list[tuple[str, str, str]]:
    return [(line.rate_name, str(line.quantity), str(line.amount)) for line in quote.rates]


# --- units ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("unit", "unit_price", "start", "end", "quantity", "amount"), [
    # HOUR is pro rata by the minute.
    (HOUR, "10.00", at(7, 9), at(7, 10), "1", "10.00"),
    (HOUR, "10.00", at(7, 9), at(7, 10, 30), "1.5", "15.00"),
    (HOUR, "10.00", at(7, 9), at(7, 9, 20), "0.3333", "3.33"),
    (HOUR, "10.00", at(7, 9), at(7, 9, 40), "0.6667", "6.67"),
    (HOUR, "12.50", at(7, 9), at(8, 9), "24", "300.00"),
    # DAY counts the local calendar days touched; an end at midnight does not touch the next day.
    (DAY, "80.00", at(7, 9), at(7, 17), "1", "80.00"),
    (DAY, "80.00", at(7, 18), at(8, 10), "2", "160.00"),
    (DAY, "80.00", at(7, 9), at(8, 0), "1", "80.00"),
    (DAY, "80.00", at(7, 9), at(9, 17), "3", "240.00"),
    # BOOKING is the price once, whatever the length.
    (BOOKING, "25.00", at(7, 9), at(7, 9, 30), "1", "25.00"),
    (BOOKING, "25.00", at(7, 9), at(9, 17), "1", "25.00"),
])
def test_each_unit(unit, unit_price, start, end, quantity, amount) -> None:
    quote = price(room(rate("Only", unit_price, unit)), start, end)
    assert (str(quote.quantity), str(quote.amount), quote.unit) == (quantity, amount, unit)
    assert quote.total == D(amount)


def test_hours_are_real_time_across_a_dst_change() -> None:
    # 2030-03-31, clocks go forward at 01:00: 00:00–04:00 local is three hours, one local day.
    start, end = datetime(2030, 3, 31, 0, tzinfo=LONDON), datetime(2030, 3, 31, 4, tzinfo=LONDON)
    assert lines(price(room(rate("Hourly", "10", HOUR)), start, end)) == [("Hourly", "3", "30.00")]
    assert lines(price(room(rate("Daily", "80", DAY)), start, end)) == [("Daily", "1", "80.00")]


def test_a_resource_without_rates_is_free() -> None:
    quote = price(room(), at(7, 9), at(7, 17))
    assert (quote.rates, quote.amount, quote.total, quote.rate_id) == ((), D(0), D(0), None)
    assert (quote.to_snapshot()["amount"], quote.to_snapshot()["total"]) == ("0.00", "0.00")
    assert price(room(), at(7, 9), at(7, 17), currency="JPY").to_snapshot()["total"] == "0"


def test_inactive_rates_are_ignored() -> None:
    quote = price(room(rate("Old", "1", active=False), rate("Current", "10")), at(7, 9), at(7, 10))
    assert lines(quote) == [("Current", "1", "10.00")]


# --- windows and weekdays ------------------------------------------------------------------------------

DAYTIME = rate("Daytime", "10", start_time=time(8), end_time=time(18))
EVENING = rate("Evening", "15", start_time=time(18), end_time=time(23))
WEEKDAYS = rate("Weekdays", "10", weekdays=weekday_mask(range(5)))
WEEKEND = rate("Weekend", "5", weekdays=weekday_mask([5, 6]))


@pytest.mark.parametrize(("rates", "start", "end", "expected", "total"), [
    # Inside one window.
    ((DAYTIME, EVENING), at(7, 9), at(7, 11), [("Daytime", "2", "20.00")], "20.00"),
    ((DAYTIME, EVENING), at(7, 19), at(7, 21), [("Evening", "2", "30.00")], "30.00"),
    # Spanning two windows: each part by its rate.
    ((DAYTIME, EVENING), at(7, 17), at(7, 19), [("Daytime", "1", "10.00"), ("Evening", "1", "15.00")], "25.00"),
    ((DAYTIME, EVENING), at(7, 16, 30), at(7, 22), [("Daytime", "1.5", "15.00"), ("Evening", "4", "60.00")],
     "75.00"),
    # An anytime rate dearer than the parts does not win (20/h whole: 40.00) ...
    ((DAYTIME, EVENING, rate("Anytime", "20")), at(7, 17), at(7, 19),
     [("Daytime", "1", "10.00"), ("Evening", "1", "15.00")], "25.00"),
    # ... but part by part it is the cheapest of each part's rates.
    ((DAYTIME, EVENING, rate("Anytime", "12")), at(7, 17), at(7, 19),
     [("Daytime", "1", "10.00"), ("Anytime", "1", "12.00")], "22.00"),
    # One whole-event rate cheaper than any split: a flat 20 for the booking.
    ((DAYTIME, EVENING, rate("Flat", "20", BOOKING)), at(7, 17), at(7, 19), [("Flat", "1", "20.00")], "20.00"),
    # Window ending at midnight (00:00 = the day's end).
    ((rate("Late", "8", start_time=time(20), end_time=time(0)),), at(7, 22), at(8, 0), [("Late", "2", "16.00")],
     "16.00"),
    # Weekdays: Monday, Saturday, and Friday night into Saturday.
    ((WEEKDAYS, WEEKEND), at(7, 10), at(7, 12), [("Weekdays", "2", "20.00")], "20.00"),
    ((WEEKDAYS, WEEKEND), at(12, 10), at(12, 12), [("Weekend", "2", "10.00")], "10.00"),
    ((WEEKDAYS, WEEKEND), at(11, 23), at(12, 1), [("Weekdays", "1", "10.00"), ("Weekend", "1", "5.00")], "15.00"),
    # A day pass in a window against an hourly rate: the pass for a long day, hours for a short one.
    ((rate("Day pass", "50", DAY, start_time=time(8), end_time=time(18)), rate("Hourly", "10")), at(7, 9), at(7, 17),
     [("Day pass", "1", "50.00")], "50.00"),
    ((rate("Day pass", "50", DAY, start_time=time(8), end_time=time(18)), rate("Hourly", "10")), at(7, 9), at(7, 11),
     [("Hourly", "2", "20.00")], "20.00"),
    # Parts priced by one DAY rate on the same day count that day once.
    ((rate("Day", "30", DAY, start_time=time(8), end_time=time(12)),
      rate("Day 2", "30", DAY, start_time=time(12), end_time=time(18)),
      rate("Day all", "45", DAY)), at(7, 9), at(7, 17), [("Day all", "1", "45.00")], "45.00"),
])
def test_windows_and_weekdays(rates, start, end, expected, total) -> None:
    quote = price(room(*rates), start, end)
    assert lines(quote) == expected
    assert quote.total == D(total)


def test_windows_are_in_the_venues_time_zone() -> None:
    # 22:00–00:00 UTC is 17:00–19:00 in New York: one hour of each rate there, two evening hours in London.
    start, end = datetime(2030, 1, 7, 22, tzinfo=UTC), datetime(2030, 1, 8, 0, tzinfo=UTC)
    new_york = room(DAYTIME, EVENING, tz=ZoneInfo("America/New_York"))
    assert lines(price(new_york, start, end)) == [("Daytime", "1", "10.00"), ("Evening", "1", "15.00")]
    assert lines(price(room(DAYTIME, EVENING, rate("Late", "8", start_time=time(23), end_time=time(0))), start, end)) \
        == [("Evening", "1", "15.00"), ("Late", "1", "8.00")]


def test_a_part_without_any_rate_is_an_error_naming_it() -> None:
    with pytest.raises(NoApplicableRate) as caught:
        price(room(DAYTIME), at(7, 17), at(7, 19))
    assert caught.value.code == "NO_APPLICABLE_RATE"
    assert "18:00–19:00" in caught.value.message
    assert caught.value.as_dict()["errors"][0]["code"] == "NO_APPLICABLE_RATE"


def test_an_overnight_event_with_daytime_rates_only_is_an_error() -> None:
    with pytest.raises(NoApplicableRate):
        price(room(DAYTIME, EVENING), at(7, 22), at(8, 9))


# --- min/max length, cheapest rate, named rate, customers -----------------------------------------------

HALF_DAY = rate("Half day", "35", BOOKING, min_minutes=180, max_minutes=240)


@pytest.mark.parametrize(("hours", "expected"), [
    (2, [("Hourly", "2", "20.00")]),  # too short for the half day
    (3, [("Hourly", "3", "30.00")]),  # half day applies, hourly cheaper
    (4, [("Half day", "1", "35.00")]),  # half day cheaper than 40.00
    (5, [("Hourly", "5", "50.00")]),  # too long for the half day
])
def test_min_and_max_length_decide_which_rates_apply(hours, expected) -> None:
    assert lines(price(room(rate("Hourly", "10"), HALF_DAY), at(7, 9), at(7, 9 + hours))) == expected


def test_min_and_max_length_may_leave_no_rate() -> None:
    with pytest.raises(NoApplicableRate):
        price(room(rate("Short", "10", max_minutes=60)), at(7, 9), at(7, 11))


@pytest.mark.parametrize(("hours", "expected"), [
    (1, [("B", "1", "10.00")]),
    (2, [("B", "2", "20.00")]),
    (4, [("Flat", "1", "30.00")]),
])
def test_the_cheapest_applicable_rate_wins(hours, expected) -> None:
    rates = (rate("A", "12"), rate("B", "10"), rate("Flat", "30", BOOKING))
    assert lines(price(room(*rates), at(7, 9), at(7, 9 + hours))) == expected


def test_a_tie_is_decided_by_price_then_name_and_is_stable() -> None:
    a, b = rate("Beta", "10", BOOKING), rate("Alpha", "10", HOUR)  # both 10.00 for one hour
    assert lines(price(room(a, b), at(7, 9), at(7, 10))) == [("Alpha", "1", "10.00")]
    assert lines(price(room(b, a), at(7, 9), at(7, 10))) == [("Alpha", "1", "10.00")]


def test_a_named_rate_is_used_even_if_dearer() -> None:
    a, b = rate("A", "12"), rate("B", "10")
    quote = price(room(a, b), at(7, 9), at(7, 10), rate_id=a.id)
    assert (quote.rate_id, quote.rate_name, str(quote.amount)) == (a.id, "A", "12.00")


@pytest.mark.parametrize("case", ["outside its window", "too long", "inactive", "another resource's", "unknown",
                                  "reserved for a customer"])
def test_a_named_rate_that_does_not_apply_is_an_error(case) -> None:
    named = {
        "outside its window": DAYTIME,
        "too long": rate("Short", "5", max_minutes=30),
        "inactive": rate("Retired", "5", active=False),
        "another resource's": rate("Elsewhere", "5"),
        "unknown": rate("Ghost", "5"),
        "reserved for a customer": rate("Members", "5", customer_ids=frozenset({uuid.uuid4()})),
    }[case]
    rates = [rate("Hourly", "10")]
    if case not in ("another resource's", "unknown"):
        rates.append(named)
    hall = room(named, name="Hall") if case == "another resource's" else None
    with pytest.raises(RateNotApplicable) as caught:
        price(room(*rates), at(7, 17), at(7, 19), rate_id=named.id)
    assert caught.value.as_dict()["errors"][0] == {
        "field": "rateId", "code": "RATE_NOT_APPLICABLE", "message": caught.value.message}
    if hall is not None:  # named for the event that has that resource, it applies there
        quote = price((room(*rates), hall), at(7, 17), at(7, 19), rate_id=named.id)
        assert lines(quote) == [("Hourly", "2", "20.00"), ("Elsewhere", "2", "10.00")]


def test_a_rate_reserved_for_customers_applies_only_to_them() -> None:
    member, stranger = uuid.uuid4(), uuid.uuid4()
    resource = room(rate("Public", "10"), rate("Members", "6", customer_ids=frozenset({member})))
    assert lines(price(resource, at(7, 9), at(7, 11), customer_id=member)) == [("Members", "2", "12.00")]
    assert lines(price(resource, at(7, 9), at(7, 11), customer_id=stranger)) == [("Public", "2", "20.00")]
    assert lines(price(resource, at(7, 9), at(7, 11))) == [("Public", "2", "20.00")]


def test_each_resource_of_an_event_is_priced_by_its_own_rates() -> None:
    quote = price((room(rate("Room", "10")), room(rate("Hall", "30", BOOKING), name="Hall")), at(7, 9), at(7, 11))
    assert lines(quote) == [("Room", "2", "20.00"), ("Hall", "1", "30.00")]
    assert (quote.amount, quote.rate_id, quote.quantity) == (D("50.00"), None, None)  # several lines: no single rate


# --- rounding ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("currency", "unit_price", "minutes", "amount"), [
    ("GBP", "0.05", 30, "0.03"),  # 0.025: half up (banker's rounding would give 0.02)
    ("GBP", "10", 20, "3.33"),  # 3.333…
    ("GBP", "10", 40, "6.67"),  # 6.666…
    ("EUR", "0.01", 90, "0.02"),  # 0.015
    ("JPY", "5", 30, "3"),  # 2.5: no minor unit
    ("JPY", "1000", 20, "333"),  # 333.33…
    ("KRW", "1001", 30, "501"),  # 500.5
    ("KWD", "1.001", 30, "0.501"),  # 0.5005: three decimals
    ("BHD", "0.003", 30, "0.002"),  # 0.0015
])
def test_rounding_half_up_to_the_currencys_minor_unit(currency, unit_price, minutes, amount) -> None:
    quote = price(room(rate("R", unit_price)), at(7, 9), at(7, 9) + timedelta(minutes=minutes), currency=currency)
    assert str(quote.amount) == amount
    assert str(quote.total) == amount


def test_minor_units() -> None:
    assert [str(minor_unit(c)) for c in ("EUR", "usd", "JPY", "ISK", "KWD", "OMR", "XYZ")] == \
        ["0.01", "0.01", "1", "1", "0.001", "0.001", "0.01"]
    assert round_money(D("2.675"), "EUR") == D("2.68")  # a float 2.675 would round to 2.67


# --- override ------------------------------------------------------------------------------------------

COFFEE = ProductTerms(id=uuid.uuid5(uuid.NAMESPACE_OID, "coffee"), name="Coffee", unit=ProductUnit.PER_USE,
                      unit_price=D("2.50"))
PROJECTOR = ProductTerms(id=uuid.uuid5(uuid.NAMESPACE_OID, "projector"), name="Projector",
                         unit=ProductUnit.PER_MINUTE, unit_price=D("0.10"))


def test_override_replaces_the_rates_amount_and_keeps_the_computed_one() -> None:
    quote = price(room(rate("Hourly", "10"), products=[COFFEE]), at(7, 9), at(7, 11), override_price=D("15"),
                  products=((COFFEE.id, 2),))
    assert (quote.computed_amount, quote.override_price, quote.amount) == (D("20.00"), D("15.00"), D("15.00"))
    assert (quote.subtotal, quote.total) == (D("20.00"), D("20.00"))  # 15.00 + 2 coffees at 2.50


def test_override_prices_what_no_rate_covers_and_may_be_zero() -> None:
    quote = price(room(DAYTIME), at(7, 20), at(7, 22), override_price=D("40"))
    assert (quote.rates, quote.computed_amount, quote.amount) == ((), None, D("40.00"))
    assert price(room(rate("Hourly", "10")), at(7, 9), at(7, 11), override_price=D("0")).total == D("0.00")


def test_override_is_rounded_and_a_discount_still_applies() -> None:
    code = DiscountTerms(id=uuid.uuid4(), code="TEN", percentage=D("10"))
    quote = price(room(rate("Hourly", "10")), at(7, 9), at(7, 11), override_price=D("15.005"), discount=code)
    assert (quote.amount, quote.discount_amount, quote.price) == (D("15.01"), D("1.50"), D("13.51"))


def test_override_does_not_excuse_a_named_rate_that_does_not_apply() -> None:
    with pytest.raises(RateNotApplicable):
        price(room(DAYTIME), at(7, 20), at(7, 22), override_price=D("40"), rate_id=uuid.uuid4())


# --- discount codes ------------------------------------------------------------------------------------


def code(**kwargs) -> DiscountTerms:
    kwargs.setdefault("percentage", None if "amount" in kwargs else D("10"))
    return DiscountTerms(id=uuid.uuid5(uuid.NAMESPACE_OID, "code"), code="SPRING", **kwargs)


@pytest.mark.parametrize(("discount", "hours", "unit_price", "off", "final"), [
    (code(percentage=D("10")), 2, "10", "2.00", "18.00"),
    (code(percentage=D("12.5")), 1, "3.30", "0.41", "2.89"),  # 0.4125
    (code(percentage=D("15")), 1, "0.10", "0.02", "0.08"),  # 0.015 half up
    (code(percentage=D("100")), 2, "10", "20.00", "0.00"),
    (code(amount=D("5")), 2, "10", "5.00", "15.00"),
    (code(amount=D("50")), 2, "10", "20.00", "0.00"),  # never below zero
    (code(amount=D("2.555")), 2, "10", "2.56", "17.44"),  # the amount is rounded half up too
])
def test_discount_percentage_and_amount(discount, hours, unit_price, off, final) -> None:
    quote = price(room(rate("Hourly", unit_price)), at(7, 9), at(7, 9 + hours), discount=discount)
    assert (str(quote.discount.amount), str(quote.price), str(quote.total)) == (off, final, final)
    assert quote.discount.code == "SPRING"


def test_discount_applies_to_products_too() -> None:
    quote = price(room(rate("Hourly", "10"), products=[COFFEE]), at(7, 9), at(7, 10), discount=code(),
                  products=((COFFEE.id, 4),))
    assert (quote.subtotal, quote.discount_amount, quote.price) == (D("20.00"), D("2.00"), D("18.00"))


def test_a_fixed_amount_is_per_booking_spent_on_the_earliest_events_first() -> None:
    resource = room(rate("Hourly", "10"))
    later, earlier = request(resource, at(8, 9), at(8, 11)), request(resource, at(7, 9), at(7, 11))
    quotes = quote_events([later, earlier], currency="GBP", discount=code(amount=D("25")), now=NOW)
    assert [str(q.discount.amount) for q in quotes] == ["5.00", "20.00"]  # in the order given
    assert [str(q.total) for q in quotes] == ["15.00", "0.00"]


def test_a_percentage_applies_to_every_event() -> None:
    resource = room(rate("Hourly", "10"))
    quotes = quote_events([request(resource, at(7, 9), at(7, 11)), request(resource, at(8, 9), at(8, 10))],
                          currency="GBP", discount=code(percentage=D("50")), now=NOW)
    assert [str(q.total) for q in quotes] == ["10.00", "5.00"]


def test_a_code_for_some_resources_discounts_only_their_lines() -> None:
    hall = room(rate("Hall", "30", BOOKING), name="Hall")
    own = room(rate("Room", "10"))
    restricted = code(percentage=D("50"), resource_ids=frozenset({hall.id}))
    quote = price((own, hall), at(7, 9), at(7, 11), discount=restricted)
    assert (quote.subtotal, quote.discount_amount, quote.price) == (D("50.00"), D("15.00"), D("35.00"))
    with pytest.raises(InvalidDiscountCode):
        price(own, at(7, 9), at(7, 11), discount=restricted)


@pytest.mark.parametrize(("discount", "message"), [
    (None, "There is no such discount code."),
    (code(active=False), "This discount code is no longer active."),
    (code(valid_from=NOW + timedelta(seconds=1)), "This discount code is not valid yet."),
    (code(valid_until=NOW), "This discount code has expired."),
    (code(max_uses_total=3, uses_total=3), "This discount code has been used up."),
    (code(max_uses_per_contact=1, uses_by_contact=1),
     "You have already used this discount code as often as it allows."),
    (code(resource_ids=frozenset({uuid.uuid4()})), "This discount code is not valid for the chosen resources."),
])
def test_invalid_codes(discount, message) -> None:
    with pytest.raises(InvalidDiscountCode) as caught:
        check_discount(discount, now=NOW, resource_ids={room().id})
    assert caught.value.status == 400
    assert caught.value.as_dict() == {"status": 400, "error": message, "errors": [
        {"field": "discountCode", "code": "INVALID_DISCOUNT_CODE", "message": message}]}
    if discount is not None:  # the quote refuses it too
        with pytest.raises(InvalidDiscountCode):
            price(room(rate("Hourly", "10")), at(7, 9), at(7, 10), discount=discount)


@pytest.mark.parametrize("discount", [
    code(valid_from=NOW, valid_until=NOW + timedelta(seconds=1)),
    code(max_uses_total=3, uses_total=2),
    code(max_uses_per_contact=2, uses_by_contact=1, uses_total=50),
])
def test_codes_at_the_edge_of_their_limits_are_valid(discount) -> None:
    assert price(room(rate("Hourly", "10")), at(7, 9), at(7, 10), discount=discount).discount_amount == D("1.00")


# --- products ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("product", "quantity", "minutes", "amount"), [
    (COFFEE, 1, 90, "2.50"),
    (COFFEE, 4, 90, "10.00"),  # per use: unit price × quantity
    (PROJECTOR, 1, 90, "9.00"),  # per minute: 0.10 × 90
    (PROJECTOR, 2, 90, "18.00"),  # × quantity
    (ProductTerms(id=uuid.uuid4(), name="Heating", unit=ProductUnit.PER_MINUTE, unit_price=D("0.0125")), 1, 90,
     "1.13"),  # 1.125 half up
])
def test_products(product, quantity, minutes, amount) -> None:
    quote = price(room(rate("Hourly", "10"), products=[product]), at(7, 9), at(7, 9) + timedelta(minutes=minutes),
                  products=((product.id, quantity),))
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
        "another resource's": (PROJECTOR.id, 1), "inactive": (retired.id, 1), "zero": (COFFEE.id, 0),
        "negative": (COFFEE.id, -1), "not a number": (COFFEE.id, "2"),
    }[case]
    with pytest.raises(InvalidProduct) as caught:
        price(room(rate("Hourly", "10"), products=[COFFEE, retired]), at(7, 9), at(7, 10),
              products=((product_id, quantity),))
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


@pytest.mark.parametrize("unusable", [
    credit("expired", "50", valid_until=at(7, 9)),  # until is exclusive
    credit("not yet", "50", valid_from=at(7, 9, 1)),
    credit("for the hall", "50", resource_ids=frozenset({uuid.uuid4()})),
    credit("empty", "0"),
    credit("less than a penny", "0.009"),
])
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
        "currency": "GBP", "rateId": str(hourly.id), "rateName": "Hourly", "unit": 0, "quantity": "1.5",
        "rates": [{"resourceId": str(resource.id), "resourceName": "Room", "rateId": str(hourly.id),
                   "rateName": "Hourly", "unit": 0, "unitPrice": "10", "quantity": "1.5", "minutes": 90,
                   "amount": "15.00"}],
        "computedAmount": "15.00", "overridePrice": None, "amount": "15.00",
        "products": [{"productId": str(COFFEE.id), "name": "Coffee", "resourceId": str(resource.id), "unit": 0,
                      "unitPrice": "2.50", "quantity": 2, "minutes": None, "amount": "5.00"}],
        "subtotal": "20.00",
        "discount": {"codeId": str(code().id), "code": "SPRING", "percentage": "10", "fixedAmount": None,
                     "amount": "2.00"},
        "price": "18.00",
        "credits": [{"creditId": str(big.id), "amount": "5.00"}],
        "creditUsed": "5.00", "total": "13.00",
    }


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
    assert {r.name: r.customer_ids for r in room_terms.rates} == {"Hourly": frozenset(),
                                                                  "Members": frozenset({member.pk})}
    assert [p.name for p in room_terms.products] == ["Coffee"]
    assert (terms[setup.hall.pk].rates, room_terms.tz) == ((), setup.venue.tz)

    coffee = room_terms.products[0]
    quote = quote_event(EventRequest(start=at(7, 9), end=at(7, 11), resources=(room_terms,),
                                     products=((coffee.id, 1),)),
                        currency=setup.org.currency, customer_id=member.pk)
    assert (quote.rate_id, str(quote.total)) == (members.pk, "14.50")


def test_discount_terms_find_a_code_in_any_case_and_count_other_bookings_uses(setup) -> None:
    discount = DiscountCodeFactory(organization=setup.org, code="Spring25", percentage=D("25"),
                                   max_uses_per_contact=2, resources=[setup.room])
    contact = ContactFactory(organization=setup.org)
    first, second = BookingFactory(module=setup.module), BookingFactory(module=setup.module)
    DiscountCodeUseFactory(code=discount, booking=first, contact=contact)
    DiscountCodeUseFactory(code=discount, booking=second)

    terms = discount_terms(organization_id=setup.org.pk, code=" spring25 ", contact_id=contact.pk)
    assert (terms.id, terms.code, terms.percentage, terms.resource_ids) == (
        discount.pk, "Spring25", D("25.00"), frozenset({setup.room.pk}))
    assert (terms.uses_total, terms.uses_by_contact) == (2, 1)
    again = discount_terms(organization_id=setup.org.pk, code="SPRING25", contact_id=contact.pk,
                           exclude_booking_id=first.pk)
    assert (again.uses_total, again.uses_by_contact) == (1, 0)
    assert discount_terms(organization_id=setup.org.pk, code="winter") is None
    other_org = CustomerFactory().organization
    assert discount_terms(organization_id=other_org.pk, code="spring25") is None


def test_credit_terms_are_the_contacts_and_the_customers_with_a_balance(setup) -> None:
    customer = CustomerFactory(organization=setup.org)
    contact = ContactFactory(organization=setup.org, customer=customer)
    mine = BookingCreditFactory(organization=setup.org, contact=contact, amount=D("50"), balance=D("20"))
    company = BookingCreditFactory(organization=setup.org, customer=customer, amount=D("99"), balance=D("99"),
                                   resources=[setup.room])
    BookingCreditFactory(organization=setup.org, contact=contact, amount=D("50"), balance=D("0"))
    BookingCreditFactory(organization=setup.org, amount=D("50"), balance=D("50"))  # another contact's
    terms = credit_terms(organization_id=setup.org.pk, contact_id=contact.pk, customer_id=customer.pk)
    assert {(t.id, t.balance, t.resource_ids) for t in terms} == {
        (mine.pk, D("20"), frozenset()), (company.pk, D("99"), frozenset({setup.room.pk}))}
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
    refused(lambda: BookingCredit.objects.create(organization=setup.org, contact=contact,
                                                 customer=CustomerFactory(organization=setup.org),
                                                 amount=D("1"), balance=D("1")))
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
    assert allowed == {(S.NOT_CHARGED, S.CHARGED), (S.NOT_CHARGED, S.INVOICED), (S.NOT_CHARGED, S.REVERTED),
                       (S.CHARGED, S.INVOICED), (S.CHARGED, S.REVERTED)}


def test_a_credit_for_another_resource_does_not_pay_through_the_loaders_either(setup) -> None:
    contact = ContactFactory(organization=setup.org)
    RateFactory(resource=setup.room, name="Hourly", unit=RateUnit.HOUR, price=D("10"))
    BookingCreditFactory(organization=setup.org, contact=contact, amount=D("50"), balance=D("50"),
                         resources=[setup.hall])
    terms = pricing_resources([setup.room.pk])
    credits = credit_terms(organization_id=setup.org.pk, contact_id=contact.pk)
    quote = quote_event(EventRequest(start=at(7, 9), end=at(7, 10), resources=(terms[setup.room.pk],)),
                        currency="GBP", credits=credits)
    assert (quote.credits, quote.total) == ((), D("10.00"))
