"""Strict input (docs/architecture.md#strict-input), over every write operation of the OpenAPI schema: each one,
called by an OWNER (a role allowed to call anything), answers a body with an unknown field with 400
UNKNOWN_FIELD at that field's path, at the top level and inside every object or list of objects its request
schema declares. Operations come from the schema, so an endpoint added later is covered without a change
here; the only operations left out are those `skip_reason` names, each with its reason. The objects that
paths address by id are built with the model's factory (the view's queryset says which model).

The schema says so too: every object a request body declares has additionalProperties false."""

from __future__ import annotations

import inspect
import uuid
from typing import Any

import factory
import pytest
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator

import tests.factories
from bookings.models import Booking, BookingChangeRequest, BookingModule, Charge, FormSection
from events.models import Event
from events.services.single import event_create
from resources.models import Membership, Organization, Role
from tests.api.booking_helpers import BOOKER, BOOKINGS, SUBMIT, create_body, submit_body
from tests.api.conftest import assert_error
from tests.conftest import Setup, future
from tests.factories import BookingModuleFactory, FormFieldFactory, WebhookEndpointFactory
from webhooks.models import WebhookEndpoint

UNKNOWN = "zzNotAField"
WRITE_METHODS = ("post", "put", "patch", "delete")
REF = "#/components/schemas/"
VALIDATE = "/api/v1/bookings/validate"

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
COMPONENTS = SCHEMA["components"]["schemas"]
WRITE_OPERATIONS = {
    f"{method.upper()} {path}": operation
    for path, item in SCHEMA["paths"].items()
    for method, operation in item.items()
    if method in WRITE_METHODS
}
# The model a path's {id} names, for views that read it by hand rather than through a queryset.
PATH_MODELS = {"bookings": Booking, "booking-change-requests": BookingChangeRequest, "charges": Charge}


def request_schema(operation: dict) -> dict | None:
    return operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")


def skip_reason(op: str) -> str | None:
    """Why an operation is not sent an unknown field (None: it is)."""
    if op.startswith("DELETE ") and request_schema(WRITE_OPERATIONS[op]) is None:
        return "a DELETE without a request body in the schema: the API reads no body there (HTTP gives none a meaning)"
    return None


# --- bodies from the schema -------------------------------------------------------------------------------------


def resolved(schema: dict) -> dict:
    """The schema a $ref, allOf or nullable oneOf stands for (an object with its own properties stands for
    itself: its allOf or oneOf only adds constraints between its keys, core.api.constraints)."""
    while True:
        if "$ref" in schema:
            schema = COMPONENTS[schema["$ref"].removeprefix(REF)]
        elif schema.get("allOf") and not schema.get("properties"):
            schema = schema["allOf"][0]
        elif schema.get("oneOf") and not schema.get("properties"):
            schema = next(s for s in schema["oneOf"] if resolved(s).get("type") != "null" and "enum" not in s)
        else:
            return schema


def is_object(schema: dict) -> bool:
    """An object whose fields the schema declares (free-form objects, such as answers keyed by field id, are
    checked by their owner, not by the serializer)."""
    return bool(schema.get("properties")) and schema.get("additionalProperties") is False


class Sample:
    """Values for the required fields of a request schema: ids of the caller's objects for `orgId`,
    `venueId`, `resourceId`, ... (a create may check the role there before the rest of the body), plausible
    values for the rest."""

    def __init__(self, setup: Setup):
        self.ids = {
            "orgId": setup.org.pk,
            "venueId": setup.venue.pk,
            "resourceId": setup.room.pk,
            "bookingModuleId": setup.module.pk,
            "portalId": setup.portal.pk,
        }

    def value(self, name: str, schema: dict) -> Any:
        schema = resolved(schema)
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if is_object(schema):
            return self.required(schema)
        if kind == "array":
            return [self.value(name, schema["items"]) for _ in range(schema.get("minItems", 0))]
        if kind == "object":
            return {}
        if kind == "boolean":
            return False
        if kind in ("integer", "number"):
            return schema.get("minimum", 1)
        return self.text(name, schema.get("format"))

    def text(self, name: str, form: str | None) -> str:
        if name in self.ids:
            return str(self.ids[name])
        return {"uuid": str(uuid.uuid4()), "date-time": "2030-01-07T10:00:00Z", "date": "2030-01-07"}.get(form, "x")

    def required(self, schema: dict) -> dict:
        return {name: self.value(name, schema["properties"][name]) for name in schema.get("required", [])}


def probes(schema: dict | None, sample: Sample, path: str = "", depth: int = 0) -> list[tuple[Any, str]]:
    """(body, the path of its unknown field): one at this level, one inside each declared object or list of
    objects below it."""
    if schema is None:
        return [({UNKNOWN: 1}, UNKNOWN)]  # a write without a body takes no fields at all
    schema = resolved(schema)
    if schema.get("type") == "array" and depth < 6:
        return [([body], where) for body, where in probes(schema["items"], sample, f"{path}[0]", depth + 1)]
    if not is_object(schema) or depth >= 6:
        return []
    base = sample.required(schema)
    found = [({**base, UNKNOWN: 1}, f"{path}.{UNKNOWN}" if path else UNKNOWN)]
    for name, field in schema["properties"].items():
        inner_path = f"{path}.{name}" if path else name
        found += [({**base, name: body}, where) for body, where in probes(field, sample, inner_path, depth + 1)]
    return found


# --- the objects paths address ---------------------------------------------------------------------------------


def factory_for(model) -> type[factory.django.DjangoModelFactory]:
    found = [
        f
        for _, f in inspect.getmembers(tests.factories, inspect.isclass)
        if issubclass(f, factory.django.DjangoModelFactory) and f._meta.model is model
    ]
    assert found, f"no factory in tests/factories for {model.__name__}: add one"
    return found[0]


# Models whose factory's defaults would not survive being written back as read (the module's admin must be a
# member, an event needs a resource, a webhook URL a public address): built here, in setup's organization.
BUILDERS = {
    BookingModule: lambda s: BookingModuleFactory(organization=s.org, admin_user=s.manager, portals=[s.portal]),
    Event: lambda s: event_create(
        organization=s.org, title="Board meeting", start=future(9, 10), end=future(9, 11), resource_ids=[s.desks.pk]
    ),
    WebhookEndpoint: lambda s: WebhookEndpointFactory(organization=s.org, url="https://8.8.8.8/hooks"),
}


def object_for(path: str, setup: Setup):
    """A new object of the model that `path`'s {id} names; its organization is made the caller's below."""
    view = resolve(path.replace("{id}", str(uuid.uuid4()))).func.cls
    queryset = getattr(view, "queryset", None)
    model = queryset.model if queryset is not None else PATH_MODELS.get(path.split("/")[3])
    assert model is not None, f"{path}: say in PATH_MODELS which model its {{id}} names"
    build = BUILDERS.get(model)
    return build(setup) if build is not None else factory_for(model)()


def url_for(op: str, setup: Setup) -> str:
    path = op.split(" ", 1)[1]
    return path.replace("{id}", str(object_for(path, setup).pk)) if "{id}" in path else path


def own_every_organization(user) -> None:
    for org in Organization.objects.exclude(memberships__user=user):
        Membership.objects.create(user=user, organization=org, role=Role.OWNER)


# --- the tests ------------------------------------------------------------------------------------------------


def test_the_schema_has_write_operations_to_check():
    covered = [op for op in WRITE_OPERATIONS if skip_reason(op) is None]
    assert len(covered) >= 30, sorted(covered)


@pytest.mark.parametrize("op", sorted(WRITE_OPERATIONS))
def test_every_write_operation_refuses_an_unknown_field(op, api, setup, django_assert_max_num_queries):
    reason = skip_reason(op)
    if reason is not None:
        pytest.skip(reason)
    url = url_for(op, setup)
    owner = api[Role.OWNER]
    own_every_organization(api.users[Role.OWNER])
    method = op.split(" ", 1)[0].lower()
    cases = probes(request_schema(WRITE_OPERATIONS[op]), Sample(setup))
    assert cases
    for body, where in cases:
        with django_assert_max_num_queries(12):  # refused before any service runs
            response = getattr(owner, method)(url, body, format="json")
        assert_error(response, 400, "UNKNOWN_FIELD", where)
        assert [e["field"] for e in response.json()["errors"] if e["code"] == "UNKNOWN_FIELD"] == [where]


@pytest.mark.parametrize("op", sorted(op for op, operation in WRITE_OPERATIONS.items() if request_schema(operation)))
def test_request_bodies_declare_no_other_properties(op):
    """Every declared object a request body reaches refuses other properties in the schema too."""
    pending, seen = [request_schema(WRITE_OPERATIONS[op])], 0
    while pending:
        schema = resolved(pending.pop())
        if schema.get("properties"):
            # False, or a schema of its own: the answers keyed by field id an event or a contact may carry.
            assert schema.get("additionalProperties") is False or isinstance(
                schema.get("additionalProperties"), dict
            ), (
                op,
                schema,
            )
            seen += 1
            pending += list(schema["properties"].values())
        elif schema.get("type") == "array":
            pending.append(schema["items"])
    assert seen


# --- read back and written again ---------------------------------------------------------------------------------

# PATCH operations whose representation may not come back whole, and why.
NOT_ECHOED = {
    "PATCH /api/v1/bookings/{id}": "every field of the representation but customerId and contactId is refused "
    "with IMMUTABLE_FIELD (docs/architecture.md#http-api-conventions)",
}


def readable_patches() -> list[str]:
    return sorted(
        op
        for op in WRITE_OPERATIONS
        if op.startswith("PATCH ") and "get" in SCHEMA["paths"][op.split(" ", 1)[1]] and op not in NOT_ECHOED
    )


@pytest.mark.parametrize("op", readable_patches())
def test_a_representation_sent_back_as_read_is_accepted(op, api, setup):
    """Read-only fields of the representation (id, orgId, createdAt, units, ...) are ignored on write."""
    url = url_for(op, setup)
    owner = api[Role.OWNER]
    own_every_organization(api.users[Role.OWNER])
    read = owner.get(url)
    assert read.status_code == 200, read.content[:300]
    response = owner.patch(url, read.json(), format="json")
    assert response.status_code == 200, response.content[:500]
    written = response.json()
    assert {key: value for key, value in written.items() if key != "lastUpdatedAt"} == {
        key: value for key, value in read.json().items() if key != "lastUpdatedAt"
    }


# --- named cases ---------------------------------------------------------------------------------------------


def _submit(setup, **extra) -> dict:
    return submit_body(setup, setup.event(), **extra)


NAMED = [
    # (id, method, url(setup, objects), body(setup), the unknown field's path)
    ("submit-misspelt", "post", lambda s: SUBMIT, lambda s: _submit(s, requestNotes="x"), "requestNotes"),
    (
        "submit-events-tentative",
        "post",
        lambda s: SUBMIT,
        lambda s: submit_body(s, s.event(tentative=True), single=False),
        "events[0].tentative",
    ),
    (
        "submit-event-tentative",
        "post",
        lambda s: SUBMIT,
        lambda s: submit_body(s, s.event(tentative=True)),
        "event.tentative",
    ),
    (
        "submit-contact-nickname",
        "post",
        lambda s: SUBMIT,
        lambda s: _submit(s, contact={"name": "Ada", "email": BOOKER, "nickname": "A"}),
        "contact.nickname",
    ),
    (
        "submit-visitor-phone",
        "post",
        lambda s: SUBMIT,
        lambda s: _submit(s, visitors=[{"name": "Bo", "email": "bo@example.com", "phone": "1"}]),
        "visitors[0].phone",
    ),
    (
        "create-notification-foo",
        "post",
        lambda s: BOOKINGS,
        lambda s: create_body(s, 1, notification={"send": False, "foo": 1}),
        "notification.foo",
    ),
    ("validate-misspelt", "post", lambda s: VALIDATE, lambda s: _submit(s, portalID="x"), "portalID"),
    (
        "module-form-field",
        "post",
        lambda s: "/api/v1/booking-modules",
        lambda s: {
            "orgId": str(s.org.pk),
            "name": "Desks",
            "bookingForm": {"contactFields": [{"label": "Team", "placeholder": "x"}]},
        },
        "bookingForm.contactFields[0].placeholder",
    ),
    (
        "resource-hours",
        "patch",
        lambda s: f"/api/v1/resources/{s.room.pk}",
        lambda s: {"bookableHours": [{"weekday": 0, "start": "09:00", "end": "17:00", "day": 1}]},
        "bookableHours[0].day",
    ),
]


@pytest.mark.parametrize(("method", "url", "body", "field"), [c[1:] for c in NAMED], ids=[c[0] for c in NAMED])
def test_named_unknown_fields(api, setup, method, url, body, field):
    before = Booking.objects.count()
    response = getattr(api[Role.OWNER], method)(url(setup), body(setup), format="json")
    assert_error(response, 400, "UNKNOWN_FIELD", field)
    assert Booking.objects.count() == before


def test_custom_field_answers_by_id_stay_allowed(api, setup):
    purpose = FormFieldFactory(module=setup.module, section=FormSection.EVENT, label="Purpose")
    team = FormFieldFactory(module=setup.module, section=FormSection.CONTACT, label="Team")
    body = submit_body(
        setup,
        setup.event(**{str(purpose.pk): "Planning"}),
        contact={"name": "Ada", "email": BOOKER, str(team.pk): "Ops"},
    )
    response = api.public.post(SUBMIT, body, format="json")
    assert response.status_code == 201, response.content[:300]
    booking = response.json()["booking"]
    assert booking["events"][0]["answers"] == {str(purpose.pk): "Planning"}
    assert booking["contact"][str(team.pk)] == "Ops"


def test_an_unknown_field_is_reported_with_the_other_problems(api, setup):
    body = {**submit_body(setup), "orgId": "not-an-id", "tentative": True}
    body = assert_error(api.public.post(SUBMIT, body, format="json"), 400)
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("tentative", "UNKNOWN_FIELD"), ("orgId", "INVALID")]
