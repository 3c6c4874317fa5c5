"""bookings.pricing.quote: what a requested event costs. Pure functions over plain terms, so most tables here
need no database; every expected amount is written out (the rule it follows is in the test's name or
comment). The terms are loaded from the models by bookings.pricing.terms, whose models' constraints are
checked on both databases.

This module: rates: units, windows and weekdays, lengths, the cheapest and the named rate, rounding,
overrides."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bookings.pricing.money import minor_unit, round_money
from bookings.pricing.terms import DiscountTerms
from core.errors import NoApplicableRate, RateNotApplicable
from resources.models import weekday_mask

from .pricing_helpers import BOOKING, COFFEE, DAY, HOUR, LONDON, D, at, price, rate, room


def lines(quote) -> list[tuple[str, str, str]]:
    return [(line.rate_name, str(line.quantity), str(line.amount)) for line in quote.rates]


# --- units ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "unit_price", "start", "end", "quantity", "amount"),
    [
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
    ],
)
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


@pytest.mark.parametrize(
    ("rates", "start", "end", "expected", "total"),
    [
        # Inside one window.
        ((DAYTIME, EVENING), at(7, 9), at(7, 11), [("Daytime", "2", "20.00")], "20.00"),
        ((DAYTIME, EVENING), at(7, 19), at(7, 21), [("Evening", "2", "30.00")], "30.00"),
        # Spanning two windows: each part by its rate.
        ((DAYTIME, EVENING), at(7, 17), at(7, 19), [("Daytime", "1", "10.00"), ("Evening", "1", "15.00")], "25.00"),
        (
            (DAYTIME, EVENING),
            at(7, 16, 30),
            at(7, 22),
            [("Daytime", "1.5", "15.00"), ("Evening", "4", "60.00")],
            "75.00",
        ),
        # An anytime rate dearer than the parts does not win (20/h whole: 40.00) ...
        (
            (DAYTIME, EVENING, rate("Anytime", "20")),
            at(7, 17),
            at(7, 19),
            [("Daytime", "1", "10.00"), ("Evening", "1", "15.00")],
            "25.00",
        ),
        # ... but part by part it is the cheapest of each part's rates.
        (
            (DAYTIME, EVENING, rate("Anytime", "12")),
            at(7, 17),
            at(7, 19),
            [("Daytime", "1", "10.00"), ("Anytime", "1", "12.00")],
            "22.00",
        ),
        # One whole-event rate cheaper than any split: a flat 20 for the booking.
        ((DAYTIME, EVENING, rate("Flat", "20", BOOKING)), at(7, 17), at(7, 19), [("Flat", "1", "20.00")], "20.00"),
        # Window ending at midnight (00:00 = the day's end).
        (
            (rate("Late", "8", start_time=time(20), end_time=time(0)),),
            at(7, 22),
            at(8, 0),
            [("Late", "2", "16.00")],
            "16.00",
        ),
        # Weekdays: Monday, Saturday, and Friday night into Saturday.
        ((WEEKDAYS, WEEKEND), at(7, 10), at(7, 12), [("Weekdays", "2", "20.00")], "20.00"),
        ((WEEKDAYS, WEEKEND), at(12, 10), at(12, 12), [("Weekend", "2", "10.00")], "10.00"),
        ((WEEKDAYS, WEEKEND), at(11, 23), at(12, 1), [("Weekdays", "1", "10.00"), ("Weekend", "1", "5.00")], "15.00"),
        # A day pass in a window against an hourly rate: the pass for a long day, hours for a short one.
        (
            (rate("Day pass", "50", DAY, start_time=time(8), end_time=time(18)), rate("Hourly", "10")),
            at(7, 9),
            at(7, 17),
            [("Day pass", "1", "50.00")],
            "50.00",
        ),
        (
            (rate("Day pass", "50", DAY, start_time=time(8), end_time=time(18)), rate("Hourly", "10")),
            at(7, 9),
            at(7, 11),
            [("Hourly", "2", "20.00")],
            "20.00",
        ),
        # Parts priced by one DAY rate on the same day count that day once.
        (
            (
                rate("Day", "30", DAY, start_time=time(8), end_time=time(12)),
                rate("Day 2", "30", DAY, start_time=time(12), end_time=time(18)),
                rate("Day all", "45", DAY),
            ),
            at(7, 9),
            at(7, 17),
            [("Day all", "1", "45.00")],
            "45.00",
        ),
    ],
)
def test_windows_and_weekdays(rates, start, end, expected, total) -> None:
    quote = price(room(*rates), start, end)
    assert lines(quote) == expected
    assert quote.total == D(total)


def test_windows_are_in_the_venues_time_zone() -> None:
    # 22:00–00:00 UTC is 17:00–19:00 in New York: one hour of each rate there, two evening hours in London.
    start, end = datetime(2030, 1, 7, 22, tzinfo=UTC), datetime(2030, 1, 8, 0, tzinfo=UTC)
    new_york = room(DAYTIME, EVENING, tz=ZoneInfo("America/New_York"))
    assert lines(price(new_york, start, end)) == [("Daytime", "1", "10.00"), ("Evening", "1", "15.00")]
    assert lines(
        price(room(DAYTIME, EVENING, rate("Late", "8", start_time=time(23), end_time=time(0))), start, end)
    ) == [("Evening", "1", "15.00"), ("Late", "1", "8.00")]


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


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (2, [("Hourly", "2", "20.00")]),  # too short for the half day
        (3, [("Hourly", "3", "30.00")]),  # half day applies, hourly cheaper
        (4, [("Half day", "1", "35.00")]),  # half day cheaper than 40.00
        (5, [("Hourly", "5", "50.00")]),  # too long for the half day
    ],
)
def test_min_and_max_length_decide_which_rates_apply(hours, expected) -> None:
    assert lines(price(room(rate("Hourly", "10"), HALF_DAY), at(7, 9), at(7, 9 + hours))) == expected


def test_min_and_max_length_may_leave_no_rate() -> None:
    with pytest.raises(NoApplicableRate):
        price(room(rate("Short", "10", max_minutes=60)), at(7, 9), at(7, 11))


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (1, [("B", "1", "10.00")]),
        (2, [("B", "2", "20.00")]),
        (4, [("Flat", "1", "30.00")]),
    ],
)
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


@pytest.mark.parametrize(
    "case", ["outside its window", "too long", "inactive", "another resource's", "unknown", "reserved for a customer"]
)
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
        "field": "rateId",
        "code": "RATE_NOT_APPLICABLE",
        "message": caught.value.message,
    }
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


@pytest.mark.parametrize(
    ("currency", "unit_price", "minutes", "amount"),
    [
        ("GBP", "0.05", 30, "0.03"),  # 0.025: half up (banker's rounding would give 0.02)
        ("GBP", "10", 20, "3.33"),  # 3.333…
        ("GBP", "10", 40, "6.67"),  # 6.666…
        ("EUR", "0.01", 90, "0.02"),  # 0.015
        ("JPY", "5", 30, "3"),  # 2.5: no minor unit
        ("JPY", "1000", 20, "333"),  # 333.33…
        ("KRW", "1001", 30, "501"),  # 500.5
        ("KWD", "1.001", 30, "0.501"),  # 0.5005: three decimals
        ("BHD", "0.003", 30, "0.002"),  # 0.0015
    ],
)
def test_rounding_half_up_to_the_currencys_minor_unit(currency, unit_price, minutes, amount) -> None:
    quote = price(room(rate("R", unit_price)), at(7, 9), at(7, 9) + timedelta(minutes=minutes), currency=currency)
    assert str(quote.amount) == amount
    assert str(quote.total) == amount


def test_minor_units() -> None:
    assert [str(minor_unit(c)) for c in ("EUR", "usd", "JPY", "ISK", "KWD", "OMR", "XYZ")] == [
        "0.01",
        "0.01",
        "1",
        "1",
        "0.001",
        "0.001",
        "0.01",
    ]
    assert round_money(D("2.675"), "EUR") == D("2.68")  # a float 2.675 would round to 2.67


# --- override ------------------------------------------------------------------------------------------


def test_override_replaces_the_rates_amount_and_keeps_the_computed_one() -> None:
    quote = price(
        room(rate("Hourly", "10"), products=[COFFEE]),
        at(7, 9),
        at(7, 11),
        override_price=D("15"),
        products=((COFFEE.id, 2),),
    )
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
