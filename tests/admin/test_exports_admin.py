"""Exports from the admin's lists (docs/architecture.md#exports): the selected rows, or the whole filtered list
with "select all", as CSV or XLSX, for anyone who sees the list, only of their organizations; a booking per
requested time in the venue's local time with a column per custom field; a fixed number of queries."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from bookings.models import Booking, Contact, FormSection
from events.models import Event
from resources.models import Role
from tests.conftest import Setup, future
from tests.factories import FormFieldFactory

from .config_helpers import url

LISTS = {"bookings.booking": Booking, "events.event": Event, "bookings.contact": Contact}


def _export(client, app_model: str, fmt: str, rows=(), *, across: bool = False):
    data = {"action": f"export_{fmt}", "_selected_action": [str(r.pk) for r in rows], "index": 0}
    if across:
        data["select_across"] = "1"
    response = client.post(url(app_model, "changelist"), data)
    assert response.status_code == 200, response.content[:500]
    return b"".join(response.streaming_content)


def _csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))


def _xlsx(content: bytes) -> list[list]:
    return [list(r) for r in load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(values_only=True)]


def _bookings(setup: Setup, count: int, first_day: int = 7) -> list[Booking]:
    return [
        setup.submit(
            setup.event(start=future(days=first_day + k)), email=f"p{k}@example.com", name=f"Person {k}"
        ).booking
        for k in range(count)
    ]


@pytest.mark.parametrize("app_model", LISTS)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_viewer_exports_the_selected_rows(setup: Setup, member, app_model, fmt):
    chosen, _left_out = _bookings(setup, 2)
    _, client = member(Role.VIEWER)
    row = {"bookings.booking": chosen, "events.event": chosen.requested_times.get().event}.get(app_model)
    row = row or chosen.contact

    content = _export(client, app_model, fmt, [row])

    lines = _csv(content) if fmt == "csv" else _xlsx(content)
    assert len(lines) == 2 and lines[1][0] == str(row.pk)


@pytest.mark.parametrize("app_model", LISTS)
def test_select_all_exports_the_filtered_list_of_the_users_organizations_only(setup: Setup, member, other, app_model):
    _bookings(setup, 2)
    _bookings(other, 3)
    _, client = member(Role.VIEWER)

    lines = _csv(_export(client, app_model, "csv", LISTS[app_model].objects.all()[:1], across=True))

    model = LISTS[app_model]
    assert sorted(line[0] for line in lines[1:]) == sorted(
        str(pk) for pk in model.objects.filter(organization=setup.org).values_list("pk", flat=True)
    )


def test_a_booking_row_has_its_answers_and_local_times(setup: Setup, member):
    question = FormFieldFactory(module=setup.module, section=FormSection.EVENT, label="Layout")
    start = future(days=9, hour=18)  # London wall-clock time
    booking = setup.submit(
        setup.event(start=start, **{str(question.pk): "=cmd|' /C calc'!A0"}), email="ada@example.com", name="Ada"
    ).booking
    _, client = member(Role.VIEWER)

    [header, row] = _csv(_export(client, "bookings.booking", "csv", [booking]))

    cells = dict(zip(header, row, strict=True))
    assert cells["Layout"] == "'=cmd|' /C calc'!A0"  # never run as a formula
    assert (cells["Start"], cells["Time zone"]) == (start.strftime("%Y-%m-%d %H:%M"), "Europe/London")
    assert (cells["Contact"], cells["Email"], cells["Status"]) == ("Ada", "ada@example.com", "Pending")


def test_the_export_reads_the_same_queries_for_two_bookings_or_six(setup: Setup, member):
    _, client = member(Role.VIEWER)

    def queries(bookings: list[Booking]) -> int:
        with CaptureQueriesContext(connection) as captured:
            _export(client, "bookings.booking", "xlsx", bookings)
        return len(captured)

    assert queries(_bookings(setup, 2)) == queries(_bookings(setup, 6, first_day=20))


def test_two_fields_of_one_label_get_two_headers(setup: Setup, member):
    first = FormFieldFactory(module=setup.module, section=FormSection.EVENT, label="Layout")
    second = FormFieldFactory(module=setup.module, section=FormSection.EVENT, label="Layout")
    booking = setup.submit(setup.event(**{str(first.pk): "theatre", str(second.pk): "boardroom"})).booking
    _, client = member(Role.VIEWER)
    [header, row] = _csv(_export(client, "bookings.booking", "csv", [booking]))
    cells = dict(zip(header, row, strict=True))
    assert len(header) == len(set(header))
    by_id = {f.pk: next(h for h in header if h.startswith("Layout") and str(f.pk)[:8] in h) for f in (first, second)}
    assert {cells[by_id[first.pk]], cells[by_id[second.pk]]} == {"theatre", "boardroom"}


@pytest.mark.parametrize("app_model", ["events.event", "bookings.contact"])
def test_events_and_contacts_export_in_the_same_queries_for_two_rows_or_six(setup: Setup, member, app_model):
    _, client = member(Role.VIEWER)

    def queries(bookings: list[Booking]) -> int:
        rows = [b.requested_times.get().event if app_model == "events.event" else b.contact for b in bookings]
        with CaptureQueriesContext(connection) as captured:
            _export(client, app_model, "csv", rows)
        return len(captured)

    two = _bookings(setup, 2)
    six = [*_bookings(setup, 6, first_day=20)]
    assert queries(two) == queries(six)
