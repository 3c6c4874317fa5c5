import time

from django.core.management.base import BaseCommand

from webhooks.delivery import webhook_deliveries_send_due


class Command(BaseCommand):
    help = (
        "Send webhook deliveries that are due: retries (1 minute, 1 hour, 6 hours after a failure), rows whose "
        "task was lost, and rows whose worker died mid-send. Safe to run on several machines at once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running, checking every --interval seconds.")
        parser.add_argument("--interval", type=int, default=15)
        parser.add_argument("--limit", type=int, default=100, help="At most this many deliveries per round.")

    def handle(self, *args, loop: bool = False, interval: int = 15, limit: int = 100, **options):
        while True:
            counts = webhook_deliveries_send_due(limit=limit)
            if counts:
                self.stdout.write(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
            if not loop:
                return
            if sum(counts.values()) < limit:  # a full round means more are waiting: go again at once
                time.sleep(interval)
