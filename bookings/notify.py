"""The emails of the booking lifecycle (DESIGN §9). Called by the services inside their transaction."""

from __future__ import annotations

from django.conf import settings
from django.utils.html import strip_tags

from notifications.services import NotificationSpec, notification_enqueue

from .models import Booking, BookingChangeRequest, BookingEvent

SUBJECTS = {
    "booking_received": "We received your booking request: {title}",
    "booking_approved": "Your booking is confirmed: {title}",
    "booking_denied": "Your booking request was declined: {title}",
    "booking_canceled": "Your booking was canceled: {title}",
    "change_request_received": "We received your change request: {title}",
    "change_request_approved": "Your change request was approved: {title}",
    "change_request_denied": "Your change request was declined: {title}",
    # to the module admin
    "admin_new_request": "New booking request: {title}",
    "admin_booking_changed": "A pending request was changed by the booker: {title}",
    "admin_new_change_request": "New change request: {title}",
    "admin_booker_canceled": "A booker canceled: {title}",
}


def private_link(access_token: str) -> str:
    return f"{settings.SITE_URL}/b/{access_token}/"


def _event_lines(booking_events: list[BookingEvent]) -> list[dict]:
    lines = []
    for be in booking_events:
        resources = list(be.resources.all())
        tz = resources[0].venue.tz if resources else be.booking.organization.tz
        start, end = be.start.astimezone(tz), be.end.astimezone(tz)
        same_day = start.date() == end.date()
        lines.append({
            "title": be.title,
            "when": f"{start:%a %d %b %Y, %H:%M}–{end:%H:%M}" if same_day
            else f"{start:%a %d %b %Y %H:%M} – {end:%a %d %b %Y %H:%M}",
            "timezone": tz.key,
            "resources": ", ".join(r.name for r in resources),
        })
    return lines


def _send(booking: Booking, kind: str, recipients: list[str], booking_events: list[BookingEvent], *,
          spec: NotificationSpec | None = None, access_token: str | None = None,
          change_request: BookingChangeRequest | None = None, note: str = "") -> None:
    admin = booking.module.admin_user
    notification_enqueue(
        organization=booking.organization,
        kind=kind,
        recipients=recipients,
        subject=" ".join(SUBJECTS[kind].format(title=booking.title).split()),  # one line, whatever the title
        template=f"notifications/{kind}.txt",
        context={
            "booking": booking,
            "module": booking.module,
            "events": _event_lines(booking_events),
            "link": private_link(access_token) if access_token else "",
            "admin_email": admin.email if admin else "",
            "change_request": change_request,
            "note": strip_tags(note).strip(),
        },
        related=booking,
        spec=spec,
    )


def notify_booker(booking: Booking, kind: str, booking_events: list[BookingEvent], **kwargs) -> None:
    _send(booking, kind, [booking.booker_email], booking_events, **kwargs)


def notify_admin(booking: Booking, kind: str, booking_events: list[BookingEvent], **kwargs) -> None:
    admin = booking.module.admin_user
    if admin and admin.email:
        _send(booking, kind, [admin.email], booking_events, **kwargs)
