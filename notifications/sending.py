"""Sending the stored Notifications (docs/architecture.md#emails).

`notification_send` claims the row (QUEUED → SENDING with a lease) in one short transaction, talks to
the provider outside any transaction, and records the outcome in another: no row lock (nor SQLite's
write lock) is held while the provider answers, and two workers never send the same row. A worker that
dies mid-send leaves a SENDING row whose lease runs out; the row is then due again (at least once).
`notifications_send_due` is the sweeper: retries, lost tasks and rows whose lease ran out. A row written
with a snapshot is rendered (notifications.rendering) once claimed, before its first send, and the bodies
stored with the claim's check; its raw private link, in the snapshot and the bodies, is redacted once the
email is settled. Writing and enqueueing the rows is `notifications.services`' job; the send tasks
(`notifications.tasks`) call here.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from anymail.exceptions import AnymailInvalidAddress, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import models, transaction
from django.utils import timezone

from .hooks import template_failed
from .models import Notification, NotificationStatus
from .rendering import notification_render

logger = logging.getLogger(__name__)


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


def _redacted_json(value: Any) -> Any:
    if isinstance(value, str):
        return redact_private_links(value)
    if isinstance(value, list):
        return [_redacted_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _redacted_json(item) for key, item in value.items()}
    return value


def _settled_fields(notification: Notification) -> dict:
    # The booker's private link is a bearer secret stored only hashed on the booking; once the email is
    # settled (sent or given up), the outbox keeps no usable copy of it: not in the bodies, not in the
    # snapshot they were rendered from.
    return {
        "body_text": redact_private_links(notification.body_text),
        "body_html": redact_private_links(notification.body_html),
        "attachments": _redacted_attachments(notification.attachments),
        "snapshot": _redacted_json(notification.snapshot),
    }


def _render(notification: Notification) -> bool:
    """Render the snapshot into the bodies and store them (once: a retry sends what the first try
    rendered). False if the row is no longer ours (our lease ran out and another worker took it)."""
    if notification.rendered:
        return True
    rendered = notification_render(notification.snapshot, subject=notification.subject)
    notification.body_text = rendered.body_text
    notification.body_html = rendered.body_html
    notification.attachments = rendered.attachments
    stored = bool(
        Notification.objects.filter(
            pk=notification.pk, status=NotificationStatus.SENDING, attempts=notification.attempts
        ).update(body_text=rendered.body_text, body_html=rendered.body_html, attachments=rendered.attachments)
    )
    if stored and rendered.template_error:
        # Staff's template failed and the default was rendered instead: the email goes out, the admin shows
        # the failure (docs/architecture.md#email-templates).
        custom = notification.snapshot.get("custom") or {}
        template_failed(
            template_id=str(custom.get("template") or ""),
            error=rendered.template_error,
            updated_at=str(custom.get("updated_at") or ""),
        )
    return stored


def _claim(notification_id: UUID | str, now) -> Notification | str:
    """Step 1, a short transaction: QUEUED (and due) or lease-expired SENDING → SENDING with a lease and
    one more attempt. Returns the claimed row, or the outcome when there is nothing to send."""
    with transaction.atomic():
        # skip_locked: a row another worker is claiming right now is theirs (PostgreSQL); on SQLite the
        # IMMEDIATE transaction already serializes claims, and the status check does the rest.
        notification = (
            Notification.objects.select_for_update(skip_locked=True).filter(_due(now), pk=notification_id).first()
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
        if not _render(notification):
            logger.warning("notification %s: lease lost before sending", notification.pk)
            return "skipped"
        message = _message(notification)
        message.send()
    except (AnymailRecipientsRefused, AnymailInvalidAddress) as exc:
        outcome = "failed"
        fields: dict[str, Any] = {
            "status": NotificationStatus.FAILED,
            "last_error": str(exc)[:2000] or type(exc).__name__,
        }
    except Exception as exc:
        delays = settings.NOTIFICATION_RETRY_DELAYS
        fields = {"last_error": f"{type(exc).__name__}: {exc}"[:2000]}
        if notification.attempts > len(delays):
            outcome = "failed"
            fields["status"] = NotificationStatus.FAILED
        else:
            outcome = "retry"
            retry_from = now or timezone.now()
            fields.update(
                status=NotificationStatus.QUEUED,
                next_attempt_at=retry_from + timedelta(seconds=delays[notification.attempts - 1]),
            )
    else:
        outcome = "sent"
        fields = {
            "status": NotificationStatus.SENT,
            "sent_at": now or timezone.now(),
            "last_error": "",
            "provider_message_id": _provider_message_id(message),
        }

    if fields["status"] != NotificationStatus.QUEUED:
        fields.update(_settled_fields(notification))
    # Step 3: one UPDATE, only if the row is still ours (same claim: SENDING with our attempt number).
    # If our lease ran out and another worker took the row over, its outcome is the one that counts.
    recorded = Notification.objects.filter(
        pk=notification.pk,
        status=NotificationStatus.SENDING,
        attempts=notification.attempts,
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


def notifications_send_batch(*, batch: UUID | str) -> dict[str, int]:
    """Send the emails one transaction wrote (the send task's job), in the order they were written. Rows
    already taken care of (sent by the sweeper, retried later) are skipped by `notification_send`."""
    rows = Notification.objects.filter(batch=batch, status__in=[NotificationStatus.QUEUED, NotificationStatus.SENDING])
    counts: dict[str, int] = {}
    for pk in list(rows.order_by("created_at", "pk").values_list("pk", flat=True)):
        outcome = notification_send(notification_id=pk)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
