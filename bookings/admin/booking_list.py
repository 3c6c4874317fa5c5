"""The booking queue staff triage (docs/architecture.md#staff-admin): the list's rows (pending first),
its columns with a conflict marker, its filters (by resource, by requested dates) and the bulk Approve /
Deny actions, which go through the lifecycle services (docs/architecture.md#booking-lifecycle)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import admin, messages
from django.db.models import Case, Exists, IntegerField, OuterRef, Prefetch, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import format_html

from bookings.lifecycle.decide import booking_approve, booking_deny
from core.actor import Actor
from core.errors import DomainError
from resources.admin_base import scope
from resources.models import Organization, Resource
from resources.permissions import request_allows

from ..models import Booking, BookingEvent, BookingStatus
from ..selectors import bookings_conflicts
from .common import booking_tz, local_span, status_label


def _resources_prefetch() -> Prefetch:
    return Prefetch("resources", queryset=Resource.objects.select_related("venue__organization").order_by("name"))


def _requested_times_prefetch() -> Prefetch:
    return Prefetch(
        "requested_times",
        queryset=BookingEvent.objects.select_related("event__series", "unit")
        .prefetch_related(_resources_prefetch())
        .order_by("order", "start"),
    )


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
        wanted = BookingEvent.resources.through.objects.filter(
            bookingevent__booking=OuterRef("pk"), resource_id=self.value()
        )
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

    def expected_parameters(self) -> list[str | None]:
        return list(self.parameters)

    def choices(self, changelist):
        # The template renders a small GET form; other filters survive as hidden inputs.
        keep = {k: v for k, v in changelist.get_filters_params().items() if k not in self.parameters}
        yield {
            "values": self.values,
            "keep": [(k, v[-1] if isinstance(v, list) else v) for k, v in keep.items()],
            "clear_url": changelist.get_query_string(remove=list(self.parameters)),
        }

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


class BookingListMixin:
    """The list of BookingAdmin: rows, columns and bulk actions."""

    # --- rows ---
    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("module", "organization", "portal", "decided_by", "discount_code")
            .prefetch_related(_requested_times_prefetch())
        )

    def get_ordering(self, request):
        # Pending first: the queue staff work through; the rest newest first.
        pending_first = Case(
            When(status=BookingStatus.PENDING, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
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

    # --- columns ---
    @admin.display(description="Booker")
    def booker(self, obj: Booking) -> str:
        name, email = obj.booker_name, obj.booker_email
        if email:
            return format_html('{}<br><a href="mailto:{}" class="allot-muted">{}</a>', name or "—", email, email)
        return name or "—"

    @admin.display(description="Requested (venue time)")
    def requested(self, obj: Booking) -> str:
        events = list(obj.requested_times.all())
        if not events:
            return "—"
        tz = booking_tz(obj, events)
        first = local_span(events[0].start, events[0].end, tz)
        more = f" + {len(events) - 1} more" if len(events) > 1 else ""
        return format_html("{}{}", first, more)

    @admin.display(description="Resources")
    def resource_names(self, obj: Booking) -> str:
        names = dict.fromkeys(r.name for be in obj.requested_times.all() for r in be.resources.all())
        return ", ".join(names) or "—"

    @admin.display(description="Status", ordering="status")
    def status_and_conflict(self, obj: Booking) -> str:
        """The status label and, for a pending booking that collides with something, a marker that says
        with what (computed once for the page in get_changelist_instance)."""
        problems = getattr(obj, "_conflicts", None)
        if not problems:
            return status_label(obj.status)
        texts = [e.message for errors in problems.values() for e in errors]
        return format_html(
            '{}<span class="allot-conflict" title="{}">⚠ Conflict</span>', status_label(obj.status), " ".join(texts)
        )

    @admin.display(description="Last change", ordering="updated_at")
    def last_change(self, obj: Booking) -> str:
        return f"{timezone.localtime(obj.updated_at, booking_tz(obj)):%a %d %b %Y %H:%M}"

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
            messages.success(
                request,
                f"{action.capitalize()} {len(done)} booking{'s' if len(done) != 1 else ''}: "
                + ", ".join(f"“{t}”" for t in done)
                + ".",
            )
        if refused:
            messages.error(request, f"Not {action}: " + " · ".join(refused))

    @admin.action(description="Approve selected bookings (those without conflicts)", permissions=["change"])
    def approve_selected(self, request, queryset):
        actor = Actor.staff(request.user)
        self._bulk(
            request,
            queryset,
            "approved",
            lambda b: booking_approve(booking_id=b.pk, actor=actor, client_last_updated_at=b.updated_at),
        )

    @admin.action(description="Deny selected bookings", permissions=["change"])
    def deny_selected(self, request, queryset):
        actor = Actor.staff(request.user)
        self._bulk(
            request,
            queryset,
            "denied",
            lambda b: booking_deny(booking_id=b.pk, actor=actor, client_last_updated_at=b.updated_at),
        )
