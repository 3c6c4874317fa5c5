"""The outbox never loses an email (docs/architecture.md#transactional-outbox): a provider outage keeps the booking and
queues its emails, recovery sends each exactly once, the provider is called outside any transaction, concurrent workers
never send the same row, a dead worker's row is sent again, and production's database task queue really carries the
send. Also the provider's delivery tracking webhook."""

import base64
import signal
import threading
import time
from datetime import timedelta

import pytest
from anymail.exceptions import AnymailAPIError, AnymailInvalidAddress
from anymail.signals import AnymailTrackingEvent, tracking
from django.core import mail
from django.core.cache import cache
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.models import Booking
from notifications.models import Notification, NotificationStatus
from notifications.sending import notification_send, notifications_send_due
from tests.api.booking_helpers import submit_body
from tests.conftest import postgres_only, race
from tests.factories import NotificationFactory, OrganizationFactory

QUEUED, SENDING, SENT, FAILED = (
    NotificationStatus.QUEUED,
    NotificationStatus.SENDING,
    NotificationStatus.SENT,
    NotificationStatus.FAILED,
)
ANYMAIL_TEST = "anymail.backends.test.EmailBackend"
RECORDING = f"{__name__}.RecordingBackend"
DOWN = f"{__name__}.DownBackend"
INVALID = f"{__name__}.InvalidAddressBackend"


class Provider:
    """What the fake provider saw: one (outcome, subject, recipients, in a transaction?) per message."""

    lock = threading.Lock()
    calls: list[tuple[str, str, tuple, bool]] = []
    delay = 0.0
    during_send = None  # a callable run inside the provider call

    @classmethod
    def record(cls, outcome: str, messages) -> None:
        with cls.lock:
            cls.calls += [(outcome, m.subject, tuple(m.to), connection.in_atomic_block) for m in messages]
        if cls.during_send is not None:
            cls.during_send()
        if cls.delay:
            time.sleep(cls.delay)

    @classmethod
    def sent(cls) -> list[str]:
        return [subject for outcome, subject, _, _ in cls.calls if outcome == "sent"]


class RecordingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        Provider.record("sent", email_messages)
        return len(email_messages)


class DownBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        Provider.record("down", email_messages)
        raise AnymailAPIError("provider is down")


class InvalidAddressBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        Provider.record("invalid", email_messages)
        raise AnymailInvalidAddress("Invalid email address 'ada@'")


@pytest.fixture(autouse=True)
def _provider():
    Provider.calls, Provider.delay, Provider.during_send = [], 0.0, None
    cache.clear()  # the public submit's throttle counts live in the cache
    yield
    Provider.calls, Provider.delay, Provider.during_send = [], 0.0, None


def make_notification(org=None, **kwargs) -> Notification:
    """A queued "test" email "Hello" to ada@example.com (the factory's defaults)."""
    return NotificationFactory(organization=org or OrganizationFactory(), **kwargs)


def reload(notification: Notification) -> Notification:
    notification.refresh_from_db()
    return notification


def assert_outside_transactions():
    assert Provider.calls, "the provider was never called"
    assert not any(in_atomic for *_, in_atomic in Provider.calls), Provider.calls


# --- a provider outage -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_outage_keeps_the_booking_queues_the_emails_and_recovery_sends_each_once(setup, settings):
    settings.EMAIL_BACKEND = DOWN
    before = timezone.now()
    response = APIClient().post("/api/v1/bookings/submit", submit_body(setup), format="json")
    after = timezone.now()
    assert response.status_code == 201, response.content[:300]
    booking = Booking.objects.get(pk=response.json()["booking"]["id"])
    rows = list(Notification.objects.filter(object_id=booking.pk).order_by("kind"))
    assert [r.kind for r in rows] == ["admin_new_request", "booking_received"]
    for row in rows:
        assert (row.status, row.attempts) == (QUEUED, 1)
        assert row.last_error == "AnymailAPIError: provider is down"
        assert before + timedelta(seconds=60) <= row.next_attempt_at <= after + timedelta(seconds=60)
        assert row.claimed_until is None
    assert len(Provider.calls) == 2  # each tried once, after the submit's transaction committed
    assert_outside_transactions()

    # The provider is back; nothing is due before the back-off has passed.
    settings.EMAIL_BACKEND = ANYMAIL_TEST
    assert notifications_send_due(now=after + timedelta(seconds=30)) == {}
    assert mail.outbox == []
    assert notifications_send_due(now=after + timedelta(seconds=61)) == {"sent": 2}
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "admin@example.org"]
    for row in rows:
        assert (reload(row).status, row.attempts, row.last_error) == (SENT, 2, "")
        assert row.provider_message_id != ""
    # A second run, however late, sends nothing again.
    assert notifications_send_due(now=after + timedelta(days=2)) == {}
    assert len(mail.outbox) == 2


@pytest.mark.django_db(transaction=True)
def test_the_provider_is_called_outside_any_transaction_and_without_a_lock_on_the_row(settings):
    """While the provider answers, another connection may lock the row and write (on SQLite: take the
    write lock); a lock held across the call would make the other thread wait."""
    settings.EMAIL_BACKEND = RECORDING
    notification = make_notification(subject="No lock")
    finished = []

    def other_connection():
        try:
            with transaction.atomic():
                Notification.objects.select_for_update(nowait=True).get(pk=notification.pk)
                make_notification(notification.organization, subject="written meanwhile")
            finished.append(True)
        finally:
            connection.close()

    def during_send():
        assert reload(notification).status == SENDING  # the claim is committed before the call
        thread = threading.Thread(target=other_connection)
        thread.start()
        thread.join(10)
        assert finished == [True]

    Provider.during_send = during_send
    assert notification_send(notification_id=notification.pk) == "sent"
    assert_outside_transactions()
    assert (reload(notification).status, notification.attempts, notification.claimed_until) == (SENT, 1, None)


def test_attempts_follow_the_backoff_then_fail(db, settings):
    settings.EMAIL_BACKEND = DOWN
    settings.NOTIFICATION_RETRY_DELAYS = [60, 300, 1800]
    notification = make_notification()
    now = timezone.now()
    for attempt, delay in enumerate([60, 300, 1800], start=1):
        assert notifications_send_due(now=now) == {"retry": 1}
        assert (reload(notification).status, notification.attempts) == (QUEUED, attempt)
        assert notification.next_attempt_at == now + timedelta(seconds=delay)
        now += timedelta(seconds=delay)
    assert notifications_send_due(now=now) == {"failed": 1}
    assert (reload(notification).status, notification.attempts) == (FAILED, 4)
    assert notifications_send_due(now=now + timedelta(days=30)) == {}
    assert len(Provider.calls) == 4


def test_an_invalid_address_fails_at_once_and_is_not_retried(db, settings):
    settings.EMAIL_BACKEND = INVALID
    notification = make_notification(body_text="Your link: https://x.example/b/abcdefghijklmnopqrstuvwxyz/\n")
    assert notification_send(notification_id=notification.pk) == "failed"
    reload(notification)
    assert (notification.status, notification.attempts, notification.next_attempt_at) == (FAILED, 1, None)
    assert "Invalid email address" in notification.last_error
    assert "abcdefghijklmnop" not in notification.body_text  # settled: the private link is redacted
    settings.EMAIL_BACKEND = RECORDING
    assert notifications_send_due(now=timezone.now() + timedelta(days=1)) == {}
    assert Provider.sent() == []


def test_a_refused_submit_sends_nothing(setup, django_capture_on_commit_callbacks):
    """A failed transition (a BOOKING_CONFLICT) rolls back with its emails: nothing is queued or sent."""
    client = APIClient()
    body = submit_body(setup)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/api/v1/bookings/submit", body, format="json").status_code == 201
    assert Notification.objects.count() == 2
    assert len(mail.outbox) == 2
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post("/api/v1/bookings/submit", body, format="json")
    assert response.status_code == 409
    assert "BOOKING_CONFLICT" in [e["code"] for e in response.json()["errors"]]
    assert callbacks == []
    assert Notification.objects.count() == 2
    assert len(mail.outbox) == 2
    assert notifications_send_due(now=timezone.now() + timedelta(days=1)) == {}


# --- the lease: a worker that died mid-send --------------------------------------------------------


def test_a_sending_row_whose_lease_expired_is_sent_again(db, settings):
    settings.EMAIL_BACKEND = RECORDING
    now = timezone.now()
    dead = make_notification(
        subject="worker died", status=SENDING, attempts=1, claimed_until=now - timedelta(seconds=1)
    )
    busy = make_notification(
        subject="worker busy", status=SENDING, attempts=1, claimed_until=now + timedelta(seconds=60)
    )
    assert notifications_send_due(now=now) == {"sent": 1}
    assert Provider.sent() == ["worker died"]
    assert (reload(dead).status, dead.attempts, dead.claimed_until) == (SENT, 2, None)
    assert (reload(busy).status, busy.attempts) == (SENDING, 1)
    assert notification_send(notification_id=busy.pk, now=now) == "skipped"
    # Its lease runs out too: then it is due.
    assert notifications_send_due(now=now + timedelta(seconds=61)) == {"sent": 1}
    assert Provider.sent() == ["worker died", "worker busy"]


def test_a_lease_expired_on_the_last_attempt_fails_instead_of_looping(db, settings):
    settings.EMAIL_BACKEND = RECORDING
    settings.NOTIFICATION_RETRY_DELAYS = [60]
    now = timezone.now()
    row = make_notification(
        status=SENDING,
        attempts=2,
        claimed_until=now - timedelta(seconds=1),
        body_text="https://x.example/b/abcdefghijklmnopqrstuvwxyz/\n",
    )
    assert notifications_send_due(now=now) == {"failed": 1}
    assert (reload(row).status, row.attempts) == (FAILED, 2)
    assert "lease expired" in row.last_error
    assert "abcdefghijklmnop" not in row.body_text
    assert Provider.sent() == []


def test_a_late_outcome_does_not_overwrite_the_worker_that_took_over(db, settings):
    """Our lease ran out during a very slow provider call and another worker took the row: the slow
    worker's record is dropped (the row's claim is no longer ours)."""
    settings.EMAIL_BACKEND = RECORDING
    row = make_notification(subject="slow")

    def during_send():
        # Another worker took the row over and recorded its own failure meanwhile.
        Notification.objects.filter(pk=row.pk).update(status=FAILED, attempts=2, last_error="theirs")

    Provider.during_send = during_send
    assert notification_send(notification_id=row.pk) == "sent"
    assert (reload(row).status, row.attempts, row.last_error) == (FAILED, 2, "theirs")


# --- two workers at once ---------------------------------------------------------------------------


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_workers_never_send_the_same_row(settings):
    settings.EMAIL_BACKEND = RECORDING
    Provider.delay = 0.01  # each send takes a while, so the workers overlap
    org = OrganizationFactory()
    rows = [make_notification(org, subject=f"email {i}") for i in range(30)]
    outcomes = race(4, lambda i: notifications_send_due())
    assert [kind for kind, _ in outcomes] == ["ok"] * 4, outcomes
    results = [value for _, value in outcomes]
    assert sorted(Provider.sent()) == sorted(r.subject for r in rows)  # each exactly once
    assert sum(r.get("sent", 0) for r in results) == 30
    assert set(Notification.objects.values_list("status", "attempts")) == {(SENT, 1)}
    assert_outside_transactions()


# --- the production task queue ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_with_the_database_task_backend_the_send_is_a_task_row_run_by_db_worker(setup, settings):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    settings.EMAIL_BACKEND = RECORDING
    booking = setup.submit().booking
    # Committed: one task for the transaction's two emails waits in the database; nothing was sent yet.
    [task] = list(DBTaskResult.objects.all())
    assert task.task_path == "notifications.tasks.send_notifications" and task.status == "READY"
    rows = Notification.objects.filter(object_id=booking.pk)
    assert rows.count() == 2
    assert {str(batch) for batch in rows.values_list("batch", flat=True)} == {task.args_kwargs["args"][0]}
    assert Provider.calls == [] and set(rows.values_list("status", flat=True)) == {QUEUED}

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        call_command("db_worker", batch=True, startup_delay=False, reload=False, interval=0, verbosity=0)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert sorted(to for _, _, (to,), _ in Provider.calls) == ["ada@example.com", "admin@example.org"]
    assert set(rows.values_list("status", "attempts")) == {(SENT, 1)}
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert_outside_transactions()
    # The sweeper finds nothing left to do.
    assert notifications_send_due() == {}


# --- attachments -----------------------------------------------------------------------------------


def test_attachments_are_sent_and_their_private_link_redacted_once_sent(db):
    token = "abcdefghijklmnopqrstuvwxyz012345"
    # An .ics folds its lines at 75 octets, here right through the link.
    ics = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDESCRIPTION:Manage it: https://bookings.example.org/b/abcdefghij\r\n"
        " klmnopqrstuvwxyz012345/\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    row = make_notification(
        attachments=[{"filename": "booking.ics", "mimetype": "text/calendar", "content": ics}], body_html="<p>Hi</p>"
    )
    assert notification_send(notification_id=row.pk) == "sent"
    (message,) = mail.outbox
    assert message.alternatives[0][0] == "<p>Hi</p>"
    ((filename, content, mimetype),) = message.attachments
    assert (filename, mimetype, content) == ("booking.ics", "text/calendar", ics)
    (stored,) = reload(row).attachments
    assert (stored["filename"], stored["mimetype"]) == ("booking.ics", "text/calendar")
    assert token not in stored["content"].replace("\r\n ", "")
    assert "/b/[private link]/" in stored["content"]


# --- delivery status: the provider's tracking webhook ----------------------------------------------

TRACKING_URL = "/anymail/postmark/tracking/"
SECRET = "postmark:s3cret-webhook-pass"


def basic_auth(credentials: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


@pytest.fixture
def webhook_secret(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}


def postmark_delivery(message_id: str) -> dict:
    # Postmark's documented Delivery webhook payload.
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": message_id,
        "Recipient": "ada@example.com",
        "Tag": "",
        "DeliveredAt": "2031-03-04T12:00:05Z",
        "Details": "Test delivery webhook details",
        "Metadata": {},
    }


def postmark_bounce(message_id: str) -> dict:
    return {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "",
        "MessageID": message_id,
        "Metadata": {},
        "ServerID": 23,
        "MessageStream": "outbound",
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": "ada@example.com",
        "From": "bookings@allot.invalid",
        "BouncedAt": "2031-03-04T12:00:09Z",
        "DumpAvailable": False,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Hello",
    }


def postmark_complaint(message_id: str) -> dict:
    return {
        **postmark_bounce(message_id),
        "RecordType": "SpamComplaint",
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "Name": "Spam complaint",
    }


def post_tracking(client, payload: dict, credentials: str = SECRET):
    return client.post(TRACKING_URL, payload, content_type="application/json", **basic_auth(credentials))


def test_the_tracking_webhook_records_delivery_then_a_bounce_that_a_late_delivery_cannot_undo(
    db, client, webhook_secret
):
    row = make_notification(status=SENT, provider_message_id="883953f4-6105-42a2-a16a-77a8eac79483")
    other = make_notification(status=SENT, provider_message_id="00000000-0000-0000-0000-000000000001")

    assert post_tracking(client, postmark_delivery(row.provider_message_id)).status_code == 200
    assert reload(row).delivery_status == "delivered"
    assert row.delivery_updated_at.isoformat() == "2031-03-04T12:00:05+00:00"

    assert post_tracking(client, postmark_bounce(row.provider_message_id)).status_code == 200
    assert reload(row).delivery_status == "bounced"
    # Providers retry and reorder: a delivery arriving after the bounce leaves the bounce.
    assert post_tracking(client, postmark_delivery(row.provider_message_id)).status_code == 200
    assert reload(row).delivery_status == "bounced"
    assert post_tracking(client, postmark_complaint(row.provider_message_id)).status_code == 200
    assert reload(row).delivery_status == "complained"
    assert post_tracking(client, postmark_bounce(row.provider_message_id)).status_code == 200
    assert reload(row).delivery_status == "complained"
    assert reload(other).delivery_status == ""


def test_the_tracking_webhook_ignores_ids_we_never_sent(db, client, webhook_secret):
    row = make_notification(status=SENT, provider_message_id="883953f4-6105-42a2-a16a-77a8eac79483")
    response = post_tracking(client, postmark_delivery("11111111-2222-3333-4444-555555555555"))
    assert response.status_code == 200  # the provider must not retry it forever
    assert reload(row).delivery_status == ""


@pytest.mark.parametrize("credentials", ["postmark:wrong", "", None])
def test_the_tracking_webhook_refuses_wrong_or_missing_credentials(db, client, webhook_secret, credentials):
    row = make_notification(status=SENT, provider_message_id="883953f4-6105-42a2-a16a-77a8eac79483")
    payload = postmark_bounce(row.provider_message_id)
    if credentials is None:
        response = client.post(TRACKING_URL, payload, content_type="application/json")
    else:
        response = post_tracking(client, payload, credentials)
    assert response.status_code in (400, 401)
    assert (reload(row).delivery_status, row.delivery_updated_at) == ("", None)


def test_without_a_configured_secret_the_tracking_webhook_refuses_everything(db, client):
    """Settings without ANYMAIL_WEBHOOK_SECRET get an unguessable placeholder, not anymail's open door."""
    from django.conf import settings

    (placeholder,) = settings.ANYMAIL["WEBHOOK_SECRET"]
    assert placeholder.startswith("unset:") and len(placeholder) > 40
    row = make_notification(status=SENT, provider_message_id="883953f4-6105-42a2-a16a-77a8eac79483")
    for credentials in (SECRET, "unset:", "anymail:anymail"):
        assert post_tracking(client, postmark_bounce(row.provider_message_id), credentials).status_code == 400
    assert reload(row).delivery_status == ""


def test_a_sent_email_is_tracked_by_the_id_the_provider_gave(db, client, webhook_secret):
    row = make_notification()
    assert notification_send(notification_id=row.pk) == "sent"
    message_id = reload(row).provider_message_id
    assert message_id == str(mail.outbox[0].anymail_status.message_id)
    assert post_tracking(client, postmark_delivery(message_id)).status_code == 200
    assert reload(row).delivery_status == "delivered"


@pytest.mark.parametrize(
    ("events", "final"),
    [
        (["queued", "sent", "deferred", "delivered", "opened", "clicked"], "clicked"),
        (["delivered", "opened", "deferred", "queued"], "opened"),
        (["bounced", "delivered", "opened", "clicked"], "bounced"),
        (["rejected", "delivered"], "rejected"),
        (["delivered", "complained", "opened", "bounced"], "complained"),
        (["delivered", "inbound", "unknown", "autoresponded"], "delivered"),
    ],
)
def test_delivery_status_only_moves_forward(db, events, final):
    row = make_notification(status=SENT, provider_message_id="pm-1")
    for event_type in events:
        tracking.send(
            sender=None, esp_name="Test", event=AnymailTrackingEvent(event_type=event_type, message_id="pm-1")
        )
    assert reload(row).delivery_status == final
