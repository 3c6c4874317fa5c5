"""Prices in the booking admin (docs/architecture.md#prices): the booking page shows each requested time's estimate,
then the fixed price, with a total and what the request said about paying; the Approve page takes an override price and
a rate per time and the discount code and credit choices, and shows the service's pricing errors at their inputs. The
room costs 20.00 GBP an hour, so 90 minutes are 30.00 and an hour 20.00."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from bookings.lifecycle.decide import booking_approve
from bookings.models import BookingLog, BookingStatus, Charge
from bookings.validation.billing import BookingBilling
from events.models import Event, EventStatus
from resources.models import RateUnit, Role

from ..conftest import future
from ..factories import BookingCreditFactory, DiscountCodeFactory, RateFactory
from .test_bookings_admin import approve_post, local_input, url

D = Decimal
S = BookingStatus


@pytest.fixture
def rate(setup):
    return RateFactory(resource=setup.room, name="Standard", unit=RateUnit.HOUR, price=D("20.00"))


def span(setup, days=7, hour=10, minutes=90, resources=None, **extra):
    start = future(days, hour)
    return setup.event(start, start + timedelta(minutes=minutes), resources=resources, **extra)


def priced_post(booking, **overrides) -> dict:
    """The approve form as the page fills it in, with the pricing inputs prefilled as the page does."""
    data = approve_post(booking)
    data["people-contact"] = str(booking.contact_id or "")  # prefilled too: an empty one unlinks the contact
    data["people-customer"] = str(booking.customer_id or "")
    for i, be in enumerate(booking.requested_times.order_by("order", "start")):
        data[f"events-{i}-rate"] = str(be.rate_id or "")
        data[f"events-{i}-override_price"] = "" if be.override_price is None else str(be.override_price)
    data["billing-discount_code"] = booking.discount_code.code if booking.discount_code_id else ""
    if booking.do_not_use_booking_credit:
        data["billing-do_not_use_booking_credit"] = "on"
    data.update(overrides)
    return data


def prices_shown(html: str) -> list[str]:
    """The price cells of the requested-times table, as text ("GBP 27.00 estimate")."""
    return [
        " ".join(re.sub(r"<[^>]+>", " ", cell).split())
        for cell in re.findall(
            r'(<span class="allot-price" data-testid="price">.*?</span> '
            r'<span class="allot-muted">\w+</span>)',
            html,
        )
    ]


def requested_times_table(html: str) -> str:
    return html.split('<table class="allot-events">')[1].split("</table>")[0]


# --- the booking page ------------------------------------------------------------------------------


def test_the_booking_page_shows_the_estimate_then_the_fixed_price_with_a_total_and_the_choices(
    setup, rate, manager_client
):
    DiscountCodeFactory(organization=setup.org, code="SPRING", percentage=D("10"))
    booking = setup.submit(
        span(setup),
        span(setup, days=8, minutes=60),
        span(setup, days=9, resources=[setup.desks]),
        billing_choices=BookingBilling(discount_code="spring", purchase_order="PO-7"),
    ).booking

    html = manager_client.get(url("booking_change", booking.pk)).content.decode()

    table = requested_times_table(html)
    # 30.00 and 20.00 less 10 %; the desks are free: no price in their row.
    assert prices_shown(table) == ["GBP 27.00 estimate", "GBP 18.00 estimate", "GBP 45.00 estimate"]
    assert "<th>Price (GBP)</th>" in table
    assert "discount SPRING 3.00 off 30.00" in table and "discount 5.00 off 50.00" in table  # a row; the total
    desks_row = [row for row in table.split("<tfoot>")[0].split("<tr>") if "Desks" in row]
    assert len(desks_row) == 1 and "allot-price" not in desks_row[0]
    paying = html.split('data-testid="paying"')[1].split("</table>")[0]
    assert "SPRING" in paying and "PO-7" in paying and "used when available" in paying

    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    html = manager_client.get(url("booking_change", booking.pk)).content.decode()

    assert prices_shown(requested_times_table(html)) == ["GBP 27.00 fixed", "GBP 18.00 fixed", "GBP 45.00 fixed"]


def test_a_free_booking_has_no_price_column(setup, manager_client):
    booking = setup.submit(span(setup)).booking
    html = manager_client.get(url("booking_change", booking.pk)).content.decode()
    assert "Price (" not in html and "allot-price" not in html
    assert 'data-testid="paying"' not in html


def test_credit_is_shown_with_what_is_left_to_charge(setup, rate, manager_client):
    booking = setup.submit(span(setup)).booking
    BookingCreditFactory(organization=setup.org, contact=booking.contact, amount=D("12.50"), balance=D("12.50"))
    booking.requested_times.update(price=None)
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)

    table = requested_times_table(manager_client.get(url("booking_change", booking.pk)).content.decode())

    assert prices_shown(table) == ["GBP 30.00 fixed", "GBP 30.00 fixed"]
    assert table.count("credit 12.50, to charge 17.50") == 2  # the row and the total


def test_the_booking_page_makes_no_query_per_priced_time(setup, rate, manager_client, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(booking) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert manager_client.get(url("booking_change", booking.pk)).status_code == 200
        return len(ctx.captured_queries)

    one = setup.submit(span(setup)).booking
    few = count(one)
    many = setup.submit(*[span(setup, days=10 + i) for i in range(6)], email="bob@example.com").booking
    assert (
        len(prices_shown(requested_times_table(manager_client.get(url("booking_change", many.pk)).content.decode())))
        == 7
    )
    with django_assert_num_queries(few):
        manager_client.get(url("booking_change", many.pk))


# --- the approve page ------------------------------------------------------------------------------


def test_the_approve_page_shows_the_estimate_and_prefills_the_choices(setup, rate, manager_client):
    DiscountCodeFactory(organization=setup.org, code="SPRING", percentage=D("10"))
    booking = setup.submit(
        span(setup), billing_choices=BookingBilling(discount_code="spring", do_not_use_booking_credit=True)
    ).booking

    response = manager_client.get(url("booking_approve", booking.pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Override price (GBP)" in html
    estimate = html.split('data-testid="estimate-0"')[1].split("</div></div>")[0]
    assert "GBP 27.00" in estimate and "estimate" in estimate
    billing = response.context["billing"]
    assert billing["discount_code"].value() == "SPRING" and billing["do_not_use_booking_credit"].value() is True
    assert 'name="billing-discount_code" value="SPRING"' in html


def test_approving_with_an_override_price_fixes_that_amount_and_logs_it(setup, rate, manager_client):
    booking = setup.submit(span(setup)).booking

    response = manager_client.post(
        url("booking_approve", booking.pk), priced_post(booking, **{"events-0-override_price": "45.5"})
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    booking.refresh_from_db()
    assert booking.status == S.APPROVED
    price = Event.objects.get(pk=booking.requested_times.get().event_id).price
    assert (price["computedAmount"], price["overridePrice"], price["amount"], price["total"], price["fixed"]) == (
        "30.00",
        "45.50",
        "45.50",
        "45.50",
        True,
    )
    assert Charge.objects.get(booking=booking).amount == D("45.50")
    log = BookingLog.objects.get(booking=booking, action="price_fixed")
    assert log.note == "event override 45.50 replaces computed 30.00"
    assert log.actor_user == setup.manager


def test_an_invalid_override_price_is_refused_at_the_field_with_what_was_typed(setup, rate, manager_client):
    booking = setup.submit(span(setup)).booking

    response = manager_client.post(
        url("booking_approve", booking.pk), priced_post(booking, **{"events-0-override_price": "12,50"})
    )

    assert response.status_code == 200
    assert "at most 4 decimals" in response.context["event_forms"].forms[0].errors["override_price"][0]
    assert 'value="12,50"' in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == S.PENDING and not Charge.objects.exists()


def test_an_invalid_discount_code_is_shown_at_the_field_and_approves_nothing(setup, rate, manager_client):
    booking = setup.submit(span(setup)).booking

    response = manager_client.post(
        url("booking_approve", booking.pk), priced_post(booking, **{"billing-discount_code": "NOPE"})
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["billing"].errors["discount_code"] == ["There is no such discount code."]
    assert 'name="billing-discount_code" value="NOPE"' in html and "Nothing was changed." in html
    booking.refresh_from_db()
    assert booking.status == S.PENDING and booking.discount_code_id is None
    assert booking.requested_times.get().event.status == EventStatus.TENTATIVE
    assert not Charge.objects.exists()


def test_a_discount_code_given_at_approval_is_used(setup, rate, manager_client):
    DiscountCodeFactory(organization=setup.org, code="STAFF", amount=D("5.00"))
    booking = setup.submit(span(setup)).booking

    response = manager_client.post(
        url("booking_approve", booking.pk), priced_post(booking, **{"billing-discount_code": "staff"})
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Charge.objects.get(booking=booking).amount == D("25.00")


def test_credit_unavailable_is_shown_and_using_what_is_left_then_approves(setup, rate, manager_client):
    first = setup.submit(span(setup)).booking
    pot = BookingCreditFactory(organization=setup.org, contact=first.contact, amount=D("50.00"), balance=D("50.00"))
    second = setup.submit(span(setup, days=8)).booking  # estimated with the same 50.00
    booking_approve(booking_id=first.pk, actor=setup.staff, client_last_updated_at=None)  # 30.00 of it spent

    response = manager_client.post(url("booking_approve", second.pk), priced_post(second))

    assert response.status_code == 200
    [message] = response.context["billing"].errors["accept_available_credit"]
    assert "estimated to use 30.00 GBP" in message and "only 20.00 GBP is left" in message
    second.refresh_from_db()
    assert second.status == S.PENDING and not Charge.objects.filter(booking=second).exists()

    response = manager_client.post(
        url("booking_approve", second.pk), priced_post(second, **{"billing-accept_available_credit": "on"})
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    pot.refresh_from_db()
    assert pot.balance == D("0.00")
    assert Charge.objects.get(booking=second).amount == D("10.00")


def test_do_not_use_booking_credit_at_approval(setup, rate, manager_client):
    booking = setup.submit(span(setup)).booking
    pot = BookingCreditFactory(organization=setup.org, contact=booking.contact, amount=D("50.00"), balance=D("50.00"))

    response = manager_client.post(
        url("booking_approve", booking.pk), priced_post(booking, **{"billing-do_not_use_booking_credit": "on"})
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    pot.refresh_from_db()
    booking.refresh_from_db()
    assert pot.balance == D("50.00") and booking.do_not_use_booking_credit
    assert Charge.objects.get(booking=booking).amount == D("30.00")


def test_a_named_rate_that_no_longer_applies_is_shown_at_the_rate(setup, rate, manager_client):
    evenings = RateFactory(
        resource=setup.room, name="Evenings", unit=RateUnit.HOUR, price=D("10.00"), start_time="18:00", end_time="22:00"
    )
    booking = setup.submit(span(setup, hour=18, rateId=str(evenings.pk))).booking
    moved = {"events-0-start": local_input(future(7, 10)), "events-0-end": local_input(future(7, 11, 30))}

    response = manager_client.post(url("booking_approve", booking.pk), priced_post(booking, **moved))

    assert response.status_code == 200
    form = response.context["event_forms"].forms[0]
    assert form.errors["rate"] == ["The chosen rate does not apply to this booking of Room."]
    assert f'value="{evenings.pk}" selected' in response.content.decode()  # the choice is kept
    booking.refresh_from_db()
    assert booking.status == S.PENDING

    response = manager_client.post(
        url("booking_approve", booking.pk), priced_post(booking, **moved, **{"events-0-rate": ""})
    )  # the cheapest

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Charge.objects.get(booking=booking).amount == D("30.00")


def test_a_time_no_rate_covers_is_shown_at_its_override_price(setup, manager_client):
    RateFactory(
        resource=setup.room, name="Evenings", unit=RateUnit.HOUR, price=D("10.00"), start_time="18:00", end_time="22:00"
    )
    booking = setup.submit(span(setup, hour=18)).booking
    moved = {"events-0-start": local_input(future(7, 10)), "events-0-end": local_input(future(7, 11, 30))}

    response = manager_client.post(url("booking_approve", booking.pk), priced_post(booking, **moved))

    assert response.status_code == 200
    [message] = response.context["event_forms"].forms[0].errors["override_price"]
    assert message.startswith("No rate of Room applies to")
    response = manager_client.post(
        url("booking_approve", booking.pk), priced_post(booking, **moved, **{"events-0-override_price": "40"})
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Charge.objects.get(booking=booking).amount == D("40.00")


def test_a_viewer_gets_403_on_the_approve_page(setup, rate, member):
    _, client = member(Role.VIEWER)
    booking = setup.submit(span(setup)).booking

    assert client.get(url("booking_approve", booking.pk)).status_code == 403
    response = client.post(
        url("booking_approve", booking.pk), priced_post(booking, **{"events-0-override_price": "1.00"})
    )
    assert response.status_code == 403
    booking.refresh_from_db()
    assert booking.status == S.PENDING and not Charge.objects.exists()
