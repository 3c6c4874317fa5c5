"""GET /api/v1/reports/utilization (docs/architecture.md#utilization-reports): its body after a real request and
approval, every refusal with its field and code, and the scope of the caller's organizations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from bookings.lifecycle.decide import booking_approve
from resources.models import Role
from tests.api.conftest import assert_error, bearer_client
from tests.conftest import future
from tests.factories import MembershipFactory, OrganizationFactory, ResourceFactory

URL = "/api/v1/reports/utilization"


def _day_params(day, **extra) -> dict:
    return {"start": day.isoformat(), "end": day.isoformat(), **extra}


@pytest.mark.parametrize("role", list(Role))
def test_any_member_reads_the_report_of_an_approved_booking(api, setup, role):
    start = future(days=3, hour=10)
    result = setup.submit(setup.event(start=start, end=start + timedelta(hours=2)))
    booking_approve(booking_id=result.booking.pk, actor=setup.staff, client_last_updated_at=None)
    response = api[role].get(URL, _day_params(start.date(), venueId=str(setup.venue.pk)))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"orgId", "currency", "start", "end", "granularity", "rows", "totals"}
    assert body["orgId"] == str(setup.org.pk) and body["granularity"] == "day"
    rows = {row["resourceId"]: row for row in body["rows"]}
    assert set(rows) == {str(setup.room.pk), str(setup.hall.pk), str(setup.desks.pk)}
    room = rows[str(setup.room.pk)]
    assert room["periodStart"] == room["periodEnd"] == start.date().isoformat()
    assert room["bookedMinutes"] == 120 and room["bookableMinutes"] == 1440
    assert room["occupancy"] == round(120 / 1440, 4)
    assert room["bookings"] == {"pending": 0, "approved": 1, "denied": 0, "canceled": 0}
    assert body["totals"]["bookedMinutes"] == 120 and body["totals"]["bookings"]["approved"] == 1
    assert body["totals"]["medianDecisionMinutes"] == 0
    assert body["totals"]["revenue"] == "0.00" and body["currency"] == setup.org.currency


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"start": "2026-11-05", "end": "2026-11-04"}, "end", "END_BEFORE_START"),
        ({"start": "2026-01-01", "end": "2029-12-31", "granularity": "month"}, "end", "WINDOW_TOO_LONG"),
        ({"start": "2026-01-01", "end": "2027-12-31", "granularity": "day"}, "end", "WINDOW_TOO_LONG"),
        ({"start": "2026-11-05", "end": "2026-11-05", "granularity": "year"}, "granularity", "INVALID_CHOICE"),
        ({"start": "2026-11-05"}, "end", "REQUIRED"),
        ({"start": "5 Nov", "end": "2026-11-05"}, "start", "INVALID"),
        ({"start": "2026-11-05", "end": "2026-11-05", "venueId": ""}, "venueId", "REQUIRED"),
        ({"start": "0001-01-01", "end": "0001-01-02"}, "start", "OUT_OF_RANGE"),
        ({"start": "9999-12-30", "end": "9999-12-31"}, "end", "OUT_OF_RANGE"),
        ({"start": "2999-12-01", "end": "3000-01-01", "granularity": "month"}, "end", "OUT_OF_RANGE"),
        ({"start": "2026-11-05", "end": "2026-11-05", "venueId": "x"}, "venueId", "INVALID"),
    ],
)
def test_bad_parameters_are_refused_at_their_field(api, params, field, code):
    assert_error(api.viewer.get(URL, params), 400, code, field)


def test_a_range_of_weeks_may_be_longer_than_a_range_of_days(api):
    response = api.viewer.get(URL, {"start": "2026-01-01", "end": "2027-12-31", "granularity": "week"})
    assert response.status_code == 200, response.json()
    assert len({row["periodStart"] for row in response.json()["rows"]}) == 105


@pytest.mark.parametrize("name", ["venueId", "resourceId", "orgId"])
def test_another_organizations_objects_are_not_found(api, other, name):
    value = {"venueId": other.setup.venue.pk, "resourceId": other.setup.room.pk, "orgId": other.setup.org.pk}[name]
    assert_error(api.viewer.get(URL, _day_params(future().date(), **{name: str(value)})), 400, "NOT_FOUND", name)


def test_a_member_of_two_organizations_names_one_and_sees_its_resources_only(api, setup, other):
    MembershipFactory(user=api.users[Role.VIEWER], organization=other.setup.org, role=Role.VIEWER)
    params = _day_params(future().date())
    assert_error(api.viewer.get(URL, params), 400, "REQUIRED", "orgId")
    body = api.viewer.get(URL, {**params, "orgId": str(other.setup.org.pk)}).json()
    assert {row["venueId"] for row in body["rows"]} == {str(other.setup.venue.pk)}


def test_one_resource_and_the_anonymous(api, setup):
    params = _day_params(future().date(), resourceId=str(setup.hall.pk), granularity="month")
    body = api.viewer.get(URL, params).json()
    assert [row["resourceId"] for row in body["rows"]] == [str(setup.hall.pk)]
    assert_error(APIClient().get(URL, params), 401)


def test_an_organization_without_resources_has_an_empty_report(db):
    owner = MembershipFactory(organization=OrganizationFactory(), role=Role.OWNER).user
    ResourceFactory()  # someone else's
    body = bearer_client(owner).get(URL, _day_params(future().date())).json()
    assert body["rows"] == [] and body["totals"]["occupancy"] is None and body["totals"]["bookableMinutes"] == 0
