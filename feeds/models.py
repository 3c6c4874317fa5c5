"""Calendar feeds: an organization's (or one resource's) events as an iCalendar file at a secret URL.

The URL's token is a read-only capability: whoever has the URL reads the calendar, nothing more. It is
stored as is (not hashed) because staff copy the URL from the admin whenever they subscribe a new
calendar app; revoking sets `revoked_at`, after which the URL answers 404 like one that never existed.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from resources.base import BaseModel
from resources.models import Organization, Resource


def new_feed_token() -> str:
    """256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


class CalendarFeedQuerySet(models.QuerySet["CalendarFeed"]):
    def active(self) -> CalendarFeedQuerySet:
        return self.filter(revoked_at__isnull=True)


class CalendarFeed(BaseModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="calendar_feeds")
    resource = models.ForeignKey(
        Resource,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="calendar_feeds",
        help_text="Empty: every resource of the organization.",
    )
    name = models.CharField(max_length=200, help_text="The calendar's name in the subscriber's calendar app.")
    token = models.CharField(max_length=64, unique=True, default=new_feed_token, editable=False)
    include_tentative = models.BooleanField(
        default=False, help_text="Also show tentative events (pending requests holding their slots)."
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    objects = CalendarFeedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "created_at"]
        verbose_name = "calendar feed"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if (
            self.organization_id is not None
            and self.resource is not None
            and self.resource.venue.organization_id != self.organization_id
        ):
            raise ValidationError({"resource": "Choose a resource of this organization."})

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def get_path(self) -> str:
        return reverse("feeds:feed", kwargs={"token": self.token})

    def get_url(self) -> str:
        """The full URL subscribers paste into their calendar app."""
        return f"{settings.SITE_URL}{self.get_path()}"
