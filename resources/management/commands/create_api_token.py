from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from knox.models import AuthToken


class Command(BaseCommand):
    help = "Create a personal API token for a user and print it. It is stored hashed and shown only this once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--expires-days", type=int, default=None, help="Default: never expires.")

    def handle(self, *args, username: str, expires_days: int | None, **options):
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist as exc:
            raise CommandError(f"No user named {username!r}.") from exc
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1.")
        _, token = AuthToken.objects.create(user=user, expiry=timedelta(days=expires_days) if expires_days else None)
        self.stdout.write(token)
