"""Writing Notifications and having them sent (docs/architecture.md#transactional-outbox).

`notifications_enqueue` runs inside the caller's transaction: the rows are the outbox entries, so if the
state change rolls back, the emails never existed. A row holds a JSON snapshot of what its email shows;
the worker renders it (`notifications.rendering`) right before sending. One send task per transaction
sends its rows after commit; the sending itself (claim, render, send, record, the sweeper) is
`notifications.sending`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID, uuid4

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks_db import DatabaseBackend

from core.html import sanitize_html
from core.scrub import ERASED, Identifiers, scrub_fields
from resources.models import Organization
from resources.permissions import has_permission

from .models import DeliveryStatus, Notification, NotificationStatus
from .tasks import send_notifications

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotificationSpec:
    """Staff's choice for one transition's email: send it or not, another subject, an added message."""

    send: bool = True
    subject: str | None = None
    message: str | None = None  # basic HTML, sanitized


@dataclass(frozen=True)
class Email:
    """One email to write: what `notifications.rendering` needs to render it later, as plain JSON.

    `template` is the text body's; the HTML body's is `html_template`, by default the ".html" template
    next to it. `context` is the templates' context, JSON-able (no model instances: the row keeps what
    the email shows as it was at commit). `html` holds basic HTML values (a note) shown as text under
    their name and as markup under `<name>_html`. `calendar` is an .ics snapshot (`rendering.calendar_ics`).
    `custom` is staff's own body for this email, `{"template": id, "body": source}` (`subject` then is already
    theirs, rendered), plus `subject_error` when their subject failed and the default one was used
    (docs/architecture.md#email-templates).
    """

    organization: Organization
    kind: str
    recipients: list[str]
    subject: str
    template: str
    context: dict[str, Any]
    related: models.Model | None = None
    spec: NotificationSpec | None = None
    html_template: str | None = None
    html: dict[str, str] = field(default_factory=dict)
    calendar: dict[str, Any] | None = None
    custom: dict[str, str] | None = None


def _row(email: Email, batch: UUID) -> Notification | None:
    recipients = [r for r in dict.fromkeys(email.recipients) if r]
    spec = email.spec
    if not recipients or (spec is not None and not spec.send):
        return None
    # A subject is a header: a line break in it would break the email (or smuggle in headers). Inputs
    # refuse them already; titles stored before that check, and any other caller, still get one line.
    subject = " ".join((spec.subject if spec and spec.subject else email.subject).split())[:300]
    html_template = email.html_template
    if html_template is None and email.template.endswith(".txt"):
        html_template = email.template.removesuffix(".txt") + ".html"
    snapshot: dict[str, Any] = {
        "template": email.template,
        "html_template": html_template or "",
        # One language for now (docs/architecture.md#emails); the row says which, so the worker renders it
        # as it was meant even after the setting changes.
        "language": settings.LANGUAGE_CODE,
        "context": {**email.context, "organization": {"name": email.organization.name}},
        "html": {name: sanitize_html(value) for name, value in email.html.items()},
        "staff_message": sanitize_html(spec.message) if spec and spec.message else "",
    }
    if email.calendar:
        snapshot["calendar"] = email.calendar
    if email.custom:
        snapshot["custom"] = email.custom
    related = email.related
    return Notification(
        organization=email.organization,
        kind=email.kind,
        recipients=recipients,
        subject=subject,
        snapshot=snapshot,
        batch=batch,
        content_type=ContentType.objects.get_for_model(related) if related is not None else None,
        object_id=related.pk if related is not None else None,
    )


def notifications_enqueue(*, emails: Iterable[Email | None]) -> list[Notification]:
    """Write the emails (one INSERT for all of them) and have them sent after the surrounding transaction
    commits; returns the rows written. Emails with nobody to send to, or that staff chose not to send, and
    None entries are left out.

    The rows hold a snapshot; the worker renders the bodies (notifications.rendering) right before sending.
    Every email written in one transaction is sent by one task (see `_Batch`)."""
    batch = _current_batch()
    rows = [row for email in emails if email is not None and (row := _row(email, batch.id)) is not None]
    if not rows:
        return []
    Notification.objects.bulk_create(rows)
    batch.start()
    return rows


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
    html: dict[str, str] | None = None,
    calendar: dict[str, Any] | None = None,
) -> Notification | None:
    """One email (see `Email` and `notifications_enqueue`); None when there is nobody to send to or staff
    chose not to send."""
    rows = notifications_enqueue(
        emails=[
            Email(
                organization=organization,
                kind=kind,
                recipients=recipients,
                subject=subject,
                template=template,
                context=context,
                related=related,
                spec=spec,
                html_template=html_template,
                html=html or {},
                calendar=calendar,
            )
        ]
    )
    return rows[0] if rows else None


# --- one send task per transaction ------------------------------------------------------------------


def _database_backend() -> bool:
    return isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend)


class _Batch:
    """The rows one send task sends (Notification.batch), and the marker of that task in the transaction.

    With the database task backend (production) the task row is written inside the caller's transaction:
    it commits or rolls back with the Notifications, and the request pays for no commit of its own. The
    batch then registers itself as an on-commit callback that does nothing: Django keeps that list per
    transaction and drops what a rolled-back savepoint registered, so finding the marker there means "this
    transaction already has a live task row for its emails" — the next emails join its batch and cost no
    second task row. Any other backend (the immediate one runs the task at enqueue) is enqueued after
    commit, one task per `notifications_enqueue` call."""

    def __init__(self, *, shared: bool) -> None:
        self.id = uuid4()
        self.shared = shared
        self.started = False

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        if self.shared:
            # No savepoint around it (each costs two round trips): a failed INSERT fails the caller's
            # transaction, like a failed INSERT of the Notification rows would.
            send_notifications.enqueue(str(self.id))
            transaction.on_commit(self)
        else:
            transaction.on_commit(partial(_enqueue_send, self.id))

    def __call__(self) -> None:
        """On commit: the task row committed with the transaction; nothing is left to do."""


def _current_batch() -> _Batch:
    connection = transaction.get_connection()
    shared = _database_backend() and connection.in_atomic_block
    if shared:
        for _, callback, *_ in reversed(connection.run_on_commit):
            if isinstance(callback, _Batch):
                return callback
    return _Batch(shared=shared)


def _enqueue_send(batch: UUID) -> None:
    """After commit: a task queue that fails leaves the rows QUEUED; `send_queued_notifications` sends them."""
    try:
        send_notifications.enqueue(str(batch))
    except Exception:
        logger.exception("could not enqueue the send of notification batch %s", batch)


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
        if requeued:
            batch = _Batch(shared=_database_backend() and transaction.get_connection().in_atomic_block)
            Notification.objects.filter(pk__in=requeued).update(batch=batch.id)
            batch.start()
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


# --- erasure ----------------------------------------------------------------------------------------

_PERSONAL = ("recipients", "subject", "snapshot", "body_text", "body_html", "attachments", "last_error")


def notifications_erase(*, organization_id: UUID, who: Identifiers, related_ids: Iterable[UUID]) -> int:
    """Take a person out of the organization's emails about them (docs/architecture.md#personal-data): the
    rows related to `related_ids` (their bookings) or sent to one of their addresses, scrubbed. An address
    among the recipients is dropped; a queued email left without a recipient is FAILED, never sent, and
    one a worker is sending now is FAILED too, so that worker cannot write the old bodies back. Returns how
    many rows changed."""
    about = Q(object_id__in=list(related_ids))
    for address in who.emails:
        about |= Q(recipients__icontains=address)
    rows = list(Notification.objects.select_for_update().filter(about, organization_id=organization_id))
    changed = [row for row in rows if scrub_fields(row, _PERSONAL, who)]
    for row in changed:
        row.recipients = [r for r in row.recipients if r != ERASED]
        if row.status == NotificationStatus.SENDING or (not row.recipients and row.status == NotificationStatus.QUEUED):
            row.status, row.last_error = NotificationStatus.FAILED, "Not sent: its recipient was erased."
    Notification.objects.bulk_update(changed, [*_PERSONAL, "status"])
    return len(changed)
