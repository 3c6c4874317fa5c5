"""The hook through which an app built on events follows direct edits of calendar events.

Events know nothing of the apps built on them (docs/architecture.md#apps-and-layers: bookings → events),
yet when staff change or delete events directly (the events API, the Event admin) the bookings app must
keep its requested times in step, and it keeps the charges the series scopes 4, 7 and 8 ask about. So
events.services calls the one registered OccurrenceHook, which the bookings app registers at start-up
(bookings.apps). Every call runs inside the writing transaction: an error rolls the whole change back.
With nothing registered, a hook that does nothing answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

if TYPE_CHECKING:  # models: bookings.apps imports this module before the app registry is ready
    from notifications.services import NotificationSpec

    from .models import Event


class OccurrenceHook(Protocol):
    """What events.services asks of the app built on it. `actor` is who does it, as the caller gave it:
    a user, or the API's Actor."""

    def lock(self, *, event_ids: Sequence[UUID], actor: Any) -> None:
        """Called before anything is locked, with the events about to change or go: lock your own rows
        here, so every writer takes its locks in the same order (docs/adr/0002-lock-order.md): the
        bookings, then the events, then the resources."""

    def follow(
        self,
        *,
        events: Sequence[Event],
        deleted: bool,
        actor: Any,
        price_override: Any = None,
        notification: NotificationSpec | None = None,
    ) -> None:
        """Called after the events were written (`events` as they are now, `deleted` false), or for a
        deletion just before the rows go (`deleted` true), while links to them still exist.
        `price_override`: staff's overridePrice for the changed events, or None. `notification`: what the
        caller of a deletion said about emailing whoever the deletion concerns (a booker whose booking it
        ends), or None for the default."""

    def charged_event_ids(self, *, event_ids: Iterable[UUID]) -> set[UUID]:
        """The ids among `event_ids` that are charged (the series scopes 4 and 7 leave them out): events
        keep no charges, the app built on them does."""

    def charges_revert(self, *, event_ids: Iterable[UUID], actor: Any) -> None:
        """Revert the charges of these events that are not final (the series scope 8), in the same
        transaction."""


class NoOccurrenceHook:
    """The hook when no app registered one: nothing to lock, follow, or revert, and nothing charged."""

    def lock(self, *, event_ids: Sequence[UUID], actor: Any) -> None:
        return None

    def follow(
        self,
        *,
        events: Sequence[Event],
        deleted: bool,
        actor: Any,
        price_override: Any = None,
        notification: NotificationSpec | None = None,
    ) -> None:
        return None

    def charged_event_ids(self, *, event_ids: Iterable[UUID]) -> set[UUID]:
        return set()

    def charges_revert(self, *, event_ids: Iterable[UUID], actor: Any) -> None:
        return None


_hook: OccurrenceHook = NoOccurrenceHook()


def register_occurrence_hook(hook: OccurrenceHook) -> None:
    """Make `hook` the one events.services calls (an AppConfig.ready() calls this once at start-up); a
    second registration replaces the first."""
    global _hook
    _hook = hook


def occurrence_hook() -> OccurrenceHook:
    """The registered hook, or the one that does nothing."""
    return _hook
