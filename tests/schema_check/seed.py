"""The data of `make schema-check` (tests/schema_check/run.py): one object of every type the API addresses
by id, in one organization, plus an OWNER's API token; printed as one JSON object for the Schemathesis hooks
(tests/schema_check/hooks.py), which put these ids into the generated requests.

The objects are those of the in-process fuzz test and the tenancy tests (tests/api/test_tenancy.py's
`Objects`), and a spare of every deletable type: DELETE requests get the spares, so one that succeeds does
not take the objects away from every other operation.

Run with the server's environment (DATABASE_URL, TASKS_BACKEND, ...): `python -m tests.schema_check.seed`.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.db import transaction  # noqa: E402 - Django is set up first
from knox.models import AuthToken  # noqa: E402

from core.time import iso  # noqa: E402
from events.services.single import event_create  # noqa: E402
from resources.models import Role  # noqa: E402
from tests.api.test_tenancy import Objects  # noqa: E402
from tests.conftest import Setup, future  # noqa: E402
from tests.factories import (  # noqa: E402
    BookingCreditFactory,
    BookingModuleFactory,
    ContactFactory,
    CustomerFactory,
    DiscountCodeFactory,
    MembershipFactory,
    PortalFactory,
    ProductFactory,
    RateFactory,
    ResourceFactory,
    ResourceUnitFactory,
    UserFactory,
    VenueFactory,
    WebhookEndpointFactory,
)


def _ids(objects: Objects) -> dict[str, str]:
    """The object each name of tests/schema_check/hooks.py's PATH_OBJECTS stands for."""
    names = ("org", "venue", "room", "module", "portal", "customer", "contact", "pending", "approved")
    ids = {name: str(getattr(objects, name).pk) for name in names}
    ids |= {
        "change_request": str(objects.change_request.pk),
        "event": str(objects.event.pk),
        "charge": str(objects.charge.pk),
        "webhook_endpoint": str(objects.webhook_endpoint.pk),
        "field": str(objects.field.pk),
    }
    ids |= {name: str(getattr(objects, name).pk) for name in ("unit", "rate", "product", "discount_code", "credit")}
    return ids


def _spares(setup: Setup) -> dict[str, str]:
    """Objects nothing refers to, for the DELETE requests."""
    org = setup.org
    venue = VenueFactory(organization=org, name="Spare venue")
    customer = CustomerFactory(organization=org)
    return {
        "venue": str(venue.pk),
        "room": str(ResourceFactory(venue=setup.venue, name="Spare room").pk),
        "module": str(BookingModuleFactory(organization=org, admin_user=setup.admin, slug="spare").pk),
        "portal": str(PortalFactory(organization=org).pk),
        "customer": str(customer.pk),
        "contact": str(ContactFactory(organization=org).pk),
        "event": str(
            event_create(
                organization=org, title="Spare", start=future(12, 10), end=future(12, 11), resource_ids=[setup.hall.pk]
            ).pk
        ),
        "unit": str(ResourceUnitFactory(resource=setup.desks, name="Spare desk").pk),
        "rate": str(RateFactory(resource=setup.room, name="Spare rate").pk),
        "product": str(ProductFactory(resource=setup.room, name="Spare product").pk),
        "discount_code": str(DiscountCodeFactory(organization=org, code="SPARE").pk),
        "credit": str(BookingCreditFactory(organization=org, contact=ContactFactory(organization=org)).pk),
        "webhook_endpoint": str(
            WebhookEndpointFactory(
                organization=org, url="https://hooks.example.com/spare", secret="whsec_" + "s" * 40
            ).pk
        ),
    }


def seed() -> dict[str, object]:
    with transaction.atomic():
        setup = Setup()
        objects = Objects(setup)
        owner = UserFactory()
        MembershipFactory(user=owner, organization=setup.org, role=Role.OWNER)
        _, token = AuthToken.objects.create(user=owner, expiry=None)
        start = future(40, 10)
        return {
            "token": token,
            "ownerId": owner.pk,
            "objects": _ids(objects),
            "spares": _spares(setup),
            "resources": [str(r.pk) for r in (setup.room, setup.hall, setup.desks)],
            "pendingUpdatedAt": iso(objects.pending.updated_at),
            "start": iso(start),
            "end": iso(start + timedelta(hours=1)),
            "accessToken": objects.approved_token,
        }


if __name__ == "__main__":
    data = seed()
    sys.stdout.write(json.dumps(data) + "\n")
