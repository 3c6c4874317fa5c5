"""Golden files: what every email and webhook looks like, byte for byte, for one fixed world.

The files under tests/notifications/golden/ and tests/webhooks/golden/ were written by the code that
rendered emails and built webhook bodies inside the request's transaction; the outbox now stores a
snapshot and the worker renders it, and the golden tests hold the two to the same output. Regenerate only
on purpose (a template change): `GOLDEN_UPDATE=1 .venv/bin/python -m pytest tests/notifications/test_golden.py
tests/webhooks/test_golden.py -p no:cacheprovider`, then read the diff.

The world is deterministic: the clock is frozen (django.utils.timezone.now) and every model's uuid4
default is replaced by a counter, so ids, times and DTSTAMPs are the same on every run and database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

from django.apps import apps

from tests.factories import (
    BookingEventFactory,
    BookingFactory,
    BookingModuleFactory,
    FormFieldFactory,
    OrganizationFactory,
    ResourceFactory,
    UserFactory,
    VenueFactory,
)

FROZEN_NOW = datetime(2026, 3, 2, 8, 30, 15, tzinfo=UTC)
UPDATE = os.environ.get("GOLDEN_UPDATE") == "1"


@contextmanager
def frozen_world() -> Iterator[None]:
    """The clock stopped at FROZEN_NOW and uuid4 defaults counting up from 1."""
    counter = iter(range(1, 1_000_000))

    def next_id() -> uuid.UUID:
        return uuid.UUID(int=next(counter))

    patched = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if field.default is uuid.uuid4:
                patched.append(field)
                field.default = next_id
                field.__dict__.pop("_get_default", None)  # Field caches its default callable
    try:
        with mock.patch("django.utils.timezone.now", return_value=FROZEN_NOW):
            yield
    finally:
        for field in patched:
            field.default = uuid.uuid4
            field.__dict__.pop("_get_default", None)


def check_golden(path: Path, actual: str) -> None:
    """Compare with the stored file (or write it with GOLDEN_UPDATE=1)."""
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="")
        return
    assert path.exists(), f"{path} is missing: generate it with GOLDEN_UPDATE=1"
    with path.open(encoding="utf-8", newline="") as file:
        expected = file.read()
    assert actual == expected, f"{path.name} differs from the golden file"


@dataclass
class World:
    org: object
    london: object
    new_york: object
    room: object
    hall: object
    studio: object
    module: object
    admin: object
    field: object


def build_world() -> World:
    """One organization (London) with a London venue and a New York one, a module with an admin and one
    contact question. Every shown value is given here, not left to factory sequences."""
    org = OrganizationFactory(name="Town Hall & Co", slug="town-hall", timezone="Europe/London", currency="GBP")
    london = VenueFactory(organization=org, name="Main Hall", timezone="Europe/London", address="1 High St\nLondon")
    new_york = VenueFactory(organization=org, name="NY Annex", timezone="America/New_York", address="")
    room = ResourceFactory(venue=london, name="Room <A>", capacity=10)
    hall = ResourceFactory(venue=london, name="Hall", capacity=100)
    studio = ResourceFactory(venue=new_york, name="Studio", capacity=5)
    admin = UserFactory(username="golden-admin", email="admin@example.org")
    module = BookingModuleFactory(
        organization=org, name="Rooms & Halls", slug="rooms", admin_user=admin, offered=[room, hall, studio]
    )
    field = FormFieldFactory(module=module, section="contact", label="Department")
    return World(org, london, new_york, room, hall, studio, module, admin, field)


LONDON = ZoneInfo("Europe/London")


def at(day: int, hour: int, minute: int = 0, tz: ZoneInfo = LONDON) -> datetime:
    """A wall-clock time in March 2026 (DST in London starts on the 29th)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=tz)


def booking_with_events(world: World, *, status: int, title: str = 'Fish & Chips "Night" <b>'):
    booking = BookingFactory(
        module=world.module,
        status=status,
        title=title,
        contact_answers={"name": "Ada <Lovelace>", "email": "ada@example.com", str(world.field.pk): "Maths"},
        request_note="<p>Please <b>open</b> early &amp; <a href='https://example.com/plan'>see plan</a></p>",
    )
    first = BookingEventFactory(
        booking=booking, order=0, title="Talk", start=at(10, 9), end=at(10, 11), resources=[world.room, world.hall]
    )
    second = BookingEventFactory(
        booking=booking,
        order=1,
        title="Dinner & drinks",
        start=at(30, 23, 30),
        end=at(30, 23, 30) + timedelta(hours=2),
        resources=[world.studio],
    )
    return booking, [first, second]
