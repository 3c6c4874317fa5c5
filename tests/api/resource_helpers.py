"""The helpers of the venue, resource and availability endpoint tests (tests/api/test_venues.py,
test_resources.py, test_resource_availability.py): urls, a UTC check and a booking shortcut."""

from datetime import datetime

from events.models import EventStatus
from events.services.saving import events_save
from events.services.scheduling import EventSpec

NOWHERE = "00000000-0000-4000-8000-000000000000"


def venue_url(pk=None) -> str:
    return "/api/v1/venues" + (f"/{pk}" if pk else "")


def availability_url(pk) -> str:
    return f"/api/v1/resources/{pk}/availability"


def is_utc(value) -> bool:
    return isinstance(value, str) and value.endswith("Z") and datetime.fromisoformat(value) is not None


def book(setup, start, end, *resources, status=EventStatus.CONFIRMED, title="Booked"):
    spec = EventSpec(title=title, start=start, end=end, resource_ids=[r.pk for r in resources or [setup.room]])
    return events_save(organization=setup.org, specs=[spec], status=status)[0]
