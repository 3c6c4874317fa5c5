"""The booking queue in the staff admin (docs/architecture.md#staff-admin): BookingAdmin puts together
the list staff triage (booking_list), the booking page (booking_page) and the Approve / Deny / Cancel
pages (booking_decisions). Every change goes through the lifecycle services
(docs/architecture.md#booking-lifecycle), the page's own edits (customer, contact, internal notes) too."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin import RelatedOnlyFieldListFilter

from bookings.lifecycle.decide import booking_update
from core.actor import Actor
from resources.admin_base import OrgScopedAdmin
from resources.admin_exports import ExportAdminMixin

from ..exports import bookings_table
from ..models import Booking
from .booking_decisions import BookingDecisionsMixin
from .booking_list import BookingListMixin, RequestedDateFilter, ResourceFilter
from .booking_page import BookingPageMixin
from .common import AdminMedia
from .reports import ReportsAdminMixin


class BookingForm(forms.ModelForm):
    """The plain booking form edits only what staff may change directly; status and answers change
    through the decision pages and change requests."""

    class Meta:
        model = Booking
        fields = ("customer", "contact", "internal_notes")


@admin.register(Booking)
class BookingAdmin(
    ReportsAdminMixin, ExportAdminMixin, BookingListMixin, BookingPageMixin, BookingDecisionsMixin, OrgScopedAdmin
):
    change_action = "manage_bookings"

    def export_table(self, queryset):
        return bookings_table(queryset)

    form = BookingForm
    change_form_template = "admin/bookings/change_form_with_decisions.html"
    Media = AdminMedia
    list_display = ("status_and_conflict", "title", "booker", "requested", "resource_names", "module", "last_change")
    list_display_links = ("title",)
    list_filter = (
        "status",
        ("module", RelatedOnlyFieldListFilter),
        ("portal", RelatedOnlyFieldListFilter),
        ResourceFilter,
        RequestedDateFilter,
    )
    search_fields = ("title", "contact_answers__name", "contact_answers__email", "contact__name", "contact__email")
    actions = ("approve_selected", "deny_selected")
    list_per_page = 50
    readonly_fields = (
        "status_badge",
        "title",
        "module",
        "portal",
        "booker",
        "answers",
        "visitor_list",
        "requested_events",
        "paying",
        "request_note_html",
        "open_change_request",
        "decided",
        "received",
        "last_change",
        "history",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "status_badge",
                    "title",
                    "module",
                    "portal",
                    "received",
                    "last_change",
                    "decided",
                    "open_change_request",
                )
            },
        ),
        ("Booker's answers", {"fields": ("booker", "answers", "visitor_list", "request_note_html")}),
        ("Requested times", {"fields": ("requested_events", "paying")}),
        ("Staff", {"fields": ("customer", "contact", "internal_notes")}),
        ("History", {"fields": ("history",), "classes": ("collapse",)}),
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # bookings arrive through the public forms and the API

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a booking is denied or canceled, never deleted: its log and emails stay

    # --- saving: only through the service ---
    def save_model(self, request, obj, form, change):
        changes = {}
        if "customer" in form.changed_data:
            changes["customerId"] = str(obj.customer_id) if obj.customer_id else ""
        if "contact" in form.changed_data:
            changes["contactId"] = str(obj.contact_id) if obj.contact_id else ""
        notes = obj.internal_notes if "internal_notes" in form.changed_data else None
        booking_update(booking_id=obj.pk, actor=Actor.staff(request.user), changes=changes, internal_notes=notes)
