"""The configuration cache (docs/architecture.md#configuration-cache): every configuration service gives the
organization a new version in the change's own transaction; a process reloads what it cached once the version
moved, whether the form got stricter or looser; a change that rolls back leaves nothing behind; a warm submit
reads its configuration in at most one query. (Seen from another process: tests/http/test_config_cache.py.)"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from bookings import services as booking_services
from bookings.pricing.config import customer_rates_set
from resources import catalog
from resources import services as resource_services
from resources.models import Organization
from tests.api.booking_helpers import SUBMIT, post, submit_body
from tests.conftest import future
from tests.factories import (
    BookingModuleFactory,
    ClosureFactory,
    CustomerFactory,
    PortalFactory,
    ProductFactory,
    RateFactory,
    ResourceFactory,
    ResourceUnitFactory,
    VenueFactory,
)
from webhooks import services as webhook_services
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.usefixtures("config_cache_strict")


@pytest.fixture
def public() -> APIClient:
    return APIClient()


def _endpoint(s) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        organization=s.org, url="https://hooks.example.org/allot", event_types=["booking.submitted"], secret="x" * 32
    )


# (service, what it is called with): every writer of what a submit reads.
CHANGES = {
    "organization_save": lambda s: resource_services.organization_save(organization=s.org, changes={"currency": "USD"}),
    "venue_create": lambda s: resource_services.venue_create(organization=s.org, name="Annex"),
    "venue_update": lambda s: resource_services.venue_update(venue=s.venue, changes={"name": "Main"}),
    "venue_delete": lambda s: resource_services.venue_delete(venue=VenueFactory(organization=s.org)),
    "resource_create": lambda s: resource_services.resource_create(venue=s.venue, name="Studio"),
    "resource_update": lambda s: resource_services.resource_update(resource=s.room, changes={"capacity": 4}),
    "resource_delete": lambda s: resource_services.resource_delete(resource=ResourceFactory(venue=s.venue)),
    "closure_create": lambda s: resource_services.closure_create(
        organization=s.org, start=future(30), end=future(30) + timedelta(hours=2)
    ),
    "closure_update": lambda s: resource_services.closure_update(
        closure=ClosureFactory(organization=s.org), changes={"message": "Floor works"}
    ),
    "closure_delete": lambda s: resource_services.closure_delete(closure=ClosureFactory(organization=s.org)),
    "module_create": lambda s: booking_services.module_create(organization_id=s.org.pk, values={"name": "Other"}),
    "module_update": lambda s: booking_services.module_update(module_id=s.module.pk, changes={"name": "Renamed"}),
    "module_delete": lambda s: booking_services.module_delete(module_id=BookingModuleFactory(organization=s.org).pk),
    "portal_create": lambda s: booking_services.portal_create(organization_id=s.org.pk, values={"name": "Kiosk"}),
    "portal_update": lambda s: booking_services.portal_update(portal_id=s.portal.pk, changes={"name": "Front"}),
    "portal_delete": lambda s: booking_services.portal_delete(portal_id=PortalFactory(organization=s.org).pk),
    # What a resource offers (resources.catalog): the cached resources carry their units, rates and products.
    "unit_create": lambda s: catalog.unit_create(resource=s.desks, name="Desk 9"),
    "unit_update": lambda s: catalog.unit_update(unit=ResourceUnitFactory(resource=s.desks), changes={"order": 3}),
    "unit_delete": lambda s: catalog.unit_delete(unit=ResourceUnitFactory(resource=s.desks)),
    "rate_create": lambda s: catalog.rate_create(resource=s.room, name="Hourly", price=Decimal("20")),
    "rate_update": lambda s: catalog.rate_update(rate=RateFactory(resource=s.room), changes={"price": Decimal("5")}),
    "rate_delete": lambda s: catalog.rate_delete(rate=RateFactory(resource=s.room)),
    "product_create": lambda s: catalog.product_create(resource=s.room, name="Coffee", unit_price=Decimal("2")),
    "product_update": lambda s: catalog.product_update(
        product=ProductFactory(resource=s.room), changes={"active": False}
    ),
    "product_delete": lambda s: catalog.product_delete(product=ProductFactory(resource=s.room)),
    "customer_rates_set": lambda s: customer_rates_set(
        customer=CustomerFactory(organization=s.org), rate_ids=[RateFactory(resource=s.room).pk]
    ),
    "webhook_endpoint_create": lambda s: webhook_services.webhook_endpoint_create(
        organization=s.org, values={"url": "https://hooks.example.org/a", "event_types": ["booking.submitted"]}
    ),
    "webhook_endpoint_update": lambda s: webhook_services.webhook_endpoint_update(
        endpoint_id=_endpoint(s).pk, changes={"description": "CRM"}
    ),
    "webhook_endpoint_delete": lambda s: webhook_services.webhook_endpoint_delete(endpoint_id=_endpoint(s).pk),
}


def version(org) -> int:
    return Organization.objects.values_list("config_version", flat=True).get(pk=org.pk)


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_every_configuration_service_gives_the_organization_a_new_version(setup, settings, change):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    before = version(setup.org)
    change(setup)
    assert version(setup.org) != before


def _submit(public, setup, start, email="ada@example.com"):
    body = submit_body(setup, setup.event(start=start))
    body["contact"]["email"] = email
    return post(public, SUBMIT, body)


def test_the_next_submit_sees_a_closure_added_after_the_form_was_cached(public, setup):
    assert _submit(public, setup, future(5)).status_code == 201  # the form is now cached
    when = future(6)
    resource_services.closure_create(
        organization=setup.org, start=when - timedelta(hours=1), end=when + timedelta(hours=3)
    )

    response = _submit(public, setup, when, email="grace@example.com")

    assert response.status_code == 400, response.json()
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("event.start", "RESOURCE_CLOSED")]


def test_a_refusal_read_from_an_older_form_is_never_given(public, setup):
    """The submit reads its cached form without a query; a refusal is checked against the current version
    first, and the submit starts again on the new form."""
    when = future(6)
    closure = resource_services.closure_create(
        organization=setup.org, start=when - timedelta(hours=1), end=when + timedelta(hours=3)
    )
    assert _submit(public, setup, when).status_code == 400  # cached with the closure
    resource_services.closure_delete(closure=closure)

    response = _submit(public, setup, when, email="grace@example.com")

    assert response.status_code == 201, response.json()


def test_a_change_that_rolled_back_leaves_nothing_in_the_cache(public, setup):
    when = future(6)
    with pytest.raises(RuntimeError), transaction.atomic():
        resource_services.closure_create(
            organization=setup.org, start=when - timedelta(hours=1), end=when + timedelta(hours=3)
        )
        assert _submit(public, setup, when).status_code == 400  # this transaction reads (and caches) its own change
        raise RuntimeError("rolled back")
    # Another change commits: with a counter it would take the rolled-back change's number.
    resource_services.venue_update(venue=setup.venue, changes={"name": "Main"})

    assert _submit(public, setup, when, email="grace@example.com").status_code == 201


def test_a_warm_submit_reads_no_configuration_but_its_version_with_the_first_write(public, setup):
    assert _submit(public, setup, future(5)).status_code == 201
    with CaptureQueriesContext(connection) as ctx:
        assert _submit(public, setup, future(6), email="grace@example.com").status_code == 201
    reads = [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    # What is read is the table of reservations: PostgreSQL locks the resources and lets its exclusion
    # constraint check the insert; SQLite holds the write lock from BEGIN and checks the table first.
    config_tables = (
        "bookings_bookingmodule",
        "bookings_portal",
        "bookings_formfield",
        'resources_resource"',
        "closure",
    )
    assert not [
        sql for sql in reads if "FOR UPDATE" not in sql and any(t in sql.split(" WHERE")[0] for t in config_tables)
    ]
    assert len(reads) == 1, reads
    assert sum("config_version" in q["sql"] for q in ctx.captured_queries) == 1
