"""Change requests (docs/architecture.md#staff-admin): the open ones first, a page with the current and
requested values side by side, and Approve / Deny through the lifecycle services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join

from core.actor import Actor
from events.series import WHICH_EVENTS, WhichEvents
from resources.admin_base import OrgScopedAdmin
from resources.models import Resource
from resources.permissions import request_allows

from ..lifecycle.change_requests import change_request_approve, change_request_deny
from ..models import Booking, BookingChangeRequest, BookingStatus, FormField
from .common import (
    AdminMedia,
    NotificationForm,
    ProcedureForm,
    answer_text,
    booking_tz,
    field_labels,
    local_span,
    render_decision,
    require_booking_role,
    run_service,
    safe_note,
    split_errors,
    status_label,
)


class OpenFilter(admin.SimpleListFilter):
    """Open requests by default: they are the ones waiting for a decision."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("decided", "Decided"), ("all", "All")]

    def choices(self, changelist):
        value = self.value() or "open"
        for lookup, label in self.lookup_choices:
            query = changelist.get_query_string({self.parameter_name: lookup})
            yield {"selected": value == lookup, "query_string": query, "display": label}

    def queryset(self, request, queryset):
        value = self.value() or "open"
        if value == "open":
            return queryset.filter(decision="")
        if value == "decided":
            return queryset.exclude(decision="")
        return queryset


@admin.register(BookingChangeRequest)
class ChangeRequestAdmin(OrgScopedAdmin):
    org_path = "booking__organization"
    change_action = "manage_bookings"
    list_display = ("booking_title", "kind", "booker", "booking_status", "created_at", "decision_label")
    list_filter = (OpenFilter, "cancellation")
    search_fields = ("booking__title", "booking__contact_answers__name", "booking__contact_answers__email")
    list_select_related = ("booking",)
    readonly_fields = (
        "booking_link",
        "kind",
        "booking_status",
        "request_note_html",
        "comparison",
        "created_at",
        "decision_label",
        "decided_by",
        "decided_at",
    )
    fields = readonly_fields
    change_form_template = "admin/bookings/change_form_with_decisions.html"
    Media = AdminMedia

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # bookers make change requests (public page or API)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # decided only through the Approve / Deny pages

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    # --- columns ---
    @admin.display(description="Booking", ordering="booking__title")
    def booking_title(self, obj: BookingChangeRequest) -> str:
        return obj.booking.title

    @admin.display(description="Request")
    def kind(self, obj: BookingChangeRequest) -> str:
        return "Cancellation" if obj.cancellation else "Change"

    @admin.display(description="Booker")
    def booker(self, obj: BookingChangeRequest) -> str:
        return obj.booking.booker_name or obj.booking.booker_email or "—"

    @admin.display(description="Booking status")
    def booking_status(self, obj: BookingChangeRequest) -> str:
        return status_label(obj.booking.status)

    @admin.display(description="Decision")
    def decision_label(self, obj: BookingChangeRequest) -> str:
        return obj.get_decision_display() or "Open"

    @admin.display(description="Booking")
    def booking_link(self, obj: BookingChangeRequest) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:bookings_booking_change", args=[obj.booking_id]), obj.booking.title
        )

    @admin.display(description="Booker's note")
    def request_note_html(self, obj: BookingChangeRequest) -> str:
        return safe_note(obj.request_note)

    @admin.display(description="Current and requested")
    def comparison(self, obj: BookingChangeRequest) -> str:
        return comparison_table(obj)

    # --- decision buttons and pages ---
    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if (
            obj is not None
            and not obj.decision
            and request_allows(request, obj.booking.organization_id, "manage_bookings")
        ):
            context["decisions"] = [
                {
                    "label": "Approve",
                    "style": "approve",
                    "url": reverse("admin:bookings_bookingchangerequest_approve", args=[obj.pk]),
                },
                {
                    "label": "Deny",
                    "style": "deny",
                    "url": reverse("admin:bookings_bookingchangerequest_deny", args=[obj.pk]),
                },
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/approve/", view(self.approve_view), name="bookings_bookingchangerequest_approve"),
            path("<path:object_id>/deny/", view(self.deny_view), name="bookings_bookingchangerequest_deny"),
        ] + super().get_urls()

    def approve_view(self, request, object_id):
        return self._decide(request, object_id, "approve")

    def deny_view(self, request, object_id):
        return self._decide(request, object_id, "deny")

    def _decide(self, request, object_id: str, action: str):
        change_request = self.get_object(request, object_id)
        booking = require_booking_role(request, change_request.booking)
        if change_request.decision:
            messages.error(request, f"This change request was already decided ({change_request.decision.lower()}).")
            return redirect("admin:bookings_bookingchangerequest_change", change_request.pk)
        data = request.POST if request.method == "POST" else None
        kind = "change_request_approved" if action == "approve" else "change_request_denied"
        notification = NotificationForm(data, kind=kind, booking=booking, prefix="notification")
        procedure = ProcedureForm(data) if action == "approve" and change_request.cancellation else None
        forms_ = [f for f in (notification, procedure) if f is not None]
        page_errors: list[str] = []
        error_code = ""
        if data is not None and all(f.is_valid() for f in forms_):
            actor = Actor.staff(request.user)
            if action == "approve":

                def call():
                    return change_request_approve(
                        change_request_id=change_request.pk,
                        actor=actor,
                        notification=notification.spec(),
                        event_procedure=procedure.cleaned_data["event_procedure"] if procedure else 0,
                    )
            else:

                def call():
                    return change_request_deny(
                        change_request_id=change_request.pk, actor=actor, notification=notification.spec()
                    )

            done = "Approved" if action == "approve" else "Denied"
            ok, error = run_service(request, call, f"{done} the change request for “{booking.title}”.")
            if ok:
                return redirect("admin:bookings_booking_change", booking.pk)
            assert error is not None  # run_service: not ok only with the error
            top, by_row = split_errors(error.errors)
            page_errors = top + [text for texts in by_row.values() for text in texts]
            error_code = error.code
        tz = booking_tz(booking)
        label = "Approve" if action == "approve" else "Deny"
        context = {
            "title": f"{label} the {'cancellation' if change_request.cancellation else 'change'} request: "
            f"{booking.title}",
            "booking": booking,
            "change_request": change_request,
            "action": action,
            "button": label,
            "style": "approve" if action == "approve" else "deny",
            "status": status_label(booking.status),
            "comparison": comparison_table(change_request),
            "notification": notification,
            "procedure": procedure,
            "page_errors": page_errors,
            "error_code": error_code,
            "opts": self.model._meta,
            "back_url": reverse("admin:bookings_bookingchangerequest_change", args=[change_request.pk]),
        }
        return render_decision(request, self.admin_site, "admin/bookings/decision.html", context, tz)


def _moment(value: Any):
    moment = parse_datetime(value) if isinstance(value, str) else value
    return moment if getattr(moment, "tzinfo", None) else None


def comparison_table(change_request: BookingChangeRequest) -> str:
    """Rows of (what, current, requested), the changed ones marked. Times in the venue's timezone,
    resources and custom fields by name."""
    booking: Booking = change_request.booking
    booking_events = {
        str(be.pk): be for be in booking.requested_times.prefetch_related("resources__venue__organization")
    }
    labels = field_labels(list(FormField.objects.filter(module_id=booking.module_id)))
    tz = booking_tz(booking, list(booking_events.values()))
    if change_request.cancellation:
        rows = [("Booking", BookingStatus(booking.status).label, "Cancel the booking", True)]
    else:
        rows = []
        for key, value in change_request.contact_changes.items():
            current = booking.contact_answers.get(key)
            rows.append((labels.get(key, key), answer_text(current), answer_text(value), current != value))
        resource_ids = {rid for change in change_request.event_changes for rid in change.get("resourceIds") or []}
        names = {str(r.pk): r.name for r in Resource.objects.filter(pk__in=resource_ids)}
        for change in change_request.event_changes:
            be = booking_events.get(str(change.get("bookingEventId")))
            if be is None:
                continue
            prefix = f"{be.title}: " if len(booking_events) > 1 else ""
            start, end = _moment(change.get("start")) or be.start, _moment(change.get("end")) or be.end
            if "start" in change or "end" in change:
                rows.append(
                    (
                        f"{prefix}When ({tz.key})",
                        local_span(be.start, be.end, tz),
                        local_span(start, end, tz),
                        (start, end) != (be.start, be.end),
                    )
                )
            if "resourceIds" in change:
                current = ", ".join(r.name for r in be.resources.all())
                wanted = ", ".join(names.get(str(rid), str(rid)) for rid in change["resourceIds"])
                rows.append((f"{prefix}Resources", current, wanted, current != wanted))
            if change.get(WHICH_EVENTS) in (WhichEvents.THIS_AND_FUTURE, WhichEvents.ALL):
                scope = (
                    "this and the following occurrences of the series"
                    if change[WHICH_EVENTS] == WhichEvents.THIS_AND_FUTURE
                    else "all occurrences of the series"
                )
                rows.append((f"{prefix}Applies to", "this occurrence", scope + " (times shifted alike)", True))
            for key, value in change.items():
                if key in ("bookingEventId", "start", "end", "resourceIds", WHICH_EVENTS):
                    continue
                current = be.title if key == "title" else be.attendees if key == "attendees" else be.answers.get(key)
                rows.append(
                    (f"{prefix}{labels.get(key, key)}", answer_text(current), answer_text(value), current != value)
                )
    return format_html(
        '<table class="allot-compare"><thead><tr><th>What</th><th>Now</th><th>Requested</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        format_html_join(
            "",
            '<tr class="{}"><th scope="row">{}</th><td>{}</td><td class="{}">{}</td></tr>',
            (
                ("allot-changed-row" if changed else "", what, now, "allot-changed" if changed else "", wanted)
                for what, now, wanted, changed in rows
            ),
        ),
    )
