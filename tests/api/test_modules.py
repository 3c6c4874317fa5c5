"""/api/v1/booking-modules: shape, form builder (create without ids, update with ids, left out → archived),
links within one organization, roles, tenant isolation, ETags, query counts."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.models import BookingEvent, BookingModule, FormField, FormSection, ModuleResource
from resources.models import Role
from tests.api.conftest import assert_error
from tests.conftest import future
from tests.factories import (
    BookingModuleFactory,
    FormFieldFactory,
    ResourceFactory,
    UserFactory,
)

URL = "/api/v1/booking-modules"

MODULE_KEYS = {
    "id",
    "orgId",
    "name",
    "slug",
    "adminUserId",
    "portalIds",
    "resourceIds",
    "about",
    "calendar",
    "config",
    "bookingForm",
    "createdAt",
    "lastUpdatedAt",
}
FIELD_KEYS = {"id", "label", "type", "required", "helpText", "options", "min", "max", "order"}


def detail(module) -> str:
    return f"{URL}/{module.pk if hasattr(module, 'pk') else module}"


def create(api, setup, **body):
    return api.admin.post(URL, {"orgId": str(setup.org.pk), "name": "Rooms", **body}, format="json")


def test_retrieve_has_the_exact_shape(api, setup):
    field = FormFieldFactory(
        module=setup.module,
        section=FormSection.EVENT,
        label="Purpose",
        required=True,
        help_text="Why?",
        min_value=2,
        max_value=200,
        order=1,
    )
    FormFieldFactory(module=setup.module, section=FormSection.EVENT, label="Old", archived=True)
    response = api.viewer.get(detail(setup.module))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == MODULE_KEYS
    m = setup.module
    assert body["id"] == str(m.pk) and body["orgId"] == str(setup.org.pk)
    assert body["name"] == m.name and body["slug"] == m.slug and body["adminUserId"] == setup.admin.pk
    assert body["portalIds"] == [str(setup.portal.pk)]
    assert sorted(body["resourceIds"]) == sorted(str(r.pk) for r in (setup.room, setup.hall, setup.desks))
    assert body["about"] == {"title": "", "description": ""}
    assert body["calendar"] == {"daysShown": 7, "showRequested": True}
    assert body["config"] == {
        "holdPendingSlots": True,
        "allowChangeRequests": True,
        "allowCancellation": True,
        "terms": "",
        "maxOccurrences": 150,
        "allowRepeatRequests": False,
        "autoApprove": False,
    }
    assert body["bookingForm"] == {
        "contactFields": [],
        "eventFields": [
            {
                "id": str(field.pk),
                "label": "Purpose",
                "type": "text",
                "required": True,
                "helpText": "Why?",
                "options": [],
                "min": 2,
                "max": 200,
                "order": 1,
            }
        ],
    }
    assert body["createdAt"].endswith("Z") and body["lastUpdatedAt"].endswith("Z")
    assert response["ETag"].startswith('"')


def test_list_shows_the_organizations_modules_to_any_member(api, setup, other):
    response = api.viewer.get(URL)
    assert response.status_code == 200
    assert [m["id"] for m in response.json()] == [str(setup.module.pk)]
    assert set(response.json()[0]) == MODULE_KEYS
    assert api.viewer.get(URL, {"orgId": str(other.setup.org.pk)}).json() == []
    assert len(api.viewer.get(URL, {"portalId": str(setup.portal.pk)}).json()) == 1
    assert api.viewer.get(URL, {"resourceId": str(uuid.uuid4())}).json() == []
    assert_error(api.viewer.get(URL, {"orgId": "nope"}), 400, "INVALID", "orgId")


def test_create_assigns_field_ids_and_defaults(api, setup):
    response = create(
        api,
        setup,
        slug="rooms",
        adminUserId=api.users[Role.VIEWER].pk,
        portalIds=[str(setup.portal.pk)],
        resourceIds=[str(setup.room.pk), str(setup.room.pk)],
        about={"title": "Our rooms", "description": "<p onclick='x()'>Hi<script>alert(1)</script></p>"},
        calendar={"daysShown": 14, "showRequested": False},
        config={"holdPendingSlots": False, "allowCancellation": False, "terms": "<b>Be nice</b>"},
        bookingForm={
            "contactFields": [{"label": "Company", "helpText": "If any"}],
            "eventFields": [
                {"label": "Layout", "type": "select", "options": ["U", " Theatre ", "U"], "required": True},
                {"label": "Guests", "type": "number", "min": 1, "max": 12.5, "order": 7},
            ],
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == MODULE_KEYS and response["ETag"]
    module = BookingModule.objects.get(pk=body["id"])
    assert module.organization == setup.org and module.slug == "rooms"
    assert body["adminUserId"] == api.users[Role.VIEWER].pk
    assert body["portalIds"] == [str(setup.portal.pk)] and body["resourceIds"] == [str(setup.room.pk)]
    assert body["about"] == {"title": "Our rooms", "description": "<p>Hi</p>"}
    assert body["calendar"] == {"daysShown": 14, "showRequested": False}
    assert body["config"] == {
        "holdPendingSlots": False,
        "allowChangeRequests": True,
        "allowCancellation": False,
        "terms": "<b>Be nice</b>",
        "maxOccurrences": 150,
        "allowRepeatRequests": False,
        "autoApprove": False,
    }
    (contact,) = body["bookingForm"]["contactFields"]
    layout, guests = body["bookingForm"]["eventFields"]
    assert set(contact) == FIELD_KEYS
    assert contact | {"id": None} == {
        "id": None,
        "label": "Company",
        "type": "text",
        "required": False,
        "helpText": "If any",
        "options": [],
        "min": None,
        "max": None,
        "order": 0,
    }
    assert layout["options"] == ["U", "Theatre"] and layout["order"] == 0 and layout["required"] is True
    assert (guests["min"], guests["max"], guests["order"]) == (1, 12.5, 7)
    ids = {f.pk for f in FormField.objects.filter(module=module)}
    assert ids == {uuid.UUID(f["id"]) for f in (contact, layout, guests)}


def test_create_with_name_only_derives_the_slug(api, setup):
    first = create(api, setup, name="Meeting Rooms!")
    second = create(api, setup, name="Meeting Rooms!")
    assert first.status_code == second.status_code == 201
    assert first.json()["slug"] == "meeting-rooms" and second.json()["slug"] == "meeting-rooms-2"
    body = first.json()
    assert body["portalIds"] == [] and body["resourceIds"] == [] and body["adminUserId"] is None
    assert body["bookingForm"] == {"contactFields": [], "eventFields": []}


def test_form_builder_creates_updates_and_archives(api, setup):
    body = create(
        api,
        setup,
        bookingForm={
            "eventFields": [
                {"label": "Purpose"},
                {"label": "Catering", "type": "checkbox"},
                {"label": "Notes", "type": "textarea"},
            ],
            "contactFields": [{"label": "Company"}],
        },
    ).json()
    purpose, catering, notes = body["bookingForm"]["eventFields"]
    company = body["bookingForm"]["contactFields"][0]

    response = api.admin.patch(
        detail(body["id"]),
        {
            "bookingForm": {
                "eventFields": [
                    {"label": "Seating", "type": "multiselect", "options": ["A", "B"]},
                    {"id": notes["id"], "label": "Anything else?"},
                    {"id": purpose["id"], "required": True},
                ]
            }
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    fields = response.json()["bookingForm"]["eventFields"]
    assert [f["label"] for f in fields] == ["Seating", "Anything else?", "Purpose"]
    assert [f["order"] for f in fields] == [0, 1, 2]
    assert fields[1]["id"] == notes["id"] and fields[1]["type"] == "textarea"
    assert fields[2]["id"] == purpose["id"] and fields[2]["required"] is True
    assert catering["id"] not in {f["id"] for f in fields}
    archived = FormField.objects.get(pk=catering["id"])
    assert archived.archived and archived.label == "Catering"  # kept, never deleted
    # The section that was not sent is untouched.
    assert response.json()["bookingForm"]["contactFields"] == [company]

    # Sending an archived field's id brings it back.
    response = api.admin.patch(
        detail(body["id"]), {"bookingForm": {"eventFields": [{"id": catering["id"]}]}}, format="json"
    )
    assert [f["id"] for f in response.json()["bookingForm"]["eventFields"]] == [catering["id"]]
    assert FormField.objects.filter(module_id=body["id"]).count() == 5

    # An empty section archives every field of it.
    response = api.admin.patch(detail(body["id"]), {"bookingForm": {"contactFields": []}}, format="json")
    assert response.json()["bookingForm"]["contactFields"] == []
    assert FormField.objects.get(pk=company["id"]).archived


def test_answers_of_old_bookings_stay_keyed_by_the_archived_field(api, setup):
    field = FormFieldFactory(module=setup.module, section=FormSection.EVENT, label="Purpose")
    result = setup.submit(setup.event(**{str(field.pk): "Board meeting"}))
    response = api.admin.patch(
        detail(setup.module), {"bookingForm": {"eventFields": [{"label": "Agenda"}]}}, format="json"
    )
    assert response.status_code == 200
    field.refresh_from_db()
    assert field.archived and field.label == "Purpose"
    be = BookingEvent.objects.get(booking=result.booking)
    assert be.answers == {str(field.pk): "Board meeting"}
    # A form opened before the change still goes through; the archived answer is dropped quietly.
    new_field = FormField.objects.get(module=setup.module, label="Agenda")
    answers = {str(field.pk): "x", str(new_field.pk): "y"}
    later = setup.submit(setup.event(start=future(days=9), title="Later", **answers), email="later@example.com")
    assert later.booking.requested_times.get().answers == {str(new_field.pk): "y"}


@pytest.mark.parametrize(
    ("fields", "code", "path"),
    [
        ([{"id": str(uuid.uuid4()), "label": "Ghost"}], "NOT_FOUND", "bookingForm.eventFields[0].id"),
        ([{"type": "text"}], "REQUIRED", "bookingForm.eventFields[0].label"),
        ([{"label": "Pick", "type": "select"}], "REQUIRED", "bookingForm.eventFields[0].options"),
        ([{"label": "Pick", "type": "multiselect", "options": []}], "REQUIRED", "bookingForm.eventFields[0].options"),
        ([{"label": "N", "type": "number", "min": 5, "max": 1}], "INVALID", "bookingForm.eventFields[0].max"),
        ([{"label": "T", "min": -1}], "MIN_VALUE", "bookingForm.eventFields[0].min"),
        ([{"label": "X", "type": "colour"}], "INVALID_CHOICE", "bookingForm.eventFields[0].type"),
        ([{"label": "X", "min": 1e20}], "INVALID", "bookingForm.eventFields[0].min"),
        ([{"label": "X", "order": -1}], "MIN_VALUE", "bookingForm.eventFields[0].order"),
        ([{"label": "X" * 201}], "MAX_LENGTH", "bookingForm.eventFields[0].label"),
        ([{"label": "A"}, "junk"], "INVALID", "bookingForm.eventFields[1]"),
        ("junk", "INVALID", "bookingForm.eventFields"),
    ],
)
def test_bad_form_fields_are_400_with_the_field(api, setup, fields, code, path):
    assert_error(
        api.admin.patch(detail(setup.module), {"bookingForm": {"eventFields": fields}}, format="json"), 400, code, path
    )
    assert_error(create(api, setup, bookingForm={"eventFields": fields}), 400, code, path)


def test_field_ids_of_another_section_module_or_org_are_not_found(api, setup, other):
    contact_field = FormFieldFactory(module=setup.module, section=FormSection.CONTACT)
    elsewhere = FormFieldFactory(module=BookingModuleFactory(organization=setup.org))
    foreign = FormFieldFactory(module=other.setup.module)
    for field in (contact_field, elsewhere, foreign):
        assert_error(
            api.admin.patch(
                detail(setup.module), {"bookingForm": {"eventFields": [{"id": str(field.pk)}]}}, format="json"
            ),
            400,
            "NOT_FOUND",
            "bookingForm.eventFields[0].id",
        )
    event_field = FormFieldFactory(module=setup.module)
    twice = [{"id": str(event_field.pk)}, {"id": str(event_field.pk)}]
    assert_error(
        api.admin.patch(detail(setup.module), {"bookingForm": {"eventFields": twice}}, format="json"),
        400,
        "NOT_UNIQUE",
        "bookingForm.eventFields[1].id",
    )
    assert not FormField.objects.filter(archived=True).exists()  # nothing changed


@pytest.mark.parametrize(
    ("body", "code", "path"),
    [
        ({"name": ""}, "REQUIRED", "name"),
        ({"name": None}, "REQUIRED", "name"),
        ({"slug": "not a slug"}, "INVALID", "slug"),
        ({"adminUserId": "x"}, "INVALID", "adminUserId"),
        ({"adminUserId": 10**30}, "MAX_VALUE", "adminUserId"),
        ({"portalIds": "x"}, "INVALID", "portalIds"),
        ({"resourceIds": ["x"]}, "INVALID", "resourceIds[0]"),
        ({"calendar": {"daysShown": 0}}, "MIN_VALUE", "calendar.daysShown"),
        ({"calendar": {"showRequested": "maybe"}}, "INVALID", "calendar.showRequested"),
        ({"about": "x"}, "INVALID", "about"),
        ({"about": None}, "REQUIRED", "about"),
        ({"config": {"terms": "x" * 20_001}}, "MAX_LENGTH", "config.terms"),
        ({"name": "a\x00b"}, "NULL_CHARACTERS_NOT_ALLOWED", "name"),
    ],
)
def test_bad_module_input_is_400(api, setup, body, code, path):
    assert_error(create(api, setup, **body), 400, code, path)
    assert_error(api.admin.patch(detail(setup.module), body, format="json"), 400, code, path)


def test_create_needs_an_org_id_and_an_object(api, setup):
    assert_error(api.admin.post(URL, {"name": "X"}, format="json"), 400, "REQUIRED", "orgId")
    assert_error(api.admin.post(URL, {"name": "X", "orgId": "1"}, format="json"), 400, "INVALID", "orgId")
    assert_error(api.admin.post(URL, [1, 2], format="json"), 400)
    assert_error(api.admin.post(URL, "{bad json", content_type="application/json"), 400, "PARSE_ERROR")


def test_slug_is_unique_per_organization(api, setup, other):
    assert_error(create(api, setup, slug=setup.module.slug), 400, "NOT_UNIQUE", "slug")
    taken = BookingModuleFactory(organization=setup.org)
    assert_error(api.admin.patch(detail(setup.module), {"slug": taken.slug}, format="json"), 400, "NOT_UNIQUE", "slug")
    assert api.admin.patch(detail(setup.module), {"slug": setup.module.slug}, format="json").status_code == 200
    # Another organization may use the same slug.
    response = other.admin.post(
        URL, {"orgId": str(other.setup.org.pk), "name": "X", "slug": setup.module.slug}, format="json"
    )
    assert response.status_code == 201


def test_links_must_belong_to_the_same_organization(api, setup, other):
    foreign_portal, foreign_room = other.setup.portal, other.setup.room
    outsider = UserFactory()
    for body, path in [
        ({"portalIds": [str(foreign_portal.pk)]}, "portalIds"),
        ({"resourceIds": [str(setup.room.pk), str(foreign_room.pk)]}, "resourceIds"),
        ({"resourceIds": [str(uuid.uuid4())]}, "resourceIds"),
        ({"adminUserId": outsider.pk}, "adminUserId"),
        ({"adminUserId": other.users[Role.OWNER].pk}, "adminUserId"),
    ]:
        assert_error(create(api, setup, **body), 400, "NOT_FOUND", path)
        assert_error(api.admin.patch(detail(setup.module), body, format="json"), 400, "NOT_FOUND", path)
    assert not setup.module.portals.filter(pk=foreign_portal.pk).exists()
    assert not ModuleResource.objects.filter(resource=foreign_room, module__organization=setup.org).exists()


def test_other_organization_cannot_link_our_objects_to_its_module(api, setup, other):
    response = other.admin.patch(
        detail(other.setup.module),
        {"resourceIds": [str(setup.room.pk)], "portalIds": [str(setup.portal.pk)]},
        format="json",
    )
    body = assert_error(response, 400, "NOT_FOUND", "resourceIds")
    assert ("portalIds", "NOT_FOUND") in [(e["field"], e["code"]) for e in body["errors"]]
    assert not ModuleResource.objects.filter(module=other.setup.module, resource=setup.room).exists()


def test_patch_changes_links_and_keeps_resource_settings(api, setup):
    ModuleResource.objects.filter(module=setup.module, resource=setup.room).update(settings={"note": "keep"})
    new_room = ResourceFactory(venue=setup.venue)
    response = api.admin.patch(
        detail(setup.module),
        {
            "resourceIds": [str(setup.room.pk), str(new_room.pk)],
            "portalIds": [],
            "adminUserId": None,
            "orgId": str(uuid.uuid4()),
            "name": "Renamed",
            "config": {"allowChangeRequests": False},
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert sorted(body["resourceIds"]) == sorted([str(setup.room.pk), str(new_room.pk)])
    assert body["portalIds"] == [] and body["adminUserId"] is None and body["name"] == "Renamed"
    assert body["orgId"] == str(setup.org.pk)  # a module never moves
    assert body["config"]["allowChangeRequests"] is False and body["config"]["allowCancellation"] is True
    assert ModuleResource.objects.get(module=setup.module, resource=setup.room).settings == {"note": "keep"}


def test_anonymous_is_401(api, setup):
    for response in (
        api.public.get(URL),
        api.public.get(detail(setup.module)),
        api.public.post(URL, {}, format="json"),
        api.public.patch(detail(setup.module), {}, format="json"),
        api.public.delete(detail(setup.module)),
    ):
        assert_error(response, 401, "NOT_AUTHENTICATED")
    bad = api.public
    bad.credentials(HTTP_AUTHORIZATION="Bearer allot_nonsense")
    assert_error(bad.get(URL), 401)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MANAGER])
def test_viewers_and_managers_cannot_configure(api, setup, role):
    client = api[role]
    assert client.get(detail(setup.module)).status_code == 200
    assert_error(client.post(URL, {"orgId": str(setup.org.pk), "name": "X"}, format="json"), 403, "PERMISSION_DENIED")
    assert_error(client.patch(detail(setup.module), {"name": "X"}, format="json"), 403)
    assert_error(client.delete(detail(setup.module)), 403)
    # The role is checked before the body.
    assert_error(client.patch(detail(setup.module), {"name": ""}, format="json"), 403)
    assert BookingModule.objects.filter(pk=setup.module.pk, name=setup.module.name).exists()


def test_owner_configures_too(api, setup):
    assert api[Role.OWNER].patch(detail(setup.module), {"name": "By owner"}, format="json").status_code == 200


def test_other_organization_gets_404(api, setup, other):
    assert [m["id"] for m in other.admin.get(URL).json()] == [str(other.setup.module.pk)]
    assert_error(other.admin.get(detail(setup.module)), 404, "NOT_FOUND")
    assert_error(other.admin.patch(detail(setup.module), {"name": "Mine"}, format="json"), 404)
    assert_error(other.admin.delete(detail(setup.module)), 404)
    assert_error(other.admin.post(URL, {"orgId": str(setup.org.pk), "name": "Mine"}, format="json"), 404)
    assert not BookingModule.objects.filter(name="Mine").exists()
    assert BookingModule.objects.filter(pk=setup.module.pk).exists()


def test_unknown_ids_are_404(api, setup):
    assert_error(api.admin.get(detail(uuid.uuid4())), 404, "NOT_FOUND")
    assert_error(api.admin.patch(detail(uuid.uuid4()), {}, format="json"), 404)
    assert_error(api.admin.delete(detail(uuid.uuid4())), 404)
    assert_error(api.admin.post(URL, {"orgId": str(uuid.uuid4()), "name": "X"}, format="json"), 404)


def test_delete(api, setup):
    module = BookingModuleFactory(organization=setup.org, portals=[setup.portal], offered=[setup.room])
    FormFieldFactory(module=module)
    assert api.admin.delete(detail(module)).status_code == 204
    assert not BookingModule.objects.filter(pk=module.pk).exists()
    assert_error(api.admin.get(detail(module)), 404)


def test_delete_with_bookings_is_409_in_use(api, setup):
    setup.submit()
    assert_error(api.admin.delete(detail(setup.module)), 409, "IN_USE")
    assert BookingModule.objects.filter(pk=setup.module.pk).exists()


def test_if_match(api, setup):
    etag = api.viewer.get(detail(setup.module))["ETag"]
    response = api.admin.patch(detail(setup.module), {"name": "One"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200 and response["ETag"] != etag
    assert_error(
        api.admin.patch(detail(setup.module), {"name": "Two"}, format="json", HTTP_IF_MATCH=etag),
        412,
        "PRECONDITION_FAILED",
    )
    assert_error(api.admin.delete(detail(setup.module), HTTP_IF_MATCH=etag), 412)
    # A field-only change moves the ETag too.
    fresh = response["ETag"]
    changed = api.admin.patch(
        detail(setup.module), {"bookingForm": {"eventFields": [{"label": "Q"}]}}, format="json", HTTP_IF_MATCH=fresh
    )
    assert changed.status_code == 200 and changed["ETag"] != fresh
    assert api.admin.delete(detail(setup.module), HTTP_IF_MATCH=changed["ETag"]).status_code == 204


def test_list_query_count_does_not_grow(api, setup, django_assert_num_queries):
    def add(n):
        for _ in range(n):
            module = BookingModuleFactory(organization=setup.org, portals=[setup.portal], offered=[setup.room])
            FormFieldFactory(module=module)
            FormFieldFactory(module=module, section=FormSection.CONTACT)

    add(2)  # with setup's: 3
    with CaptureQueriesContext(connection) as small:
        assert len(api.viewer.get(URL).json()) == 3
    add(27)
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(api.viewer.get(URL).json()) == 30
