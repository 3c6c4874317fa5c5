"""Calendar feed fixtures: events made through the real services, feeds, and fetching them parsed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from icalendar import Calendar

from events.models import Event, EventStatus
from events.services.single import event_create
from feeds.models import CalendarFeed
from feeds.services import feed_create

from ..conftest import Setup, future


def make_event(
    setup: Setup,
    *,
    days: int = 7,
    hour: int = 10,
    hours: int = 1,
    resources=None,
    title="Board meeting",
    status: int = EventStatus.CONFIRMED,
    description: str = "",
) -> Event:
    start = future(days, hour)
    return event_create(
        organization=setup.org,
        title=title,
        start=start,
        end=start + timedelta(hours=hours),
        resource_ids=[r.pk for r in (resources or [setup.room])],
        status=status,
        description=description,
        override_rules=True,
    )


def parse(response) -> Calendar:
    assert response.status_code == 200, response.content[:300]
    return Calendar.from_ical(response.content)


def vevents(response) -> dict:
    """UID → VEVENT of a feed response."""
    return {str(v["uid"]): v for v in parse(response).walk("VEVENT")}


def uid(event: Event) -> str:
    return f"{event.pk}@allot"


def status_of(vevent) -> str:
    return str(vevent["status"])


@pytest.fixture
def org_feed(setup) -> CalendarFeed:
    return feed_create(organization=setup.org, name="Everything", created_by=setup.manager)


@pytest.fixture
def room_feed(setup) -> CalendarFeed:
    return feed_create(organization=setup.org, resource=setup.room, name="Room")


@pytest.fixture
def anonymous() -> Client:
    return Client()
