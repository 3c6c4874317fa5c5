"""Exports over the API (docs/architecture.md#exports): every matching row of the list's filters, in the
caller's scope, as CSV or XLSX; a bad filter is the API's 400, an anonymous caller 401."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from bookings.models import BookingStatus, ModuleResource
from resources.models import Role
from tests.api.booking_helpers import approved, pending
from tests.api.conftest import assert_error
from tests.conftest import future
from tests.factories import ChargeFactory, ResourceFactory, VenueFactory


def _rows(response) -> list[list]:
    content = b"".join(response.streaming_content)
    if response["Content-Type"].startswith("text/csv"):
        return list(csv.reader(io.StringIO(content.decode())))
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    return [["" if c is None else str(c) for c in row] for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("role", [Role.VIEWER, Role.OWNER])
def test_bookings_export_takes_the_lists_filters(api, setup, fmt, role):
    kept = approved(setup, setup.event(start=future(days=8)))
    pending(setup, setup.event(start=future(days=9)))

    response = api[role].get(f"/api/v1/bookings.{fmt}", {"status": BookingStatus.APPROVED})

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="bookings.{fmt}"'
    [header, row] = _rows(response)
    assert header[:3] == ["Booking id", "Status", "Title"] and row[:2] == [str(kept.pk), "Approved"]


@pytest.mark.parametrize(("noun", "first"), [("events", "Event id"), ("contacts", "Contact id"), ("charges", "date")])
def test_every_list_exports_as_a_workbook(api, setup, noun, first):
    ChargeFactory(organization=setup.org, booking=approved(setup))
    response = api.viewer.get(f"/api/v1/{noun}.xlsx")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = _rows(response)
    assert rows[0][0] == first and len(rows) >= 2


@pytest.mark.parametrize("url", ["/api/v1/bookings.csv", "/api/v1/events.xlsx", "/api/v1/contacts.csv"])
def test_a_bad_filter_is_a_400_and_no_token_a_401(api, url):
    param = {"/api/v1/bookings.csv": "status", "/api/v1/events.xlsx": "status", "/api/v1/contacts.csv": "orgId"}[url]
    assert_error(api.viewer.get(url, {param: "nonsense"}), 400, field=param)
    assert_error(api.public.get(url), 401)


def test_a_client_that_asks_for_the_files_type_gets_it(api, setup):
    pending(setup)
    response = api.viewer.get("/api/v1/bookings.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    response = api.viewer.get("/api/v1/charges.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert_error(api.viewer.get("/api/v1/bookings.csv", {"status": "x"}, HTTP_ACCEPT="text/csv"), 400, field="status")


def test_a_booking_is_in_its_first_resources_venue_time_as_the_api_gives_it(api, setup):
    tokyo = ResourceFactory(venue=VenueFactory(organization=setup.org, timezone="Asia/Tokyo"), name="AAA Tokyo room")
    ModuleResource.objects.create(module=setup.module, resource=tokyo)
    booking = pending(setup, setup.event(resources=[setup.room, tokyo]))
    [header, row] = _rows(api.viewer.get("/api/v1/bookings.csv"))
    cells = dict(zip(header, row, strict=True))
    # The first linked resource decides (the room in London), not the first by name (the Tokyo one).
    assert (cells["Time zone"], cells["Resources"]) == ("Europe/London", "AAA Tokyo room, Room")
    assert booking.requested_times.get().resources.count() == 2


def test_the_charges_workbook_has_numbers_and_dates(api, setup):
    ChargeFactory(organization=setup.org, booking=approved(setup), amount=Decimal("20.00"))
    content = b"".join(api.viewer.get("/api/v1/charges.xlsx").streaming_content)
    [_, row] = list(load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(values_only=True))
    assert row[9] == 20 and isinstance(row[0], datetime)
