"""Shared fixtures: a published booking setup (organization, venue, resources, portal, module) and
helpers to submit requests through the real services."""

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.db import connection
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from bookings.lifecycle.submit import booking_submit
from core.actor import Actor
from resources.config_cache import config_cache_clear
from resources.models import Role

from .factories import (
    BookingModuleFactory,
    MembershipFactory,
    OrganizationFactory,
    PortalFactory,
    ResourceFactory,
    UserFactory,
    VenueFactory,
)

LONDON = ZoneInfo("Europe/London")

POSTGRES_ONLY_REASON = "needs PostgreSQL (exclusion constraints, row locks)"
# A skip on SQLite; pytest_collection_modifyitems below also marks every test it applies to `postgres`
# (a mark can stand in a `pytestmark` list or `pytest.param(marks=...)`, so it stays a single skipif here).
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason=POSTGRES_ONLY_REASON)
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="exercises SQLite's IMMEDIATE transactions")


# Tests that take seconds each (real threads against live_server, worker subprocesses, pg_terminate_backend):
# marked `slow`, so `make test-fast` leaves them out; `make test` and CI run them. By node id prefix (a module,
# a class or a test), relative to the repository.
SLOW = (
    "tests/http/",  # live_server races and faults, worker subprocesses (PostgreSQL only)
    # every admin and API URL of one organization requested as another's owner and manager: ~15 s each
    "tests/attack/test_tenant_sweep.py::test_the_admin_of_another_organization_shows_nothing_of_a[",
    "tests/attack/test_tenant_sweep.py::test_the_api_of_another_organization_shows_nothing_of_a[",
    # a Python subprocess running `manage.py check --deploy`, a gunicorn server, real argon2 hashing: 1-3 s each
    "tests/config/test_hardening.py::test_check_deploy_",
    "tests/config/test_hardening.py::test_new_passwords_are_hashed_with_argon2",
    "tests/config/test_redaction.py::test_gunicorns_access_log_masks_the_tokens",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(
            mark.name == "skipif" and mark.kwargs.get("reason") == POSTGRES_ONLY_REASON for mark in item.iter_markers()
        ):
            item.add_marker(pytest.mark.postgres)
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _anymail_test_backend(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    # Real hashing costs ~0.3 s a user; the tests are about bookings, not password strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Production serves collectstatic's hashed manifest; tests have not run collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.SITE_URL = "https://bookings.example.org"


@pytest.fixture(autouse=True)
def _fresh_token_guess_counters():
    # Wrong private-link and feed tokens count per client address (core.throttles), and every test client
    # is 127.0.0.1: without this, the 404 checks of earlier tests would throttle later ones.
    from django.core.cache import cache

    cache.clear()


# --- the configuration cache in tests -----------------------------------------------------------------------
# The services bump an organization's configuration version with every change they make (pinned service by
# service in tests/resources/test_config_cache.py, which asks for `config_cache_strict`). Tests also write
# configuration with factories, `.save()` and `.delete()`: whenever they do, the process forgets what it
# cached, as if every process had seen a new version.
CONFIG_MODELS = (
    "resources.Organization",
    "resources.Venue",
    "resources.Resource",
    "resources.BookableHours",
    "resources.ResourceUnit",
    "resources.Rate",
    "resources.Product",
    "resources.Closure",
    "bookings.Portal",
    "bookings.BookingModule",
    "bookings.ModuleResource",
    "bookings.FormField",
    "bookings.RateCustomer",
    "webhooks.WebhookEndpoint",
)
_hand_writes_clear_cache = {"on": True}


def _forget_config(**_kwargs) -> None:
    if _hand_writes_clear_cache["on"]:
        config_cache_clear()


for _label in CONFIG_MODELS:
    _model = apps.get_model(_label)
    post_save.connect(_forget_config, sender=_model, weak=False)
    post_delete.connect(_forget_config, sender=_model, weak=False)
    for _m2m in _model._meta.many_to_many:
        m2m_changed.connect(_forget_config, sender=_m2m.remote_field.through, weak=False)


@pytest.fixture(autouse=True)
def _fresh_config_cache():
    config_cache_clear()
    yield
    _hand_writes_clear_cache["on"] = True


@pytest.fixture
def config_cache_strict():
    """Only the services' version bumps make the cache reload (hand writes do not)."""
    _hand_writes_clear_cache["on"] = False
    config_cache_clear()


JOIN_TIMEOUT = 120


def race(count: int, work) -> list[tuple[str, object]]:
    """Run `work(i)` in `count` threads that start together; ("ok", result) or ("error", exception) each."""
    barrier = threading.Barrier(count)
    results: list[tuple[str, object] | None] = [None] * count

    def run(i: int) -> None:
        try:
            connection.ensure_connection()  # connect first, so the barrier releases requests, not logins
            barrier.wait(timeout=60)
            results[i] = ("ok", work(i))
        except BaseException as exc:  # noqa: BLE001 - every outcome is reported to the test
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,), name=f"race-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN_TIMEOUT
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads still running after {JOIN_TIMEOUT}s (deadlock?): {stuck}"
    return results  # type: ignore[return-value]


def future(days: int = 7, hour: int = 10, minute: int = 0, tz=LONDON) -> datetime:
    """A local wall-clock time `days` from today in `tz`, as an aware datetime."""
    day = (timezone.now().astimezone(tz) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


class Setup:
    """One organization with a live portal and a module offering three resources."""

    def __init__(self, *, hold: bool = True):
        self.org = OrganizationFactory()
        self.venue = VenueFactory(organization=self.org)
        self.room = ResourceFactory(venue=self.venue, name="Room", capacity=10)
        self.hall = ResourceFactory(venue=self.venue, name="Hall", capacity=100)
        self.desks = ResourceFactory(venue=self.venue, name="Desks", capacity=3, exclusive=False)
        self.portal = PortalFactory(organization=self.org)
        self.admin = UserFactory(email="admin@example.org")
        self.module = BookingModuleFactory(
            organization=self.org,
            admin_user=self.admin,
            hold_pending_slots=hold,
            portals=[self.portal],
            offered=[self.room, self.hall, self.desks],
        )
        self.manager = UserFactory()
        MembershipFactory(user=self.manager, organization=self.org, role=Role.MANAGER)
        self.staff = Actor.staff(self.manager)

    def event(self, start=None, end=None, resources=None, title="Team meeting", **answers):
        start = start or future()
        end = end or start + timedelta(hours=1)
        return {
            "title": title,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "resourceIds": [str(r.pk) for r in (resources or [self.room])],
            **answers,
        }

    def submit(self, *events, email="ada@example.com", name="Ada Lovelace", **kwargs):
        events = list(events) or [self.event()]
        return booking_submit(
            module=self.module,
            portal=self.portal,
            contact={"name": name, "email": email},
            events=events,
            single_event=len(events) == 1,
            **kwargs,
        )


@pytest.fixture
def setup(db):
    return Setup()


@pytest.fixture
def setup_no_hold(db):
    return Setup(hold=False)
