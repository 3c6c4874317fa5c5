"""The Approve / Deny / Cancel pages of a booking (docs/architecture.md#staff-admin), their forms, and the
decision buttons on the booking page. Every decision goes through the lifecycle services
(docs/architecture.md#booking-lifecycle); these pages parse input, check the role, call the service and show
its error at the field it names; a booking changed meanwhile is shown again with what changed
(docs/adr/0013-optimistic-staleness-checks.md)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone

from bookings.lifecycle.decide import booking_approve, booking_cancel, booking_deny
from bookings.lifecycle.transitions import TRANSITIONS
from bookings.pricing.estimate import has_price
from core.actor import Actor
from core.errors import FieldError, StaleBooking
from resources.models import Rate, Resource
from resources.permissions import request_allows

from ..models import Booking, BookingLog, Contact, Customer
from .booking_page import price_cell
from .common import (
    FreshnessForm,
    NotificationForm,
    ProcedureForm,
    booking_tz,
    local_span,
    render_decision,
    require_booking_role,
    run_service,
    split_errors,
    status_label,
)

if TYPE_CHECKING:
    from resources.admin_base import OrgScopedAdmin as AdminBase  # the admin BookingAdmin mixes this into
else:
    AdminBase = object

DECISIONS = {
    # action: (button label, TRANSITIONS key, css modifier)
    "approve": ("Approve", "approve", "approve"),
    "deny": ("Deny", "deny", "deny"),
    "cancel": ("Cancel booking", "cancel", "cancel"),
}
DECISION_TEMPLATE = "admin/bookings/decision.html"
DONE_WORDS = {"approve": "approved", "deny": "denied", "cancel": "canceled"}


# --- forms -----------------------------------------------------------------------------------------


class EventEditForm(forms.Form):
    booking_event_id = forms.UUIDField(widget=forms.HiddenInput)
    title = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"class": "vTextField"}))
    start = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    end = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    resources = forms.ModelMultipleChoiceField(queryset=Resource.objects.none(), widget=forms.CheckboxSelectMultiple)
    rate = forms.ChoiceField(required=False, label="Rate")
    # Text, not a DecimalField: the service reads it as the API's overridePrice
    # (bookings.validation.billing.parse_price) and files an invalid amount at events[i].overridePrice, which the
    # page shows at this field.
    override_price = forms.CharField(
        required=False,
        max_length=40,
        label="Override price",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "class": "vTextField", "autocomplete": "off"}),
        help_text="Replaces the rates' amount; products and the discount still apply. Empty: the computed price.",
    )
    estimate: str  # the time's price as estimated, set by the approve page when it has one

    def __init__(self, *args, resource_choices, rate_choices=(), currency: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ModelMultipleChoiceField, self.fields["resources"]).queryset = resource_choices
        cast(forms.ChoiceField, self.fields["rate"]).choices = [("", "The cheapest that applies"), *rate_choices]
        if not rate_choices:  # free resources: nothing to choose
            self.fields["rate"].widget = forms.HiddenInput()
        if currency:
            self.fields["override_price"].label = f"Override price ({currency})"

    def as_edit(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "bookingEventId": str(data["booking_event_id"]),
            "title": data["title"],
            "start": data["start"].isoformat(),
            "end": data["end"].isoformat(),
            "resourceIds": [str(r.pk) for r in data["resources"]],
            "rateId": data["rate"] or None,
            "overridePrice": data["override_price"],
        }


EventEditFormSet = forms.formset_factory(EventEditForm, extra=0)


class PeopleForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Customer.objects.none(), required=False)
    contact = forms.ModelChoiceField(queryset=Contact.objects.none(), required=False)
    override_rules = forms.BooleanField(
        required=False,
        label="Approve even if it breaks the booking rules",
        help_text="Notice, duration, bookable hours, closures. Conflicts are never overridden. Noted in the log.",
    )

    def __init__(self, *args, booking: Booking, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["customer"]).queryset = Customer.objects.filter(
            organization_id=booking.organization_id
        )
        cast(forms.ModelChoiceField, self.fields["contact"]).queryset = Contact.objects.filter(
            organization_id=booking.organization_id
        )


class BillingForm(forms.Form):
    """The approval's choices about paying, as the API's billing_changes / acceptAvailableCredit."""

    WIRE = {"discount_code": "discountCode", "do_not_use_booking_credit": "doNotUseBookingCredit"}

    discount_code = forms.CharField(
        required=False,
        max_length=40,
        label="Discount code",
        widget=forms.TextInput(attrs={"class": "vTextField", "autocomplete": "off"}),
        help_text="Empty: no discount.",
    )
    do_not_use_booking_credit = forms.BooleanField(required=False, label="Do not use booking credit")
    accept_available_credit = forms.BooleanField(
        required=False,
        label="Use whatever credit is left",
        help_text="If another booking spent the credit this estimate counted on, approve anyway: the credit "
        "left is used and the rest charged.",
    )

    def __init__(self, *args, booking: Booking, **kwargs):
        kwargs["initial"] = {
            "discount_code": booking.discount_code.code if booking.discount_code is not None else "",
            "do_not_use_booking_credit": booking.do_not_use_booking_credit,
        }
        super().__init__(*args, **kwargs)

    def changes(self) -> dict[str, Any]:
        """The wire keys of what staff changed (the service changes only the keys given)."""
        return {wire: self.cleaned_data[name] for name, wire in self.WIRE.items() if name in self.changed_data}


# Where the approve page shows a pricing error the service filed: the booking's choices at their inputs (a
# time's rateId and overridePrice go to its form through split_errors), and a time no rate covers at that
# time's override price, the input staff can fix it with (an override prices what the rates cannot).
BILLING_ERROR_FIELDS = {
    "discountCode": "discount_code",
    "doNotUseBookingCredit": "do_not_use_booking_credit",
    "acceptAvailableCredit": "accept_available_credit",
}
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


# --- the pages -------------------------------------------------------------------------------------


class BookingDecisionsMixin(AdminBase):
    """The decision buttons, URLs and pages of BookingAdmin."""

    # --- decision buttons and pages ---
    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and request_allows(request, obj.organization_id, "manage_bookings"):
            context["decisions"] = [
                {"label": label, "url": reverse(f"admin:bookings_booking_{action}", args=[obj.pk]), "style": style}
                for action, (label, key, style) in DECISIONS.items()
                if obj.status in TRANSITIONS[key]
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
            messages.error(
                request, f"This booking is {booking.get_status_display().lower()}: it cannot be {DONE_WORDS[action]}."
            )
            return redirect("admin:bookings_booking_change", booking.pk)
        return booking

    def _context(self, request, booking: Booking, action: str, **extra) -> dict[str, Any]:
        events = list(booking.requested_times.all())
        return {
            "title": f"{DECISIONS[action][0]}: {booking.title}",
            "booking": booking,
            "action": action,
            "button": DECISIONS[action][0],
            "style": DECISIONS[action][2],
            "status": status_label(booking.status),
            "tz": booking_tz(booking, events),
            "events_summary": [
                (
                    be.title,
                    local_span(be.start, be.end, booking_tz(booking, events)),
                    ", ".join(r.name for r in be.resources.all()),
                )
                for be in events
            ],
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
        return {
            "stale": [
                f"{timezone.localtime(log.created_at, tz):%d %b %H:%M}: {log.action.replace('_', ' ')} by "
                f"{log.actor_label or log.actor_kind}"
                + (f" ({', '.join(sorted(log.after.keys() | log.before.keys()))})" if (log.after or log.before) else "")
                for log in logs.order_by("created_at")
            ]
            or ["The booking was changed."]
        }

    def approve_view(self, request, object_id):
        booking = self._decision_booking(request, object_id, "approve")
        if not isinstance(booking, Booking):
            return booking
        tz = booking_tz(booking)
        with timezone.override(tz):
            return self._approve(request, booking, tz)

    def _approve(self, request, booking: Booking, tz):
        events = list(booking.requested_times.all())
        choices = (
            Resource.objects.filter(venue__organization_id=booking.organization_id, archived=False)
            .filter(
                pk__in=[
                    *booking.module.resources.values_list("pk", flat=True),
                    *[r.pk for be in events for r in be.resources.all()],
                ]
            )
            .select_related("venue")
            .order_by("name")
        )
        initial_events = [
            {
                "booking_event_id": be.pk,
                "title": be.title,
                "start": be.start,
                "end": be.end,
                "resources": [r.pk for r in be.resources.all()],
                "rate": str(be.rate_id or ""),
                "override_price": "" if be.override_price is None else str(be.override_price),
            }
            for be in events
        ]
        data = request.POST if request.method == "POST" else None
        currency = booking.organization.currency
        # The rates of the resources offered (and any rate a time named, even if archived since), one query.
        rates = Rate.objects.filter(
            Q(resource__in=choices, active=True) | Q(pk__in=[be.rate_id for be in events if be.rate_id])
        ).select_related("resource")
        rate_choices = [
            (str(r.pk), f"{r.resource.name}: {r.name}, {currency} {r.price} {r.get_unit_display().lower()}")
            for r in rates.order_by("resource__name", "price", "name")
        ]
        event_forms = EventEditFormSet(
            data,
            initial=initial_events,
            prefix="events",
            form_kwargs={"resource_choices": choices, "rate_choices": rate_choices, "currency": currency},
        )
        for form, be in zip(event_forms.forms, events, strict=False):
            if has_price([be.price]):
                form.estimate = price_cell(be.price, currency)
        people = PeopleForm(
            data,
            booking=booking,
            prefix="people",
            initial={"customer": booking.customer_id, "contact": booking.contact_id},
        )
        billing_form = BillingForm(data, booking=booking, prefix="billing")
        notification = NotificationForm(data, kind="booking_approved", booking=booking, prefix="notification")
        fresh = FreshnessForm(data, initial=FreshnessForm.initial_for(booking))
        forms_: list[forms.BaseForm | forms.BaseFormSet] = [event_forms, people, billing_form, notification, fresh]
        page_errors: list[str] = []
        extra: dict[str, Any] = {}
        if data is not None and all(f.is_valid() for f in forms_):
            kwargs: dict[str, Any] = {}
            for name in ("customer", "contact"):
                if name in people.changed_data:
                    chosen = people.cleaned_data[name]
                    kwargs[f"{name}_id"] = str(chosen.pk) if chosen else ""
            ok, error = run_service(
                request,
                lambda: booking_approve(
                    booking_id=booking.pk,
                    actor=Actor.staff(request.user),
                    client_last_updated_at=fresh.cleaned_data["client_last_updated_at"],
                    event_edits=[f.as_edit() for f in event_forms],
                    notification=notification.spec(),
                    override_rules=people.cleaned_data["override_rules"],
                    billing_changes=billing_form.changes(),
                    accept_available_credit=billing_form.cleaned_data["accept_available_credit"],
                    **kwargs,
                ),
                f"Approved “{booking.title}”.",
            )
            if ok:
                return redirect("admin:bookings_booking_change", booking.pk)
            assert error is not None  # run_service: not ok only with the error
            if isinstance(error, StaleBooking):
                return self._ask_again(request, booking, "approve", fresh.cleaned_data["client_last_updated_at"])
            page_errors, by_row = split_errors(_price_errors_placed(error.errors, billing_form))
            for (row, field), texts in by_row.items():
                row_form = event_forms.forms[row] if row < len(event_forms.forms) else None
                for text in texts:
                    if row_form is not None and field in row_form.fields:
                        row_form.add_error(field, text)
                    else:
                        page_errors.append(text)
            extra["error_code"] = error.code
        context = self._context(
            request,
            booking,
            "approve",
            event_forms=event_forms,
            people=people,
            billing=billing_form,
            notification=notification,
            fresh=fresh,
            page_errors=page_errors,
            **extra,
        )
        return render_decision(request, self.admin_site, DECISION_TEMPLATE, context, tz)

    def _ask_again(self, request, booking: Booking, action: str, since: datetime | None):
        """The booker changed the booking after the page was opened: show the fresh booking and what
        changed, and ask again."""
        fresh_booking = self.get_object(request, str(booking.pk))
        changes = self._stale_context(fresh_booking, since)["stale"]
        if fresh_booking.status not in TRANSITIONS[DECISIONS[action][1]]:
            messages.error(
                request,
                f"The booking changed while you were deciding and is now "
                f"{fresh_booking.get_status_display().lower()}: " + "; ".join(changes),
            )
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
            ok, error = run_service(
                request,
                lambda: booking_deny(
                    booking_id=booking.pk,
                    actor=Actor.staff(request.user),
                    client_last_updated_at=fresh.cleaned_data["client_last_updated_at"],
                    notification=notification.spec(),
                ),
                f"Denied “{booking.title}”.",
            )
            if ok:
                return redirect("admin:bookings_booking_change", booking.pk)
            assert error is not None  # run_service: not ok only with the error
            if isinstance(error, StaleBooking):
                return self._ask_again(request, booking, "deny", fresh.cleaned_data["client_last_updated_at"])
            page_errors = [e.message for e in error.errors] or [error.message]
        context = self._context(
            request, booking, "deny", notification=notification, fresh=fresh, page_errors=page_errors
        )
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
            ok, error = run_service(
                request,
                lambda: booking_cancel(
                    booking_id=booking.pk,
                    actor=Actor.staff(request.user),
                    event_procedure=procedure.cleaned_data["event_procedure"],
                    notification=notification.spec(),
                ),
                f"Canceled “{booking.title}”.",
            )
            if ok:
                return redirect("admin:bookings_booking_change", booking.pk)
            page_errors = [e.message for e in error.errors] or [error.message]
        context = self._context(
            request, booking, "cancel", procedure=procedure, notification=notification, page_errors=page_errors
        )
        return render_decision(request, self.admin_site, DECISION_TEMPLATE, context, tz)
