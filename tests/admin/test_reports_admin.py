"""The admin's Reports page (admin:bookings_booking_reports): the form and its refusals, the totals, the two
SVG charts with their tables, the CSV and XLSX downloads, every role, and another organization's objects."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from bookings.lifecycle.decide import booking_approve
from resources.models import Role
from tests.conftest import future
from tests.factories import MembershipFactory, UserFactory

from .conftest import admin_client_for

URL = reverse("admin:bookings_booking_reports")


def _params(day, **extra) -> dict:
    return {"start": day.isoformat(), "end": (day + timedelta(days=6)).isoformat(), "granularity": "day", **extra}


@pytest.fixture
def approved(setup):
    start = future(days=3, hour=10)
    result = setup.submit(setup.event(start=start, end=start + timedelta(hours=3)))
    booking_approve(booking_id=result.booking.pk, actor=setup.staff, client_last_updated_at=None)
    return start


@pytest.mark.parametrize("role", list(Role))
def test_every_member_sees_the_totals_charts_and_tables(setup, member, approved, role):
    _, client = member(role)
    response = client.get(URL, _params(approved.date(), resource=str(setup.room.pk)))
    assert response.status_code == 200
    page = response.content.decode()
    totals = response.context["report"].totals
    assert totals.booked_minutes == 180 and totals.bookings["approved"] == 1
    assert 'data-testid="chart-occupancy"' in page and 'data-testid="chart-bookings"' in page
    # one bar of occupancy per day (a zero-height one on the empty days), one stacked bar for the booking
    assert page.count('class="bar-occupancy"') == 7 and page.count('class="bar-approved"') == 1
    assert "3 h" in page and f"{180 / 1440:.0%}" in page
    assert "<script" not in page.split('id="content-main"')[1]  # drawn on the server, no script
    assert re.search(r"<title>[^<]*: 1 approved</title>", page)


def test_the_page_opens_on_this_month_and_links_from_the_index_and_the_list(setup, manager_client):
    response = manager_client.get(URL)
    assert response.status_code == 200 and response.context["report"] is not None
    assert response.context["report"].granularity == "day" and response.context["report"].start.day == 1
    assert URL in manager_client.get(reverse("admin:index")).content.decode()
    assert URL in manager_client.get(reverse("admin:bookings_booking_changelist")).content.decode()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-11-05", "end": "2026-11-01", "granularity": "day"}, "end"),
        ({"start": "2026-01-01", "end": "2027-06-01", "granularity": "day"}, "end"),
        ({"start": "2026-11-05", "end": "2026-11-06", "granularity": "year"}, "granularity"),
        ({"start": "soon", "end": "2026-11-06", "granularity": "day"}, "start"),
        ({"start": "0001-01-01", "end": "0001-01-03", "granularity": "day"}, "start"),
        ({"start": "9999-12-29", "end": "9999-12-31", "granularity": "week"}, "end"),
    ],
)
def test_a_bad_range_shows_its_error_at_the_field_and_keeps_what_was_typed(manager_client, params, field):
    response = manager_client.get(URL, params)
    assert response.status_code == 200 and "report" not in response.context
    assert response.context["form"].errors[field]
    page = response.content.decode()
    assert f'id="id_{field}_errors"' in page and f'value="{params["start"]}"' in page


def test_another_organizations_venue_is_not_a_choice(setup, manager_client, other):
    response = manager_client.get(URL, _params(future().date(), venue=str(other.venue.pk)))
    assert response.context["form"].errors["venue"] and "report" not in response.context
    assert str(other.venue) not in response.content.decode()


def test_a_member_of_two_organizations_picks_one(setup, other):
    user = setup.manager
    MembershipFactory(user=user, organization=other.org, role=Role.VIEWER)
    client = admin_client_for(user)
    response = client.get(URL, _params(future().date()))
    assert response.context["form"].errors["organization"]
    response = client.get(URL, _params(future().date(), organization=str(other.org.pk)))
    assert {row.resource.venue_id for row in response.context["report"].rows} == {other.venue.pk}


def test_the_downloads_hold_the_rows(setup, manager_client, approved):
    params = _params(approved.date(), venue=str(setup.venue.pk))
    page = manager_client.get(URL, params).content.decode()
    assert "format=csv" in page and "format=xlsx" in page
    response = manager_client.get(URL, {**params, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert lines[0][:4] == ["Resource", "Venue", "Period start", "Period end"]
    assert len(lines) == 1 + 3 * 7  # three resources, seven days
    room_day = [line for line in lines if line[0] == "Room" and line[2] == approved.date().isoformat()]
    assert room_day[0][5] == "180" and room_day[0][8] == "1"  # booked minutes, approved bookings
    response = manager_client.get(URL, {**params, "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert sheet.max_row == 1 + 3 * 7


def test_anonymous_and_non_staff_go_to_the_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]
    # signed in, but neither staff nor a member of any organization: no admin page either
    response = admin_client_for(UserFactory(is_staff=False)).get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_staff_user_of_no_organization_may_not_see_reports(db):
    response = admin_client_for(UserFactory()).get(URL)
    assert response.status_code == 403


def test_the_page_reads_as_many_queries_for_a_day_as_for_a_quarter_of_bookings(setup, manager_client):
    first = future(days=2, hour=9)
    counts = []
    for round_, (days, bookings) in enumerate(((1, 1), (90, 30))):
        for n in range(bookings):
            start = first + timedelta(days=n * 3 % days, hours=n % 5 + 6 * round_)
            setup.submit(setup.event(start=start, title=f"Meeting {n}"), email=f"p{n}@example.com")
        params = {"start": first.date().isoformat(), "end": (first.date() + timedelta(days=days - 1)).isoformat()}
        with CaptureQueriesContext(connection) as queries:
            response = manager_client.get(URL, {**params, "granularity": "day"})
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
