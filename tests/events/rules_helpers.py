"""The helpers of the booking rule tests (tests/events/test_rules.py, test_rules_services.py): the time "now"
of the calls, local times and days."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ..conftest import LONDON

ALL_WEEK = range(7)

# Monday 4 January 2027, 08:00 in London (GMT, so also 08:00 UTC). Every booking below is after it
# unless a test says otherwise; Tuesday 12 January 2027 is the usual booking day.
NOW = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
TUESDAY = (2027, 1, 12)


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0, tz: ZoneInfo = LONDON) -> datetime:
    """A wall-clock time in `tz` as an aware UTC datetime (what the validator hands to the rules)."""
    return datetime(y, m, d, hh, mm, ss, tzinfo=tz).astimezone(UTC)


def on(day: tuple[int, int, int], text: str, tz: ZoneInfo = LONDON, days: int = 0) -> datetime:
    """`HH:MM` (or `HH:MM:SS`) local on `day` (+ `days`), as UTC."""
    parts = [int(p) for p in text.split(":")]
    base = datetime(*day, tzinfo=tz) + timedelta(days=days)
    return local(base.year, base.month, base.day, *parts, tz=tz)


DST_NOW = local(2026, 9, 1, 12)
