"""Writing Notifications and having them sent (docs/architecture.md#transactional-outbox).

`notification_enqueue` runs inside the caller's transaction: the row is the outbox entry, so if the
state change rolls back, the email never existed. The send task runs only after commit; the sending
itself (claim, send, record, the sweeper) is `notifications.sending`.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from uuid import UUID

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.safestring import mark_safe
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks_db import DatabaseBackend

from core.html import sanitize_html
from resources.models import Organization
from resources.permissions import has_permission

from .models import DeliveryStatus, Notification, NotificationStatus
from .tasks import send_notification

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotificationSpec:
    """Staff's choice for one transition's email: send it or not, another subject, an added message."""

    send: bool = True
    subject: str | None = None
    message: str | None = None  # basic HTML, sanitized


_BLOCK_END_RE = re.compile(r"</(?:p|h3|h4|blockquote|ul|ol)>", re.IGNORECASE)
_BREAK_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)
_LIST_ITEM_RE = re.compile(r"<li(?:\s[^>]*)?>", re.IGNORECASE)
_LINK_RE = re.compile(r'<a\s[^>]*?href="([^"]*)"[^>]*>(.*?)</a>', re.IGNORECASE | re.DOTALL)
_TAG_OPENER_RE = re.compile(r"<+(?=[A-Za-z/!?])")


def html_to_text(value: str) -> str:
    """Basic HTML (what sanitize_html keeps) as readable plain text for a text/plain body: paragraphs and
    line breaks stay, list items get a dash, a link keeps its address, entities are decoded."""
    if not value:
        return ""

    def link(match: re.Match) -> str:
        # Both stay entity-encoded until the one decoding pass below.
        href, label = match[1], match[2]
        shown = html.unescape(strip_tags(label)).strip()
        return label if html.unescape(href) in ("", shown, f"mailto:{shown}") else f"{label} ({href})"

    text = _LINK_RE.sub(link, sanitize_html(value))
    text = _BREAK_RE.sub("\n", _BLOCK_END_RE.sub("\n\n", text))
    text = _LIST_ITEM_RE.sub("\n- ", text)
    # Decoding entities could turn "&lt;b&gt;" back into a tag: drop any "<" that could open one (not
    # strip_tags again, which would mangle a bare "&" next to it).
    text = _TAG_OPENER_RE.sub("", html.unescape(strip_tags(text)))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def notification_enqueue(
    *,
    organization: Organization,
    kind: str,
    recipients: list[str],
    subject: str,
    template: str,
    context: dict,
    related: models.Model | None = None,
    spec: NotificationSpec | None = None,
    html_template: str | None = None,
    attachments: list[dict[str, str]] | None = None,
) -> Notification | None:
    """Render and store one email (text and HTML bodies), and send it after the surrounding transaction
    commits.

    `template` is the text body's; the HTML body's is `html_template`, by default the ".html" template
    next to it. `attachments` are `{"filename", "mimetype", "content"}` with text content (an .ics).
    Returns None when there is nobody to send to or staff chose not to send.
    """
    recipients = [r for r in dict.fromkeys(recipients) if r]
    if not recipients or (spec is not None and not spec.send):
        return None
    # A subject is a header: a line break in it would break the email (or smuggle in headers). Inputs
    # refuse them already; titles stored before that check, and any other caller, still get one line.
    subject = " ".join((spec.subject if spec and spec.subject else subject).split())[:300]
    message_html = sanitize_html(spec.message) if spec and spec.message else ""
    context = {**context, "organization": organization, "subject": subject}
    body_text = render_to_string(template, {**context, "staff_message": html_to_text(message_html)}).strip() + "\n"
    if html_template is None and template.endswith(".txt"):
        html_template = template.removesuffix(".txt") + ".html"
    body_html = ""
    if html_template:
        # Autoescaping is on for the HTML templates; the staff message is the one piece inserted as
        # HTML, and only after nh3 has reduced it to basic formatting.
        html_context = {**context, "staff_message": mark_safe(message_html)}  # noqa: S308
        body_html = render_to_string(html_template, html_context).strip() + "\n"
    notification = Notification.objects.create(
        organization=organization,
        kind=kind,
        recipients=recipients,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        attachments=list(attachments or []),
        content_type=ContentType.objects.get_for_model(related) if related is not None else None,
        object_id=related.pk if related is not None else None,
    )
    _send_after_commit(notification.pk)
    return notification


def _send_after_commit(notification_id: UUID) -> None:
    """Have the send task run once the caller's transaction commits.

    With the database task backend (production), the task row is written inside the caller's transaction:
    it commits or rolls back with the Notification, and the request pays for one commit instead of one more
    per email (each commit waits for the WAL flush). Any other backend (the immediate one runs the task at
    enqueue) is enqueued after commit."""
    if (
        isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend)
        and transaction.get_connection().in_atomic_block
    ):
        _enqueue_send(notification_id, savepoint=True)  # a failed insert must not break the caller's transaction
        return
    transaction.on_commit(partial(_enqueue_send, notification_id))


def _enqueue_send(notification_id: UUID, *, savepoint: bool = False) -> None:
    try:
        with transaction.atomic() if savepoint else nullcontext():
            send_notification.enqueue(str(notification_id))
    except Exception:  # the row stays QUEUED; `send_queued_notifications` picks it up
        logger.exception("could not enqueue notification %s", notification_id)


def notifications_requeue(*, notification_ids: Iterable[UUID | str], actor) -> list[UUID]:
    """Send FAILED or SENT notifications again ("Send again" in the admin); returns the requeued ids.

    Rows in another state (QUEUED, SENDING: already on their way) and rows of organizations where
    `actor` may not manage bookings are left alone. A requeued row starts a fresh retry budget and
    forgets the previous send's provider id and delivery status (their webhooks no longer match it).

    The copy sent is the stored one, whose booker private link was redacted when it first settled
    ("/b/[private link]/"): sending that redacted copy is intended — the token exists only hashed, and
    the email still tells the booker everything else.
    """
    ids = list(notification_ids)
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update()
            .filter(pk__in=ids, status__in=[NotificationStatus.FAILED, NotificationStatus.SENT])
            .values_list("pk", "organization_id")
        )
        allowed: dict = {}
        requeued = []
        for pk, org_id in rows:
            if org_id not in allowed:
                allowed[org_id] = has_permission(actor, org_id, "manage_bookings")
            if allowed[org_id]:
                requeued.append(pk)
        Notification.objects.filter(pk__in=requeued).update(
            status=NotificationStatus.QUEUED,
            attempts=0,
            next_attempt_at=now,
            claimed_until=None,
            last_error="",
            provider_message_id="",
            delivery_status="",
            delivery_updated_at=None,
            sent_at=None,
            updated_at=now,
        )
        for pk in requeued:
            _send_after_commit(pk)
    if requeued:
        logger.info("%s requeued notifications %s", getattr(actor, "pk", actor), [str(pk) for pk in requeued])
    return requeued


# How far along each delivery status is: a tracking event never moves a row back down (a late
# "delivered" or "opened" after a bounce or spam complaint leaves the bounce/complaint standing).
DELIVERY_RANK: dict[str, int] = {
    DeliveryStatus.QUEUED: 1,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DEFERRED: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.OPENED: 4,
    DeliveryStatus.CLICKED: 5,
    DeliveryStatus.UNSUBSCRIBED: 6,
    DeliveryStatus.FAILED: 7,
    DeliveryStatus.REJECTED: 7,
    DeliveryStatus.BOUNCED: 8,
    DeliveryStatus.COMPLAINED: 9,
}


def notification_delivery_update(*, message_id: str | None, event_type: str, at: datetime | None = None) -> int:
    """Record what the provider's tracking webhook says about the email it accepted as `message_id`;
    returns how many rows changed (0 for ids we never sent, events we do not track, or a status that
    would go backwards).

    One conditional UPDATE: two webhook posts for the same email at once cannot undo each other."""
    if not message_id or event_type not in DELIVERY_RANK:
        return 0
    rank = DELIVERY_RANK[event_type]
    further = [status for status, r in DELIVERY_RANK.items() if r > rank]
    return (
        Notification.objects.filter(provider_message_id=str(message_id)[:200])
        .exclude(delivery_status__in=further)
        .update(delivery_status=event_type, delivery_updated_at=at or timezone.now(), updated_at=timezone.now())
    )
