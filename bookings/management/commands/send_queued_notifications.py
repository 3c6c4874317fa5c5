import logging
import time
from datetime import date

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from bookings.privacy import contacts_erase_expired
from bookings.reminders import reminders_send_due
from core.idempotency import idempotency_keys_purge
from notifications.sending import notifications_send_due

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "The sweeper: write due reminders, then send the notifications that are due (retries with back-off, "
        "any whose task was lost, and any whose sending worker died), and purge expired idempotency keys; once a "
        "day, erase the contacts past their organization's retention period."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running, checking every --interval seconds.")
        parser.add_argument("--interval", type=int, default=30)

    def handle(self, *args, loop: bool = False, interval: int = 30, **options):
        self._retention_done_on: date | None = None
        while True:
            try:
                self._pass()
            except Exception:
                if not loop:
                    raise
                # A database restart or a bug in one pass must not end the sweeper; the next pass retries.
                logger.exception("send_queued_notifications: pass failed")
            if not loop:
                return
            # Like a request: drop connections that broke or outlived CONN_MAX_AGE while we slept.
            close_old_connections()
            time.sleep(interval)

    def _pass(self) -> None:
        # Reminders first: their emails are then sent in this same pass if their task was not run.
        reminders = reminders_send_due()
        counts = notifications_send_due()
        if reminders:
            self.stdout.write(f"reminders: {reminders}")
        if counts:
            self.stdout.write(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
        # The API's Idempotency-Key records past their 24 hours (docs/architecture.md#idempotent-retries).
        purged = idempotency_keys_purge()
        if purged:
            self.stdout.write(f"idempotency keys purged: {purged}")
        # Retention (docs/architecture.md#personal-data): once a day per sweeper; erasing is idempotent, so
        # two sweepers that both run it erase each contact once.
        today = timezone.now().date()
        if self._retention_done_on != today:
            erased = contacts_erase_expired()
            self._retention_done_on = today
            if erased:
                self.stdout.write(f"contacts erased (retention): {erased}")
