"""The events admin (DESIGN §8): a read-only list of events and the staff week calendar per venue.

Events change only through the lifecycle services (approving, canceling a booking) or the API, which
check conflicts and write the booking's log; an admin form would bypass both, so nothing here writes.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html_join

from resources.admin_base import OrgScopedAdmin, scope
from resources.models import Venue

from .models import Event, Reservation
from .selectors import BlockKind, calendar_week, week_monday


def _event_tz(event: Event) -> ZoneInfo:
    """The timezone the event is shown in: its first resource's venue, else its organization's."""
    for reservation in event.reservations.all():
        return reservation.resource.venue.tz
    return event.organization.tz


def _booking_url(booking_id) -> str | None:
    """The booking's admin page; None if the bookings admin is not installed (it is another app's)."""
    try:
        return reverse("admin:bookings_booking_change", args=[booking_id])
    except NoReverseMatch:
        return None


def _local(moment, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M} ({tz.key})"


@admin.register(Event)
class EventAdmin(OrgScopedAdmin):
    org_path = "organization"
    list_display = ("title", "local_start", "local_end", "status", "resource_names", "booking_link")
    list_filter = ("status", ("start", admin.DateFieldListFilter))
    search_fields = ("title",)
    ordering = ("-start",)
    list_select_related = ("organization",)
    fields = ("title", "organization", "status", "local_start", "local_end", "resource_names", "booking_link",
              "series", "description", "created_at", "updated_at")
    readonly_fields = fields

    def get_queryset(self, request):
        # One query each for the reservations (with their resources' venues, for names and timezones)
        # and the booking links, however many events the page shows.
        return super().get_queryset(request).prefetch_related(
            Prefetch("reservations",
                     queryset=Reservation.objects.select_related("resource__venue__organization")
                     .order_by("resource__name", "resource_id")),
            "booking_events",
        )

    # --- read-only: see the module docstring ---
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    # --- columns ---
    @admin.display(description="Start (local)", ordering="start")
    def local_start(self, event: Event) -> str:
        return _local(event.start, _event_tz(event))

    @admin.display(description="End (local)", ordering="end")
    def local_end(self, event: Event) -> str:
        return _local(event.end, _event_tz(event))

    @admin.display(description="Resources")
    def resource_names(self, event: Event) -> str:
        return ", ".join(r.resource.name for r in event.reservations.all()) or "—"

    @admin.display(description="Booking")
    def booking_link(self, event: Event) -> str:
        urls = [_booking_url(pk) for pk in dict.fromkeys(be.booking_id for be in event.booking_events.all())]
        if not urls:
            return "—"
        return format_html_join(", ", '<a href="{}">View booking</a>', ((url,) for url in urls if url)) or "Booking"

    # --- the week calendar ---
    def get_urls(self):
        calendar = path("calendar/", self.admin_site.admin_view(self.calendar_view), name="events_event_calendar")
        return [calendar, *super().get_urls()]

    def calendar_view(self, request):
        """One venue's week (`venue`: its id, default the first the user sees; `week`: any date of it,
        default this week)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        venues = list(scope(Venue.objects.select_related("organization"), request, org_path="organization")
                      .order_by("organization__name", "name", "pk"))
        venue = self._chosen_venue(request, venues)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Calendar",
            "venues": venues,
            "several_orgs": len({v.organization_id for v in venues}) > 1,
            "venue": venue,
            "legend": [(BlockKind.CONFIRMED, "Confirmed"), (BlockKind.TENTATIVE, "Pending, holding its slot"),
                       (BlockKind.PENDING, "Pending, not holding its slot"), (BlockKind.CLOSED, "Closed")],
        }
        if venue is not None:
            today = timezone.now().astimezone(venue.tz).date()
            week = calendar_week(venue=venue, week_start=self._chosen_week(request, today), today=today)
            context |= {"week": week, "week_end": week.week_start + timedelta(days=6),
                        "this_week": week_monday(today), "is_this_week": week.week_start == week_monday(today)}
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/events/event/calendar.html", context)

    def _chosen_venue(self, request, venues: list[Venue]) -> Venue | None:
        raw = request.GET.get("venue")
        if not raw:
            return venues[0] if venues else None
        try:
            venue_id = uuid.UUID(raw)
        except ValueError:
            raise Http404("No such venue.") from None
        # Another organization's venue is "not found", like any object outside the user's scope.
        for venue in venues:
            if venue.pk == venue_id:
                return venue
        raise Http404("No such venue.")

    def _chosen_week(self, request, today: date) -> date:
        raw = request.GET.get("week")
        if raw:
            try:
                return date.fromisoformat(raw)
            except ValueError:
                messages.warning(request, f"“{raw}” is not a date (YYYY-MM-DD); showing this week.")
        return today

