"""The services of what a resource offers (resources.catalog): units, rates and products one by one, and the rows of
a resource write that reach them row by row, with each refusal at its row's path; deleting archives what is
referred to; the bookings app answers for references and customers through the registered hook."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest

from bookings.models import RateCustomer
from bookings.pricing.catalog import BookingPricingHook
from core.errors import ValidationFailed
from resources import catalog
from resources.catalog import ProductSpec, RateSpec, ResourceRows, UnitSpec
from resources.hooks import NoPricingHook, pricing_hook, register_pricing_hook
from resources.models import Product, Rate, RateUnit, ResourceUnit
from resources.services import resource_update
from tests.conftest import Setup
from tests.factories import CustomerFactory, ProductFactory, RateFactory, ResourceUnitFactory

pytestmark = pytest.mark.django_db
D = Decimal


def fields(caught) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in caught.value.errors]


def test_a_rate_is_created_changed_and_reserved_for_customers(setup) -> None:
    customer = CustomerFactory(organization=setup.org)
    rate = catalog.rate_create(
        resource=setup.room,
        name="Evening",
        price=D("12.5"),
        unit=RateUnit.HOUR,
        weekdays=[4, 0, 4],
        start_time=time(18),
        end_time=time(0),
        customer_ids=[customer.pk],
    )
    rate.refresh_from_db()
    assert (rate.weekday_list, rate.start_time, rate.end_time, rate.price) == ([0, 4], time(18), time(0), D("12.5"))
    assert list(RateCustomer.objects.values_list("rate", "customer")) == [(rate.pk, customer.pk)]

    catalog.rate_update(rate=rate, changes={"weekdays": [5], "start_time": None, "end_time": None})
    rate.refresh_from_db()
    assert (rate.weekday_list, rate.start_time) == ([5], None)
    assert RateCustomer.objects.count() == 1  # customers untouched without customer_ids
    with pytest.raises(TypeError):
        catalog.rate_update(rate=rate, changes={"resource": setup.hall})


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"price": D("-1")}, [("price", "MIN_VALUE")]),
        ({"weekdays": []}, [("weekdays", "INVALID")]),
        ({"weekdays": [7]}, [("weekdays", "INVALID")]),
        ({"start_time": time(9)}, [("endTime", "INVALID")]),
        ({"end_time": time(9)}, [("startTime", "INVALID")]),
        ({"start_time": time(9), "end_time": time(8)}, [("endTime", "END_BEFORE_START")]),
        ({"min_minutes": 90, "max_minutes": 60}, [("maxMinutes", "INVALID")]),
        ({"name": ""}, [("name", "REQUIRED")]),
    ],
)
def test_a_rate_is_refused_at_its_fields(setup, values, expected) -> None:
    with pytest.raises(ValidationFailed) as caught:
        catalog.rate_create(resource=setup.room, **{"name": "Bad", "price": D("1"), **values})
    assert fields(caught) == expected
    assert not Rate.objects.exists()


def test_customers_of_another_organization_are_not_found_and_nothing_is_written(setup) -> None:
    stranger = CustomerFactory(organization=Setup().org)
    mine = CustomerFactory(organization=setup.org)
    with pytest.raises(ValidationFailed) as caught:
        catalog.rate_create(resource=setup.room, name="X", price=D("1"), customer_ids=[mine.pk, stranger.pk])
    assert fields(caught) == [("customerIds[1]", "NOT_FOUND")]
    assert not Rate.objects.exists() and not RateCustomer.objects.exists()


def test_the_rows_of_a_resource_write_go_through_the_row_services_and_their_errors_name_the_row(setup) -> None:
    unit = ResourceUnitFactory(resource=setup.desks, name="Desk 1")
    rows = ResourceRows(
        units=[UnitSpec(name="Desk 1", id=unit.pk, order=2), UnitSpec(name="Desk 2")],
        rates=[RateSpec(name="Hourly", price=D("10")), RateSpec(name="Bad", price=D("-1"))],
    )
    with pytest.raises(ValidationFailed) as caught:
        resource_update(resource=setup.desks, changes={}, rows=rows)
    assert fields(caught) == [("rates[1].price", "MIN_VALUE")]
    assert ResourceUnit.objects.count() == 1 and not Rate.objects.exists()

    with pytest.raises(ValidationFailed) as caught:
        resource_update(resource=setup.desks, changes={}, rows=ResourceRows(units=[UnitSpec(name="Desk 1")]))
    assert fields(caught) == [("units[0].name", "NOT_UNIQUE")]

    rows = ResourceRows(
        units=[UnitSpec(name="Desk 1", id=unit.pk, delete=True), UnitSpec(name="Desk 1")],  # a deleted row's name
        products=[ProductSpec(name="Locker", unit_price=D("1"))],
    )
    resource_update(resource=setup.desks, changes={}, rows=rows)
    assert list(ResourceUnit.objects.values_list("name", flat=True)) == ["Desk 1"]
    assert not ResourceUnit.objects.filter(pk=unit.pk).exists()
    assert Product.objects.get().name == "Locker"


def test_deleting_a_referenced_row_through_a_resource_write_archives_it(setup) -> None:
    rate = RateFactory(resource=setup.room, name="Hourly")
    setup.submit()  # its estimate lists the rate
    spec = RateSpec(name="Hourly", price=rate.price, id=rate.pk, delete=True)
    resource_update(resource=setup.room, changes={}, rows=ResourceRows(rates=[spec]))
    assert Rate.objects.get(pk=rate.pk).active is False


def test_a_product_and_a_unit_are_deleted_or_archived(setup) -> None:
    coffee = ProductFactory(resource=setup.room, name="Coffee")
    assert catalog.product_delete(product=coffee) is None
    assert not Product.objects.exists()
    desk = ResourceUnitFactory(resource=setup.desks, name="Desk 1")
    setup.submit(setup.event(resources=[setup.desks], unitId=str(desk.pk)))  # a hold on the desk
    archived = catalog.unit_delete(unit=desk)
    assert archived is not None and archived.archived is True
    assert ResourceUnit.objects.get(pk=desk.pk).archived is True


def test_the_bookings_app_registers_its_hook_and_without_it_nothing_refers_to_a_rate(setup) -> None:
    assert isinstance(pricing_hook(), BookingPricingHook)
    rate = RateFactory(resource=setup.room)
    setup.submit()
    register_pricing_hook(NoPricingHook())
    try:
        with pytest.raises(ValidationFailed) as caught:
            catalog.rate_update(rate=rate, changes={}, customer_ids=[CustomerFactory(organization=setup.org).pk])
        assert fields(caught) == [("customerIds[0]", "NOT_FOUND")]
        assert catalog.rate_delete(rate=rate) is None
    finally:
        register_pricing_hook(BookingPricingHook())
    assert not Rate.objects.exists()
