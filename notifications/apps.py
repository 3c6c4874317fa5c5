from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing `tracking` connects its receiver to anymail's delivery tracking signal: a real
        # notification from a third party, so a signal is right here (docs/architecture.md#apps-and-layers).
        # It is imported in ready(), where Django documents connecting receivers, not at the top of this
        # module: Django imports apps.py before the app registry is ready, and `tracking` reaches the
        # models (through `services`), which cannot be imported that early. Not a cycle being dodged.
        from . import tracking  # noqa: F401
