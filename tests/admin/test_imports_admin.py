"""Imports in the admin (docs/architecture.md#imports): upload, a preview of every row with its errors, confirm;
rows are created through the services, all or none; each model in both formats, every way a file or a row
can fail, who may import where, the signed payload between the pages, and the queries."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DataError, transaction
from django.test import Client

from bookings import services as booking_services
from bookings.models import Contact, Customer
from resources import admin_imports
from resources import services as resource_services
from resources.models import Resource, ResourceKind
from tests.conftest import Setup
from tests.factories import ContactFactory, CustomerFactory, VenueFactory

from .config_helpers import url
from .imports_helpers import IMPORTABLES, Importable, confirm, csv_file, errors_of, make_file, upload

SERVICES = {
    "resources.resource": (resource_services, "resource_create"),
    "bookings.contact": (booking_services, "contact_create"),
    "bookings.customer": (booking_services, "customer_create"),
}


@pytest.fixture
def hall(setup: Setup):
    return VenueFactory(organization=setup.org, name="Main hall")


def _client(member, spec: Importable) -> Client:
    return member(spec.role)[1]


def _preview(client, spec: Importable, setup: Setup, rows, fmt: str = "csv"):
    response = upload(client, spec.app_model, setup.org, make_file(fmt, [spec.header, *rows]))
    assert response.status_code == 200
    assert response.templates[0].name == "admin/allot_import_preview.html", response.context.get("form").errors
    return response


# --- creating --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("app_model", IMPORTABLES)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_list_imports_both_formats_through_its_service(setup, hall, member, monkeypatch, app_model, fmt):
    spec = IMPORTABLES[app_model]
    module, name = SERVICES[app_model]
    calls = []
    original = getattr(module, name)
    monkeypatch.setattr(module, name, lambda **kwargs: calls.append(kwargs) or original(**kwargs))
    client = _client(member, spec)
    before = spec.count(setup.org)

    preview = _preview(client, spec, setup, spec.good, fmt)

    assert (preview.context["total"], preview.context["failing"], errors_of(preview)) == (2, 0, [])
    assert spec.count(setup.org) == before  # the preview wrote nothing
    assert b"Confirm import" in preview.content
    response = confirm(client, app_model, preview.context["payload"])
    assert response.status_code == 302 and response["Location"] == url(app_model, "changelist")
    assert spec.count(setup.org) == before + 2
    assert len(calls) == 4  # each row through the service, in the preview (rolled back) and on confirming


def test_resource_columns_become_the_resources_values(setup, hall, member):
    spec = IMPORTABLES["resources.resource"]
    client = _client(member, spec)

    confirm(client, spec.app_model, _preview(client, spec, setup, spec.good, "xlsx").context["payload"])

    studio, desks = Resource.objects.get(name="Studio A"), Resource.objects.get(name="Hot desks")
    assert (studio.venue, studio.kind, studio.capacity, studio.exclusive, studio.max_duration_minutes) == (
        hall,
        ResourceKind.ROOM,
        12,
        False,
        None,
    )
    assert (desks.kind, desks.capacity, desks.exclusive, desks.requires_approval, desks.max_duration_minutes) == (
        ResourceKind.DESK,
        1,
        True,
        True,
        240,
    )


def test_people_columns_become_the_contacts_and_customers_values(setup, member):
    for app_model in ("bookings.contact", "bookings.customer"):
        spec = IMPORTABLES[app_model]
        client = _client(member, spec)
        confirm(client, app_model, _preview(client, spec, setup, spec.good).context["payload"])

    grace = Contact.objects.get(organization=setup.org, name="Grace Hopper")
    history = LogEntry.objects.get(object_id=str(grace.pk))
    assert (history.action_flag, history.get_change_message()) == (ADDITION, "Added.")
    assert (grace.email, grace.phone, grace.customer) == ("grace@example.com", "+44 20 7946 0000", None)
    acme = Customer.objects.get(organization=setup.org, name="Acme Ltd")
    assert (acme.email, acme.phone) == ("billing@acme.example", "")


# --- rows that fail --------------------------------------------------------------------------------------

BAD_ROWS = {
    "resources.resource": (
        ["Main hall", "Broken", "castle", 0, "maybe", ""],
        [(4, "kind", "INVALID_CHOICE"), (4, "capacity", "MIN_VALUE"), (4, "exclusive", "INVALID")],
    ),
    "bookings.contact": (["", "not-an-email", ""], [(4, "name", "REQUIRED"), (4, "email", "INVALID")]),
    "bookings.customer": (
        ["<b></b>", "x@", "1" * 51],
        [(4, "name", "REQUIRED"), (4, "email", "INVALID"), (4, "phone", "MAX_LENGTH")],
    ),
}


@pytest.mark.parametrize("app_model", IMPORTABLES)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_one_bad_row_shows_its_errors_and_nothing_can_be_confirmed(setup, hall, member, app_model, fmt):
    spec = IMPORTABLES[app_model]
    bad, expected = BAD_ROWS[app_model]
    client = _client(member, spec)
    before = spec.count(setup.org)

    preview = _preview(client, spec, setup, [*spec.good, bad], fmt)

    assert (preview.context["failing"], errors_of(preview)) == (1, expected)
    assert preview.context["payload"] == "" and b"Confirm import" not in preview.content
    assert b"needs attention" in preview.content and expected[0][2].encode() in preview.content
    assert spec.count(setup.org) == before


RESOURCE_HEADER = ["venue", "name", "min_duration_minutes", "max_duration_minutes"]


def test_a_services_error_is_shown_at_its_column(setup, hall, member):
    spec = IMPORTABLES["resources.resource"]
    client = _client(member, spec)

    response = upload(client, spec.app_model, setup.org, csv_file([RESOURCE_HEADER, ["Main hall", "Studio", 60, 30]]))

    # resource_create's own check, under its wire name maxDurationMinutes.
    assert errors_of(response) == [(2, "max_duration_minutes", "INVALID")]


def test_a_resource_names_a_venue_of_the_chosen_organization_only(setup, hall, member, other):
    spec = IMPORTABLES["resources.resource"]
    VenueFactory(organization=setup.org, name="Annex")
    VenueFactory(organization=setup.org, name="annex")
    rows = [[other.venue.name, "Stolen", "", ""], ["Nowhere", "Lost", "", ""], ["ANNEX", "Which", "", ""]]

    response = upload(_client(member, spec), spec.app_model, setup.org, csv_file([RESOURCE_HEADER, *rows]))

    assert errors_of(response) == [(2, "venue", "NOT_FOUND"), (3, "venue", "NOT_FOUND"), (4, "venue", "AMBIGUOUS")]
    assert not Resource.objects.filter(name__in=["Stolen", "Lost", "Which"]).exists()


def test_duplicate_resources_at_a_venue_are_refused(setup, hall, member):
    spec = IMPORTABLES["resources.resource"]
    rows = [[setup.venue.name, "room", "", ""], ["Main hall", "Studio", "", ""], ["Main hall", "STUDIO", "", ""]]

    response = upload(_client(member, spec), spec.app_model, setup.org, csv_file([RESOURCE_HEADER, *rows]))

    # "Room" is stored at the setup's venue; the second Studio repeats the first.
    assert errors_of(response) == [(2, "name", "DUPLICATE"), (4, "name", "DUPLICATE")]


def test_a_contacts_email_already_there_is_the_services_not_unique(setup, member, other):
    ContactFactory(organization=setup.org, email="ada@example.com")
    ContactFactory(organization=other.org, email="bob@example.com")  # another organization's: no matter
    spec = IMPORTABLES["bookings.contact"]
    rows = [["Ada", "ADA@example.com", ""], ["Bob", "bob@example.com", ""], ["Bobby", "Bob@Example.com", ""]]

    response = upload(_client(member, spec), spec.app_model, setup.org, csv_file([spec.header, *rows]))

    assert errors_of(response) == [(2, "email", "NOT_UNIQUE"), (4, "email", "NOT_UNIQUE")]
    assert not Contact.objects.filter(organization=setup.org, name__in=["Bob", "Bobby"]).exists()


def test_a_contact_without_email_is_a_duplicate_by_name_among_those_without_one(setup, member):
    ContactFactory(organization=setup.org, name="Ada", email="")
    ContactFactory(organization=setup.org, name="Bob", email="bob@example.com")
    spec = IMPORTABLES["bookings.contact"]
    rows = [["ada", "", ""], ["Bob", "", ""], ["Cy", "", ""], ["CY", "", ""], ["Cy", "cy@example.com", ""]]

    response = upload(_client(member, spec), spec.app_model, setup.org, csv_file([spec.header, *rows]))

    assert errors_of(response) == [(2, "name", "DUPLICATE"), (5, "name", "DUPLICATE")]


@pytest.mark.parametrize("app_model", IMPORTABLES)
def test_confirming_twice_creates_the_rows_once(setup, hall, member, app_model):
    spec = IMPORTABLES[app_model]
    client = _client(member, spec)
    payload = _preview(client, spec, setup, spec.good).context["payload"]
    before = spec.count(setup.org)

    first, second = confirm(client, app_model, payload), confirm(client, app_model, payload)

    assert (first.status_code, second.status_code, second.context["failing"]) == (302, 200, 2)
    assert spec.count(setup.org) == before + 2


def test_a_customers_name_already_there_is_a_duplicate(setup, member):
    CustomerFactory(organization=setup.org, name="Acme Ltd")
    spec = IMPORTABLES["bookings.customer"]
    rows = [["acme ltd", "", ""], ["Globex", "", ""], ["GLOBEX", "", ""]]

    response = upload(_client(member, spec), spec.app_model, setup.org, csv_file([spec.header, *rows]))

    assert errors_of(response) == [(2, "name", "DUPLICATE"), (4, "name", "DUPLICATE")]


def test_confirming_checks_every_row_again(setup, member):
    spec = IMPORTABLES["bookings.contact"]
    client = _client(member, spec)
    preview = _preview(client, spec, setup, spec.good)
    ContactFactory(organization=setup.org, email="grace@example.com")  # taken after the preview
    before = spec.count(setup.org)

    response = confirm(client, spec.app_model, preview.context["payload"])

    assert response.status_code == 200 and errors_of(response) == [(2, "email", "NOT_UNIQUE")]
    assert b"Nothing was imported" in response.content and b"Confirm import" not in response.content
    assert spec.count(setup.org) == before  # Alan Turing's row passed, and is not written either


# --- files that fail -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("people.txt", b"name\nAda\n", "UNSUPPORTED_TYPE"),
        ("people.xlsx", b"name\nAda\n", "UNREADABLE"),
        ("people.csv", b"", "EMPTY"),
        ("people.csv", b"name,email\n", "EMPTY"),
        ("people.csv", b"name,shoe size\nAda,5\n", "UNKNOWN_COLUMN"),
        ("people.csv", b"email\nada@example.com\n", "MISSING_COLUMN"),
    ],
    ids=["wrong-type", "not-xlsx", "empty", "no-rows", "unknown-column", "missing-column"],
)
def test_a_file_that_cannot_be_read_is_an_error_on_the_upload_page(setup, member, name, content, code):
    spec = IMPORTABLES["bookings.contact"]
    before = spec.count(setup.org)

    response = upload(_client(member, spec), spec.app_model, setup.org, SimpleUploadedFile(name, content))

    assert response.status_code == 200 and response.templates[0].name == "admin/allot_import.html"
    assert [e.code for e in response.context["form"].errors.as_data()["file"]] == [code]
    assert b"The file was not read." in response.content
    assert spec.count(setup.org) == before


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(setup, member, monkeypatch):
    monkeypatch.setattr(admin_imports, "MAX_BYTES", 16)
    spec = IMPORTABLES["bookings.contact"]

    response = upload(_client(member, spec), spec.app_model, setup.org, csv_file([spec.header, *spec.good]))

    assert [e.code for e in response.context["form"].errors.as_data()["file"]] == ["TOO_LARGE"]


def test_rows_too_many_for_one_confirmation_are_refused_on_the_upload_page(setup, member, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = admin_imports.PAYLOAD_MARGIN + 100
    spec = IMPORTABLES["bookings.contact"]
    rows = [[f"Person {n}", f"p{n}@example.com", ""] for n in range(40)]

    response = upload(_client(member, spec), spec.app_model, setup.org, csv_file([spec.header, *rows]))

    assert [e.code for e in response.context["form"].errors.as_data()["file"]] == ["TOO_LARGE"]


# --- lengths the database holds --------------------------------------------------------------------------

# A valid address of 260 characters: a form's EmailField takes 320, the model's column 254 (PostgreSQL's DataError).
LONG_EMAIL = "a" * 64 + "@" + ".".join(["b" * 63] * 3) + ".org"


@pytest.mark.parametrize("app_model", ["bookings.contact", "bookings.customer"])
@pytest.mark.parametrize("step", ["upload", "confirm"])
def test_an_email_longer_than_its_column_is_the_rows_max_length(setup, member, monkeypatch, app_model, step):
    spec = IMPORTABLES[app_model]
    client = _client(member, spec)
    rows = [["Ada", LONG_EMAIL, ""]]
    if step == "confirm":  # a payload signed before the rule: the confirmation checks again
        monkeypatch.setattr(admin_imports, "run_import", lambda *a, **k: [])
        payload = upload(client, app_model, setup.org, csv_file([spec.header, *rows])).context["payload"]
        monkeypatch.undo()
        response = confirm(client, app_model, payload)
    else:
        response = _preview(client, spec, setup, rows)

    assert response.status_code == 200
    assert errors_of(response) == [(2, "email", "MAX_LENGTH")]
    assert spec.count(setup.org) == 0


@pytest.mark.parametrize(("column", "length"), [("name", 201), ("kind", 21), ("description", 10_001), ("venue", 201)])
def test_a_resource_cell_longer_than_its_column_is_the_rows_max_length(setup, hall, member, column, length):
    spec = IMPORTABLES["resources.resource"]
    row = {"venue": "Main hall", "name": "Studio", "kind": "room", "description": ""}
    row[column] = "x" * length

    response = upload(_client(member, spec), spec.app_model, setup.org, csv_file([list(row), list(row.values())]))

    assert "MAX_LENGTH" in {code for _, col, code in errors_of(response) if col == column}, errors_of(response)


def test_a_row_the_database_refuses_is_that_rows_error_not_a_500(setup, member, monkeypatch):
    spec = IMPORTABLES["bookings.contact"]
    original = booking_services.contact_create

    def refused(**kwargs):
        if kwargs["values"]["name"] == "Alan Turing":
            with transaction.atomic():  # as the service does: its savepoint is rolled back, the rest goes on
                original(**kwargs)
                raise DataError("value too long for type character varying(254)")
        return original(**kwargs)

    monkeypatch.setattr(booking_services, "contact_create", refused)

    response = _preview(_client(member, spec), spec, setup, spec.good)

    assert errors_of(response) == [(3, "", "INVALID")]
    assert spec.count(setup.org) == 0


def test_a_payload_the_upload_signs_can_always_be_posted_back(setup, member, settings):
    # The largest payload the upload still signs, posted as the browser does (urlencoded, with the CSRF token):
    # under Django's limit on a form's size, so no preview offers a confirmation that Django would then refuse.
    spec = IMPORTABLES["bookings.contact"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(member(spec.role)[0])
    client.get(url(spec.app_model, "import"))  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    rows = [[f"Person {n}", f"p{n}@example.com", ""] for n in range(200)]

    def signed() -> str:
        file = csv_file([spec.header, *rows])
        data = {"organization": str(setup.org.pk), "file": file, "csrfmiddlewaretoken": token}
        return client.post(url(spec.app_model, "import"), data).context["payload"]

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(signed()) + admin_imports.PAYLOAD_MARGIN  # the least that signs it
    payload = signed()
    assert payload
    response = client.post(
        url(spec.app_model, "import_confirm"),
        urlencode({"csrfmiddlewaretoken": token, "payload": payload}),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 302
    assert spec.count(setup.org) == 200
