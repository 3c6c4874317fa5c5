"""Events as a table (docs/architecture.md#exports), for core.exports to write as CSV or XLSX: one row per
event in its venue's local time (the time zone is a column), read in chunks."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from itertools import islice
from typing import Any

from django.db.models import QuerySet

from core.exports import Cell, Table, forget_prefetched

from .models import Event, EventStatus, Reservation

CHUNK = 250  # rows read at a time: an export holds at most two chunks, whatever its size


def events_table(events: QuerySet[Event], name: str = "events") -> Table:
    columns = ["Event id", "Title", "Status", "Start", "End", "Time zone", "Resources", "Description"]
    rows = (
        events.select_related("organization")
        .prefetch_related("resources")
        .order_by("start", "pk")
        .iterator(chunk_size=CHUNK)
    )
    return Table(name, columns, _rows(rows))


def _rows(events: Iterator[Event]) -> Iterator[list[Cell]]:
    while chunk := list(islice(events, CHUNK)):
        zones = _first_zones([e.pk for e in chunk])
        for event in chunk:
            resources = sorted(event.resources.all(), key=lambda r: r.name)
            zone = zones.get(event.pk)
            tz = zoneinfo.ZoneInfo(zone) if zone else event.organization.tz
            yield [
                str(event.pk),
                event.title,
                EventStatus(event.status).label,
                event.start.astimezone(tz),
                event.end.astimezone(tz),
                str(tz),
                ", ".join(r.name for r in resources),
                event.description,
            ]
            forget_prefetched(event)


def _first_zones(event_ids: list[Any]) -> dict[Any, str]:
    """Each event's zone as the API gives it: its first reservation's venue's, else the organization's (one
    query a chunk)."""
    zones: dict[Any, str] = {}
    for event_id, venue_tz, org_tz in (
        Reservation.objects.filter(event_id__in=event_ids)
        .order_by("event_id", *Reservation.WIRE_ORDER)
        .values_list("event_id", "resource__venue__timezone", "resource__venue__organization__timezone")
    ):
        zones.setdefault(event_id, venue_tz or org_tz)
    return zones
