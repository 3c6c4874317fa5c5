"""Writes for calendar feeds: create, revoke, and replace (revoke plus a new URL with the same settings)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.errors import FieldError, ValidationFailed
from resources.models import Organization, Resource

from .models import CalendarFeed


def feed_create(
    *,
    organization: Organization,
    name: str,
    resource: Resource | None = None,
    include_tentative: bool = False,
    created_by=None,
) -> CalendarFeed:
    """A new feed with a fresh token, generated here and never taken from input."""
    if resource is not None and resource.venue.organization_id != organization.pk:
        raise ValidationFailed(errors=[FieldError("resource", "NOT_FOUND", "Choose a resource of this organization.")])
    return CalendarFeed.objects.create(organization=organization, resource=resource, name=name,
                                       include_tentative=include_tentative, created_by=created_by)


def feed_revoke(*, feed: CalendarFeed, now: datetime | None = None) -> CalendarFeed:
    """From now on the feed's URL answers 404. Revoking a revoked feed keeps its first date."""
    if feed.revoked_at is None:
        feed.revoked_at = now or timezone.now()
        CalendarFeed.objects.filter(pk=feed.pk, revoked_at__isnull=True).update(
            revoked_at=feed.revoked_at, updated_at=feed.revoked_at)
    return feed


@transaction.atomic
def feed_replace(*, feed: CalendarFeed, created_by=None) -> CalendarFeed:
    """Revoke the feed's URL and create a new feed with the same settings (a leaked URL's remedy)."""
    feed_revoke(feed=feed)
    return CalendarFeed.objects.create(organization_id=feed.organization_id, resource_id=feed.resource_id,
                                       name=feed.name, include_tentative=feed.include_tentative,
                                       created_by=created_by)
