"""Query helpers shared by the apps' selectors."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db.models import F, Lookup, TextField
from django.db.models.functions import Cast

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler


class _AmongValues(Lookup):
    """`column IN (...)` over a list of values the caller already holds (ids from an earlier query).

    On PostgreSQL the list is one array parameter, `column IN (SELECT unnest(%s))`. A page of the booking
    list names 1,000 bookings or events in each of its queries: 1,000 placeholders cost more to prepare
    (Django checks each value, psycopg splits the statement around each) than the query takes to run, and
    with `= ANY(...)` or an IN list the planner scans the whole events and reservations tables (100,000
    rows: 10 ms a query) where, seeing a set to join with, it probes their indexes (2 ms). Elsewhere the
    usual IN list."""

    lookup_name = "among_values"
    prepare_rhs = False

    def _values(self, connection: BaseDatabaseWrapper) -> list[Any]:
        # As the column stores them (a UUID on PostgreSQL, its hex on SQLite), as `__in` prepares them.
        field = self.lhs.output_field
        return [field.get_db_prep_value(value, connection, prepared=False) for value in self.rhs]

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, Any]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = self._values(connection)
        if not values:
            return "1 = 0", ()  # selects nothing, as `__in` with an empty list does
        placeholders = ", ".join(["%s"] * len(values))
        return f"{lhs} IN ({placeholders})", (*lhs_params, *values)

    def as_postgresql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, Any]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = self._values(connection)
        if not values:
            return "1 = 0", ()
        return f"{lhs} IN (SELECT unnest(%s))", (*lhs_params, values)


def in_values(field: str, values: Collection[Any]) -> _AmongValues:
    """A filter: `field` is one of `values`, as `field__in=values` would say it (same rows), for long lists."""
    return _AmongValues(F(field), values)


def timestamp_text(field: str) -> Cast:
    """A timestamp column as the database's text, for `timestamp_from_text`, in a `values()` that reads many.

    Django's PostgreSQL loader for timestamps is pure Python (psycopg's C one is not used): 3 to 9 µs a value,
    and the booking list's 10 pages of 1,000 read 80,000 of them, a fifth of its time. The same values as
    text, parsed by datetime.fromisoformat (C), take a fifth of that. PostgreSQL writes them as ISO 8601
    (`2026-12-07 08:58:28.18+00`) under DateStyle ISO, which psycopg already requires to read timestamps;
    SQLite holds Django's `2026-12-07 08:58:28.180000`, in UTC."""
    return Cast(field, output_field=TextField())


def timestamp_from_text(text: str) -> datetime:
    """The aware datetime of a `timestamp_text` value: the same instant Django would have returned."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
