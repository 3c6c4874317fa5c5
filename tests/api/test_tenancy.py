"""Tenant isolation (docs/architecture.md#roles-and-tenancy), parametrized over every operation of the OpenAPI schema: a
token of another organization (`other`, an OWNER there) gets 404 for each of setup's objects, whatever the method, and
the database is unchanged afterwards; it cannot create anything inside setup's organization, nor refer to setup's
objects from its own (400 NOT_FOUND); its lists show none of setup's ids. The same requests with setup's own OWNER token
work, so the 404s are about the organization and nothing else.

A guard test fails when the schema has an operation the tables below do not cover: a new endpoint must be
added here."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.apps import apps
from drf_spectacular.generators import SchemaGenerator
from openpyxl import load_workbook

from bookings.lifecycle.change_requests import change_request_submit
from bookings.lifecycle.decide import booking_approve
from bookings.models import Booking, BookingEvent, FormSection
from core.actor import Actor
from core.api.etags import etag_of
from core.time import iso
from events.models import Event
from events.services.single import event_create
from resources.models import Role
from tests.api import tenancy_catalog as catalog
from tests.api.conftest import assert_error
from tests.api.tenancy_catalog import catalog_ids, seed_catalog
from tests.conftest import Setup, future
from tests.factories import ChargeFactory, ContactFactory, CustomerFactory, FormFieldFactory, WebhookEndpointFactory

UNKNOWN = "5a0c6f1e-2b3d-4c5e-8f90-a1b2c3d4e5f6"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Objects:
    """One object of every type the API addresses by id, all in `setup.org`."""

    def __init__(self, setup: Setup):
        self.setup = setup
        self.org, self.venue, self.room = setup.org, setup.venue, setup.room
        self.module, self.portal = setup.module, setup.portal
        self.field = FormFieldFactory(module=setup.module, section=FormSection.EVENT, label="Purpose")
        self.customer = CustomerFactory(organization=setup.org)
        self.contact = ContactFactory(organization=setup.org, customer=self.customer)
        self.pending = setup.submit(setup.event(future(7, 10))).booking
        approved = setup.submit(setup.event(future(8, 10), resources=[setup.hall]))
        self.approved, self.approved_token = approved.booking, approved.access_token
        booking_approve(booking_id=self.approved.pk, actor=setup.staff, client_last_updated_at=None)
        start = future(8, 15)
        self.change_request = change_request_submit(
            booking_id=self.approved.pk,
            actor=Actor.booker("ada@example.com"),
            events=[{"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}],
            request_note="Later, please",
        ).change_request
        self.event = event_create(
            organization=setup.org,
            title="Board meeting",
            start=future(9, 10),
            end=future(9, 11),
            resource_ids=[setup.desks.pk],
        )
        self.pending.refresh_from_db()
        self.approved.refresh_from_db()
        self.charge = ChargeFactory(
            organization=setup.org,
            booking=self.approved,
            amount=10,
            currency=setup.org.currency,
            customer=self.customer,
        )
        self.webhook_endpoint = WebhookEndpointFactory(
            organization=setup.org,
            url="https://8.8.8.8/hooks",
            secret="whsec_" + "x" * 40,  # the base64 of 30 bytes
            event_types=["booking.approved"],
        )
        seed_catalog(self)

    def ids(self) -> set[str]:
        """Every id of setup's organization that could show up in a response."""
        org = self.org
        found = {
            str(org.pk),
            str(self.venue.pk),
            str(self.module.pk),
            str(self.portal.pk),
            str(self.field.pk),
            str(self.customer.pk),
            str(self.contact.pk),
            str(self.change_request.pk),
            str(self.webhook_endpoint.pk),
            str(self.charge.pk),
        }
        found |= {str(r.pk) for r in (self.setup.room, self.setup.hall, self.setup.desks)}
        found |= catalog_ids(self)
        found |= {str(pk) for pk in Event.objects.filter(organization=org).values_list("pk", flat=True)}
        found |= {str(pk) for pk in Booking.objects.filter(organization=org).values_list("pk", flat=True)}
        found |= {str(pk) for pk in BookingEvent.objects.filter(booking__organization=org).values_list("pk", flat=True)}
        return found


@pytest.fixture
def objects(setup) -> Objects:
    return Objects(setup)


def world() -> dict[str, list[dict]]:
    """Every row of every model of the project's apps: equal before and after means nothing changed."""
    dump = {}
    for label in ("resources", "events", "bookings", "notifications", "webhooks"):
        for model in apps.get_app_config(label).get_models():
            dump[model._meta.label] = list(model.objects.order_by("pk").values())
    return dump


def schema_operations() -> set[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }


def uuids_in(response) -> set[str]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if content[:2] == b"PK":  # an XLSX workbook: its cells
        sheet = load_workbook(io.BytesIO(content), read_only=True).active
        content = " ".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row).encode()
    return set(UUID_RE.findall(content.decode()))


def call(client, op: str, url: str, body: dict | None = None):
    method = op.split(" ", 1)[0].lower()
    if method == "get":
        return client.get(url, body or {})
    return getattr(client, method)(url, body if body is not None else {}, format="json")


# === operations on one of setup's objects: {id} → 404 ================================================

Body = Callable[[Objects], dict | None]


def _none(o: Objects) -> None:
    return None


def _window(o: Objects) -> dict:
    return {"start": iso(future(7, 0)), "end": iso(future(10, 0))}


# "METHOD path" → (the attribute of Objects its {id} names, the body or query a success would need).
BY_ID: dict[str, tuple[str, Body]] = {
    "GET /api/v1/bookings/{id}": ("pending", _none),
    "PATCH /api/v1/bookings/{id}": ("pending", lambda o: {"customerId": str(o.customer.pk)}),
    "POST /api/v1/bookings/{id}/approve": (
        "pending",
        lambda o: {"clientBookingLastUpdatedAt": iso(o.pending.updated_at), "event": {}},
    ),
    "POST /api/v1/bookings/{id}/deny": ("pending", lambda o: {"clientBookingLastUpdatedAt": iso(o.pending.updated_at)}),
    "POST /api/v1/bookings/{id}/cancel": ("approved", lambda o: {"eventProcedure": 1}),
    "GET /api/v1/booking-change-requests/{id}": ("change_request", _none),
    "POST /api/v1/booking-change-requests/{id}/approve": ("change_request", lambda o: {}),
    "POST /api/v1/booking-change-requests/{id}/deny": ("change_request", lambda o: {}),
    "GET /api/v1/booking-modules/{id}": ("module", _none),
    "PATCH /api/v1/booking-modules/{id}": ("module", lambda o: {"name": "Taken over"}),
    "DELETE /api/v1/booking-modules/{id}": ("module", _none),
    "GET /api/v1/portals/{id}": ("portal", _none),
    "PATCH /api/v1/portals/{id}": ("portal", lambda o: {"name": "Taken over", "status": 1}),
    "DELETE /api/v1/portals/{id}": ("portal", _none),
    "GET /api/v1/venues/{id}": ("venue", _none),
    "PATCH /api/v1/venues/{id}": ("venue", lambda o: {"name": "Taken over"}),
    "DELETE /api/v1/venues/{id}": ("venue", _none),
    "GET /api/v1/resources/{id}": ("room", _none),
    "PATCH /api/v1/resources/{id}": ("room", lambda o: {"name": "Taken over", "archived": True}),
    "DELETE /api/v1/resources/{id}": ("room", _none),
    "GET /api/v1/resources/{id}/availability": ("room", _window),
    "GET /api/v1/events/{id}": ("event", _none),
    "PATCH /api/v1/events/{id}": ("event", lambda o: {"title": "Taken over", "status": 2}),
    "DELETE /api/v1/events/{id}": ("event", _none),
    "GET /api/v1/customers/{id}": ("customer", _none),
    "PATCH /api/v1/customers/{id}": ("customer", lambda o: {"name": "Taken over"}),
    "DELETE /api/v1/customers/{id}": ("customer", _none),
    "GET /api/v1/contacts/{id}": ("contact", _none),
    "PATCH /api/v1/contacts/{id}": ("contact", lambda o: {"name": "Taken over", "customerId": None}),
    "DELETE /api/v1/contacts/{id}": ("contact", _none),
    "GET /api/v1/contacts/{id}/personal-data": ("contact", _none),
    "POST /api/v1/contacts/{id}/erase": ("contact", lambda o: {"force": True}),
    "GET /api/v1/webhook-endpoints/{id}": ("webhook_endpoint", _none),
    "PATCH /api/v1/webhook-endpoints/{id}": (
        "webhook_endpoint",
        lambda o: {"url": "https://8.8.4.4/taken-over", "eventTypes": ["booking.submitted"], "active": False},
    ),
    "DELETE /api/v1/webhook-endpoints/{id}": ("webhook_endpoint", _none),
    "GET /api/v1/webhook-endpoints/{id}/deliveries": ("webhook_endpoint", _none),
    "POST /api/v1/webhook-endpoints/{id}/rotate-secret": ("webhook_endpoint", lambda o: {}),
    "POST /api/v1/charges/{id}/charge": ("charge", lambda o: {}),
    "POST /api/v1/charges/{id}/invoice": ("charge", lambda o: {}),
    "POST /api/v1/charges/{id}/revert": ("charge", lambda o: {}),
    **catalog.BY_ID,
}


# Setup's module has bookings, its venue and room are booked: deleting them is refused (409 IN_USE).
IN_USE = {"DELETE /api/v1/booking-modules/{id}", "DELETE /api/v1/venues/{id}", "DELETE /api/v1/resources/{id}"}
NO_CONTENT = {"POST /api/v1/booking-change-requests/{id}/deny"}


def _id_url(op: str, pk) -> str:
    return op.split(" ", 1)[1].replace("{id}", str(pk))


@pytest.mark.parametrize("op", sorted(BY_ID))
def test_another_organizations_token_gets_404_on_each_object(op, api, other, objects):
    name, body = BY_ID[op]
    url = _id_url(op, getattr(objects, name).pk)
    before = world()
    response = call(other[Role.OWNER], op, url, body(objects))
    assert_error(response, 404, "NOT_FOUND")
    assert "ETag" not in response
    assert not objects.ids() & uuids_in(response)
    assert world() == before, "the object (or something else) changed"
    # The same request with setup's own token works: the 404 was about the organization only.
    own = call(api[Role.OWNER], op, url, body(objects))
    expected = 409 if op in IN_USE else 204 if op.startswith("DELETE") or op in NO_CONTENT else 200
    assert own.status_code == expected, (own.status_code, own.content[:300])


@pytest.mark.parametrize("op", sorted(op for op in BY_ID if op.split()[0] in ("PATCH", "DELETE")))
def test_the_right_etag_does_not_help_another_organization(op, other, objects):
    name, body = BY_ID[op]
    obj = getattr(objects, name)
    etag = etag_of(type(obj).objects.get(pk=obj.pk))
    before = world()
    method = op.split()[0].lower()
    response = getattr(other[Role.OWNER], method)(
        _id_url(op, obj.pk), body(objects) or {}, format="json", HTTP_IF_MATCH=etag
    )
    assert_error(response, 404, "NOT_FOUND")
    assert world() == before


@pytest.mark.parametrize("op", sorted(BY_ID))
def test_every_other_role_of_another_organization_gets_404_too(op, other, objects):
    name, body = BY_ID[op]
    url = _id_url(op, getattr(objects, name).pk)
    before = world()
    for role in Role:
        assert_error(call(other[role], op, url, body(objects)), 404, "NOT_FOUND")
    assert world() == before


# === creating inside setup's organization =============================================================

# "POST collection" → the body a member of setup.org would send; answered 404 (the organization does not
# exist for the caller), or 400 NOT_FOUND on the field when setup's organization is only reached through
# a referenced object.
CREATES: dict[str, tuple[Body, str | None]] = {
    "POST /api/v1/bookings": (
        lambda o: {
            "orgId": str(o.org.pk),
            "bookingModuleId": str(o.module.pk),
            "portalId": str(o.portal.pk),
            "contact": {"name": "Mallory", "email": "mallory@example.com"},
            "bookingStatus": 1,
            "event": o.setup.event(future(20, 10)),
        },
        None,
    ),
    "POST /api/v1/booking-modules": (lambda o: {"orgId": str(o.org.pk), "name": "Intruder"}, None),
    "POST /api/v1/portals": (lambda o: {"orgId": str(o.org.pk), "name": "Intruder", "status": 0}, None),
    "POST /api/v1/venues": (lambda o: {"orgId": str(o.org.pk), "name": "Intruder"}, None),
    "POST /api/v1/resources": (lambda o: {"venueId": str(o.venue.pk), "name": "Intruder"}, "venueId"),
    "POST /api/v1/events": (
        lambda o: {
            "orgId": str(o.org.pk),
            "title": "Intruder",
            "start": iso(future(20, 10)),
            "end": iso(future(20, 11)),
            "resourceIds": [str(o.room.pk)],
        },
        None,
    ),
    "POST /api/v1/customers": (lambda o: {"orgId": str(o.org.pk), "name": "Intruder"}, None),
    "POST /api/v1/contacts": (
        lambda o: {"orgId": str(o.org.pk), "name": "Intruder", "email": "intruder@example.com"},
        None,
    ),
    "POST /api/v1/webhook-endpoints": (
        lambda o: {"orgId": str(o.org.pk), "url": "https://8.8.8.8/intruder", "eventTypes": ["booking.approved"]},
        None,
    ),
    **catalog.CREATES,
}


def assert_refused(response, field: str | None = None) -> None:
    """404, or 400 with NOT_FOUND on the field that names a stranger's object."""
    if field is None:
        assert_error(response, 404, "NOT_FOUND")
    else:
        assert_error(response, 400, "NOT_FOUND", field)


@pytest.mark.parametrize("op", sorted(CREATES))
def test_another_organization_cannot_create_inside_setups(op, api, other, objects):
    body, field = CREATES[op]
    url = op.split(" ", 1)[1]
    before = world()
    for role in Role:
        assert_refused(call(other[role], op, url, body(objects)), field)
    assert world() == before, "something was created"
    own = call(api[Role.OWNER], op, url, body(objects))
    assert own.status_code == 201, (own.status_code, own.content[:300])


def _other_booking(other) -> tuple:
    result = other.setup.submit(other.setup.event(future(12, 10)))
    return result.booking, result.access_token


def _other_event(other) -> Event:
    return event_create(
        organization=other.setup.org,
        title="Theirs",
        start=future(13, 10),
        end=future(13, 11),
        resource_ids=[other.setup.room.pk],
    )


# Requests of `other` inside its own organization that name one of setup's objects: refused the same way,
# so no id of setup's can be linked, used or even confirmed to exist.
FOREIGN_REFERENCES: dict[str, tuple[str, Callable, str | None]] = {
    "event on setup's room": (
        "POST /api/v1/events",
        lambda o, t: {
            "orgId": str(t.setup.org.pk),
            "title": "Mine",
            "start": iso(future(20, 10)),
            "end": iso(future(20, 11)),
            "resourceIds": [str(o.room.pk)],
        },
        "resourceIds",
    ),
    "event moved onto setup's room": (
        "PATCH /api/v1/events/{theirs_event}",
        lambda o, t: {"resourceIds": [str(o.room.pk)]},
        "resourceIds",
    ),
    "resource moved to setup's venue": (
        "PATCH /api/v1/resources/{theirs_room}",
        lambda o, t: {"venueId": str(o.venue.pk)},
        "venueId",
    ),
    "module offering setup's room": (
        "POST /api/v1/booking-modules",
        lambda o, t: {"orgId": str(t.setup.org.pk), "name": "Mine", "resourceIds": [str(o.room.pk)]},
        "resourceIds",
    ),
    "module on setup's portal": (
        "POST /api/v1/booking-modules",
        lambda o, t: {"orgId": str(t.setup.org.pk), "name": "Mine", "portalIds": [str(o.portal.pk)]},
        "portalIds",
    ),
    "module administered by setup's manager": (
        "PATCH /api/v1/booking-modules/{theirs_module}",
        lambda o, t: {"adminUserId": o.setup.manager.pk},
        "adminUserId",
    ),
    "contact of setup's customer": (
        "POST /api/v1/contacts",
        lambda o, t: {"orgId": str(t.setup.org.pk), "name": "Mine", "customerId": str(o.customer.pk)},
        "customerId",
    ),
    "booking with setup's module": (
        "POST /api/v1/bookings",
        lambda o, t: {
            "orgId": str(t.setup.org.pk),
            "bookingModuleId": str(o.module.pk),
            "contact": {"name": "Mallory", "email": "mallory@example.com"},
            "event": o.setup.event(future(20, 10)),
        },
        None,
    ),
    "booking on setup's portal": (
        "POST /api/v1/bookings",
        lambda o, t: {
            "orgId": str(t.setup.org.pk),
            "bookingModuleId": str(t.setup.module.pk),
            "portalId": str(o.portal.pk),
            "contact": {"name": "Mallory", "email": "mallory@example.com"},
            "event": t.setup.event(future(20, 10), resources=[t.setup.room]),
        },
        None,
    ),
    "booking of setup's room": (
        "POST /api/v1/bookings",
        lambda o, t: {
            "orgId": str(t.setup.org.pk),
            "bookingModuleId": str(t.setup.module.pk),
            "contact": {"name": "Mallory", "email": "mallory@example.com"},
            "event": t.setup.event(future(20, 10), resources=[o.room]),
        },
        "event.resourceIds",
    ),
    "booking confirming setup's event": (
        "POST /api/v1/bookings",
        lambda o, t: {
            "orgId": str(t.setup.org.pk),
            "bookingModuleId": str(t.setup.module.pk),
            "bookingStatus": 1,
            "contact": {"name": "Mallory", "email": "mallory@example.com"},
            "eventId": str(o.event.pk),
        },
        "eventId",
    ),
    "booking for setup's customer": (
        "POST /api/v1/bookings",
        lambda o, t: {
            "orgId": str(t.setup.org.pk),
            "bookingModuleId": str(t.setup.module.pk),
            "customerId": str(o.customer.pk),
            "contact": {"name": "Mallory", "email": "mallory@example.com"},
            "event": t.setup.event(future(20, 10), resources=[t.setup.room]),
        },
        "customerId",
    ),
    "own booking linked to setup's customer": (
        "PATCH /api/v1/bookings/{theirs_booking}",
        lambda o, t: {"customerId": str(o.customer.pk)},
        "customerId",
    ),
    "own booking linked to setup's contact": (
        "PATCH /api/v1/bookings/{theirs_booking}",
        lambda o, t: {"contactId": str(o.contact.pk)},
        "contactId",
    ),
    "own booking approved for setup's customer": (
        "POST /api/v1/bookings/{theirs_booking}/approve",
        lambda o, t: {"clientBookingLastUpdatedAt": None, "customerId": str(o.customer.pk)},
        "customerId",
    ),
    **catalog.FOREIGN_REFERENCES,
}


@pytest.mark.parametrize("case", sorted(FOREIGN_REFERENCES))
def test_another_organization_cannot_refer_to_setups_objects(case, other, objects):
    op, body, field = FOREIGN_REFERENCES[case]
    booking, _ = _other_booking(other)
    theirs = {
        "theirs_event": _other_event(other).pk,
        "theirs_room": other.setup.room.pk,
        "theirs_module": other.setup.module.pk,
        "theirs_booking": booking.pk,
    }
    url = op.split(" ", 1)[1].format(**theirs)
    data = body(objects, other)
    if data.get("clientBookingLastUpdatedAt", "") is None:
        booking.refresh_from_db()
        data["clientBookingLastUpdatedAt"] = iso(booking.updated_at)
    before = world()
    response = call(other[Role.OWNER], op, url, data)
    if field is None:
        assert_error(response, 404, "NOT_FOUND")
    else:
        assert_error(response, 400)
        assert field in {e["field"].split("[")[0] for e in response.json()["errors"]}, response.json()
    assert world() == before
    # Word for word what an id that exists nowhere gets: the answer does not even confirm setup's id exists.
    strangers = json.loads(_replace_ids(json.dumps(data), objects.ids()))
    unknown = call(other[Role.OWNER], op, url, strangers)
    assert _replace_ids(response.content.decode(), objects.ids()) == _replace_ids(
        unknown.content.decode(), uuids_in(unknown) - uuids_in(response)
    )
    assert world() == before


def _replace_ids(text: str, ids: set[str]) -> str:
    """Each of `ids` replaced by the same made-up id (that matches nothing)."""
    for pk in ids:
        text = text.replace(pk, UNKNOWN)
    return text


# === lists ============================================================================================

# "GET collection" → query variants, each naming setup's objects where the endpoint filters by them.
LISTS: dict[str, Callable[[Objects], list[dict]]] = {
    "GET /api/v1/bookings": lambda o: [
        {},
        {"returnEvents": "true"},
        {"bookingModuleId": str(o.module.pk)},
        {"portalId": str(o.portal.pk), "returnEvents": "true"},
    ],
    "GET /api/v1/booking-change-requests": lambda o: [{}],
    "GET /api/v1/booking-modules": lambda o: [
        {},
        {"orgId": str(o.org.pk)},
        {"portalId": str(o.portal.pk)},
        {"resourceId": str(o.room.pk)},
    ],
    "GET /api/v1/portals": lambda o: [{}, {"orgId": str(o.org.pk)}],
    "GET /api/v1/venues": lambda o: [{}, {"orgId": str(o.org.pk)}],
    "GET /api/v1/resources": lambda o: [{}, {"orgId": str(o.org.pk)}, {"venueId": str(o.venue.pk)}],
    "GET /api/v1/events": lambda o: [
        {},
        {"orgId": str(o.org.pk)},
        {"resourceId": str(o.room.pk)},
        {"windowStart": iso(future(6, 0)), "windowEnd": iso(future(10, 0))},
    ],
    "GET /api/v1/customers": lambda o: [{}, {"orgId": str(o.org.pk)}],
    "GET /api/v1/contacts": lambda o: [
        {},
        {"orgId": str(o.org.pk)},
        {"customerId": str(o.customer.pk)},
        {"email": o.contact.email},
    ],
    "GET /api/v1/webhook-endpoints": lambda o: [{}, {"orgId": str(o.org.pk)}, {"active": "true"}],
    "GET /api/v1/charges": lambda o: [
        {},
        {"orgId": str(o.org.pk)},
        {"customerId": str(o.customer.pk)},
        {"bookingId": str(o.approved.pk)},
        {"status": "0"},
    ],
    "GET /api/v1/charges.csv": lambda o: [{}, {"orgId": str(o.org.pk)}, {"customerId": str(o.customer.pk)}],
    "GET /api/v1/charges.xlsx": lambda o: [{}, {"orgId": str(o.org.pk)}, {"customerId": str(o.customer.pk)}],
    **{
        f"GET /api/v1/{noun}.{fmt}": queries
        for fmt in ("csv", "xlsx")
        for noun, queries in (
            ("bookings", lambda o: [{}, {"bookingModuleId": str(o.module.pk)}, {"status": "1"}]),
            ("events", lambda o: [{}, {"orgId": str(o.org.pk)}, {"resourceId": str(o.room.pk)}]),
            ("contacts", lambda o: [{}, {"orgId": str(o.org.pk)}, {"email": o.contact.email}]),
        )
    },
    # The report takes no ids of setup's to list by: another organization's venue, resource or organization
    # named in its query is a 400 NOT_FOUND (tests/api/test_reports.py).
    "GET /api/v1/reports/utilization": lambda o: [
        {"start": str(future(0).date()), "end": str(future(30).date())},
        {"start": str(future(0).date()), "end": str(future(30).date()), "granularity": "month"},
    ],
    **catalog.LISTS,
}


@pytest.mark.parametrize("op", sorted(LISTS))
def test_lists_of_another_organization_show_nothing_of_setups(op, api, other, objects):
    url = op.split(" ", 1)[1]
    mine = objects.ids()
    _other_booking(other)  # the other organization has something of its own to list
    for query in LISTS[op](objects):
        response = other[Role.OWNER].get(url, query)
        assert response.status_code == 200, (query, response.status_code, response.content[:300])
        assert not mine & uuids_in(response), (query, mine & uuids_in(response))
    own = api[Role.OWNER].get(url, LISTS[op](objects)[0])
    assert own.status_code == 200 and mine & uuids_in(own), "setup's own token lists them (the control)"


# === public endpoints =================================================================================

PUBLIC = {
    "POST /api/v1/bookings/submit",
    "POST /api/v1/bookings/validate",
    "POST /api/v1/bookings/change-requests/submit",
    "GET /api/v1/public/booking-modules/{id}",
    "GET /api/v1/public/booking-modules/{id}/availability",
}


def _submit_body(module, portal, org, setup) -> dict:
    return {
        "orgId": str(org.pk),
        "bookingModuleId": str(module.pk),
        "portalId": str(portal.pk),
        "contact": {"name": "Mallory", "email": "mallory@example.com"},
        "event": setup.event(future(20, 10)),
    }


@pytest.mark.parametrize("who", ["anonymous", "other's owner"])
def test_submit_mixing_setups_module_with_another_organizations_portal_is_404(who, api, other, objects):
    client = api.public if who == "anonymous" else other[Role.OWNER]
    theirs, mine = other.setup, objects.setup
    before = world()
    for body in (
        _submit_body(mine.module, theirs.portal, mine.org, mine),
        _submit_body(mine.module, theirs.portal, theirs.org, mine),
        _submit_body(theirs.module, mine.portal, theirs.org, theirs),
        _submit_body(mine.module, mine.portal, theirs.org, mine),
    ):
        assert_error(client.post("/api/v1/bookings/submit", body, format="json"), 404, "NOT_FOUND")
    assert world() == before


def test_staff_submit_into_setups_module_with_another_organizations_token_is_404(other, objects):
    body = {**_submit_body(objects.module, objects.portal, objects.org, objects.setup), "submission": False}
    before = world()
    assert_error(other[Role.OWNER].post("/api/v1/bookings/submit", body, format="json"), 404, "NOT_FOUND")
    assert world() == before


def test_submit_to_another_organizations_form_with_setups_resources_is_refused(api, other, objects):
    theirs = other.setup
    body = _submit_body(theirs.module, theirs.portal, theirs.org, objects.setup)  # the event uses setup's room
    before = world()
    response = api.public.post("/api/v1/bookings/submit", body, format="json")
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert not objects.ids() - {str(objects.room.pk)} & uuids_in(response)
    assert world() == before


@pytest.mark.parametrize("who", ["anonymous", "other's owner", "other's owner with its own booking's token"])
def test_change_request_for_setups_booking_without_its_token_is_404(who, api, other, objects):
    client = api.public if who == "anonymous" else other[Role.OWNER]
    body = {"bookingId": str(objects.approved.pk), "cancellation": True}
    if who.endswith("token"):
        body["accessToken"] = _other_booking(other)[1]
    before = world()
    response = client.post("/api/v1/bookings/change-requests/submit", body, format="json")
    assert_error(response, 404, "NOT_FOUND")
    # Exactly what a booking that does not exist answers: nothing tells the two apart.
    missing = client.post("/api/v1/bookings/change-requests/submit", {**body, "bookingId": UNKNOWN}, format="json")
    assert response.json() == missing.json()
    assert world() == before
    # The control: with the booking's own token it is accepted.
    ok = api.public.post(
        "/api/v1/bookings/change-requests/submit", {**body, "accessToken": objects.approved_token}, format="json"
    )
    assert ok.status_code == 201, (ok.status_code, ok.content[:300])


# === the guard ========================================================================================


def test_every_operation_of_the_schema_is_in_a_table():
    """A new endpoint fails here until it is added to BY_ID, CREATES, LISTS or PUBLIC above."""
    covered = set(BY_ID) | set(CREATES) | set(LISTS) | PUBLIC
    operations = schema_operations()
    assert operations - covered == set(), "add these operations to the tenancy tables"
    assert covered - operations == set(), "these operations are no longer in the schema"
    assert all("{id}" in op for op in BY_ID)
    assert not [op for op in operations - PUBLIC if "{id}" in op and op not in BY_ID]
