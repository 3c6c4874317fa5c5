"""Pieces the booking and change-request admin pages share: how a booking looks (status label, local
times, answers under their labels), the notification part of a decision form, and the one way a
decision page runs a service and shows its error (field paths read as the configuration pages read
them: resources.admin_base, docs/architecture.md#domain-errors)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.validators import RegexValidator
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.errors import DomainError, FieldError
from core.html import sanitize_html
from notifications.services import NotificationSpec
from resources.admin_base import parse_field_path
from resources.permissions import request_allows

from ..models import Booking, BookingEvent, BookingStatus, FormField
from ..notify import SUBJECTS

STATUS_STYLE = {
    BookingStatus.PENDING: "pending",
    BookingStatus.APPROVED: "approved",
    BookingStatus.DENIED: "denied",
    BookingStatus.CANCELED: "canceled",
}
BUILTIN_LABELS = {
    "name": "Name",
    "email": "Email",
    "phone": "Phone",
    "title": "Title",
    "attendees": "Attendees",
    "start": "Start",
    "end": "End",
    "resourceIds": "Resources",
}


class AdminMedia:
    css = {"all": ("allot/admin.css",)}


def status_label(status: int) -> str:
    status = BookingStatus(status)
    return format_html('<span class="allot-status allot-status--{}">{}</span>', STATUS_STYLE[status], status.label)


def booking_tz(booking: Booking, booking_events: list[BookingEvent] | None = None) -> ZoneInfo:
    """The venue's timezone of the booking's first requested resource (what the booker saw), else the
    organization's."""
    for be in booking_events if booking_events is not None else booking.requested_times.all():
        for resource in be.resources.all():
            return resource.venue.tz
    return booking.organization.tz


def local_span(start, end, tz: ZoneInfo) -> str:
    start, end = start.astimezone(tz), end.astimezone(tz)
    if start.date() == end.date():
        return f"{start:%a %d %b %Y, %H:%M}–{end:%H:%M}"
    return f"{start:%a %d %b %Y %H:%M} – {end:%a %d %b %Y %H:%M}"


def field_labels(module_fields: list[FormField]) -> dict[str, str]:
    """Answer key → label: the built-in names and the module's custom fields (archived ones too, so old
    answers keep their questions)."""
    return {**BUILTIN_LABELS, **{str(f.pk): f.label for f in module_fields}}


def answer_text(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if value is None or value == "":
        return "—"
    return str(value)


def answers_table(answers: dict[str, Any], labels: dict[str, str], skip: tuple[str, ...] = ()) -> str:
    rows = [(labels.get(key, key), answer_text(value)) for key, value in answers.items() if key not in skip]
    if not rows:
        return "—"
    return format_html(
        '<table class="allot-answers"><tbody>{}</tbody></table>',
        format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', rows),
    )


def safe_note(html: str) -> str:
    # Stored sanitized already; sanitizing again costs little and protects against older rows.
    return mark_safe(sanitize_html(html)) if html else "—"  # noqa: S308


# --- decision forms ----------------------------------------------------------------------------------

# Every line break str.splitlines() knows, as the API's check (bookings.validation.fields.LINE_BREAK_RE) refuses.
one_line = RegexValidator(r"^[^\r\n\x85\u2028\u2029]*$", "The subject must be one line.", code="INVALID")


class NotificationForm(forms.Form):
    """Staff's choice for the email of a decision (`notification`, docs/architecture.md#http-api-conventions)."""

    send = forms.BooleanField(required=False, initial=True, label="Email the booker")
    subject = forms.CharField(
        required=False,
        max_length=300,
        validators=[one_line],
        widget=forms.TextInput(attrs={"class": "vLargeTextField"}),
    )
    message = forms.CharField(
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Added to the email. Basic formatting (bold, links, lists) is kept.",
    )

    def __init__(self, *args, kind: str, booking: Booking, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_subject = " ".join(SUBJECTS[kind].format(title=booking.title).split())
        self.fields["subject"].initial = self.default_subject

    def spec(self) -> NotificationSpec:
        data = self.cleaned_data
        subject = data.get("subject") or None
        return NotificationSpec(
            send=bool(data.get("send")),
            subject=subject if subject != self.default_subject else None,
            message=data.get("message") or None,
        )


class ProcedureForm(forms.Form):
    event_procedure = forms.TypedChoiceField(
        label="Its events",
        coerce=int,
        initial=0,
        widget=forms.RadioSelect,
        choices=[(0, "Keep them on the calendar as canceled"), (1, "Delete them")],
    )


class FreshnessForm(forms.Form):
    """The booking's lastUpdatedAt as the page showed it: the service refuses a decision on a booking
    that changed after that (a booker's edit while staff were reading)."""

    client_last_updated_at = forms.DateTimeField(
        widget=forms.HiddenInput, input_formats=["%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"]
    )

    @staticmethod
    def initial_for(booking: Booking) -> dict[str, str]:
        return {"client_last_updated_at": booking.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%f%z")}


EVENT_LISTS = {"event", "events"}  # `event` (one object) or `events` (a list): both name row 0 first
WIRE_TO_FORM = {
    "title": "title",
    "start": "start",
    "end": "end",
    "resourceIds": "resources",
    "rateId": "rate",
    "overridePrice": "override_price",
}


def split_errors(errors: list[FieldError]) -> tuple[list[str], dict[tuple[int, str | None], list[str]]]:
    """A service's field errors as (page-level messages, {(event row, form field): messages})."""
    top: list[str] = []
    rows: dict[tuple[int, str | None], list[str]] = {}
    for error in errors:
        name, index, field = parse_field_path(error.field)
        if name in EVENT_LISTS:
            rows.setdefault((index or 0, WIRE_TO_FORM.get(field or "")), []).append(error.message)
        else:
            top.append(error.message)
    return top, rows


def require_booking_role(request: HttpRequest, booking: Booking) -> Booking:
    """403 for a role that may look but not decide (what the user cannot see at all is already a 404:
    the admin's scoped get_object)."""
    if not request_allows(request, booking.organization_id, "manage_bookings"):
        raise DjangoPermissionDenied
    return booking


def run_service(request: HttpRequest, call: Callable[[], Any], success: str) -> tuple[bool, DomainError | None]:
    """Run a lifecycle service; on success flash `success`, on a domain error hand it back to the page."""
    try:
        call()
    except DomainError as exc:
        return False, exc
    messages.success(request, success)
    return True, None


def render_decision(request, admin_site, template: str, context: dict[str, Any], tz: ZoneInfo) -> TemplateResponse:
    """Render now, inside the venue's timezone, so form widgets show and parse local wall-clock times."""
    with timezone.override(tz):
        response = TemplateResponse(request, template, {**admin_site.each_context(request), **context})
        response.render()
    return response
