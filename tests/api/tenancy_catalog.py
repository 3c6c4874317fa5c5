"""The catalog endpoints in the tenant isolation tables of tests/api/test_tenancy.py (which merges these in): a unit,
rate, product, discount code and credit of setup's organization, and what another organization's token tries with
them. Kept apart so that test module stays about the isolation rules rather than the list of endpoints."""

from __future__ import annotations

from typing import Any

from tests.factories import (
    BookingCreditFactory,
    CustomerFactory,
    DiscountCodeFactory,
    ProductFactory,
    RateFactory,
    ResourceUnitFactory,
)


def seed_catalog(o: Any) -> None:
    """What the desks offer, made after the bookings so that no price refers to it (DELETE erases it)."""
    desks = o.setup.desks
    o.unit = ResourceUnitFactory(resource=desks, name="Desk 1")
    o.rate = RateFactory(resource=desks, name="Hourly")
    o.product = ProductFactory(resource=desks, name="Locker")
    o.discount_code = DiscountCodeFactory(organization=o.org, code="SPRING", resources=[desks])
    o.credit = BookingCreditFactory(organization=o.org, contact=o.contact, resources=[desks])


def catalog_ids(o: Any) -> set[str]:
    return {str(row.pk) for row in (o.unit, o.rate, o.product, o.discount_code, o.credit)}


def _none(o: Any) -> None:
    return None


BY_ID = {
    "GET /api/v1/units/{id}": ("unit", _none),
    "PATCH /api/v1/units/{id}": ("unit", lambda o: {"name": "Taken over", "archived": True}),
    "DELETE /api/v1/units/{id}": ("unit", _none),
    "GET /api/v1/rates/{id}": ("rate", _none),
    "PATCH /api/v1/rates/{id}": ("rate", lambda o: {"price": "0", "customerIds": []}),
    "DELETE /api/v1/rates/{id}": ("rate", _none),
    "GET /api/v1/products/{id}": ("product", _none),
    "PATCH /api/v1/products/{id}": ("product", lambda o: {"unitPrice": "0", "active": False}),
    "DELETE /api/v1/products/{id}": ("product", _none),
    "GET /api/v1/discount-codes/{id}": ("discount_code", _none),
    "PATCH /api/v1/discount-codes/{id}": ("discount_code", lambda o: {"percentage": "100"}),
    "DELETE /api/v1/discount-codes/{id}": ("discount_code", _none),
    "GET /api/v1/booking-credits/{id}": ("credit", _none),
    "PATCH /api/v1/booking-credits/{id}": ("credit", lambda o: {"description": "Taken over"}),
    "DELETE /api/v1/booking-credits/{id}": ("credit", _none),
    "POST /api/v1/booking-credits/{id}/adjust": ("credit", lambda o: {"delta": "-50", "reason": "Taken"}),
}

CREATES = {
    "POST /api/v1/units": (lambda o: {"resourceId": str(o.room.pk), "name": "Intruder"}, "resourceId"),
    "POST /api/v1/rates": (lambda o: {"resourceId": str(o.room.pk), "name": "Intruder", "price": "1"}, "resourceId"),
    "POST /api/v1/products": (
        lambda o: {"resourceId": str(o.room.pk), "name": "Intruder", "unitPrice": "1"},
        "resourceId",
    ),
    "POST /api/v1/discount-codes": (lambda o: {"orgId": str(o.org.pk), "code": "INTRUDER", "amount": "5"}, None),
    "POST /api/v1/booking-credits": (
        lambda o: {"orgId": str(o.org.pk), "contactId": str(o.contact.pk), "amount": "5"},
        None,
    ),
}

FOREIGN_REFERENCES = {
    "rate reserved for setup's customer": (
        "POST /api/v1/rates",
        lambda o, t: {
            "resourceId": str(t.setup.room.pk),
            "name": "Mine",
            "price": "1",
            "customerIds": [str(o.customer.pk)],
        },
        "customerIds",
    ),
    "discount code for setup's room": (
        "POST /api/v1/discount-codes",
        lambda o, t: {"orgId": str(t.setup.org.pk), "code": "MINE", "amount": "5", "resourceIds": [str(o.room.pk)]},
        "resourceIds",
    ),
    "credit of setup's contact": (
        "POST /api/v1/booking-credits",
        lambda o, t: {"orgId": str(t.setup.org.pk), "contactId": str(o.contact.pk), "amount": "5"},
        "contactId",
    ),
    "credit of setup's customer": (
        "POST /api/v1/booking-credits",
        lambda o, t: {"orgId": str(t.setup.org.pk), "customerId": str(o.customer.pk), "amount": "5"},
        "customerId",
    ),
    "credit spent on setup's room": (
        "POST /api/v1/booking-credits",
        lambda o, t: {
            "orgId": str(t.setup.org.pk),
            "customerId": str(CustomerFactory(organization=t.setup.org).pk),
            "amount": "5",
            "resourceIds": [str(o.room.pk)],
        },
        "resourceIds",
    ),
}

LISTS = {
    "GET /api/v1/units": lambda o: [{}, {"orgId": str(o.org.pk)}, {"resourceId": str(o.setup.desks.pk)}],
    "GET /api/v1/rates": lambda o: [
        {},
        {"orgId": str(o.org.pk)},
        {"resourceId": str(o.setup.desks.pk)},
        {"active": "true"},
    ],
    "GET /api/v1/products": lambda o: [{}, {"orgId": str(o.org.pk)}, {"resourceId": str(o.setup.desks.pk)}],
    "GET /api/v1/discount-codes": lambda o: [{}, {"orgId": str(o.org.pk)}, {"active": "true"}],
    "GET /api/v1/booking-credits": lambda o: [
        {},
        {"orgId": str(o.org.pk)},
        {"contactId": str(o.contact.pk)},
        {"customerId": str(o.customer.pk)},
    ],
}
