"""The booking queue (docs/architecture.md#staff-admin): the list staff triage, the booking page, and the Approve / Deny
/ Cancel confirmation pages. Every decision goes through bookings.lifecycle; this module parses input, checks the role,
calls the service and shows its error."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.db.models import Case, Exists, IntegerField, OuterRef, Prefetch, Q, Value, When
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import format_html, format_html_join

from core.actor import Actor
from core.errors import DomainError, FieldError, StaleBooking
from events.models import Event, Reservation
from events.series import series_describe
from resources.admin_base import OrgScopedAdmin, scope
from resources.models import Organization, Rate, Resource
from resources.permissions import request_allows

from ..billing import has_price, price_total
from ..lifecycle.decide import booking_approve, booking_cancel, booking_deny, booking_update
from ..lifecycle.transitions import TRANSITIONS
from ..models import Booking, BookingEvent, BookingLog, BookingStatus, Contact, Customer, FormField
from ..selectors import bookings_conflicts
from .common import (
    AdminMedia,
    FreshnessForm,
    NotificationForm,
    ProcedureForm,
    answers_table,
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

DECISIONS = {
    # action: (button label, TRANSITIONS key, css modifier)
    "approve": ("Approve", "approve", "approve"),
    "deny": ("Deny", "deny", "deny"),
    "cancel": ("Cancel booking", "cancel", "cancel"),
}
DECISION_TEMPLATE = "admin/bookings/decision.html"
DONE_WORDS = {"approve": "approved", "deny": "denied", "cancel": "canceled"}


def _resources_prefetch() -> Prefetch:
    return Prefetch("resources", queryset=Resource.objects.select_related("venue__organization").order_by("name"))


def _events_prefetch() -> Prefetch:
    return Prefetch("events", queryset=BookingEvent.objects.select_related("event__series", "unit")
                    .prefetch_related(_resources_prefetch()).order_by("order", "start"))


# --- list filters ----------------------------------------------------------------------------------


class ResourceFilter(admin.SimpleListFilter):
    title = "resource"
    parameter_name = "resource"

    def lookups(self, request, model_admin):
        resources = scope(Resource.objects.filter(archived=False), request, org_path="venue__organization")
        return [(str(r.pk), f"{r.name} ({r.venue.name})") for r in resources.select_related("venue").order_by("name")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        wanted = BookingEvent.resources.through.objects.filter(bookingevent__booking=OuterRef("pk"),
                                                               resource_id=self.value())
        return queryset.filter(Exists(wanted))


class RequestedDateFilter(admin.ListFilter):
    """Bookings with a requested time between two dates (either optional), in the organization's days."""

    title = "requested dates"
    template = "admin/bookings/booking/date_range_filter.html"
    parameters = ("date_from", "date_to")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.values: dict[str, str] = {}
        for name in self.parameters:
            if name in params:
                value = params.pop(name)
                self.values[name] = value[-1] if isinstance(value, list) else value

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return list(self.parameters)

    def choices(self, changelist):
        # The template renders a small GET form; other filters survive as hidden inputs.
        keep = {k: v for k, v in changelist.get_filters_params().items() if k not in self.parameters}
        yield {"values": self.values, "keep": [(k, v[-1] if isinstance(v, list) else v) for k, v in keep.items()],
               "clear_url": changelist.get_query_string(remove=list(self.parameters))}

    def queryset(self, request, queryset):
        # Days as the staff's organization counts them (the first one, for people in several).
        organization = scope(Organization.objects.order_by("name"), request, org_path="").first()
        tz = organization.tz if organization else timezone.get_current_timezone()
        start = parse_date(self.values.get("date_from") or "")
        end = parse_date(self.values.get("date_to") or "")
        events = BookingEvent.objects.filter(booking=OuterRef("pk"))
        if start:
            events = events.filter(end__gt=datetime.combine(start, time.min, tz))
        if end:
            events = events.filter(start__lt=datetime.combine(end + timedelta(days=1), time.min, tz))
        return queryset.filter(Exists(events)) if (start or end) else queryset


# --- forms -----------------------------------------------------------------------------------------


class BookingForm(forms.ModelForm):
    """The plain booking form edits only what staff may change directly; status and answers change
    through the decision pages and change requests."""

    class Meta:
        model = Booking
        fields = ("customer", "contact", "internal_notes")


class EventEditForm(forms.Form):
    booking_event_id = forms.UUIDField(widget=forms.HiddenInput)
    title = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"class": "vTextField"}))
    start = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    end = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    resources = forms.ModelMultipleChoiceField(queryset=Resource.objects.none(),
                                               widget=forms.CheckboxSelectMultiple)
    rate = forms.ChoiceField(required=False, label="Rate")
    # Text, not a DecimalField: the service reads it as the API's overridePrice (bookings.billing.parse_price)
    # and files an invalid amount at events[i].overridePrice, which the page shows at this field.
    override_price = forms.CharField(
        required=False, max_length=40, label="Override price",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "class": "vTextField", "autocomplete": "off"}),
        help_text="Replaces the rates' amount; products and the discount still apply. Empty: the computed price.")

    def __init__(self, *args, resource_choices, rate_choices=(), currency: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["resources"].queryset = resource_choices
        self.fields["rate"].choices = [("", "The cheapest that applies"), *rate_choices]
        if not rate_choices:  # free resources: nothing to choose
            self.fields["rate"].widget = forms.HiddenInput()
        if currency:
            self.fields["override_price"].label = f"Override price ({currency})"

    def as_edit(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"bookingEventId": str(data["booking_event_id"]), "title": data["title"],
                "start": data["start"].isoformat(), "end": data["end"].isoformat(),
                "resourceIds": [str(r.pk) for r in data["resources"]], "rateId": data["rate"] or None,
                "overridePrice": data["override_price"]}


EventEditFormSet = forms.formset_factory(EventEditForm, extra=0)


class PeopleForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Customer.objects.none(), required=False)
    contact = forms.ModelChoiceField(queryset=Contact.objects.none(), required=False)
    override_rules = forms.BooleanField(
        required=False, label="Approve even if it breaks the booking rules",
        help_text="Notice, duration, bookable hours, closures. Conflicts are never overridden. Noted in the log.")

    def __init__(self, *args, booking: Booking, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = Customer.objects.filter(organization_id=booking.organization_id)
        self.fields["contact"].queryset = Contact.objects.filter(organization_id=booking.organization_id)


class BillingForm(forms.Form):
    """The approval's choices about paying, as the API's billing_changes / acceptAvailableCredit."""

    WIRE = {"discount_code": "discountCode", "do_not_use_booking_credit": "doNotUseBookingCredit"}

    discount_code = forms.CharField(required=False, max_length=40, label="Discount code",
                                    widget=forms.TextInput(attrs={"class": "vTextField", "autocomplete": "off"}),
                                    help_text="Empty: no discount.")
    do_not_use_booking_credit = forms.BooleanField(required=False, label="Do not use booking credit")
    accept_available_credit = forms.BooleanField(
        required=False, label="Use whatever credit is left",
        help_text="If another booking spent the credit this estimate counted on, approve anyway: the credit "
                  "left is used and the rest charged.")

    def __init__(self, *args, booking: Booking, **kwargs):
        kwargs["initial"] = {"discount_code": booking.discount_code.code if booking.discount_code_id else "",
                             "do_not_use_booking_credit": booking.do_not_use_booking_credit}
        super().__init__(*args, **kwargs)

    def changes(self) -> dict[str, Any]:
        """The wire keys of what staff changed (the service changes only the keys given)."""
        return {wire: self.cleaned_data[name] for name, wire in self.WIRE.items() if name in self.changed_data}


# --- the admin -------------------------------------------------------------------------------------


@admin.register(Booking)
class BookingAdmin(OrgScopedAdmin):
    change_action = "manage_bookings"
    form = BookingForm
    change_form_template = "admin/bookings/change_form_with_decisions.html"
    Media = AdminMedia
    list_display = ("status_and_conflict", "title", "booker", "requested", "resource_names", "module",
                    "last_change")
    list_display_links = ("title",)
    list_filter = ("status", ("module", RelatedOnlyFieldListFilter), ("portal", RelatedOnlyFieldListFilter),
                   ResourceFilter, RequestedDateFilter)
    search_fields = ("title", "contact_answers__name", "contact_answers__email", "contact__name", "contact__email")
    actions = ("approve_selected", "deny_selected")
    list_per_page = 50
    readonly_fields = ("status_badge", "title", "module", "portal", "booker", "answers", "visitor_list",
                       "requested_events", "paying",
                       "request_note_html", "open_change_request", "decided", "received", "last_change", "history")
    fieldsets = (
        (None, {"fields": ("status_badge", "title", "module", "portal", "received", "last_change", "decided",
                           "open_change_request")}),
        ("Booker's answers", {"fields": ("booker", "answers", "visitor_list", "request_note_html")}),
        ("Requested times", {"fields": ("requested_events", "paying")}),
        ("Staff", {"fields": ("customer", "contact", "internal_notes")}),
        ("History", {"fields": ("history",), "classes": ("collapse",)}),
    )

    # --- rows ---
    def get_queryset(self, request):
        return (
            super().get_queryset(request)
            .select_related("module", "organization", "portal", "decided_by", "discount_code")
            .prefetch_related(_events_prefetch())
        )

    def get_ordering(self, request):
        # Pending first: the queue staff work through; the rest newest first.
        pending_first = Case(When(status=BookingStatus.PENDING, then=Value(0)), default=Value(1),
                             output_field=IntegerField())
        return (pending_first.asc(), "-created_at")

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # One look at the table for the page's pending rows; iterating fills the page's result cache, so
        # the rows the template shows are these objects.
        pending = [b for b in changelist.result_list if b.status == BookingStatus.PENDING]
        conflicts = bookings_conflicts([b.pk for b in pending]) if pending else {}
        for booking in pending:
            booking._conflicts = conflicts.get(booking.pk)
        return changelist

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # bookings arrive through the public forms and the API

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a booking is denied or canceled, never deleted: its log and emails stay

    # --- columns and read-only fields ---
    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Booking) -> str:
        return status_label(obj.status)

    @admin.display(description="Booker")
    def booker(self, obj: Booking) -> str:
        name, email = obj.booker_name, obj.booker_email
        if email:
            return format_html('{}<br><a href="mailto:{}" class="allot-muted">{}</a>', name or "—", email, email)
        return name or "—"

    @admin.display(description="Requested (venue time)")
    def requested(self, obj: Booking) -> str:
        events = list(obj.events.all())
        if not events:
            return "—"
        tz = booking_tz(obj, events)
        first = local_span(events[0].start, events[0].end, tz)
        more = f" + {len(events) - 1} more" if len(events) > 1 else ""
        return format_html("{}{}", first, more)

    @admin.display(description="Resources")
    def resource_names(self, obj: Booking) -> str:
        names = dict.fromkeys(r.name for be in obj.events.all() for r in be.resources.all())
        return ", ".join(names) or "—"

    @admin.display(description="Status", ordering="status")
    def status_and_conflict(self, obj: Booking) -> str:
        """The status label and, for a pending booking that collides with something, a marker that says
        with what (computed once for the page in get_changelist_instance)."""
        problems = getattr(obj, "_conflicts", None)
        if not problems:
            return status_label(obj.status)
        texts = [e.message for errors in problems.values() for e in errors]
        return format_html('{}<span class="allot-conflict" title="{}">⚠ Conflict</span>', status_label(obj.status),
                           " ".join(texts))

    @admin.display(description="Answers")
    def answers(self, obj: Booking) -> str:
        return answers_table(obj.contact_answers, self._labels(obj), skip=("name", "email"))

    @admin.display(description="Request note")
    def request_note_html(self, obj: Booking) -> str:
        return safe_note(obj.request_note)

    @admin.display(description="Received")
    def received(self, obj: Booking) -> str:
        return f"{timezone.localtime(obj.created_at, booking_tz(obj)):%a %d %b %Y %H:%M}"

    @admin.display(description="Last change", ordering="updated_at")
    def last_change(self, obj: Booking) -> str:
        return f"{timezone.localtime(obj.updated_at, booking_tz(obj)):%a %d %b %Y %H:%M}"

    @admin.display(description="Decided")
    def decided(self, obj: Booking) -> str:
        if not obj.decided_at:
            return "—"
        who = obj.decided_by.get_username() if obj.decided_by else "—"
        return f"{timezone.localtime(obj.decided_at, booking_tz(obj)):%a %d %b %Y %H:%M} by {who}"

    @admin.display(description="Change request")
    def open_change_request(self, obj: Booking) -> str:
        request_ = obj.change_requests.filter(decision="").first()
        if request_ is None:
            return "—"
        url = reverse("admin:bookings_bookingchangerequest_change", args=[request_.pk])
        kind = "cancellation" if request_.cancellation else "change"
        return format_html('<a href="{}" class="allot-conflict">Open {} request from {:%d %b %H:%M}</a>', url, kind,
                           timezone.localtime(request_.created_at, booking_tz(obj)))

    @admin.display(description="Visitors")
    def visitor_list(self, obj: Booking) -> str:
        visitors = list(obj.visitors.all())
        if not visitors:
            return "—"
        return format_html('<ul class="allot-plain">{}</ul>', format_html_join(
            "", "<li>{} &lt;{}&gt; · {}</li>",
            ((v.name, v.email, "invited" if v.invited_at else "invited when approved") for v in visitors)))

    @staticmethod
    def _resources_cell(be: BookingEvent, held: dict) -> str:
        """The resources, the unit asked for, and the units the event occupies (docs/architecture.md#units)."""
        names = ", ".join(r.name for r in be.resources.all()) or "—"
        parts = [names]
        if be.unit_id:
            parts.append(f"asked for {be.unit.name}")
        if held.get(be.event_id):
            parts.append("holds " + ", ".join(held[be.event_id]))
        return " · ".join(parts)

    @admin.display(description="Requested times")
    def requested_events(self, obj: Booking) -> str:
        events = list(obj.events.all())
        if not events:
            return "—"
        held: dict = {}
        for event_id, unit_name in Reservation.objects.filter(
                event_id__in=[be.event_id for be in events if be.event_id], unit__isnull=False, active=True) \
                .order_by("unit__order", "unit__name").values_list("event_id", "unit__name"):
            held.setdefault(event_id, []).append(unit_name)
        tz = booking_tz(obj, events)
        conflicts = bookings_conflicts([obj.pk]).get(obj.pk, {}) if obj.status == BookingStatus.PENDING else {}
        conflicting = _conflicting_events(conflicts)
        labels = self._labels(obj)
        # The stored quotes (estimate until approval, then the fixed snapshot): no query per row.
        priced = has_price(be.price for be in events)
        currency = obj.organization.currency
        rows = []
        for be in events:
            event_link = "—"
            if be.event_id:
                event_url = reverse("admin:events_event_change", args=[be.event_id])
                event_link = format_html('<a href="{}">{}</a>', event_url, be.event.get_status_display())
            problems = format_html_join(
                "", '<li class="allot-conflict">{} {}</li>',
                ((e.message, _event_links(e.meta.get("conflictingEventIds", []), conflicting))
                 for e in conflicts.get(be.pk, [])))
            series = be.event.series if be.event_id and be.event.series_id else None
            rows.append((series, format_html(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
                be.title, local_span(be.start, be.end, tz), self._resources_cell(be, held),
                answers_table({"attendees": be.attendees, **be.answers}, labels) if (be.answers or be.attendees)
                else "—",
                event_link,
                format_html('<ul class="allot-plain">{}</ul>', problems) if problems else "None",
                format_html("<td>{}</td>", _price_cell(be.price if has_price([be.price]) else None, currency))
                if priced else "",
            )))
        columns = 7 if priced else 6
        total = price_total((be.price for be in events), currency) if priced else None
        foot = format_html(
            '<tfoot><tr class="allot-price-total"><th colspan="{}">Total</th><td>{}</td></tr></tfoot>',
            columns - 1, _price_cell(total, currency)) if total else ""
        return format_html(
            '<table class="allot-events"><thead><tr><th>Title</th><th>When ({})</th><th>Resources</th>'
            "<th>Answers</th><th>Calendar event</th><th>Conflicts</th>{}</tr></thead><tbody>{}</tbody>{}</table>",
            tz.key, format_html("<th>Price ({})</th>", currency) if priced else "",
            _series_grouped(rows, columns), foot)

    @admin.display(description="Paying")
    def paying(self, obj: Booking) -> str:
        """What the request said about paying (bookings.billing.BookingBilling)."""
        lines = []
        if obj.discount_code_id:
            lines.append(("Discount code", obj.discount_code.code))
        if obj.purchase_order:
            lines.append(("Purchase order", obj.purchase_order))
        if obj.do_not_use_booking_credit:
            lines.append(("Booking credit", "not used (the request declined it)"))
        elif has_price(be.price for be in obj.events.all()):
            lines.append(("Booking credit", "used when available"))
        if obj.invoice_this_contact:
            lines.append(("Charged to", "the contact, not the customer"))
        if not lines:
            return "—"
        return format_html('<table class="allot-answers" data-testid="paying"><tbody>{}</tbody></table>',
                           format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', lines))

    @admin.display(description="Log")
    def history(self, obj: Booking) -> str:
        rows = [
            (f"{timezone.localtime(log.created_at, booking_tz(obj)):%d %b %Y %H:%M}", log.actor_label or log.actor_kind,
             log.action.replace("_", " "), ", ".join(sorted(log.after.keys() | log.before.keys())) or "—",
             log.note or "")
            for log in BookingLog.objects.filter(booking=obj).order_by("created_at")
        ]
        return format_html(
            '<table class="allot-log"><thead><tr><th>When</th><th>Who</th><th>What</th><th>Changed</th>'
            "<th>Note</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows))

    def _labels(self, obj: Booking) -> dict[str, str]:
        cached = getattr(obj, "_labels", None)
        if cached is None:
            cached = obj._labels = field_labels(list(FormField.objects.filter(module_id=obj.module_id)))
        return cached

    # --- saving: only through the service ---
    def save_model(self, request, obj, form, change):
        changes = {}
        if "customer" in form.changed_data:
            changes["customerId"] = str(obj.customer_id) if obj.customer_id else ""
        if "contact" in form.changed_data:
            changes["contactId"] = str(obj.contact_id) if obj.contact_id else ""
        notes = obj.internal_notes if "internal_notes" in form.changed_data else None
        booking_update(booking_id=obj.pk, actor=Actor.staff(request.user), changes=changes,
                       internal_notes=notes)

    # --- decision buttons and pages ---
    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and request_allows(request, obj.organization_id, "manage_bookings"):
            context["decisions"] = [
                {"label": label, "url": reverse(f"admin:bookings_booking_{action}", args=[obj.pk]), "style": style}
                for action, (label, key, style) in DECISIONS.items() if obj.status in TRANSITIONS[key]
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/approve/", view(self.approve_view), name="bookings_booking_approve"),
            path("<path:object_id>/deny/", view(self.deny_view), name="bookings_booking_deny"),
            path("<path:object_id>/cancel/", view(self.cancel_view), name="bookings_booking_cancel"),
        ] + super().get_urls()

    def _decision_booking(self, request, object_id: str, action: str) -> Booking | HttpResponseRedirect:
        booking = require_booking_role(request, self.get_object(request, object_id))
        if booking.status not in TRANSITIONS[DECISIONS[action][1]]:
            messages.error(request, f"This booking is {booking.get_status_display().lower()}: it cannot be "
                                    f"{DONE_WORDS[action]}.")
            return redirect("admin:bookings_booking_change", booking.pk)
        return booking

    def _context(self, request, booking: Booking, action: str, **extra) -> dict[str, Any]:
        events = list(booking.events.all())
        return {
            "title": f"{DECISIONS[action][0]}: {booking.title}",
            "booking": booking,
            "action": action,
            "button": DECISIONS[action][0],
            "style": DECISIONS[action][2],
            "status": status_label(booking.status),
            "tz": booking_tz(booking, events),
            "events_summary": [(be.title, local_span(be.start, be.end, booking_tz(booking, events)),
                                ", ".join(r.name for r in be.resources.all())) for be in events],
            "opts": self.model._meta,
            "back_url": reverse("admin:bookings_booking_change", args=[booking.pk]),
            "stale": getattr(request, "_allot_stale", None),
            **extra,
        }

    def _stale_context(self, booking: Booking, since: datetime | None) -> dict[str, Any]:
        """What changed after the page was opened, from the log, for the "asks again" page."""
        logs = BookingLog.objects.filter(booking=booking)
        if since is not None:
            logs = logs.filter(created_at__gt=since)
        tz = booking_tz(booking)
        return {"stale": [
            f"{timezone.localtime(log.created_at, tz):%d %b %H:%M}: {log.action.replace('_', ' ')} by "
            f"{log.actor_label or log.actor_kind}"
            + (f" ({', '.join(sorted(log.after.keys() | log.before.keys()))})" if (log.after or log.before) else "")
            for log in logs.order_by("created_at")
        ] or ["The booking was changed."]}

    def approve_view(self, request, object_id):
        booking = self._decision_booking(request, object_id, "approve")
        if not isinstance(booking, Booking):
            return booking
        tz = booking_tz(booking)
        with timezone.override(tz):
            return self._approve(request, booking, tz)

    def _approve(self, request, booking: Booking, tz):
        events = list(booking.events.all())
        choices = Resource.objects.filter(venue__organization_id=booking.organization_id, archived=False).filter(
            pk__in=[*booking.module.resources.values_list("pk", flat=True),
                    *[r.pk for be in events for r in be.resources.all()]]).select_related("venue").order_by("name")
        initial_events = [{"booking_event_id": be.pk, "title": be.title, "start": be.start, "end": be.end,
                           "resources": [r.pk for r in be.resources.all()], "rate": str(be.rate_id or ""),
                           "override_price": "" if be.override_price is None else str(be.override_price)}
                          for be in events]
        data = request.POST if request.method == "POST" else None
        currency = booking.organization.currency
        # The rates of the resources offered (and any rate a time named, even if archived since), one query.
        rates = Rate.objects.filter(Q(resource__in=choices, active=True)
                                    | Q(pk__in=[be.rate_id for be in events if be.rate_id])).select_related("resource")
        rate_choices = [(str(r.pk), f"{r.resource.name}: {r.name}, {currency} {r.price} {r.get_unit_display().lower()}")
                        for r in rates.order_by("resource__name", "price", "name")]
        event_forms = EventEditFormSet(data, initial=initial_events, prefix="events", form_kwargs={
            "resource_choices": choices, "rate_choices": rate_choices, "currency": currency})
        for form, be in zip(event_forms.forms, events, strict=False):
            if has_price([be.price]):
                form.estimate = _price_cell(be.price, currency)
        people = PeopleForm(data, booking=booking, prefix="people",
                            initial={"customer": booking.customer_id, "contact": booking.contact_id})
        billing_form = BillingForm(data, booking=booking, prefix="billing")
        notification = NotificationForm(data, kind="booking_approved", booking=booking, prefix="notification")
        fresh = FreshnessForm(data, initial=FreshnessForm.initial_for(booking))
        forms_ = [event_forms, people, billing_form, notification, fresh]
        page_errors: list[str] = []
        extra: dict[str, Any] = {}
        if data is not None and all(f.is_valid() for f in forms_):
            kwargs = {}
            for name in ("customer", "contact"):
                if name in people.changed_data:
                    chosen = people.cleaned_data[name]
                    kwargs[f"{name}_id"] = str(chosen.pk) if chosen else ""
            ok, error = run_service(request, lambda: booking_approve(
                booking_id=booking.pk, actor=Actor.staff(request.user),
                client_last_updated_at=fresh.cleaned_data["client_last_updated_at"],
                event_edits=[f.as_edit() for f in event_forms], notification=notification.spec(),
                override_rules=people.cleaned_data["override_rules"], billing_changes=billing_form.changes(),
                accept_available_credit=billing_form.cleaned_data["accept_available_credit"], **kwargs,
            ), f"Approved “{booking.title}”.")
            if ok:
                return redirect("admin:bookings_booking_change", booking.pk)
            if isinstance(error, StaleBooking):
                return self._ask_again(request, booking, "approve", fresh.cleaned_data["client_last_updated_at"])
            page_errors, by_row = split_errors(_price_errors_placed(error.errors, billing_form))
            for (row, field), texts in by_row.items():
                form = event_forms.forms[row] if row < len(event_forms.forms) else None
                for text in texts:
                    if form is not None and field in form.fields:
                        form.add_error(field, text)
                    else:
                        page_errors.append(text)
            extra["error_code"] = error.code
        context = self._context(request, booking, "approve", event_forms=event_forms, people=people,
                                billing=billing_form, notification=notification, fresh=fresh,
                                page_errors=page_errors, **extra)
        return render_decision(request, self.admin_site, DECISION_TEMPLATE, context, tz)

    def _ask_again(self, request, booking: Booking, action: str, since: datetime | None):
        """The booker changed the booking after the page was opened: show the fresh booking and what
        changed, and ask again."""
        fresh_booking = self.get_object(request, str(booking.pk))
        changes = self._stale_context(fresh_booking, since)["stale"]
        if fresh_booking.status not in TRANSITIONS[DECISIONS[action][1]]:
            messages.error(request, f"The booking changed while you were deciding and is now "
                                    f"{fresh_booking.get_status_display().lower()}: " + "; ".join(changes))
            return redirect("admin:bookings_booking_change", booking.pk)
        view = {"approve": self._approve, "deny": self._deny}[action]
        request.method = "GET"  # render the page anew from the booking as it is now
        request._allot_stale = changes
        tz = booking_tz(fresh_booking)
        with timezone.override(tz):
            return view(request, fresh_booking, tz)

    def deny_view(self, request, object_id):
        booking = self._decision_booking(request, object_id, "deny")
        if not isinstance(booking, Booking):
            return booking
        tz = booking_tz(booking)
        with timezone.override(tz):
            return self._deny(request, booking, tz)

    def _deny(self, request, booking: Booking, tz):
        data = request.POST if request.method == "POST" else None
        notification = NotificationForm(data, kind="booking_denied", booking=booking, prefix="notification")
        fresh = FreshnessForm(data, initial=FreshnessForm.initial_for(booking))
        page_errors: list[str] = []
        if data is not None and notification.is_valid() and fresh.is_valid():
            ok, error = run_service(request, lambda: booking_deny(
                booking_id=booking.pk, actor=Actor.staff(request.user),
                client_last_updated_at=fresh.cleaned_data["client_last_updated_at"],
                notification=notification.spec()), f"Denied “{booking.title}”.")
            if ok:
                return redirect("admin:bookings_booking_change", booking.pk)
            if isinstance(error, StaleBooking):
                return self._ask_again(request, booking, "deny", fresh.cleaned_data["client_last_updated_at"])
            page_errors = [e.message for e in error.errors] or [error.message]
        context = self._context(request, booking, "deny", notification=notification, fresh=fresh,
                                page_errors=page_errors)
        return render_decision(request, self.admin_site, DECISION_TEMPLATE, context, tz)

    def cancel_view(self, request, object_id):
        booking = self._decision_booking(request, object_id, "cancel")
        if not isinstance(booking, Booking):
            return booking
        tz = booking_tz(booking)
        data = request.POST if request.method == "POST" else None
        procedure = ProcedureForm(data)
        notification = NotificationForm(data, kind="booking_canceled", booking=booking, prefix="notification")
        page_errors: list[str] = []
        if data is not None and procedure.is_valid() and notification.is_valid():
            ok, error = run_service(request, lambda: booking_cancel(
                booking_id=booking.pk, actor=Actor.staff(request.user),
                event_procedure=procedure.cleaned_data["event_procedure"], notification=notification.spec(),
            ), f"Canceled “{booking.title}”.")
            if ok:
                return redirect("admin:bookings_booking_change", booking.pk)
            page_errors = [e.message for e in error.errors] or [error.message]
        context = self._context(request, booking, "cancel", procedure=procedure, notification=notification,
                                page_errors=page_errors)
        return render_decision(request, self.admin_site, DECISION_TEMPLATE, context, tz)

    # --- bulk actions ---
    def _bulk(self, request, queryset, action: str, call) -> None:
        done, refused = [], []
        for booking in queryset.order_by("created_at"):
            if not request_allows(request, booking.organization_id, "manage_bookings"):
                refused.append(f"“{booking.title}”: your role may not decide it")
                continue
            try:
                call(booking)
            except DomainError as exc:
                reasons = "; ".join(e.message for e in exc.errors) or exc.message
                refused.append(f"“{booking.title}”: {reasons}")
            else:
                done.append(booking.title)
        if done:
            messages.success(request, f"{action.capitalize()} {len(done)} booking{'s' if len(done) != 1 else ''}: "
                                      + ", ".join(f"“{t}”" for t in done) + ".")
        if refused:
            messages.error(request, f"Not {action}: " + " · ".join(refused))

    @admin.action(description="Approve selected bookings (those without conflicts)", permissions=["change"])
    def approve_selected(self, request, queryset):
        actor = Actor.staff(request.user)
        self._bulk(request, queryset, "approved", lambda b: booking_approve(
            booking_id=b.pk, actor=actor, client_last_updated_at=b.updated_at))

    @admin.action(description="Deny selected bookings", permissions=["change"])
    def deny_selected(self, request, queryset):
        actor = Actor.staff(request.user)
        self._bulk(request, queryset, "denied", lambda b: booking_deny(
            booking_id=b.pk, actor=actor, client_last_updated_at=b.updated_at))


# Where the approve page shows a pricing error the service filed: the booking's choices at their inputs (a
# time's rateId and overridePrice go to its form through split_errors), and a time no rate covers at that
# time's override price, the input staff can fix it with (an override prices what the rates cannot).
BILLING_ERROR_FIELDS = {"discountCode": "discount_code", "doNotUseBookingCredit": "do_not_use_booking_credit",
                        "acceptAvailableCredit": "accept_available_credit"}
WHOLE_EVENT_PATH = re.compile(r"^events?(?:\[\d+\])?$")


def _price_errors_placed(errors: list[FieldError], billing_form: forms.Form) -> list[FieldError]:
    """Add the booking-level pricing errors to `billing_form`; return the others (NO_APPLICABLE_RATE moved to
    the time's overridePrice), for split_errors to file at the times' forms."""
    rest = []
    for error in errors:
        if error.field in BILLING_ERROR_FIELDS:
            billing_form.add_error(BILLING_ERROR_FIELDS[error.field], error.message)
        elif error.code == "NO_APPLICABLE_RATE" and WHOLE_EVENT_PATH.match(error.field or ""):
            rest.append(replace(error, field=f"{error.field}.overridePrice"))
        else:
            rest.append(error)
    return rest


def _price_cell(price: dict | None, currency: str) -> str:
    """A time's stored quote (or the booking's total, bookings.billing.price_total): the price after the
    discount with the currency, whether it is an estimate or fixed, and what changed it."""
    if not price:
        return ""
    currency = price.get("currency") or currency
    details = []
    if price.get("overridePrice") is not None:
        details.append(f"override; computed {price.get('computedAmount') or 'none (no rate)'}")
    discount = price.get("discount")  # a time's: {code, amount, ...}; the total's: the amount
    code, off = (discount.get("code"), discount.get("amount")) if isinstance(discount, dict) else (None, discount)
    if off and Decimal(off):
        details.append(f"discount{f' {code}' if code else ''} {off} off {price.get('subtotal')}")
    if price.get("creditUsed") and Decimal(price["creditUsed"]):
        details.append(f"credit {price['creditUsed']}, to charge {price.get('total')}")
    return format_html(
        '<span class="allot-price" data-testid="price">{} {}</span> <span class="allot-muted">{}</span>{}',
        currency, price.get("price"), "fixed" if price.get("fixed") else "estimate",
        format_html('<br><span class="allot-muted">{}</span>', "; ".join(details)) if details else "")


def _series_grouped(rows: list[tuple[Any, str]], columns: int = 6) -> str:
    """The requested-time rows with each series' occurrences together under a "Series: weekly, 10
    occurrences" heading linking to them in the Event admin; times outside a series first, in order."""
    groups: dict[Any, tuple[Any, list[str]]] = {}
    for series, row in rows:
        groups.setdefault(series.pk if series is not None else None, (series, []))[1].append(row)
    out = list(groups.pop(None, (None, []))[1])
    for series, members in groups.values():
        out.append(format_html(
            '<tr class="allot-series-heading"><th colspan="{}">Series: {} · <a href="{}">its events</a></th></tr>',
            columns, series_describe(series.rule, len(members)),
            reverse("admin:events_event_changelist") + f"?series={series.pk}"))
        out += members
    return format_html_join("", "{}", ((r,) for r in out))


def _conflicting_events(conflicts: dict) -> dict[str, Event]:
    ids = {i for errors in conflicts.values() for e in errors for i in e.meta.get("conflictingEventIds", [])}
    if not ids:
        return {}
    return {str(e.pk): e for e in Event.objects.filter(pk__in=ids).prefetch_related("booking_events")}


def _event_links(ids: list[str], events: dict[str, Event]) -> str:
    links = []
    for event_id in ids:
        event = events.get(event_id)
        if event is None:
            continue
        booking_events = list(event.booking_events.all())
        url = (reverse("admin:bookings_booking_change", args=[booking_events[0].booking_id]) if booking_events
               else reverse("admin:events_event_change", args=[event.pk]))
        links.append((url, event.title))
    return format_html_join(", ", '<a href="{}">{}</a>', links)
