"""The emails of the booking lifecycle (docs/architecture.md#emails). Called by the services inside their transaction.

Each kind has a text and an HTML template under templates/notifications/ (`<kind>.txt`, `<kind>.html`);
this module gathers what they show, as a JSON snapshot the worker renders after commit: the booking, its
events as lines already written in the venue's local time, the booker's private link (only at submit or
staff create: the raw token exists nowhere else, and the row keeps it only until the email is sent), the
module admin's address, for the admin's emails a link to the booking's admin page, and for an approval
the .ics's events. Emails of one transition go in together (`notify(booker_email(...), admin_email(...))`):
one INSERT.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.timezone import is_naive, now
from django.utils.translation import get_supported_language_variant

from events.series import WHICH_EVENTS, WhichEvents
from notifications.rendering import html_to_text
from notifications.services import Email, NotificationSpec, notifications_enqueue
from notifications.templating import TemplateProblem, placeholder_values, template_render
from resources.models import Resource

from .ics import booking_calendar_snapshot
from .models import (
    Booking,
    BookingChangeRequest,
    BookingEvent,
    BookingModule,
    BookingStatus,
    BookingVisitor,
    EmailTemplate,
)
from .module_cache import prefetched

logger = logging.getLogger(__name__)

SUBJECTS = {
    "booking_received": "We received your booking request: {title}",
    "booking_approved": "Your booking is confirmed: {title}",
    "booking_denied": "Your booking request was declined: {title}",
    "booking_canceled": "Your booking was canceled: {title}",
    "change_request_received": "We received your change request: {title}",
    "change_request_approved": "Your change request was approved: {title}",
    "change_request_denied": "Your change request was declined: {title}",
    "booking_reminder": "Your booking is coming up: {title}",
    # to the module admin
    "admin_new_request": "New booking request: {title}",
    "admin_booking_changed": "A pending request was changed by the booker: {title}",
    "admin_new_change_request": "New change request: {title}",
    "admin_booker_canceled": "A booker canceled: {title}",
    "admin_booking_auto_approved": "Booking approved automatically: {title}",
    # to a visitor the booker brings (docs/architecture.md#visitors)
    "visitor_invitation": "You are invited: {title}",
}

# The kinds that carry the approved booking as a calendar file.
ICS_KINDS = {"booking_approved", "visitor_invitation"}


def private_link(access_token: str) -> str:
    return f"{settings.SITE_URL}/b/{access_token}/"


def admin_link(booking: Booking) -> str:
    return f"{settings.SITE_URL}{reverse('admin:bookings_booking_change', args=[booking.pk])}"


def _when(start: datetime, end: datetime) -> str:
    if start.date() == end.date():
        return f"{start:%a %d %b %Y, %H:%M}–{end:%H:%M}"
    return f"{start:%a %d %b %Y %H:%M} – {end:%a %d %b %Y %H:%M}"


def _event_line(title: str, start: datetime, end: datetime, resources: Sequence[Resource], fallback_tz) -> dict:
    # Shown in the venue's zone, named, so a booker in another zone is not left guessing.
    tz = resources[0].venue.tz if resources else fallback_tz
    venues = list(dict.fromkeys(r.venue.name for r in resources))
    return {
        "title": title,
        "when": _when(start.astimezone(tz), end.astimezone(tz)),
        "timezone": tz.key,
        "resources": ", ".join(r.name for r in resources),
        "venue": ", ".join(venues),
    }


def _event_lines(booking: Booking, booking_events: Sequence[BookingEvent]) -> list[dict]:
    tz = booking.organization.tz
    return [_event_line(be.title, be.start, be.end, list(be.resources.all()), tz) for be in booking_events]


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return None if moment is None or is_naive(moment) else moment


def _requested_lines(
    booking: Booking, change_request: BookingChangeRequest | None, booking_events: Sequence[BookingEvent]
) -> list[dict]:
    """The booking events as the change request would leave them (only the ones it changes).

    The request stores its changes in wire form (ISO times with offset, resource ids), already
    validated when it was submitted."""
    if change_request is None or change_request.cancellation or not change_request.event_changes:
        return []
    by_id = {str(be.pk): be for be in booking_events}
    wanted_ids = {str(rid) for change in change_request.event_changes for rid in change.get("resourceIds") or []}
    known = {str(r.pk): r for be in booking_events for r in be.resources.all()}
    missing = wanted_ids - known.keys()
    if missing:
        known.update(
            {str(r.pk): r for r in Resource.objects.filter(pk__in=missing).select_related("venue__organization")}
        )
    lines = []
    for change in change_request.event_changes:
        be = by_id.get(str(change.get("bookingEventId")))
        if be is None:
            continue
        resources = (
            [known[str(r)] for r in change["resourceIds"] if str(r) in known]
            if change.get("resourceIds")
            else list(be.resources.all())
        )
        title = change.get("title") or be.title
        scope = SERIES_SCOPES.get(change.get(WHICH_EVENTS))  # a series change: it says how far it reaches
        lines.append(
            _event_line(
                f"{title} ({scope})" if scope else title,
                _moment(change.get("start")) or be.start,
                _moment(change.get("end")) or be.end,
                resources,
                booking.organization.tz,
            )
        )
    return lines


SERIES_SCOPES = {
    WhichEvents.THIS_AND_FUTURE: "and the later occurrences of the series, changed alike",
    WhichEvents.ALL: "and every occurrence of the series, changed alike",
}


def _requested_contact(booking: Booking, change_request: BookingChangeRequest | None) -> list[tuple[str, str]]:
    """(label, value) of the contact answers a change request would change."""
    if change_request is None or change_request.cancellation or not change_request.contact_changes:
        return []
    labels = {"name": "Name", "email": "Email", "phone": "Phone"}
    labels.update({str(ff.pk): ff.label for ff in booking.module.fields.all()})
    out: list[tuple[str, str]] = []
    for key, value in change_request.contact_changes.items():
        if isinstance(value, bool):
            shown = "Yes" if value else "No"
        elif isinstance(value, list):
            shown = ", ".join(map(str, value))
        else:
            shown = "" if value is None else str(value)
        out.append((labels.get(key, key), shown or "(none)"))
    return out


def _booking(booking: Booking) -> dict[str, str]:
    # What the templates read of the booking, as it is now (a later change does not reach the email).
    return {"title": booking.title, "booker_name": booking.booker_name, "booker_email": booking.booker_email}


def email_language() -> str:
    """The language emails are written in (LANGUAGE_CODE for now), as settings.LANGUAGES names it: the
    language of the email templates that apply."""
    return get_supported_language_variant(settings.LANGUAGE_CODE)


def custom_template(module: BookingModule, kind: str) -> EmailTemplate | None:
    """Staff's template for this kind of the module's emails, in the emails' language (None: the default).
    From the cached module's prefetched templates (bookings.module_cache): no query on a warm submit."""
    language = email_language()
    rows = prefetched(module, "email_templates")
    if rows is None:
        # A module not from the cache (read with its booking): its templates read once, kept on it for the
        # other emails of the same change, as a prefetch would.
        rows = list(EmailTemplate.objects.filter(module_id=module.pk))
        module.__dict__.setdefault("_prefetched_objects_cache", {})["email_templates"] = rows
    return next((t for t in rows if t.kind == kind and t.language == language), None)


def custom_email(
    template: EmailTemplate | None,
    context: dict[str, Any],
    *,
    note: str,
    default_subject: str,
    subject_given: bool = False,
) -> tuple[str, dict[str, str] | None]:
    """The subject to store and the snapshot's `custom` part (docs/architecture.md#email-templates).

    The subject is a column, so staff's subject is rendered here, in the sandbox; when it fails the default
    subject is used and the failure travels in the snapshot, for the worker to report. Not rendered when
    staff typed a subject for this one email (`subject_given`: theirs is sent, the template's could not
    fail). The body's source goes into the snapshot as it is at commit, with the template's version
    (`updated_at`) for the failure to be recorded on it only; the worker renders it."""
    if template is None or not (template.subject or template.body):
        return default_subject, None
    custom = {"template": str(template.pk), "body": template.body}
    if template.updated_at is not None:
        custom["updated_at"] = template.updated_at.isoformat()
    subject = default_subject
    if template.subject and not subject_given:
        try:
            values = placeholder_values({**context, "note": html_to_text(note)})
            subject = template_render(template.subject, values) or default_subject
        except TemplateProblem as problem:
            custom["subject_error"] = problem.message
        except Exception as exc:  # the last wall: a template never blocks a booking; the default is used
            logger.exception("email template %s crashed while rendering its subject", template.pk)
            custom["subject_error"] = f"{type(exc).__name__}: {exc}"[:500]
    return subject, custom


def _email(
    booking: Booking,
    kind: str,
    recipients: list[str],
    booking_events: Sequence[BookingEvent],
    *,
    spec: NotificationSpec | None = None,
    access_token: str | None = None,
    change_request: BookingChangeRequest | None = None,
    note: str = "",
    extra: dict[str, Any] | None = None,
) -> Email:
    """The email as a snapshot (notifications.rendering): plain values, computed here in the transaction."""
    module = booking.module
    admin = module.admin_user
    calendar = booking_calendar_snapshot(booking, booking_events) if kind in ICS_KINDS and booking_events else None
    context = {
        "booking": _booking(booking),
        "module": {"name": module.name},
        "events": _event_lines(booking, booking_events),
        "requested": _requested_lines(booking, change_request, booking_events),
        "requested_contact": _requested_contact(booking, change_request),
        "link": private_link(access_token) if access_token else "",
        # Without the link (it exists only in the first email), say where it is.
        "can_manage": booking.status in (BookingStatus.PENDING, BookingStatus.APPROVED)
        and (module.allow_change_requests or module.allow_cancellation),
        "admin_email": admin.email if admin else "",
        "admin_url": admin_link(booking),
        "change_request": {"cancellation": change_request.cancellation} if change_request else None,
        "has_calendar_file": calendar is not None,
        **(extra or {}),
    }
    subject, custom = custom_email(
        custom_template(module, kind),
        {**context, "organization": {"name": booking.organization.name}},
        note=note,
        default_subject=SUBJECTS[kind].format(title=booking.title),
        subject_given=bool(spec and spec.subject),
    )
    return Email(
        organization=booking.organization,
        kind=kind,
        recipients=recipients,
        subject=subject,  # made one line by notifications_enqueue
        template=f"notifications/{kind}.txt",
        html_template=f"notifications/{kind}.html",
        context=context,
        custom=custom,
        # Shown as text in the text body and as sanitized markup in the HTML one ("note_html").
        html={"note": note},
        related=booking,
        spec=spec,
        calendar=calendar,
    )


def booker_email(booking: Booking, kind: str, booking_events: Sequence[BookingEvent], **kwargs) -> Email:
    """The booker's email of `kind`, to write with `notify` (with others of the same transition: one INSERT)."""
    return _email(booking, kind, [booking.booker_email], booking_events, **kwargs)


def admin_email(booking: Booking, kind: str, booking_events: Sequence[BookingEvent], **kwargs) -> Email | None:
    """The module admin's email of `kind` (None when the module has no admin with an address)."""
    admin = booking.module.admin_user
    if admin and admin.email:
        return _email(booking, kind, [admin.email], booking_events, **kwargs)
    return None


def notify(*emails: Email | None) -> None:
    """Write the emails in one INSERT (None entries and emails staff chose not to send are left out)."""
    notifications_enqueue(emails=emails)


def notify_booker(booking: Booking, kind: str, booking_events: Sequence[BookingEvent], **kwargs) -> None:
    notify(booker_email(booking, kind, booking_events, **kwargs))


def notify_admin(booking: Booking, kind: str, booking_events: Sequence[BookingEvent], **kwargs) -> None:
    notify(admin_email(booking, kind, booking_events, **kwargs))


def notify_visitors(
    booking: Booking,
    booking_events: Sequence[BookingEvent],
    *,
    spec: NotificationSpec | None = None,
    visitors: Sequence[BookingVisitor] | None = None,
) -> int:
    """An invitation to each of the booking's visitors not invited yet (one email each: visitors do not see
    each other's addresses), with the events in the venue's local time and the .ics. Never the booker's
    private link. Staff's choice not to email the booker (`spec.send` false) holds for visitors too; staff's
    subject and message are the booker's, not reused. Returns how many were invited. `visitors`: the
    booking's visitors as the caller read them (else they are read here)."""
    if spec is not None and not spec.send:
        return 0
    if visitors is None:
        visitors = list(booking.visitors.filter(invited_at__isnull=True))
    visitors = [v for v in visitors if v.invited_at is None]
    notify(
        *(
            _email(
                booking,
                "visitor_invitation",
                [visitor.email],
                booking_events,
                extra={"visitor": {"name": visitor.name}},
            )
            for visitor in visitors
        )
    )
    if visitors:
        booking.visitors.filter(pk__in=[v.pk for v in visitors]).update(invited_at=now())
    return len(visitors)
