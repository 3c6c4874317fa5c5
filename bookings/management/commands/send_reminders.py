from django.core.management.base import BaseCommand

from bookings.reminders import reminders_send_due


class Command(BaseCommand):
    help = (
        "Write the reminder emails that are due (each approved event, its module's reminder_hours before it). "
        "`send_queued_notifications` does this on every pass; this runs it alone, e.g. from cron."
    )

    def handle(self, *args, **options):
        written = reminders_send_due()
        if written:
            self.stdout.write(f"reminders: {written}")
