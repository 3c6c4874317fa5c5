"""The helpers of the pricing tests (tests/bookings/test_pricing_*.py): plain terms built in one call (a rate,
a room, a request), the quote of one event and two products."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bookings.pricing.quote import quote_event
from bookings.pricing.terms import EventRequest, ProductTerms, RateTerms, ResourceTerms
from resources.models import ProductUnit, RateUnit

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
    return ResourceTerms(
        id=uuid.uuid5(uuid.NAMESPACE_OID, f"resource {name}"), name=name, tz=tz, rates=rates, products=tuple(products)
    )


def request(resource: ResourceTerms | tuple, start: datetime, end: datetime, **kwargs) -> EventRequest:
    resources = resource if isinstance(resource, tuple) else (resource,)
    return EventRequest(start=start, end=end, resources=resources, **kwargs)


def price(resource, start, end, currency="GBP", **kwargs):
    return quote_event(
        request(
            resource, start, end, **{k: kwargs.pop(k) for k in ("rate_id", "products", "override_price") if k in kwargs}
        ),
        currency=currency,
        now=NOW,
        **kwargs,
    )


COFFEE = ProductTerms(
    id=uuid.uuid5(uuid.NAMESPACE_OID, "coffee"), name="Coffee", unit=ProductUnit.PER_USE, unit_price=D("2.50")
)
PROJECTOR = ProductTerms(
    id=uuid.uuid5(uuid.NAMESPACE_OID, "projector"), name="Projector", unit=ProductUnit.PER_MINUTE, unit_price=D("0.10")
)
