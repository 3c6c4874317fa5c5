from django.core.management.base import BaseCommand

from bookings.privacy import contacts_erase_expired


class Command(BaseCommand):
    help = (
        "Erase the contacts whose last booking ended longer ago than their organization's personal-data "
        "retention period (docs/architecture.md#personal-data). `send_queued_notifications --loop` does this "
        "once a day; this runs it alone, e.g. from cron."
    )

    def handle(self, *args, **options):
        erased = contacts_erase_expired()
        self.stdout.write(f"contacts erased: {erased}")
