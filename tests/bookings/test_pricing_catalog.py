"""What bookings answer for a resource's rates and products (bookings.pricing.catalog, the hook resources.catalog
asks): a rate or product is referred to by a requested time that names it, asks for it or whose price lists it,
and by an event whose fixed price lists it, only among the rows of its own resource."""

from __future__ import annotations

import pytest

from bookings.pricing.catalog import BookingPricingHook
from tests.factories import (
    BookingEventFactory,
    BookingFactory,
    EventFactory,
    ProductFactory,
    RateFactory,
    ReservationFactory,
)

pytestmark = pytest.mark.django_db
hook = BookingPricingHook()


def snapshot(*, rate=None, product=None) -> dict:
    """The parts of a price snapshot (bookings.pricing.quote) that name rates and products."""
    return {
        "rateId": None,
        "rates": [{"rateId": str(rate.pk), "resourceId": str(rate.resource_id)}] if rate else [],
        "products": [{"productId": str(product.pk), "resourceId": str(product.resource_id)}] if product else [],
    }


def requested(setup, resource, **values):
    return BookingEventFactory(booking=BookingFactory(module=setup.module), resources=[resource], **values)


@pytest.mark.parametrize(
    "refer, referred",
    [
        ("nothing", False),
        ("named by a request", True),
        ("in an estimate", True),
        ("in an event's fixed price", True),
        ("in a price of another resource's request", False),
    ],
)
def test_what_refers_to_a_rate(setup, refer, referred) -> None:
    rate = RateFactory(resource=setup.room)
    if refer == "named by a request":
        requested(setup, setup.room, rate=rate)
    elif refer == "in an estimate":
        requested(setup, setup.room, price=snapshot(rate=rate))
    elif refer == "in an event's fixed price":
        event = EventFactory(organization=setup.org, price=snapshot(rate=rate))
        ReservationFactory(event=event, resource=setup.room)
    elif refer == "in a price of another resource's request":
        requested(setup, setup.hall, price={"note": "nothing of the room's rate"})
    assert hook.rate_referenced(rate=rate) is referred


@pytest.mark.parametrize(
    "refer, referred",
    [
        ("nothing", False),
        ("asked for by a request", True),
        ("in an estimate", True),
        ("in an event's fixed price", True),
        ("another product asked for", False),
    ],
)
def test_what_refers_to_a_product(setup, refer, referred) -> None:
    product = ProductFactory(resource=setup.room)
    if refer == "asked for by a request":
        requested(setup, setup.room, products=[{"productId": str(product.pk), "quantity": 2}])
    elif refer == "in an estimate":
        requested(setup, setup.room, price=snapshot(product=product))
    elif refer == "in an event's fixed price":
        event = EventFactory(organization=setup.org, price=snapshot(product=product))
        ReservationFactory(event=event, resource=setup.room)
    elif refer == "another product asked for":
        other = ProductFactory(resource=setup.room)
        requested(setup, setup.room, products=[{"productId": str(other.pk), "quantity": 1}])
    assert hook.product_referenced(product=product) is referred
