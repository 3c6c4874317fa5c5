from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares and that belongs to none. No models; imports no app (docs/architecture.md)."""

    name = "core"
