"""Who did it: a staff user (in the admin or through an API token), a booker, or the system. Every
service takes an Actor and writes it to the log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models


class ActorKind(models.TextChoices):
    USER = "user", "Staff user"
    TOKEN = "token", "API token"
    BOOKER = "booker", "Booker"
    SYSTEM = "system", "System"


@dataclass(frozen=True)
class Actor:
    """Who did it, for the log: a staff user (in the admin or through an API token), a booker, the system."""

    kind: str
    user: Any = None
    label: str = ""

    @classmethod
    def staff(cls, user: Any, *, via_token: bool = False) -> Actor:
        return cls(ActorKind.TOKEN if via_token else ActorKind.USER, user, user.get_username())

    @classmethod
    def booker(cls, email: str = "") -> Actor:
        return cls(ActorKind.BOOKER, None, email)

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM, None, "system")

    @property
    def db_user(self) -> Any:
        """The user to store in a foreign key (None for bookers, the system, unsaved users)."""
        return self.user if getattr(self.user, "pk", None) else None

    @property
    def is_staff(self) -> bool:
        return self.kind in (ActorKind.USER, ActorKind.TOKEN, ActorKind.SYSTEM)
