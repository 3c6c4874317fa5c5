"""The outbox's write side (docs/architecture.md#transactional-outbox): a row holds a snapshot, no bodies,
until the worker renders it once; a transaction's emails cost one bulk INSERT and one task row, without a
savepoint; a rolled-back savepoint takes its task row and its marker with it; the private link leaves the
row once sent; the admin shows a queued row's bodies rendered on view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from notifications.models import Notification, NotificationStatus
from notifications.sending import notification_send, notifications_send_batch, redact_private_links
from notifications.services import Email, notifications_enqueue
from resources.models import Role
from tests.conftest import future
from tests.factories import MembershipFactory, UserFactory
from tests.golden import build_world, frozen_world
from tests.notifications.test_golden import TOKEN, case_received

GOLDEN = Path(__file__).parent / "golden"
DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
FAILING_BACKEND = "tests.notifications.test_services.FailingBackend"


def golden_part(name: str, part: str) -> str:
    """One part of a golden file: "text/plain" or "text/html"."""
    text = (GOLDEN / name).read_text(encoding="utf-8")
    body = text.split(f"\n--- {part} ---\n", 1)[1]
    return body.split("\n--- ", 1)[0]


def email(org, i: int = 0) -> Email:
    return Email(
        organization=org,
        kind="booking_denied",
        recipients=[f"ada{i}@example.com"],
        subject=f"Email {i}",
        template="notifications/booking_denied.txt",
        context={"booking": {"title": f"Booking {i}", "booker_name": "Ada"}, "events": []},
    )


def task_inserts(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith("INSERT") and "django_tasks_database" in q["sql"]]


def notification_inserts(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith("INSERT") and "notifications_notification" in q["sql"]]


# --- what the row holds, and when it is rendered ------------------------------------------------------


def test_the_rows_carry_a_snapshot_until_the_worker_renders_exactly_the_golden_bodies(db, settings):
    settings.TASKS = DB_TASKS  # as in production: the transaction's emails share one batch
    with frozen_world():
        world = build_world()
        case_received(world)
        rows = list(Notification.objects.order_by("pk"))
        assert [n.kind for n in rows] == ["booking_received", "admin_new_request"]
        for row in rows:
            assert (row.body_text, row.body_html, row.attachments) == ("", "", [])
            assert row.snapshot["template"] == f"notifications/{row.kind}.txt"
            assert row.snapshot["language"] == "en-us"
        assert rows[0].snapshot["context"]["link"] == f"https://bookings.example.org/b/{TOKEN}/"
        [batch] = {row.batch for row in rows}
        # The send task's job: every row of the transaction's batch.
        assert notifications_send_batch(batch=batch) == {"sent": 2}
    for row, name in zip(rows, ["received-0.booking_received.txt", "received-1.admin_new_request.txt"], strict=True):
        row.refresh_from_db()
        assert row.status == NotificationStatus.SENT
        # Stored as rendered, the private link redacted once sent.
        assert row.body_text == redact_private_links(golden_part(name, "text/plain"))
        assert row.body_html == redact_private_links(golden_part(name, "text/html"))
        assert TOKEN not in json.dumps(row.snapshot)
    assert TOKEN in mail.outbox[0].body  # what the booker got


def test_a_retry_sends_what_the_first_try_rendered(db, settings):
    with frozen_world():
        world = build_world()
        case_received(world)
    row = Notification.objects.get(kind="booking_received")
    settings.EMAIL_BACKEND = FAILING_BACKEND
    assert notification_send(notification_id=row.pk) == "retry"
    row.refresh_from_db()
    first = row.body_text
    assert TOKEN in first  # still queued: the retry needs the link
    # Whatever happens to the snapshot meanwhile, the retry does not render again.
    Notification.objects.filter(pk=row.pk).update(snapshot={**row.snapshot, "template": "missing.txt"})
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    assert notification_send(notification_id=row.pk, now=row.next_attempt_at) == "sent"
    assert mail.outbox[-1].body == first


def test_a_snapshot_that_cannot_render_is_retried_then_failed_and_redacted(db, settings):
    settings.NOTIFICATION_RETRY_DELAYS = []
    with frozen_world():
        world = build_world()
        case_received(world)
    row = Notification.objects.get(kind="booking_received")
    Notification.objects.filter(pk=row.pk).update(snapshot={**row.snapshot, "template": "missing.txt"})
    assert notification_send(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert "TemplateDoesNotExist" in row.last_error
    assert TOKEN not in json.dumps(row.snapshot)


def test_the_admin_shows_a_row_that_cannot_render_without_failing(db, client):
    with frozen_world():
        world = build_world()
        case_received(world)
    row = Notification.objects.get(kind="booking_received")
    Notification.objects.filter(pk=row.pk).update(snapshot={**row.snapshot, "template": "missing.txt"})
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get(reverse("admin:notifications_notification_change", args=[row.pk]))

    assert page.status_code == 200
    assert "(cannot be rendered: TemplateDoesNotExist)" in page.content.decode()


# --- what writing costs ------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 10])
def test_writing_n_emails_costs_one_insert_and_one_task_row_without_savepoint(
    db, settings, django_assert_max_num_queries, count
):
    settings.TASKS = DB_TASKS
    with frozen_world():
        world = build_world()
    emails = [email(world.org, i) for i in range(count)]
    with transaction.atomic():
        with django_assert_max_num_queries(2) as queries:
            notifications_enqueue(emails=emails)
        assert len(notification_inserts(queries)) == 1 and len(task_inserts(queries)) == 1
        assert not [q for q in queries if "SAVEPOINT" in q["sql"].upper()]
        # More emails in the same transaction join its batch: no second task row.
        with django_assert_max_num_queries(1):
            notifications_enqueue(emails=[email(world.org, 99)])
    [task] = DBTaskResult.objects.all()
    assert task.task_path == "notifications.tasks.send_notifications"
    assert set(Notification.objects.values_list("batch", flat=True)) == {Notification.objects.first().batch}
    assert str(Notification.objects.first().batch) == task.args_kwargs["args"][0]


def test_a_rolled_back_savepoint_takes_its_task_row_and_the_next_email_gets_a_new_one(db, settings):
    settings.TASKS = DB_TASKS
    world = build_world()

    class Undo(Exception):
        pass

    with transaction.atomic():
        with pytest.raises(Undo), transaction.atomic():
            notifications_enqueue(emails=[email(world.org, 1)])
            raise Undo
        assert not DBTaskResult.objects.exists() and not Notification.objects.exists()
        notifications_enqueue(emails=[email(world.org, 2)])
    [task] = DBTaskResult.objects.all()
    [row] = Notification.objects.all()
    assert task.args_kwargs["args"][0] == str(row.batch)


@pytest.mark.django_db(transaction=True)
def test_the_public_submit_writes_its_two_emails_with_two_inserts(setup, settings):
    settings.TASKS = DB_TASKS
    setup.submit(setup.event(future(8)))  # warm what is cached per process (content types, configuration)
    with CaptureQueriesContext(connection) as captured:
        booking = setup.submit(setup.event(future(9))).booking
    assert Notification.objects.filter(object_id=booking.pk).count() == 2
    queries = captured.captured_queries
    assert len(notification_inserts(queries)) == 1 and len(task_inserts(queries)) == 1
    # Neither INSERT has a savepoint of its own.
    for i, query in enumerate(queries):
        if query["sql"] in notification_inserts(queries) + task_inserts(queries):
            assert not queries[i - 1]["sql"].upper().startswith("SAVEPOINT")
            assert not queries[i + 1]["sql"].upper().startswith("RELEASE")
    assert DBTaskResult.objects.count() == 2  # one per submit


def test_without_the_database_backend_each_write_is_sent_after_commit(db, django_capture_on_commit_callbacks):
    world = build_world()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notifications_enqueue(emails=[email(world.org, 1), email(world.org, 2)])
    assert len(callbacks) == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["ada1@example.com", "ada2@example.com"]


# --- the admin -------------------------------------------------------------------------------------


def test_the_admin_renders_a_queued_row_on_view_without_storing_it_nor_showing_the_link(db):
    world = build_world()
    case_received(world)
    row = Notification.objects.get(kind="booking_received")
    user = UserFactory()
    MembershipFactory(user=user, organization=world.org, role=Role.MANAGER)
    client = Client()
    client.force_login(user)
    content = client.get(reverse("admin:notifications_notification_change", args=[row.pk])).content.decode()
    assert "We received your booking request" in content and "srcdoc=" in content
    assert TOKEN not in content and "/b/[private link]/" in content
    row.refresh_from_db()
    assert row.body_text == "" and row.status == NotificationStatus.QUEUED
