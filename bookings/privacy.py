"""A person's data (docs/architecture.md#personal-data): everything held about a contact, as JSON, and its
erasure everywhere the organization or the API could read it again, keeping the bookings, events and
charges for the organization's records; and the retention job that erases contacts nobody needs any more.

What identifies the person is what they gave: the contact's name, email and phone, and the same keys of
every answer set they sent (a booking's contact answers, a change request's contact changes), since a
contact's details may have changed between bookings. Those values are replaced (core.scrub) wherever a
person's text can be: their bookings' titles, notes and answers, the events made from them, change
requests, the bookings' log, visitors, charges and credit, emails, webhook payloads, stored API answers and
the admin's history. The visitors of their bookings are other people the booker named: they are erased
with the booking's personal data, as the booker gave them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.contrib.admin.models import LogEntry
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from core.actor import Actor
from core.errors import HasFutureBookings, NotFound
from core.idempotency import idempotency_keys_erase
from core.scrub import ERASED, Identifiers, scrub_fields
from events.models import Event
from notifications.models import Notification
from notifications.services import notifications_erase
from resources.models import Organization
from webhooks.services import webhook_deliveries_erase

from .models import (
    Booking,
    BookingChangeRequest,
    BookingCredit,
    BookingCreditAdjustment,
    BookingEvent,
    BookingLog,
    BookingLogAction,
    BookingStatus,
    BookingVisitor,
    Charge,
    Contact,
)

ERASED_NAME = "Erased person"
logger = logging.getLogger(__name__)
_IDENTIFYING_KEYS = ("name", "email", "phone")


# --- export -----------------------------------------------------------------------------------------


def contact_personal_data(contact: Contact) -> dict[str, Any]:
    """Everything held about the person: the contact, their bookings (answers, requested times, visitors,
    change requests, staff's internal notes), their credit and the emails sent to them."""
    bookings = (
        Booking.objects.filter(contact=contact)
        .prefetch_related("requested_times", "visitors", "change_requests")
        .order_by("created_at")
    )
    address = contact.email.lower()
    # The JSON list is searched as text (SQLite has no containment), then each row's list exactly.
    sent = Notification.objects.filter(organization_id=contact.organization_id, recipients__icontains=address)
    emails = [n for n in sent.order_by("created_at") if address in {r.lower() for r in n.recipients}] if address else []
    return {
        "contact": {
            "id": str(contact.pk),
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
            "customerId": str(contact.customer_id) if contact.customer_id else None,
            "createdAt": _iso(contact.created_at),
            "erasedAt": _iso(contact.erased_at),
        },
        "bookings": [_booking_data(b) for b in bookings],
        "credits": [
            {"amount": str(c.amount), "balance": str(c.balance), "description": c.description}
            for c in BookingCredit.objects.filter(contact=contact).order_by("created_at")
        ],
        "emails": [
            {
                "kind": n.kind,
                "subject": n.subject,
                "recipients": n.recipients,
                "status": n.status,
                "createdAt": _iso(n.created_at),
                "sentAt": _iso(n.sent_at),
                "bodyText": n.body_text,
            }
            for n in emails
        ],
    }


def _booking_data(booking: Booking) -> dict[str, Any]:
    return {
        "id": str(booking.pk),
        "status": booking.status,
        "title": booking.title,
        "requestNote": booking.request_note,
        "internalNotes": booking.internal_notes,
        "contactAnswers": booking.contact_answers,
        "createdAt": _iso(booking.created_at),
        "requestedTimes": [
            {"title": be.title, "start": _iso(be.start), "end": _iso(be.end), "answers": be.answers}
            for be in booking.requested_times.all()
        ],
        "visitors": [{"name": v.name, "email": v.email} for v in booking.visitors.all()],
        "changeRequests": [
            {
                "createdAt": _iso(cr.created_at),
                "contactChanges": cr.contact_changes,
                "eventChanges": cr.event_changes,
                "requestNote": cr.request_note,
                "decision": cr.decision,
            }
            for cr in booking.change_requests.all()
        ],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


# --- erasure ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    contact: Contact
    bookings: int  # the person's bookings whose personal data was taken out
    rows: int  # every row changed, the contact's included


def contact_erase(*, contact_id: UUID | str, actor: Actor, force: bool = False, now: datetime | None = None) -> Erasure:
    """Erase the person (module docstring). 409 HAS_FUTURE_BOOKINGS while they have approved bookings still
    to come, unless `force`. Logged on each of their bookings and on the contact (who and when). Their
    bookings' private links stop working (a change request through one would bring their details back).
    Erasing an erased contact again changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(pk=contact_id).first()
        if contact is None:
            raise NotFound("No such contact.")
        if contact.erased_at is not None:
            return Erasure(contact, 0, 0)
        bookings = list(Booking.objects.select_for_update().filter(contact=contact).order_by("pk"))
        if not force and contact_future_times(contact, now):
            raise HasFutureBookings()
        who = Identifiers.of(_identifying_values(contact, bookings))
        rows = _erase_bookings(contact, bookings, who)
        if who is not None:
            related = [contact.pk, *(b.pk for b in bookings)]
            rows += notifications_erase(organization_id=contact.organization_id, who=who, related_ids=related)
            rows += webhook_deliveries_erase(organization_id=contact.organization_id, who=who, related_ids=related)
            rows += idempotency_keys_erase(who=who)
            rows += _erase_credit(contact, who)
            rows += _erase_admin_history(contact, bookings, who)
        contact.name, contact.email, contact.phone = ERASED_NAME, "", ""
        contact.erased_at, contact.erased_by = now, actor.label[:200]
        contact.save(update_fields=["name", "email", "phone", "erased_at", "erased_by", "updated_at"])
        BookingLog.objects.bulk_create(
            BookingLog(
                booking=b,
                actor_kind=actor.kind,
                actor_user=actor.db_user,
                actor_label=actor.label[:200],
                action=BookingLogAction.PERSONAL_DATA_ERASED,
            )
            for b in bookings
        )
        return Erasure(contact, len(bookings), rows + 1)


def contact_future_times(contact: Contact, now: datetime | None = None) -> int:
    """How many approved requested times of the person end after `now`: while any does, an erasure needs
    `force` (contact_erase) and the admin's confirmation page says how many."""
    return BookingEvent.objects.filter(
        booking__contact=contact, booking__status=BookingStatus.APPROVED, end__gt=now or timezone.now()
    ).count()


def _identifying_values(contact: Contact, bookings: list[Booking]) -> list[str]:
    values = [contact.name, contact.email, contact.phone]
    answer_sets = [b.contact_answers for b in bookings] + list(
        BookingChangeRequest.objects.filter(booking__in=bookings).values_list("contact_changes", flat=True)
    )
    for answers in answer_sets:
        if isinstance(answers, dict):
            values += [str(answers[k]) for k in _IDENTIFYING_KEYS if answers.get(k)]
    return values


def _erase_bookings(contact: Contact, bookings: list[Booking], who: Identifiers | None) -> int:
    """The person's answers, private links and visitors (always), their text in their bookings and
    everything hanging from them (when something identifies them), and their entries as a visitor of
    anyone's booking in the organization; how many rows changed. Every row is locked before it is read
    (in a fixed order: bookings, then what hangs from them), so a concurrent edit is not overwritten."""
    text = ("title", "request_note", "internal_notes", "purchase_order")
    for b in bookings:
        b.contact_answers, b.access_token_hash = {}, None
        if who is not None:
            scrub_fields(b, text, who)
    Booking.objects.bulk_update(bookings, ["contact_answers", "access_token_hash", *text])
    requests = list(_locked(BookingChangeRequest).filter(booking__in=bookings))
    for cr in requests:
        cr.contact_changes = {}
    BookingChangeRequest.objects.bulk_update(requests, ["contact_changes"])
    changed = len(bookings) + len(requests) + _erase_visitors(contact, bookings, who)
    if who is None:
        return changed
    mine = Q(booking__in=bookings)
    their_events = Q(pk__in=BookingEvent.objects.filter(mine).values("event_id"))
    for model, rows, fields in (
        (BookingChangeRequest, mine, ("event_changes", "request_note")),
        (BookingEvent, mine, ("title", "answers")),
        (Event, their_events, ("title", "description")),
        (BookingLog, mine, ("actor_label", "before", "after", "note")),
        (Charge, mine, ("description", "purchase_order")),
    ):
        changed += _scrubbed(_locked(model).filter(rows), fields, who)
    return changed


def _erase_visitors(contact: Contact, bookings: list[Booking], who: Identifiers | None) -> int:
    as_visitor = Q(pk=None)
    for email in who.emails if who is not None else ():
        as_visitor |= Q(booking__organization_id=contact.organization_id, email__iexact=email)
    visitors = list(_locked(BookingVisitor).filter(Q(booking__in=bookings) | as_visitor))
    for v in visitors:
        v.name, v.email = ERASED, f"{v.pk}@erased.invalid"
    BookingVisitor.objects.bulk_update(visitors, ["name", "email"])
    return len(visitors)


def _erase_credit(contact: Contact, who: Identifiers) -> int:
    credits = _locked(BookingCredit).filter(contact=contact)
    adjustments = _locked(BookingCreditAdjustment).filter(credit__contact=contact)
    return _scrubbed(credits, ("description",), who) + _scrubbed(adjustments, ("actor_label", "reason"), who)


def _erase_admin_history(contact: Contact, bookings: list[Booking], who: Identifiers) -> int:
    """The admin's history of the contact, their bookings and those bookings' events shows each one's name
    ("Ada Lovelace <ada@example.org>"); only those entries, never another organization's."""
    events = BookingEvent.objects.filter(booking__in=bookings, event__isnull=False).values_list("event_id", flat=True)
    ids = [str(contact.pk), *(str(b.pk) for b in bookings), *map(str, events)]
    entries = _locked(LogEntry).filter(object_id__in=ids)
    return _scrubbed(entries, ("object_repr", "change_message"), who)


def _locked(model: Any) -> QuerySet[Any]:
    return model.objects.select_for_update(of=("self",)).order_by("pk")


def _scrubbed(rows: QuerySet[Any], fields: tuple[str, ...], who: Identifiers) -> int:
    changed = [row for row in rows if scrub_fields(row, fields, who)]
    if changed:
        rows.model.objects.bulk_update(changed, list(fields))
    return len(changed)


# --- retention --------------------------------------------------------------------------------------


def contacts_erase_expired(*, now: datetime | None = None) -> int:
    """The retention job (daily): in every organization with a retention period, erase the contacts whose
    last requested time ended longer ago than that (or, without a booking, that nobody changed for as
    long); how many were erased."""
    now = now or timezone.now()
    erased = 0
    for organization in Organization.objects.filter(personal_data_retention_days__isnull=False):
        cutoff = now - timedelta(days=organization.personal_data_retention_days or 0)
        due = (
            Contact.objects.filter(organization=organization, erased_at__isnull=True)
            .annotate(last_end=Max("bookings__requested_times__end"))
            .filter(Q(last_end__lt=cutoff) | Q(last_end__isnull=True, updated_at__lt=cutoff))
            .values_list("pk", flat=True)
        )
        for contact_id in list(due):
            try:
                contact_erase(contact_id=contact_id, actor=Actor.system(), now=now)
            except Exception:  # one contact that cannot be erased must not keep the others
                logger.exception("retention: could not erase contact %s", contact_id)
            else:
                erased += 1
    return erased
