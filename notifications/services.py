"""Writing and sending Notifications (DESIGN §9).

`notification_enqueue` runs inside the caller's transaction: the row is the outbox entry, so if the
state change rolls back, the email never existed. The send task is enqueued only after commit.
`notification_send` holds the row lock while it talks to the provider so two workers never send the
same row (the second one skips it).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from anymail.exceptions import AnymailRecipientsRefused
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMultiAlternatives
from django.db import models, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import strip_tags

from resources.base import sanitize_html
from resources.models import Organization

from .models import Notification, NotificationStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotificationSpec:
    """Staff's choice for one transition's email: send it or not, another subject, an added message."""

    send: bool = True
    subject: str | None = None
    message: str | None = None  # basic HTML, sanitized


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
) -> Notification | None:
    """Render and store one email, and send it after the surrounding transaction commits.

    Returns None when there is nobody to send to or staff chose not to send.
    """
    recipients = [r for r in dict.fromkeys(recipients) if r]
    if not recipients or (spec is not None and not spec.send):
        return None
    message_html = sanitize_html(spec.message) if spec and spec.message else ""
    context = {**context, "organization": organization, "staff_message": strip_tags(message_html).strip()}
    body_text = render_to_string(template, context).strip() + "\n"
    notification = Notification.objects.create(
        organization=organization,
        kind=kind,
        recipients=recipients,
        subject=(spec.subject if spec and spec.subject else subject)[:300],
        body_text=body_text,
        body_html="",
        content_type=ContentType.objects.get_for_model(related) if related is not None else None,
        object_id=related.pk if related is not None else None,
    )
    transaction.on_commit(lambda: _enqueue_send(notification.pk))
    return notification


def _enqueue_send(notification_id: UUID) -> None:
    from .tasks import send_notification

    try:
        send_notification.enqueue(str(notification_id))
    except Exception:  # the row stays QUEUED; `send_queued_notifications` picks it up
        logger.exception("could not enqueue notification %s", notification_id)


PRIVATE_LINK_RE = re.compile(r"/b/[A-Za-z0-9_\-]{16,}/")


def redact_private_links(text: str) -> str:
    return PRIVATE_LINK_RE.sub("/b/[private link]/", text)


def notification_send(*, notification_id: UUID | str) -> str:
    """Send one queued notification; returns what happened ("sent", "retry", "failed", "skipped")."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id, status=NotificationStatus.QUEUED)
            .first()
        )
        if notification is None:
            return "skipped"
        now = timezone.now()
        if notification.next_attempt_at and notification.next_attempt_at > now:
            return "skipped"
        notification.attempts += 1
        message = EmailMultiAlternatives(
            subject=notification.subject,
            body=notification.body_text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=notification.recipients,
        )
        if notification.body_html:
            message.attach_alternative(notification.body_html, "text/html")
        try:
            message.send()
        except AnymailRecipientsRefused as exc:
            # A refused recipient will be refused again: do not retry.
            notification.status = NotificationStatus.FAILED
            notification.last_error = str(exc)[:2000]
            outcome = "failed"
        except Exception as exc:
            notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            delays = settings.NOTIFICATION_RETRY_DELAYS
            if notification.attempts > len(delays):
                notification.status = NotificationStatus.FAILED
                outcome = "failed"
            else:
                notification.next_attempt_at = now + timedelta(seconds=delays[notification.attempts - 1])
                outcome = "retry"
        else:
            notification.status = NotificationStatus.SENT
            notification.sent_at = now
            notification.last_error = ""
            status = getattr(message, "anymail_status", None)
            # anymail gives one id, a set of ids (one per recipient), or None; some backends use ints.
            message_id = getattr(status, "message_id", None)
            if isinstance(message_id, set):
                message_id = ",".join(sorted(map(str, message_id)))
            notification.provider_message_id = ("" if message_id is None else str(message_id))[:200]
            outcome = "sent"
        if notification.status != NotificationStatus.QUEUED:
            # The booker's private link is a bearer secret stored only hashed on the booking; once the
            # email is settled (sent or given up), the outbox keeps no usable copy of it.
            notification.body_text = redact_private_links(notification.body_text)
            notification.body_html = redact_private_links(notification.body_html)
        notification.save()
        return outcome


def notifications_send_due(*, limit: int = 100) -> dict[str, int]:
    """Send every queued notification whose time has come (retries, and any whose task was lost)."""
    now = timezone.now()
    due = (
        Notification.objects.filter(status=NotificationStatus.QUEUED)
        .filter(models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    counts: dict[str, int] = {}
    for pk in list(due):
        outcome = notification_send(notification_id=pk)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
