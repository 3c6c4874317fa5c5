"""The factories build valid rows, and every chain of SubFactories stays in one organization."""

from datetime import timedelta
from decimal import Decimal

import pytest

from events.models import EventStatus
from resources.models import Organization
from tests import factories


def organizations(row, seen=None) -> set:
    """Every organization reachable from `row` through its foreign keys."""
    seen = set() if seen is None else seen
    if isinstance(row, Organization):
        return {row.pk}
    found = set()
    for field in row._meta.get_fields():
        if field.many_to_one and field.related_model is not None:
            other = getattr(row, field.name, None)
            if other is not None and (type(other), other.pk) not in seen:
                seen.add((type(other), other.pk))
                found |= organizations(other, seen)
    return found


# Rows that belong to no organization: users, and the API's idempotency keys (per caller).
WITHOUT_ORGANIZATION = ("UserFactory", "IdempotencyKeyFactory")


@pytest.mark.django_db
@pytest.mark.parametrize("name", factories.__all__)
def test_every_factory_builds_a_row_in_one_organization(name):
    row = getattr(factories, name)()
    assert len(organizations(row)) == (0 if name in WITHOUT_ORGANIZATION else 1)


@pytest.mark.django_db
def test_a_reservation_copies_its_event_and_resource_as_the_service_does():
    resource = factories.ResourceFactory(buffer_minutes=15, exclusive=False)
    event = factories.EventFactory(organization=resource.venue.organization, status=EventStatus.CANCELED)
    reservation = factories.ReservationFactory(event=event, resource=resource)
    assert (reservation.start, reservation.end) == (event.start, event.end + timedelta(minutes=15))
    assert reservation.exclusive is False and reservation.active is False
    assert factories.ReservationFactory().active is True


@pytest.mark.django_db
def test_pricing_factories_keep_their_exclusive_fields_apart():
    assert factories.DiscountCodeFactory(amount=Decimal("5")).percentage is None
    assert factories.DiscountCodeFactory().percentage == Decimal("10")
    customer = factories.CustomerFactory()
    credit = factories.BookingCreditFactory(organization=customer.organization, customer=customer)
    assert credit.contact is None and credit.balance == credit.amount
    assert factories.BookingCreditFactory().contact is not None
