"""Reads with logic for events: overlaps, closures, availability."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from django.db.models import Q, QuerySet

from resources.models import Closure, Organization, Resource

from .models import Reservation


def reservations_overlapping(
    *, resource_ids: Iterable[UUID], start: datetime, end: datetime, exclude_event_ids: Iterable[UUID] = ()
) -> QuerySet[Reservation]:
    """Active reservations of these resources that share a moment with [start, end).

    One range query on the partial index (resource, start, end) WHERE active.
    """
    qs = Reservation.objects.filter(
        resource_id__in=list(resource_ids), active=True, start__lt=end, end__gt=start
    ).select_related("event")
    exclude = list(exclude_event_ids)
    if exclude:
        qs = qs.exclude(event_id__in=exclude)
    return qs


def closures_for(*, organization: Organization | UUID, start: datetime, end: datetime) -> list[Closure]:
    """The organization's closures that can touch [start, end): dated ones overlapping it, and every
    yearly one (they are few and their dates move from year to year)."""
    org_id = getattr(organization, "pk", organization)
    return list(
        Closure.objects.filter(organization_id=org_id)
        .filter(Q(repeats_yearly=True) | Q(start__lt=end, end__gt=start))
        .prefetch_related("resources")
    )


def resources_for_rules(resource_ids: Iterable[UUID]) -> dict[UUID, Resource]:
    return {
        r.pk: r
        for r in Resource.objects.filter(pk__in=list(resource_ids))
        .select_related("venue__organization")
        .prefetch_related("bookable_hours")
    }
