import time

from django.core.management.base import BaseCommand

from notifications.services import notifications_send_due


class Command(BaseCommand):
    help = "Send queued notifications that are due (retries with back-off, and any whose task was lost)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running, checking every --interval seconds.")
        parser.add_argument("--interval", type=int, default=30)

    def handle(self, *args, loop: bool = False, interval: int = 30, **options):
        while True:
            counts = notifications_send_due()
            if counts:
                self.stdout.write(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
            if not loop:
                return
            time.sleep(interval)
