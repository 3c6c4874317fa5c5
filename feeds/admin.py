"""The staff admin for calendar feeds: list them with their URLs to copy, add one (the token is made on
the server), revoke a URL, or replace it with a new one (revoke + a new feed with the same settings).

Scoped like every configuration admin (resources.admin_base): another organization's feed is a 404,
viewers and managers see the feeds and their URLs, admins and owners ("configure") change them, through
feeds.services (docs/architecture.md#every-write-through-a-service).
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from resources.admin import ScopedAdmin, label_resources, organization_of
from resources.admin_base import ServiceAdminMixin, form_values, scope
from resources.permissions import request_allows

from . import services
from .models import CalendarFeed


class CalendarFeedForm(forms.ModelForm):
    class Meta:
        model = CalendarFeed
        fields = ("organization", "resource", "name", "include_tentative")

    def clean(self) -> dict[str, Any]:
        cleaned = cast(dict[str, Any], super().clean())  # ModelForm.clean returns cleaned_data
        resource = cleaned.get("resource")
        org_id = organization_of(self)
        if resource is not None and org_id is not None and resource.venue.organization_id != org_id:
            self.add_error("resource", "Choose a resource of this organization.")
        return cleaned


class FeedStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(CalendarFeed)
class CalendarFeedAdmin(ServiceAdminMixin[CalendarFeed], ScopedAdmin):
    form = CalendarFeedForm
    change_form_template = "admin/feeds/calendarfeed/change_form.html"
    list_display = ("name", "organization", "shows", "include_tentative", "feed_url", "is_active")
    list_filter = (("organization", admin.RelatedOnlyFieldListFilter), FeedStatusFilter, "include_tentative")
    list_select_related = ("organization", "resource__venue")
    search_fields = ("name",)
    plain_text_fields = ("name",)
    actions = ("revoke_feeds", "replace_feeds")
    org_path = "organization"
    change_action = "configure"

    # --- pages ---
    def get_fields(self, request: HttpRequest, obj: CalendarFeed | None = None):
        if obj is None:
            return ("organization", "resource", "name", "include_tentative")
        return (
            "feed_url",
            "organization",
            "resource",
            "name",
            "include_tentative",
            "is_active",
            "revoked_at",
            "created_by",
            "created_at",
        )

    def get_readonly_fields(self, request: HttpRequest, obj: CalendarFeed | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        readonly = ("feed_url", "is_active", "revoked_at", "created_by", "created_at")
        if obj.revoked_at is not None:
            # A revoked feed is a record of what was shared; nothing on it can change any more.
            return readonly + ("organization", "resource", "name", "include_tentative")
        return tuple(super().get_readonly_fields(request, obj)) + readonly

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "resource":
            label_resources(formfield)
            if formfield is not None:
                formfield.empty_label = "— every resource of the organization —"
        return formfield

    def service_save(self, request: HttpRequest, obj: CalendarFeed, form, formsets, change: bool) -> CalendarFeed:
        values = form_values(obj, form, services.FEED_FIELDS)
        if change:
            return services.feed_update(feed=obj, changes=values)
        return services.feed_create(organization=obj.organization, created_by=request.user, **values)

    def service_delete(self, request: HttpRequest, obj: CalendarFeed) -> None:
        services.feed_delete(feed=obj)

    # --- columns ---
    @admin.display(description="shows")
    def shows(self, feed: CalendarFeed) -> str:
        resource = feed.resource
        return f"{resource.venue.name} · {resource.name}" if resource is not None else "every resource"

    @admin.display(description="active", boolean=True)
    def is_active(self, feed: CalendarFeed) -> bool:
        return feed.revoked_at is None

    @admin.display(description="URL")
    def feed_url(self, feed: CalendarFeed) -> str:
        if feed.pk is None:
            return "—"
        if feed.revoked_at is not None:
            return f"Revoked {timezone.localtime(feed.revoked_at):%Y-%m-%d %H:%M}: this URL no longer works."
        # Read-only text to copy, not a link: the URL is the password to the calendar.
        return format_html(
            '<input type="text" class="vTextField allot-feed-url" readonly value="{}" size="70" '
            'aria-label="Subscription URL of {}" onfocus="this.select()">',
            feed.get_url(),
            feed.name,
        )

    # --- revoking ---
    def _changeable(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """Of the chosen feeds, the active ones of organizations where the user may configure."""
        return scope(queryset, request, org_path=self.org_path, action=self.change_action).filter(
            revoked_at__isnull=True
        )

    @admin.action(description="Revoke the selected feeds' URLs", permissions=["change"])
    def revoke_feeds(self, request: HttpRequest, queryset: QuerySet) -> None:
        feeds = list(self._changeable(request, queryset))
        for feed in feeds:
            services.feed_revoke(feed=feed)
        self._report(request, queryset, len(feeds), "Revoked {n} feed URL(s): they answer “not found” from now on.")

    @admin.action(description="Replace the selected feeds' URLs with new ones", permissions=["change"])
    def replace_feeds(self, request: HttpRequest, queryset: QuerySet) -> None:
        feeds = list(self._changeable(request, queryset))
        for feed in feeds:
            services.feed_replace(feed=feed, created_by=request.user)
        self._report(
            request, queryset, len(feeds), "Replaced {n} feed URL(s): the old ones no longer work; share the new ones."
        )

    def _report(self, request: HttpRequest, queryset: QuerySet, done: int, text: str) -> None:
        if done:
            self.message_user(request, text.format(n=done), messages.SUCCESS)
        skipped = queryset.count() - done
        if skipped:
            self.message_user(
                request,
                f"{skipped} feed(s) left as they were: already revoked, or your role does not allow changing them.",
                messages.WARNING,
            )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if (
            obj is not None
            and obj.revoked_at is None
            and request_allows(request, obj.organization_id, self.change_action)
        ):
            context["feed_tools"] = [
                {
                    "label": "Revoke URL",
                    "url": reverse("admin:feeds_calendarfeed_revoke", args=[obj.pk]),
                    "style": "deny",
                },
                {
                    "label": "Replace with a new URL",
                    "url": reverse("admin:feeds_calendarfeed_replace", args=[obj.pk]),
                    "style": "cancel",
                },
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/revoke/", view(self.revoke_view), name="feeds_calendarfeed_revoke"),
            path("<path:object_id>/replace/", view(self.replace_view), name="feeds_calendarfeed_replace"),
        ] + super().get_urls()

    def _feed_to_change(self, request: HttpRequest, object_id: str) -> CalendarFeed:
        feed = self.get_object(request, object_id)  # another organization's feed: 404
        if not request_allows(request, feed.organization_id, self.change_action):
            raise PermissionDenied
        return feed

    def _confirm(
        self, request: HttpRequest, feed: CalendarFeed, *, title: str, explanation: str, button: str
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "feed": feed,
            "opts": self.model._meta,
            "explanation": explanation,
            "button": button,
            "back_url": reverse("admin:feeds_calendarfeed_change", args=[feed.pk]),
        }
        return TemplateResponse(request, "admin/feeds/calendarfeed/confirm.html", context)

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        feed = self._feed_to_change(request, object_id)
        if feed.revoked_at is not None:
            messages.info(request, "This feed's URL is already revoked.")
            return redirect("admin:feeds_calendarfeed_change", feed.pk)
        if request.method == "POST":
            services.feed_revoke(feed=feed)
            self.log_change(request, feed, [{"changed": {"fields": ["revoked"]}}])
            messages.success(request, f"Revoked the URL of “{feed.name}”: it answers “not found” from now on.")
            return redirect("admin:feeds_calendarfeed_change", feed.pk)
        return self._confirm(
            request,
            feed,
            title=f"Revoke the URL of “{feed.name}”",
            button="Revoke URL",
            explanation="Calendars subscribed to this URL stop receiving updates. This cannot be "
            "undone; you can create a new feed afterwards.",
        )

    def replace_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        feed = self._feed_to_change(request, object_id)
        if feed.revoked_at is not None:
            messages.info(request, "This feed's URL is already revoked.")
            return redirect("admin:feeds_calendarfeed_change", feed.pk)
        if request.method == "POST":
            new = services.feed_replace(feed=feed, created_by=request.user)
            self.log_change(request, feed, [{"changed": {"fields": ["revoked"]}}])
            self.log_addition(request, new, [{"added": {}}])
            messages.success(
                request,
                f"“{feed.name}” has a new URL; the old one no longer works. Share the new "
                "one with the people who should see this calendar.",
            )
            return redirect("admin:feeds_calendarfeed_change", new.pk)
        return self._confirm(
            request,
            feed,
            title=f"Replace the URL of “{feed.name}”",
            button="Replace URL",
            explanation="The current URL stops working (calendars subscribed to it stop "
            "receiving updates) and a new feed with the same settings gets a new "
            "URL. Use this when a URL was shared with someone who should not have it.",
        )
