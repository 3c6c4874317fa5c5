from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares and that belongs to none; one model, the API's idempotency keys. Imports no app
    (docs/architecture.md#the-core-app)."""

    name = "core"
