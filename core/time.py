"""The wire's time helpers: UTC ISO 8601 with a Z, and the wall clock of a venue."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, the wire format of every datetime."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local_times(start: datetime, end: datetime, tz: ZoneInfo) -> dict[str, str]:
    """startLocal/endLocal (wall clock, no offset) and the IANA timezone they are in."""
    return {
        "startLocal": start.astimezone(tz).replace(tzinfo=None).isoformat(),
        "endLocal": end.astimezone(tz).replace(tzinfo=None).isoformat(),
        "timezone": tz.key,
    }
