"""Units of a resource (issue 9): a reservation may occupy one unit (a desk of a hot-desk area), and two
active reservations of one unit never share a moment.

As for the resource itself (migration 0002), the services check first under the resource row lock and
give a clear BOOKING_CONFLICT; on PostgreSQL this exclusion constraint is the guarantee behind it. On
SQLite the IMMEDIATE transactions serialize the writers.
"""

import django.db.models.deletion
from django.db import migrations, models

CONSTRAINT = "reservation_no_overlap_unit"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE events_reservation ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist "
        "(unit_id WITH =, tstzrange(start, \"end\", '[)') WITH &&) WHERE (active AND unit_id IS NOT NULL)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE events_reservation DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0005_billing'),
        ('resources', '0003_resource_units'),
    ]

    operations = [
        migrations.AddField(
            model_name='reservation',
            name='unit',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='reservations', to='resources.resourceunit'),
        ),
        migrations.RunPython(forwards, backwards),
    ]
