"""A GiST index on each active reservation's occupied span (PostgreSQL only).

The btree index (resource, end, start) begins its scan at the window but reads every later reservation of
the resource, so a resource booked far ahead (a long repeat series) made every overlap check and
availability read slower. `tstzrange(start, end) && window` on this index reads only the overlapping rows.
The exclusion constraint's own index covers exclusive resources only; this one covers every active row.
"""

from django.db import migrations

INDEX = "reservation_active_span"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON events_reservation "
        "USING gist (resource_id, tstzrange(start, \"end\")) WHERE active"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("events", "0003_reservation_index_by_end")]

    operations = [migrations.RunPython(forwards, backwards)]
