"""Management commands: seed_demo (idempotent demo data, --json for scripts) and create_api_token."""

import json
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.exceptions import AuthenticationFailed

from bookings.lifecycle.submit import booking_submit
from bookings.models import (
    Booking,
    BookingEvent,
    BookingLog,
    BookingModule,
    Contact,
    FieldType,
    FormField,
    FormSection,
    ModuleResource,
    Portal,
    PortalStatus,
)
from events.models import Event, Reservation
from notifications.models import Notification
from resources.models import BookableHours, Membership, Organization, Resource, Role, Venue
from tests.factories import PortalFactory, UserFactory

JSON_KEYS = {
    "orgId",
    "portalId",
    "portalSlug",
    "bookingModuleId",
    "moduleSlug",
    "resourceIds",
    "username",
    "password",
    "apiToken",
}
COUNTED = [
    Organization,
    Venue,
    Resource,
    BookableHours,
    Portal,
    BookingModule,
    ModuleResource,
    FormField,
    get_user_model(),
    Membership,
    Contact,
    Booking,
    BookingEvent,
    BookingLog,
    Event,
    Reservation,
    Notification,
    AuthToken,
]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def seed_json(slug: str = "riverside") -> dict:
    return json.loads(seed("--slug", slug, "--json"))


def authenticate(token: str):
    user, _auth_token = TokenAuthentication().authenticate_credentials(token.encode())
    return user


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def create_token(*args: str) -> str:
    out = StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue()


# --- seed_demo -------------------------------------------------------------------------------------


def test_seed_demo_creates_the_described_data(db):
    data = seed_json("riverside")
    org = Organization.objects.get(slug="riverside")
    assert data["orgId"] == str(org.pk)
    assert org.timezone == "Europe/London"
    assert org.venues.count() == 1

    resources = list(Resource.objects.filter(venue__organization=org))
    assert len(resources) == 3
    assert sorted(data["resourceIds"]) == sorted(str(r.pk) for r in resources)
    assert [r.capacity for r in resources if not r.exclusive] == [10]
    assert [r.buffer_minutes for r in resources if r.buffer_minutes] == [15]
    assert all(r.min_notice_minutes <= 60 for r in resources)
    assert not any(r.archived for r in resources)
    assert not BookableHours.objects.filter(resource__in=resources).exists()

    portal = Portal.objects.get(pk=data["portalId"])
    assert (portal.organization, portal.status, portal.slug) == (org, PortalStatus.LIVE, data["portalSlug"])
    assert portal.password == ""

    module = BookingModule.objects.get(pk=data["bookingModuleId"])
    assert (module.organization, module.slug) == (org, data["moduleSlug"])
    assert list(module.portals.all()) == [portal]
    assert set(module.resources.all()) == set(resources)
    assert module.hold_pending_slots is True

    fields = list(module.fields.filter(archived=False))
    assert len(fields) == 3
    by_type = {f.type: f for f in fields}
    assert set(by_type) == {FieldType.SELECT, FieldType.NUMBER, FieldType.CHECKBOX}
    select, number, checkbox = by_type[FieldType.SELECT], by_type[FieldType.NUMBER], by_type[FieldType.CHECKBOX]
    assert (select.section, select.required) == (FormSection.EVENT, True)
    assert len(select.options) >= 2
    assert number.required is True
    assert (checkbox.section, checkbox.required) == (FormSection.CONTACT, False)

    user = get_user_model().objects.get(username=data["username"])
    assert user.check_password(data["password"])
    assert user.is_active and user.is_staff
    assert Membership.objects.get(user=user, organization=org).role == Role.MANAGER
    assert authenticate(data["apiToken"]) == user


def test_the_seeded_form_accepts_a_booking_an_hour_ahead(db):
    data = seed_json("riverside")
    module = BookingModule.objects.get(pk=data["bookingModuleId"])
    fields = {f.type: str(f.pk) for f in module.fields.all()}
    select = module.fields.get(type=FieldType.SELECT)
    start = (timezone.now() + timedelta(minutes=65)).replace(second=0, microsecond=0)
    result = booking_submit(
        module=module,
        portal=Portal.objects.get(pk=data["portalId"]),
        single_event=True,
        contact={"name": "Test Booker", "email": "booker@example.com"},
        events=[
            {
                "title": "Quick meeting",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
                "resourceIds": data["resourceIds"],
                fields[FieldType.SELECT]: select.options[0],
                fields[FieldType.NUMBER]: 4,
            }
        ],
    )
    assert {str(r.pk) for r in result.booking.requested_times.get().resources.all()} == set(data["resourceIds"])
    assert len(result.events) == 1  # pending requests hold their slots


def test_seed_demo_twice_creates_no_duplicates(db):
    first = seed_json("riverside")
    before = counts()
    assert before["Organization"] == 1 and before["Resource"] == 3 and before["AuthToken"] == 1
    second = seed_json("riverside")
    assert counts() == before
    assert {k: v for k, v in first.items() if k != "apiToken"} == {k: v for k, v in second.items() if k != "apiToken"}
    user = get_user_model().objects.get(username=second["username"])
    assert authenticate(second["apiToken"]) == user
    assert user.check_password(second["password"])


def test_seed_demo_is_idempotent_per_slug(db):
    a = seed_json("alpha")
    one = counts()
    b = seed_json("beta")
    assert counts()["Organization"] == 2
    assert counts()["Resource"] == 6
    assert a["orgId"] != b["orgId"] and a["portalSlug"] != b["portalSlug"] and a["username"] != b["username"]
    assert set(a["resourceIds"]).isdisjoint(b["resourceIds"])
    after_b = counts()
    seed_json("alpha")
    assert counts() == after_b
    assert one["Organization"] == 1


def test_seed_demo_json_output_is_one_object_with_exactly_the_keys(db):
    output = seed("--slug", "riverside", "--json")
    data = json.loads(output)  # fails on any extra text before or after the object
    assert isinstance(data, dict)
    assert set(data) == JSON_KEYS
    for key in ("orgId", "portalId", "bookingModuleId"):
        uuid.UUID(data[key])
    assert len(data["resourceIds"]) == 3 and all(uuid.UUID(r) for r in data["resourceIds"])
    assert all(isinstance(data[k], str) and data[k] for k in JSON_KEYS - {"resourceIds"})
    assert output.count("{") == output.count("}") and output.strip().startswith("{") and output.strip().endswith("}")


@pytest.mark.django_db(transaction=True)
def test_seed_demo_json_prints_nothing_else_on_stdout(settings, capsys):
    """Run for real (the command's own transaction commits, the sample bookings' emails are sent) with the
    console email backend: only the JSON reaches stdout."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    call_command("seed_demo", "--slug", "console", "--json")
    captured = capsys.readouterr()
    assert set(json.loads(captured.out)) == JSON_KEYS
    assert "Subject:" in captured.err  # the sample bookings' emails went elsewhere
    assert Notification.objects.filter(status="SENT").exists()


def test_seed_demo_without_json_prints_the_login(db):
    output = seed()
    user = get_user_model().objects.get(memberships__organization__slug="demo")
    assert user.username in output
    assert "/admin/" in output
    token = next(line.split(":", 1)[1].strip() for line in output.splitlines() if "API token" in line)
    assert authenticate(token) == user


def test_the_seeded_manager_can_log_in(db):
    data = seed_json("riverside")
    # Through the admin's sign-in form, as a person would: Client.login() calls authenticate() without
    # the request, which django-axes' backend (the first of AUTHENTICATION_BACKENDS) refuses.
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": data["username"], "password": data["password"]})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_demo_password_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "another-pass-123")
    data = seed_json("riverside")
    assert data["password"] == "another-pass-123"
    assert get_user_model().objects.get(username=data["username"]).check_password("another-pass-123")


# --- create_api_token ------------------------------------------------------------------------------


def test_create_api_token_prints_a_token_that_authenticates(db):
    user = UserFactory()
    output = create_token(user.username)
    token = output.strip()
    assert output == token + "\n"  # the token and nothing else
    assert authenticate(token) == user
    stored = AuthToken.objects.get(user=user)
    assert stored.expiry is None
    # stored hashed: only the digest and a short lookup prefix are kept
    assert stored.digest == hash_token(token) != token
    assert token.startswith(stored.token_key) and len(stored.token_key) < len(token)


def test_each_call_prints_a_new_token(db):
    user = UserFactory()
    first, second = create_token(user.username).strip(), create_token(user.username).strip()
    assert first != second
    assert authenticate(first) == authenticate(second) == user
    assert AuthToken.objects.filter(user=user).count() == 2


def test_a_wrong_token_does_not_authenticate(db):
    user = UserFactory()
    token = create_token(user.username).strip()
    with pytest.raises(AuthenticationFailed):
        authenticate(token[:-1] + ("a" if token[-1] != "a" else "b"))


@pytest.mark.parametrize("days", [1, 30, 365])
def test_expires_days_sets_the_expiry(db, days):
    user = UserFactory()
    before = timezone.now()
    token = create_token(user.username, "--expires-days", str(days)).strip()
    after = timezone.now()
    stored = AuthToken.objects.get(user=user)
    assert before + timedelta(days=days) <= stored.expiry <= after + timedelta(days=days)
    assert authenticate(token) == user
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() - timedelta(seconds=1))
    with pytest.raises(AuthenticationFailed):
        authenticate(token)


@pytest.mark.parametrize("days", ["0", "-3"])
def test_expires_days_must_be_positive(db, days):
    user = UserFactory()
    with pytest.raises(CommandError):
        create_token(user.username, "--expires-days", days)
    assert not AuthToken.objects.exists()


def test_unknown_user_is_a_command_error(db):
    UserFactory(username="someone")
    with pytest.raises(CommandError, match="nobody"):
        create_token("nobody")
    assert not AuthToken.objects.exists()


@pytest.mark.django_db
def test_seed_demo_still_works_when_another_organization_has_the_portal_slug():
    PortalFactory(slug="taken")
    out = StringIO()
    call_command("seed_demo", "--slug", "taken", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["portalSlug"] != "taken"
    assert Portal.objects.get(pk=data["portalId"]).organization.slug == "taken"


def test_seed_demo_fills_the_admin_queue_and_calendar(db):
    from bookings.models import Booking, BookingChangeRequest, BookingStatus
    from events.models import Event, EventStatus

    data = seed_json("riverside")

    statuses = list(Booking.objects.filter(organization_id=data["orgId"]).values_list("status", flat=True))
    assert statuses.count(BookingStatus.PENDING) >= 3 and statuses.count(BookingStatus.APPROVED) >= 3
    assert BookingStatus.DENIED in statuses
    assert BookingChangeRequest.open.filter(booking__organization_id=data["orgId"]).count() == 1
    events = Event.objects.filter(organization_id=data["orgId"]).exclude(status=EventStatus.CANCELED)
    assert {EventStatus.CONFIRMED, EventStatus.TENTATIVE} <= set(events.values_list("status", flat=True))
    days = {e.start.date() for e in events}
    assert len(days) >= 6 and max(days) - min(days) <= timedelta(days=8)
