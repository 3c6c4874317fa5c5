"""The no-overlap guarantee of DESIGN §5 in the database itself (PostgreSQL only).

Two active reservations of an exclusive resource may not share a moment. Ranges are half-open, so
[10:00, 11:00) and [11:00, 12:00) do not overlap. The services check first (under a row lock on the
resources) to give a friendly BOOKING_CONFLICT; this constraint is the guarantee behind that check.
On SQLite the services' check runs inside IMMEDIATE transactions, which serialize writers.
"""

from django.db import migrations

CONSTRAINT = "reservation_no_overlap_exclusive"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE events_reservation ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist "
        "(resource_id WITH =, tstzrange(start, \"end\", '[)') WITH &&) WHERE (active AND exclusive)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE events_reservation DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
