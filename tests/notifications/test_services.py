"""Notifications (docs/architecture.md#emails): written in the transaction of the change, sent after commit, retried
with back-off when the provider fails, never sent twice."""

import json
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from bookings.lifecycle.decide import booking_approve, booking_deny
from bookings.models import Booking, BookingLog
from core.errors import ValidationFailed
from notifications import services
from notifications.models import Notification, NotificationStatus
from notifications.sending import notification_send, notifications_send_due, redact_private_links
from notifications.services import NotificationSpec, notification_enqueue
from tests.conftest import postgres_only
from tests.factories import NotificationFactory, OrganizationFactory

QUEUED, SENT, FAILED = NotificationStatus.QUEUED, NotificationStatus.SENT, NotificationStatus.FAILED
FAILING_BACKEND = f"{__name__}.FailingBackend"
REFUSING_BACKEND = f"{__name__}.RefusingBackend"


class FailingBackend(BaseEmailBackend):
    """A provider that is down."""

    def send_messages(self, email_messages):
        raise AnymailAPIError("provider is down")


class RefusingBackend(BaseEmailBackend):
    """A provider that rejects every recipient."""

    def send_messages(self, email_messages):
        raise AnymailRecipientsRefused()


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    """Freeze django.utils.timezone.now (used by the services and auto_now fields) and move it by hand."""
    frozen = Clock(datetime(2031, 3, 4, 12, 0, tzinfo=UTC))
    monkeypatch.setattr(timezone, "now", frozen)
    return frozen


def make_notification(org=None, **kwargs) -> Notification:
    """A queued "test" email "Hello" to ada@example.com (the factory's defaults)."""
    return NotificationFactory(organization=org or OrganizationFactory(), **kwargs)


def reload(notification: Notification) -> Notification:
    notification.refresh_from_db()
    return notification


def booking_rows(booking) -> dict[str, Notification]:
    return {n.kind: n for n in Notification.objects.filter(object_id=booking.pk)}


# --- the outbox: same transaction, sent after commit -----------------------------------------------


def test_submit_writes_notification_rows_in_its_transaction_and_sends_only_after_commit(
    setup, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        result = setup.submit(setup.event(title="Choir practice"))
        rows = booking_rows(result.booking)
        assert set(rows) == {"booking_received", "admin_new_request"}
        assert all((n.status, n.attempts) == (QUEUED, 0) for n in rows.values())
        assert rows["booking_received"].recipients == ["ada@example.com"]
        assert rows["admin_new_request"].recipients == ["admin@example.org"]
        assert all(n.related == result.booking for n in rows.values())
        # A snapshot, not bodies: the worker renders them.
        assert all(n.snapshot and not n.body_text and not n.body_html for n in rows.values())
        # Both emails of the submit share one batch: one send task.
        assert len({n.batch for n in rows.values()}) == 1
    assert len(callbacks) == 1
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    assert {n.status for n in Notification.objects.all()} == {SENT}
    assert len(mail.outbox) == 2


def test_rolled_back_submit_leaves_no_notification_row(setup, django_capture_on_commit_callbacks):
    class Boom(Exception):
        pass

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        setup.submit()
        assert Notification.objects.count() == 2
        raise Boom
    assert callbacks == []
    assert Notification.objects.count() == 0
    assert Booking.objects.count() == 0
    assert mail.outbox == []


def test_refused_submit_leaves_no_notification_row(setup, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ValidationFailed):
        setup.submit(setup.event(title=""))
    assert callbacks == []
    assert Notification.objects.count() == 0
    assert mail.outbox == []


def test_after_commit_the_emails_are_sent_with_the_title_and_the_private_link(
    setup, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = setup.submit(setup.event(title="Choir practice"))
    rows = booking_rows(result.booking)
    booker, admin = rows["booking_received"], rows["admin_new_request"]
    link = f"https://bookings.example.org/b/{result.access_token}/"
    for row in (booker, admin):
        assert row.status == SENT
        assert row.attempts == 1
        assert row.sent_at is not None
        assert row.last_error == ""
        assert "Choir practice" in row.body_text
    # the anymail test backend's message id is the message's index in the outbox
    assert {booker.provider_message_id, admin.provider_message_id} == {"0", "1"}
    # Once sent, the stored copy keeps no usable private link (the token is stored only hashed).
    assert result.access_token not in booker.body_text
    assert "https://bookings.example.org/b/[private link]/" in booker.body_text
    assert result.access_token not in admin.body_text  # the private link is the booker's alone

    sent = {tuple(m.to): m for m in mail.outbox}
    assert set(sent) == {("ada@example.com",), ("admin@example.org",)}
    to_booker = sent[("ada@example.com",)]
    assert to_booker.subject == booker.subject == "We received your booking request: Choir practice"
    assert redact_private_links(to_booker.body) == booker.body_text
    assert link in to_booker.body
    assert sent[("admin@example.org",)].subject == "New booking request: Choir practice"


def test_a_provider_outage_keeps_the_booking_and_queues_the_emails(setup, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = FAILING_BACKEND
    with django_capture_on_commit_callbacks(execute=True):
        result = setup.submit()
    assert Booking.objects.filter(pk=result.booking.pk).exists()
    rows = booking_rows(result.booking).values()
    assert [(n.status, n.attempts) for n in rows] == [(QUEUED, 1), (QUEUED, 1)]
    assert all(n.next_attempt_at is not None and "provider is down" in n.last_error for n in rows)


def test_a_lost_send_task_is_picked_up_by_the_command(setup, monkeypatch, django_capture_on_commit_callbacks):
    class LostTask:
        def enqueue(self, *args, **kwargs):
            raise RuntimeError("task queue unavailable")

    monkeypatch.setattr(services, "send_notifications", LostTask())
    with django_capture_on_commit_callbacks(execute=True):
        result = setup.submit()
    assert [n.status for n in booking_rows(result.booking).values()] == [QUEUED, QUEUED]
    assert mail.outbox == []
    out = StringIO()
    call_command("send_queued_notifications", stdout=out)
    assert out.getvalue().strip() == "sent: 2"
    assert [n.status for n in booking_rows(result.booking).values()] == [SENT, SENT]
    assert len(mail.outbox) == 2


# --- retries with back-off -------------------------------------------------------------------------


@pytest.mark.parametrize("delays", [[], [60], [60, 300], [60, 300, 1800, 7200, 21600]])
def test_provider_errors_are_retried_with_backoff_then_failed(db, settings, clock, delays):
    settings.EMAIL_BACKEND = FAILING_BACKEND
    settings.NOTIFICATION_RETRY_DELAYS = delays
    notification = make_notification()
    for attempt, delay in enumerate(delays, start=1):
        assert notification_send(notification_id=notification.pk) == "retry"
        reload(notification)
        assert (notification.status, notification.attempts) == (QUEUED, attempt)
        assert notification.next_attempt_at == clock.now + timedelta(seconds=delay)
        assert notification.last_error == "AnymailAPIError: provider is down"
        # not due yet: nothing happens, not even a counted attempt
        clock.advance(delay - 1)
        assert notification_send(notification_id=notification.pk) == "skipped"
        assert notifications_send_due() == {}
        assert reload(notification).attempts == attempt
        clock.advance(1)
    assert notification_send(notification_id=notification.pk) == "failed"
    reload(notification)
    assert (notification.status, notification.attempts) == (FAILED, len(delays) + 1)
    assert "provider is down" in notification.last_error
    assert notification.sent_at is None
    # a failed row is never tried again
    clock.advance(86400)
    assert notification_send(notification_id=notification.pk) == "skipped"
    assert notifications_send_due() == {}
    assert reload(notification).attempts == len(delays) + 1
    assert mail.outbox == []


def test_default_backoff_grows():
    from django.conf import settings

    delays = settings.NOTIFICATION_RETRY_DELAYS
    assert len(delays) >= 3
    assert all(0 < a < b for a, b in zip(delays, delays[1:], strict=False))


def test_a_retry_that_succeeds_is_sent(db, settings, clock):
    settings.EMAIL_BACKEND = FAILING_BACKEND
    notification = make_notification(subject="Try again")
    assert notification_send(notification_id=notification.pk) == "retry"
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    clock.advance(settings.NOTIFICATION_RETRY_DELAYS[0])
    assert notification_send(notification_id=notification.pk) == "sent"
    reload(notification)
    assert (notification.status, notification.attempts, notification.last_error) == (SENT, 2, "")
    assert notification.sent_at == clock.now
    assert [m.subject for m in mail.outbox] == ["Try again"]


def test_refused_recipients_fail_at_once_without_retry(db, settings, clock):
    settings.EMAIL_BACKEND = REFUSING_BACKEND
    settings.NOTIFICATION_RETRY_DELAYS = [60, 300, 1800]
    notification = make_notification()
    assert notification_send(notification_id=notification.pk) == "failed"
    reload(notification)
    assert (notification.status, notification.attempts) == (FAILED, 1)
    assert notification.next_attempt_at is None
    assert "rejected" in notification.last_error
    clock.advance(3600)
    assert notifications_send_due() == {}
    assert notification_send(notification_id=notification.pk) == "skipped"
    assert reload(notification).attempts == 1


def test_refused_recipients_reported_by_the_test_provider_fail_at_once(db, settings, monkeypatch):
    """The anymail test backend raises AnymailRecipientsRefused itself when every recipient is rejected."""
    from anymail.message import AnymailRecipientStatus

    def rejected(self, payload, message):
        return {"recipient_status": {"ada@example.com": AnymailRecipientStatus(message_id=None, status="rejected")}}

    monkeypatch.setattr("anymail.backends.test.EmailBackend.post_to_esp", rejected)
    notification = make_notification()
    assert notification_send(notification_id=notification.pk) == "failed"
    assert (reload(notification).status, notification.attempts) == (FAILED, 1)


# --- never twice -----------------------------------------------------------------------------------


def test_a_sent_row_is_never_sent_twice(db, clock):
    notification = make_notification(subject="Only once")
    assert notification_send(notification_id=notification.pk) == "sent"
    sent_at = reload(notification).sent_at
    clock.advance(3600)
    assert notification_send(notification_id=notification.pk) == "skipped"
    assert notifications_send_due() == {}
    call_command("send_queued_notifications", stdout=StringIO())
    assert [m.subject for m in mail.outbox] == ["Only once"]
    reload(notification)
    assert (notification.status, notification.attempts, notification.sent_at) == (SENT, 1, sent_at)


def test_sending_after_commit_and_by_the_command_sends_once(setup, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        setup.submit()
    assert len(mail.outbox) == 2
    out = StringIO()
    call_command("send_queued_notifications", stdout=out)
    assert out.getvalue() == ""
    assert len(mail.outbox) == 2


def test_unknown_notification_is_skipped(db):
    import uuid

    assert notification_send(notification_id=uuid.uuid4()) == "skipped"
    assert mail.outbox == []


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_row_locked_by_another_worker_is_skipped():
    notification = make_notification()
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                Notification.objects.select_for_update().get(pk=notification.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        assert notification_send(notification_id=notification.pk) == "skipped"
    finally:
        release.set()
        thread.join()
    assert mail.outbox == []
    assert (reload(notification).status, notification.attempts) == (QUEUED, 0)
    assert notification_send(notification_id=notification.pk) == "sent"


# --- the sweep: due rows only ----------------------------------------------------------------------


def test_send_due_picks_due_rows_only(db, clock):
    org = OrganizationFactory()
    rows = {}
    for name, status, next_at in [
        ("new", QUEUED, None),
        ("overdue", QUEUED, -1),
        ("due now", QUEUED, 0),
        ("later", QUEUED, 1),
        ("sent", SENT, None),
        ("failed", FAILED, None),
    ]:
        due_at = None if next_at is None else clock.now + timedelta(seconds=next_at)
        rows[name] = make_notification(org, subject=name, status=status, next_attempt_at=due_at)
    assert notifications_send_due() == {"sent": 3}
    assert sorted(m.subject for m in mail.outbox) == ["due now", "new", "overdue"]
    for name in ("new", "overdue", "due now"):
        assert (reload(rows[name]).status, rows[name].attempts) == (SENT, 1)
    assert (reload(rows["later"]).status, rows["later"].attempts) == (QUEUED, 0)
    assert (reload(rows["sent"]).status, reload(rows["failed"]).status) == (SENT, FAILED)
    clock.advance(1)
    assert notifications_send_due() == {"sent": 1}
    assert mail.outbox[-1].subject == "later"
    assert notifications_send_due() == {}


def test_send_due_oldest_first_up_to_the_limit(db, clock):
    org = OrganizationFactory()
    for subject in ["first", "second", "third"]:
        make_notification(org, subject=subject)
        clock.advance(1)
    assert notifications_send_due(limit=2) == {"sent": 2}
    assert [m.subject for m in mail.outbox] == ["first", "second"]
    assert notifications_send_due(limit=2) == {"sent": 1}
    assert [m.subject for m in mail.outbox] == ["first", "second", "third"]


def test_send_due_counts_each_outcome(db, settings, clock):
    settings.EMAIL_BACKEND = FAILING_BACKEND
    make_notification()
    make_notification()
    out = StringIO()
    call_command("send_queued_notifications", stdout=out)
    assert out.getvalue().strip() == "retry: 2"
    assert notifications_send_due() == {}  # both wait for their next attempt


# --- staff's choice: send or not, subject, message -------------------------------------------------


def test_enqueue_skips_when_staff_choose_not_to_send_or_nobody_to_send_to(db):
    org = OrganizationFactory()
    kwargs = {
        "organization": org,
        "kind": "test",
        "subject": "Hi",
        "template": "notifications/booking_denied.txt",
        "context": {},
    }
    assert notification_enqueue(recipients=["ada@example.com"], spec=NotificationSpec(send=False), **kwargs) is None
    assert notification_enqueue(recipients=["", None], **kwargs) is None
    assert notification_enqueue(recipients=[], spec=NotificationSpec(), **kwargs) is None
    assert Notification.objects.count() == 0
    row = notification_enqueue(recipients=["a@example.com", "b@example.com", "a@example.com", ""], **kwargs)
    assert row.recipients == ["a@example.com", "b@example.com"]
    assert Notification.objects.count() == 1


@pytest.mark.parametrize(("spec", "rows"), [(None, 1), (NotificationSpec(), 1), (NotificationSpec(send=False), 0)])
def test_send_false_writes_no_row(setup, django_capture_on_commit_callbacks, spec, rows):
    booking = setup.submit().booking
    with django_capture_on_commit_callbacks(execute=True):
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, notification=spec)
    assert Notification.objects.filter(kind="booking_approved").count() == rows
    assert [m.subject for m in mail.outbox] == ["Your booking is confirmed: Team meeting"] * rows
    assert BookingLog.objects.filter(booking=booking, action="approve").count() == 1


def test_subject_override_and_staff_message(setup, django_capture_on_commit_callbacks):
    booking = setup.submit().booking
    spec = NotificationSpec(
        subject="See you on Tuesday", message='<p onclick="x()">Bring <b>your ID</b>.<script>alert(1)</script></p>'
    )
    with django_capture_on_commit_callbacks(execute=True):
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, notification=spec)
    row = Notification.objects.get(kind="booking_approved")
    assert row.subject == "See you on Tuesday"
    assert f"Message from {setup.org.name}:\nBring your ID." in row.body_text
    assert "Team meeting" in row.body_text
    for bad in ("<", "alert", "onclick"):
        assert bad not in row.body_text
    (message,) = mail.outbox
    assert (message.subject, message.body, message.to) == (row.subject, row.body_text, ["ada@example.com"])


def test_without_override_the_default_subject_and_no_staff_message(setup):
    booking = setup.submit().booking
    booking_deny(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    row = Notification.objects.get(kind="booking_denied")
    assert row.subject == "Your booking request was declined: Team meeting"
    notification_send(notification_id=row.pk)
    assert "Message from" not in reload(row).body_text


def test_staff_message_on_deny_and_long_subject_is_cut(setup):
    booking = setup.submit().booking
    spec = NotificationSpec(subject="S" * 400, message="Sorry, the hall is being painted.")
    booking_deny(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, notification=spec)
    row = Notification.objects.get(kind="booking_denied")
    assert row.subject == "S" * 300
    assert row.snapshot["staff_message"] == "Sorry, the hall is being painted."
    notification_send(notification_id=row.pk)
    assert "Sorry, the hall is being painted." in reload(row).body_text


def test_a_failed_email_keeps_no_private_link_either(setup, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = REFUSING_BACKEND
    with django_capture_on_commit_callbacks(execute=True):
        result = setup.submit()
    row = booking_rows(result.booking)["booking_received"]
    assert row.status == NotificationStatus.FAILED
    assert result.access_token not in row.body_text
    assert result.access_token not in json.dumps(row.snapshot)
    assert row.snapshot["context"]["link"] == "https://bookings.example.org/b/[private link]/"


def test_a_queued_email_keeps_its_link_until_it_is_sent(setup, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = FAILING_BACKEND
    with django_capture_on_commit_callbacks(execute=True):
        result = setup.submit()
    row = booking_rows(result.booking)["booking_received"]
    assert row.status == NotificationStatus.QUEUED
    assert f"/b/{result.access_token}/" in row.body_text  # the retry must still carry the link
    assert f"/b/{result.access_token}/" in row.snapshot["context"]["link"]
