"""The events admin (docs/architecture.md#staff-admin): the list of events, the staff week calendar per venue,
and the Edit occurrence / Delete occurrence confirmation pages.

Events change only through services that check conflicts and keep bookings in step (the lifecycle
services, and occurrences_update/occurrences_delete of events.services.occurrences, which the events API
calls too); a plain admin form would bypass them, so the event page stays read-only and its two buttons
lead to pages that call those services, with the choice of which occurrences of a series the change
applies to.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.errors import DomainError
from core.html import plain_text
from notifications.services import NotificationSpec
from resources.admin_base import OrgScopedAdmin, scope
from resources.admin_exports import ExportAdminMixin
from resources.models import Resource, Venue
from resources.permissions import request_allows

from .exports import events_table
from .models import Event, Reservation
from .selectors import BlockKind, calendar_week, week_monday
from .series import WhichEvents, series_describe
from .services.occurrences import occurrences_delete, occurrences_update


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


def _span(start, end, tz: ZoneInfo) -> str:
    start, end = start.astimezone(tz), end.astimezone(tz)
    if start.date() == end.date():
        return f"{start:%a %d %b %Y, %H:%M}–{end:%H:%M}"
    return f"{start:%a %d %b %Y %H:%M} – {end:%a %d %b %Y %H:%M}"


class SeriesFilter(admin.SimpleListFilter):
    """In a series or not; `?series=<id>` (the links of the series column) shows one series' occurrences."""

    title = "series"
    parameter_name = "series"

    def lookups(self, request, model_admin):
        return [("yes", "In a series"), ("no", "Not in a series")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if value in ("yes", "no"):
            return queryset.filter(series__isnull=value == "no")
        try:
            return queryset.filter(series_id=uuid.UUID(value))
        except ValueError:
            raise IncorrectLookupParameters(f"“{value}” is not a series.") from None


# The scope choices of the occurrence pages (events.series' wire values).
EDIT_SCOPES = [
    (int(WhichEvents.THIS), "This event"),
    (int(WhichEvents.THIS_AND_FUTURE), "This and the following events"),
    (int(WhichEvents.ALL), "All events"),
]
DELETE_SCOPES = [
    (int(WhichEvents.THIS), "This event"),
    (int(WhichEvents.DELETE_THIS_AND_AFTER), "This and the following events"),
    (int(WhichEvents.DELETE_ALL), "All events"),
]
TIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class OccurrenceEditForm(forms.Form):
    title = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"class": "vTextField"}))
    start = forms.DateTimeField(widget=TIME_WIDGET)
    end = forms.DateTimeField(widget=TIME_WIDGET)
    resources = forms.ModelMultipleChoiceField(
        queryset=Resource.objects.none(), widget=forms.CheckboxSelectMultiple, required=False
    )
    description = forms.CharField(
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Basic formatting (bold, links, lists) is kept.",
    )
    which = forms.TypedChoiceField(
        label="Apply to",
        coerce=int,
        choices=EDIT_SCOPES,
        initial=1,
        widget=forms.RadioSelect,
        help_text="A time change moves each chosen occurrence by the same shift on the "
        "clock of the series' timezone. Canceled occurrences stay as they are.",
    )
    override_rules = forms.BooleanField(
        required=False,
        label="Change even if it breaks the booking rules",
        help_text="Notice, duration, bookable hours, closures. Conflicts are never overridden.",
    )

    def __init__(self, *args, resource_choices, in_series: bool, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ModelMultipleChoiceField, self.fields["resources"]).queryset = resource_choices
        if not in_series:
            del self.fields["which"]

    def clean_resources(self):
        chosen = self.cleaned_data["resources"]
        if not chosen and self.initial.get("resources"):
            raise forms.ValidationError("Choose at least one resource.")
        return chosen

    def clean_title(self) -> str:
        title = plain_text(self.cleaned_data["title"]).strip()
        if not title:
            raise forms.ValidationError("A title is required.")
        return title

    def changes(self) -> dict[str, Any]:
        """Only what the form changed: an "all events" change of the time must not copy this event's title
        over the others'."""
        data, changed = self.cleaned_data, set(self.changed_data)
        out: dict[str, Any] = {key: data[key] for key in ("title", "description", "start", "end") if key in changed}
        if "resources" in changed:
            out["resource_ids"] = [r.pk for r in data["resources"]]
        return out


class OccurrenceDeleteForm(forms.Form):
    which = forms.TypedChoiceField(
        label="Delete", coerce=int, choices=DELETE_SCOPES, initial=1, widget=forms.RadioSelect
    )

    notify_booker = forms.BooleanField(
        label="Email the booker if this cancels their booking",
        required=False,
        initial=True,
        help_text="An approved booking left without a live event is canceled.",
    )

    def __init__(self, *args, counts: dict[int, int] | None, booked: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not booked:
            del self.fields["notify_booker"]
        if counts is None:
            del self.fields["which"]
        else:
            cast(forms.ChoiceField, self.fields["which"]).choices = [
                (value, f"{label} ({counts[value]})") for value, label in DELETE_SCOPES
            ]


@admin.register(Event)
class EventAdmin(ExportAdminMixin, OrgScopedAdmin):
    org_path = "organization"

    def export_table(self, queryset):
        return events_table(queryset)

    change_action = "manage_events"
    change_form_template = "admin/bookings/change_form_with_decisions.html"
    list_display = ("title", "local_start", "local_end", "status", "resource_names", "series_column", "booking_link")
    list_filter = ("status", SeriesFilter, ("start", admin.DateFieldListFilter))
    search_fields = ("title",)
    ordering = ("-start",)
    list_select_related = ("organization", "series")
    fields = (
        "title",
        "organization",
        "status",
        "local_start",
        "local_end",
        "resource_names",
        "booking_link",
        "series_occurrences",
        "description",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        # One query each for the reservations (with their resources' venues, for names and timezones)
        # and the booking links, however many events the page shows; the series' sizes in the same query
        # as the events.
        sizes = (
            Event.objects.filter(series_id=OuterRef("series_id"))
            .order_by()
            .values("series_id")
            .annotate(n=Count("pk"))
            .values("n")
        )
        queryset = super().get_queryset(request).select_related("series").annotate(series_size=Subquery(sizes))
        return queryset.prefetch_related(
            Prefetch(
                "reservations",
                queryset=Reservation.objects.select_related("resource__venue__organization").order_by(
                    "resource__name", "resource_id"
                ),
            ),
            "booking_events",
        )

    # --- read-only: see the module docstring ---
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _may_edit(self, request, event: Event) -> bool:
        return request_allows(request, event.organization_id, "manage_events")

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

    @admin.display(description="Series")
    def series_column(self, event: Event) -> str:
        if event.series is None:
            return "—"
        url = reverse("admin:events_event_changelist") + f"?series={event.series_id}"
        size = getattr(event, "series_size", None) or event.series.events.count()
        return format_html('<a href="{}">{}</a>', url, series_describe(event.series.rule, size).capitalize())

    @admin.display(description="Series")
    def series_occurrences(self, event: Event) -> str:
        """The series' occurrences, this one marked, with links (times in this event's timezone)."""
        if event.series is None:
            return "—"
        tz = _event_tz(event)
        occurrences = list(Event.objects.filter(series_id=event.series_id).order_by("start", "pk"))
        rows = [
            (
                "allot-changed-row" if o.pk == event.pk else "",
                reverse("admin:events_event_change", args=[o.pk]),
                _span(o.start, o.end, tz),
                o.title,
                o.get_status_display(),
                " (this event)" if o.pk == event.pk else "",
            )
            for o in occurrences
        ]
        return format_html(
            '<p><strong>{}</strong> · <a href="{}">show in the list</a></p><table class="allot-events">'
            "<thead><tr><th>When ({})</th><th>Title</th><th>Status</th></tr></thead><tbody>{}</tbody></table>",
            series_describe(event.series.rule, len(occurrences)).capitalize(),
            reverse("admin:events_event_changelist") + f"?series={event.series_id}",
            tz.key,
            format_html_join("", '<tr class="{}"><td><a href="{}">{}</a></td><td>{}</td><td>{}{}</td></tr>', rows),
        )

    @admin.display(description="Booking")
    def booking_link(self, event: Event) -> str:
        urls = [_booking_url(pk) for pk in dict.fromkeys(be.booking_id for be in event.booking_events.all())]
        if not urls:
            return "—"
        return format_html_join(", ", '<a href="{}">View booking</a>', ((url,) for url in urls if url)) or "Booking"

    # --- Edit occurrence / Delete occurrence ---
    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self._may_edit(request, obj):
            context["decisions"] = [
                {
                    "label": "Edit occurrence" if obj.series_id else "Edit event",
                    "style": "edit",
                    "url": reverse("admin:events_event_edit_occurrence", args=[obj.pk]),
                },
                {
                    "label": "Delete occurrence" if obj.series_id else "Delete event",
                    "style": "deny",
                    "url": reverse("admin:events_event_delete_occurrence", args=[obj.pk]),
                },
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _occurrence(self, request, object_id: str) -> Event:
        """The event if the user may change it: another organization's is 404 (get_object), a role that
        may only look is 403."""
        event = self.get_object(request, object_id)
        if not self._may_edit(request, event):
            raise PermissionDenied
        return event

    def _page(self, request, event: Event, tz: ZoneInfo, **context) -> TemplateResponse:
        resources = ", ".join(r.resource.name for r in event.reservations.all()) or "—"
        size = getattr(event, "series_size", None) or 0
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "event": event,
            "tz": tz,
            "when": _span(event.start, event.end, tz),
            "resources": resources,
            "status": event.get_status_display(),
            "series_summary": series_describe(event.series.rule, size) if event.series is not None else "",
            "booked": bool(list(event.booking_events.all())),
            "back_url": reverse("admin:events_event_change", args=[event.pk]),
            **context,
        }
        request.current_app = self.admin_site.name
        with timezone.override(tz):  # the form's times are shown (and were read) on the event's wall clock
            response = TemplateResponse(request, "admin/events/event/occurrence.html", context)
            response.render()
        return response

    def edit_occurrence_view(self, request, object_id):
        event = self._occurrence(request, object_id)
        tz = _event_tz(event)
        current = [r.resource_id for r in event.reservations.all()]
        choices = Resource.objects.filter(venue__organization_id=event.organization_id).filter(
            pk__in=current
        ) | Resource.objects.filter(venue__organization_id=event.organization_id, archived=False)
        data = request.POST if request.method == "POST" else None
        with timezone.override(tz):
            form = OccurrenceEditForm(
                data,
                resource_choices=choices.distinct().select_related("venue").order_by("name"),
                in_series=event.series_id is not None,
                initial={
                    "title": event.title,
                    "description": event.description,
                    "start": event.start,
                    "end": event.end,
                    "resources": current,
                    "which": int(WhichEvents.THIS),
                },
            )
            valid = data is not None and form.is_valid()
            changes = form.changes() if valid else {}  # the submitted times are read on the same clock
        page_errors: list[str] = []
        if valid:
            if not changes:
                messages.info(request, "Nothing was changed.")
                return redirect("admin:events_event_change", event.pk)
            try:
                changed = occurrences_update(
                    event=event,
                    which=form.cleaned_data.get("which", 1),
                    actor=request.user,
                    override_rules=form.cleaned_data["override_rules"],
                    **changes,
                )
            except DomainError as exc:
                page_errors = [e.message for e in exc.errors] or [exc.message]
            else:
                count = len(changed)
                messages.success(request, f"Changed {count} event{'s' if count != 1 else ''}.")
                return redirect("admin:events_event_change", event.pk)
        return self._page(
            request,
            event,
            tz,
            title=f"Edit: {event.title}",
            crumb="Edit",
            button="Save changes",
            style="approve",
            form=form,
            page_errors=page_errors,
        )

    def delete_occurrence_view(self, request, object_id):
        event = self._occurrence(request, object_id)
        tz = _event_tz(event)
        counts = None
        if event.series_id is not None:
            starts = list(Event.objects.filter(series_id=event.series_id).values_list("start", flat=True))
            counts = {
                int(WhichEvents.THIS): 1,
                int(WhichEvents.DELETE_ALL): len(starts),
                int(WhichEvents.DELETE_THIS_AND_AFTER): sum(1 for s in starts if s >= event.start),
            }
        data = request.POST if request.method == "POST" else None
        booked = bool(list(event.booking_events.all()))
        form = OccurrenceDeleteForm(
            data, counts=counts, booked=booked, initial={"which": int(WhichEvents.THIS), "notify_booker": True}
        )
        page_errors: list[str] = []
        if data is not None and form.is_valid():
            try:
                deleted = occurrences_delete(
                    event=event,
                    which=form.cleaned_data.get("which", 1),
                    actor=request.user,
                    notification=NotificationSpec(send=form.cleaned_data.get("notify_booker", True)),
                )
            except DomainError as exc:
                page_errors = [e.message for e in exc.errors] or [exc.message]
            else:
                count = len(deleted)
                messages.success(request, f"Deleted {count} event{'s' if count != 1 else ''}.")
                return redirect("admin:events_event_changelist")
        return self._page(
            request,
            event,
            tz,
            title=f"Delete: {event.title}",
            crumb="Delete",
            button="Delete",
            style="deny",
            form=form,
            page_errors=page_errors,
            deleting=True,
        )

    # --- the week calendar ---
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("calendar/", view(self.calendar_view), name="events_event_calendar"),
            path(
                "<path:object_id>/edit-occurrence/",
                view(self.edit_occurrence_view),
                name="events_event_edit_occurrence",
            ),
            path(
                "<path:object_id>/delete-occurrence/",
                view(self.delete_occurrence_view),
                name="events_event_delete_occurrence",
            ),
            *super().get_urls(),
        ]

    def calendar_view(self, request):
        """One venue's week (`venue`: its id, default the first the user sees; `week`: any date of it,
        default this week)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        venues = list(
            scope(Venue.objects.select_related("organization"), request, org_path="organization").order_by(
                "organization__name", "name", "pk"
            )
        )
        venue = self._chosen_venue(request, venues)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Calendar",
            "venues": venues,
            "several_orgs": len({v.organization_id for v in venues}) > 1,
            "venue": venue,
            "legend": [
                (BlockKind.CONFIRMED, "Confirmed"),
                (BlockKind.TENTATIVE, "Pending, holding its slot"),
                (BlockKind.PENDING, "Pending, not holding its slot"),
                (BlockKind.CLOSED, "Closed"),
            ],
        }
        if venue is not None:
            today = timezone.now().astimezone(venue.tz).date()
            week = calendar_week(venue=venue, week_start=self._chosen_week(request, today), today=today)
            context |= {
                "week": week,
                "week_end": week.week_start + timedelta(days=6),
                "this_week": week_monday(today),
                "is_this_week": week.week_start == week_monday(today),
            }
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
