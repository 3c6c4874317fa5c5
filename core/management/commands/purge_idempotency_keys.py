from typing import Any

from django.core.management.base import BaseCommand

from core.idempotency import idempotency_keys_purge


class Command(BaseCommand):
    help = (
        "Delete the API's expired Idempotency-Key records (kept 24 hours). The sweeper "
        "(send_queued_notifications) does this on every pass; run this where no sweeper runs, e.g. from cron."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = idempotency_keys_purge()
        self.stdout.write(f"idempotency keys purged: {deleted}")
