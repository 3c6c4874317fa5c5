"""Events as a table (docs/architecture.md#exports), for core.exports to write as CSV or XLSX: one row per
event in its venue's local time (the time zone is a column), read in chunks."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator

from django.db.models import QuerySet

from core.exports import Cell, Table, forget_prefetched

from .models import Event, EventStatus

CHUNK = 250  # rows read at a time: an export holds at most two chunks, whatever its size


def events_table(events: QuerySet[Event], name: str = "events") -> Table:
    columns = ["Event id", "Title", "Status", "Start", "End", "Time zone", "Resources", "Description"]
    rows = (
        events.select_related("organization")
        .prefetch_related("resources__venue")
        .order_by("start", "pk")
        .iterator(chunk_size=CHUNK)
    )
    return Table(name, columns, _rows(rows))


def _rows(events: Iterator[Event]) -> Iterator[list[Cell]]:
    for event in events:
        resources = sorted(event.resources.all(), key=lambda r: r.name)
        venue = resources[0].venue if resources else None
        tz = zoneinfo.ZoneInfo(venue.timezone) if venue is not None and venue.timezone else event.organization.tz
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
        forget_prefetched(event, *resources)
