"""Writing and sending Notifications (docs/architecture.md#transactional-outbox).

`notification_enqueue` runs inside the caller's transaction: the row is the outbox entry, so if the
state change rolls back, the email never existed. The send task runs only after commit.
`notification_send` claims the row (QUEUED → SENDING with a lease) in one short transaction, talks to
the provider outside any transaction, and records the outcome in another: no row lock (nor SQLite's
write lock) is held while the provider answers, and two workers never send the same row. A worker that
dies mid-send leaves a SENDING row whose lease runs out; the row is then due again (at least once).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from anymail.exceptions import AnymailInvalidAddress, AnymailRecipientsRefused
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMultiAlternatives
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
    if isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend) \
            and transaction.get_connection().in_atomic_block:
        _enqueue_send(notification_id, savepoint=True)  # a failed insert must not break the caller's transaction
        return
    transaction.on_commit(partial(_enqueue_send, notification_id))


def _enqueue_send(notification_id: UUID, *, savepoint: bool = False) -> None:
    from .tasks import send_notification

    try:
        with transaction.atomic() if savepoint else nullcontext():
            send_notification.enqueue(str(notification_id))
    except Exception:  # the row stays QUEUED; `send_queued_notifications` picks it up
        logger.exception("could not enqueue notification %s", notification_id)


PRIVATE_LINK_RE = re.compile(r"/b/[A-Za-z0-9_\-]{16,}/")


def redact_private_links(text: str) -> str:
    return PRIVATE_LINK_RE.sub("/b/[private link]/", text)


_FOLDED_LINE_RE = re.compile(r"\r?\n[ \t]")


def _redacted_attachments(attachments: list[dict]) -> list[dict]:
    """The attachments with any private link redacted. An .ics folds lines at 75 octets, which may cut
    a link in two: the copy is unfolded first when that reveals one (calendar apps accept long lines)."""
    redacted = []
    for attachment in attachments or []:
        content = attachment.get("content")
        if isinstance(content, str):
            unfolded = _FOLDED_LINE_RE.sub("", content)
            if PRIVATE_LINK_RE.search(unfolded) and not PRIVATE_LINK_RE.search(content):
                content = unfolded
            attachment = {**attachment, "content": redact_private_links(content)}
        redacted.append(attachment)
    return redacted


def _due(now) -> models.Q:
    """Rows a worker may take now: queued and due, or SENDING by a worker whose lease ran out (it died,
    or was killed, between claiming the row and recording what the provider said)."""
    queued_and_due = models.Q(status=NotificationStatus.QUEUED) & (
        models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now)
    )
    lease_expired = models.Q(status=NotificationStatus.SENDING, claimed_until__lte=now)
    return queued_and_due | lease_expired


def _settled_fields(notification: Notification) -> dict:
    # The booker's private link is a bearer secret stored only hashed on the booking; once the email is
    # settled (sent or given up), the outbox keeps no usable copy of it.
    return {
        "body_text": redact_private_links(notification.body_text),
        "body_html": redact_private_links(notification.body_html),
        "attachments": _redacted_attachments(notification.attachments),
    }


def _claim(notification_id: UUID | str, now) -> Notification | str:
    """Step 1, a short transaction: QUEUED (and due) or lease-expired SENDING → SENDING with a lease and
    one more attempt. Returns the claimed row, or the outcome when there is nothing to send."""
    with transaction.atomic():
        # skip_locked: a row another worker is claiming right now is theirs (PostgreSQL); on SQLite the
        # IMMEDIATE transaction already serializes claims, and the status check does the rest.
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(_due(now), pk=notification_id)
            .first()
        )
        if notification is None:
            return "skipped"
        delays = settings.NOTIFICATION_RETRY_DELAYS
        if notification.status == NotificationStatus.SENDING and notification.attempts > len(delays):
            # The last allowed attempt's worker died mid-send. Whatever kills workers on this email
            # would kill the next one too: give up rather than loop.
            notification.status = NotificationStatus.FAILED
            notification.claimed_until = None
            notification.last_error = "The worker sending it stopped before recording the outcome (lease expired)."
            for field, value in _settled_fields(notification).items():
                setattr(notification, field, value)
            notification.save()
            return "failed"
        notification.status = NotificationStatus.SENDING
        notification.attempts += 1
        notification.claimed_until = now + timedelta(seconds=settings.NOTIFICATION_SEND_LEASE)
        notification.save(update_fields=["status", "attempts", "claimed_until", "updated_at"])
    return notification


def _message(notification: Notification) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=notification.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=notification.recipients,
    )
    if notification.body_html:
        message.attach_alternative(notification.body_html, "text/html")
    for attachment in notification.attachments or []:
        message.attach(attachment["filename"], attachment["content"], attachment.get("mimetype") or None)
    return message


def _provider_message_id(message: EmailMultiAlternatives) -> str:
    status = getattr(message, "anymail_status", None)
    # anymail gives one id, a set of ids (one per recipient), or None; some backends use ints.
    message_id = getattr(status, "message_id", None)
    if isinstance(message_id, set):
        message_id = ",".join(sorted(map(str, message_id)))
    return ("" if message_id is None else str(message_id))[:200]


def notification_send(*, notification_id: UUID | str, now: datetime | None = None) -> str:
    """Send one due notification; returns what happened ("sent", "retry", "failed", "skipped").

    CLAIM → SEND → RECORD: the provider call happens outside any transaction, between two short ones,
    so a slow or hanging provider holds no lock. Provider errors are retried after
    NOTIFICATION_RETRY_DELAYS[attempts - 1] seconds and FAILED after the last; a refused recipient or
    an invalid address is FAILED at once (it would be refused again).
    """
    claimed = _claim(notification_id, now or timezone.now())
    if isinstance(claimed, str):
        return claimed
    notification = claimed

    try:
        message = _message(notification)
        message.send()
    except (AnymailRecipientsRefused, AnymailInvalidAddress) as exc:
        outcome = "failed"
        fields = {"status": NotificationStatus.FAILED, "last_error": str(exc)[:2000] or type(exc).__name__}
    except Exception as exc:
        delays = settings.NOTIFICATION_RETRY_DELAYS
        fields = {"last_error": f"{type(exc).__name__}: {exc}"[:2000]}
        if notification.attempts > len(delays):
            outcome = "failed"
            fields["status"] = NotificationStatus.FAILED
        else:
            outcome = "retry"
            retry_from = now or timezone.now()
            fields.update(status=NotificationStatus.QUEUED,
                          next_attempt_at=retry_from + timedelta(seconds=delays[notification.attempts - 1]))
    else:
        outcome = "sent"
        fields = {"status": NotificationStatus.SENT, "sent_at": now or timezone.now(), "last_error": "",
                  "provider_message_id": _provider_message_id(message)}

    if fields["status"] != NotificationStatus.QUEUED:
        fields.update(_settled_fields(notification))
    # Step 3: one UPDATE, only if the row is still ours (same claim: SENDING with our attempt number).
    # If our lease ran out and another worker took the row over, its outcome is the one that counts.
    recorded = Notification.objects.filter(
        pk=notification.pk, status=NotificationStatus.SENDING, attempts=notification.attempts,
    ).update(claimed_until=None, updated_at=timezone.now(), **fields)
    if not recorded:
        logger.warning("notification %s: lease lost before recording %r", notification.pk, outcome)
    return outcome


def notifications_send_due(*, limit: int = 100, now: datetime | None = None) -> dict[str, int]:
    """Send every notification whose time has come: retries, any whose task was lost, and rows whose
    sending worker died (lease expired). Oldest first, at most `limit`.

    `now` (tests) fixes the clock for the whole run; otherwise each send reads the time itself, so the
    lease of the hundredth email of a slow run still starts when that email is claimed."""
    due_at = now or timezone.now()
    due = Notification.objects.filter(_due(due_at)).order_by("created_at").values_list("pk", flat=True)[:limit]
    counts: dict[str, int] = {}
    for pk in list(due):
        outcome = notification_send(notification_id=pk, now=now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


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
            status=NotificationStatus.QUEUED, attempts=0, next_attempt_at=now, claimed_until=None,
            last_error="", provider_message_id="", delivery_status="", delivery_updated_at=None, sent_at=None,
            updated_at=now,
        )
        for pk in requeued:
            _send_after_commit(pk)
    if requeued:
        logger.info("%s requeued notifications %s", getattr(actor, "pk", actor), [str(pk) for pk in requeued])
    return requeued


# How far along each delivery status is: a tracking event never moves a row back down (a late
# "delivered" or "opened" after a bounce or spam complaint leaves the bounce/complaint standing).
DELIVERY_RANK = {
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
