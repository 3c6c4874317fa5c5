"""The notifications admin: every email with its status, attempts and delivery status, scoped to the
member's organizations, read-only, bodies never rendered as HTML into the page, and "Send again"
through the requeue service for those whose role decides bookings."""

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification, NotificationStatus
from notifications.services import notifications_requeue
from resources.models import Role
from tests.conftest import Setup
from tests.factories import MembershipFactory, NotificationFactory, UserFactory

QUEUED, SENDING, SENT, FAILED = (
    NotificationStatus.QUEUED,
    NotificationStatus.SENDING,
    NotificationStatus.SENT,
    NotificationStatus.FAILED,
)
CHANGELIST = reverse("admin:notifications_notification_changelist")
TOKEN = "abcdefghijklmnopqrstuvwxyz012345"


def change_url(notification) -> str:
    return reverse("admin:notifications_notification_change", args=[notification.pk])


def client_for(setup: Setup, role=Role.MANAGER):
    user = UserFactory()
    MembershipFactory(user=user, organization=setup.org, role=role)
    client = Client()
    client.force_login(user)
    return user, client


def make(setup: Setup, **kwargs) -> Notification:
    kwargs = {"kind": "booking_received", "status": SENT, "attempts": 1, **kwargs}
    return NotificationFactory(organization=setup.org, **kwargs)


def shown(response) -> set:
    return {n.pk for n in response.context["cl"].result_list}


def send_again(client, *rows):
    return client.post(
        CHANGELIST,
        {"action": "send_again", "index": "0", "select_across": "0", "_selected_action": [str(r.pk) for r in rows]},
        follow=True,
    )


# --- the list --------------------------------------------------------------------------------------


def test_the_list_shows_the_columns_and_only_the_members_organizations(setup):
    _, client = client_for(setup, Role.VIEWER)
    ours = make(
        setup,
        subject="Your booking is confirmed: Choir",
        recipients=["ada@example.com", "bob@example.com"],
        delivery_status="delivered",
        sent_at=timezone.now(),
    )
    theirs = make(Setup(), subject="Someone else's")
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert shown(response) == {ours.pk}
    content = response.content.decode()
    for text in (
        "Your booking is confirmed: Choir",
        "ada@example.com, bob@example.com",
        "booking_received",
        "Sent",
        "Delivered",
    ):
        assert text in content
    assert "Someone else" not in content
    assert client.get(change_url(theirs)).status_code == 404


def test_filters_and_search(setup):
    _, client = client_for(setup)
    failed = make(setup, status=FAILED, kind="booking_approved", subject="Confirmed", recipients=["zed@example.com"])
    bounced = make(setup, delivery_status="bounced", subject="Received")
    queued = make(setup, status=QUEUED, kind="admin_new_request", subject="New request")
    assert shown(client.get(CHANGELIST, {"status__exact": FAILED})) == {failed.pk}
    assert shown(client.get(CHANGELIST, {"status__exact": QUEUED})) == {queued.pk}
    assert shown(client.get(CHANGELIST, {"kind": "admin_new_request"})) == {queued.pk}
    assert shown(client.get(CHANGELIST, {"delivery_status__exact": "bounced"})) == {bounced.pk}
    assert shown(client.get(CHANGELIST, {"q": "confirmed"})) == {failed.pk}
    assert shown(client.get(CHANGELIST, {"q": "zed@example"})) == {failed.pk}


def test_the_list_uses_a_constant_number_of_queries(setup, django_assert_num_queries):
    _, client = client_for(setup)
    for i in range(3):
        make(setup, subject=f"few {i}", kind=f"kind_{i}")
    with CaptureQueriesContext(connection) as few:
        assert client.get(CHANGELIST).status_code == 200
    for i in range(40):
        make(
            setup,
            subject=f"many {i}",
            kind=f"kind_{i % 5}",
            status=[SENT, FAILED, QUEUED][i % 3],
            body_html="<p>hi</p>",
            attachments=[{"filename": "a.ics", "mimetype": "text/calendar", "content": "x"}],
        )
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(CHANGELIST)
    assert response.context["cl"].result_count == 43


# --- the detail: read-only, nothing rendered raw --------------------------------------------------


def test_the_detail_is_read_only_and_never_renders_the_html_body(setup):
    _, client = client_for(setup)
    booking = setup.submit().booking
    row = make(
        setup,
        status=QUEUED,
        related=booking,
        body_text=f"Dear <b>Ada</b>\nManage it: https://bookings.example.org/b/{TOKEN}/\n",
        body_html=f'<p>Hi</p><script>alert("x")</script><img src=x onerror="alert(1)">'
        f'<a href="https://bookings.example.org/b/{TOKEN}/">manage</a>',
        attachments=[
            {
                "filename": "booking.ics",
                "mimetype": "text/calendar",
                "content": "BEGIN:VCALENDAR\r\nSUMMARY:<script>x</script>\r\nEND:VCALENDAR\r\n",
            }
        ],
    )
    response = client.get(change_url(row))
    assert response.status_code == 200
    content = response.content.decode()
    # Text shown escaped; the HTML body only as escaped source and inside a sandboxed srcdoc.
    assert "Dear &lt;b&gt;Ada&lt;/b&gt;" in content
    assert "<script>alert" not in content and "<script>x" not in content
    assert 'onerror="alert(1)"' not in content
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in content
    assert '<iframe sandbox="" referrerpolicy="no-referrer" srcdoc="' in content
    # A row still waiting to be sent keeps the link for the provider, but the page never shows it.
    assert TOKEN in Notification.objects.get(pk=row.pk).body_text
    assert TOKEN not in content
    assert "/b/[private link]/" in content
    assert "booking.ics" in content
    assert reverse("admin:bookings_booking_change", args=[booking.pk]) in content
    # No form to save, and a forged save is refused.
    assert 'name="_save"' not in content
    before = Notification.objects.filter(pk=row.pk).values().get()
    assert client.post(change_url(row), {"subject": "Changed"}).status_code == 403
    assert Notification.objects.filter(pk=row.pk).values().get() == before
    assert client.get(reverse("admin:notifications_notification_add")).status_code == 403
    assert client.post(reverse("admin:notifications_notification_delete", args=[row.pk])).status_code == 403


# --- send again ------------------------------------------------------------------------------------


def test_send_again_requeues_failed_and_sent_rows_and_sends_them(setup, django_capture_on_commit_callbacks):
    user, client = client_for(setup)
    failed = make(setup, status=FAILED, attempts=6, last_error="AnymailAPIError: down", subject="Failed one")
    sent = make(setup, status=SENT, subject="Sent one", provider_message_id="pm-1", delivery_status="bounced")
    queued = make(setup, status=QUEUED, attempts=1, subject="Queued one", next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        response = send_again(client, failed, sent, queued)
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert "Queued 2 emails to be sent again." in messages
    assert any(m.startswith("Not queued: 1") for m in messages)
    assert sorted(m.subject for m in mail.outbox) == ["Failed one", "Sent one"]
    for row in (failed, sent):
        row.refresh_from_db()
        assert (row.status, row.attempts, row.last_error) == (SENT, 1, "")
    assert sent.provider_message_id != "pm-1" and sent.delivery_status == ""
    queued.refresh_from_db()
    assert (queued.status, queued.attempts) == (QUEUED, 1)


def test_a_viewer_has_no_send_again(setup, django_capture_on_commit_callbacks):
    _, client = client_for(setup, Role.VIEWER)
    failed = make(setup, status=FAILED)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert "send_again" not in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        send_again(client, failed)
    assert Notification.objects.get(pk=failed.pk).status == FAILED
    assert mail.outbox == []


def test_send_again_cannot_reach_another_organizations_rows(setup, django_capture_on_commit_callbacks):
    _, client = client_for(setup)
    theirs = make(Setup(), status=FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        send_again(client, theirs)
    assert Notification.objects.get(pk=theirs.pk).status == FAILED
    assert mail.outbox == []


@pytest.mark.parametrize(("role", "requeued"), [(Role.VIEWER, False), (Role.MANAGER, True)])
def test_the_requeue_service_checks_the_role_in_each_rows_organization(setup, role, requeued):
    user, _ = client_for(setup, role)
    row = make(setup, status=FAILED)
    assert notifications_requeue(notification_ids=[row.pk], actor=user) == ([row.pk] if requeued else [])
    row.refresh_from_db()
    assert row.status == (QUEUED if requeued else FAILED)
    if requeued:
        assert (row.attempts, row.next_attempt_at is not None) == (0, True)


def test_a_sending_row_is_not_requeued(setup):
    user, _ = client_for(setup)
    row = make(setup, status=SENDING, claimed_until=timezone.now())
    assert notifications_requeue(notification_ids=[row.pk], actor=user) == []
    assert Notification.objects.get(pk=row.pk).status == SENDING
