"""The only code that writes Events and Reservations (docs/architecture.md#scheduling-guarantees,
docs/adr/0001-database-enforced-no-overlap.md).

Every function here runs inside the caller's transaction (and opens one if there is none). Writers
lock the affected Resource rows in id order before they look for overlaps, so two requests for the same
resource are checked one after the other: the second sees the first's reservation and gets a clear
BOOKING_CONFLICT naming the event. PostgreSQL's exclusion constraint backs this up; on SQLite the
IMMEDIATE transaction mode serializes writers.

- `scheduling`: locking resources in id order, the overlap/capacity/unit conflict checks, writing reservations.
- `saving`: events_save (create and move events as one unit) and events_delete.
- `status`: the event status table and events_set_status.
- `single`: one event as the events API writes it (event_create, event_update, event_delete).
- `occurrences`: changing and deleting occurrences of a series.

Importers name the module (`from events.services.saving import events_save`): nothing is re-exported here.
"""
