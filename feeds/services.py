"""Writes for calendar feeds (docs/architecture.md#calendar-feeds): create, change, delete, revoke, and
replace (revoke plus a new URL with the same settings). The admin calls these
(docs/architecture.md#every-write-through-a-service)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import FieldError, ValidationFailed
from resources.models import Organization, Resource

from .models import CalendarFeed

FEED_FIELDS = {"name", "resource", "include_tentative"}


def _check_resource(organization_id: Any, resource: Resource | None) -> None:
    if resource is not None and resource.venue.organization_id != organization_id:
        raise ValidationFailed(errors=[FieldError("resource", "NOT_FOUND", "Choose a resource of this organization.")])


@transaction.atomic
def feed_create(
    *,
    organization: Organization,
    name: str,
    resource: Resource | None = None,
    include_tentative: bool = False,
    created_by=None,
) -> CalendarFeed:
    """A new feed with a fresh token, generated here and never taken from input."""
    _check_resource(organization.pk, resource)
    return CalendarFeed.objects.create(
        organization=organization,
        resource=resource,
        name=name,
        include_tentative=include_tentative,
        created_by=created_by,
    )


@transaction.atomic
def feed_update(*, feed: CalendarFeed, changes: Mapping[str, Any]) -> CalendarFeed:
    """Change the name, the resource (None: every resource) or whether tentative events show. A revoked
    feed is the record of what was shared: nothing on it changes."""
    unknown = set(changes) - FEED_FIELDS
    if unknown:
        raise TypeError(f"Unknown fields: {', '.join(sorted(unknown))}")
    feed = CalendarFeed.objects.select_for_update().get(pk=feed.pk)
    changed = {key: value for key, value in changes.items() if getattr(feed, key) != value}
    if changed and feed.revoked_at is not None:
        raise ValidationFailed(
            "A revoked feed cannot change.",
            errors=[FieldError(next(iter(changed)), "REVOKED", "A revoked feed cannot change.")],
        )
    if "resource" in changed:
        _check_resource(feed.organization_id, changed["resource"])
    for key, value in changed.items():
        setattr(feed, key, value)
    feed.save()
    return feed


@transaction.atomic
def feed_delete(*, feed: CalendarFeed) -> None:
    """Its URL stops working with it (revoking keeps the record instead)."""
    CalendarFeed.objects.select_for_update().filter(pk=feed.pk).delete()


def feed_revoke(*, feed: CalendarFeed, now: datetime | None = None) -> CalendarFeed:
    """From now on the feed's URL answers 404. Revoking a revoked feed keeps its first date."""
    if feed.revoked_at is None:
        feed.revoked_at = now or timezone.now()
        CalendarFeed.objects.filter(pk=feed.pk, revoked_at__isnull=True).update(
            revoked_at=feed.revoked_at, updated_at=feed.revoked_at
        )
    return feed


@transaction.atomic
def feed_replace(*, feed: CalendarFeed, created_by=None) -> CalendarFeed:
    """Revoke the feed's URL and create a new feed with the same settings (a leaked URL's remedy)."""
    feed_revoke(feed=feed)
    return CalendarFeed.objects.create(
        organization_id=feed.organization_id,
        resource_id=feed.resource_id,
        name=feed.name,
        include_tentative=feed.include_tentative,
        created_by=created_by,
    )
