"""Staff change booked events directly on the calendar (the events API, the Event admin): the bookings
those events came from are locked first (docs/adr/0002-lock-order.md) and follow the change. events.services
reaches this module only through the hook it offers (events.hooks; docs/architecture.md#apps-and-layers),
which bookings.apps registers at start-up."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from bookings.pricing.charges import charged_event_ids, events_charges_revert
from bookings.pricing.fixing import booking_events_release, event_price_override
from core.actor import Actor
from core.errors import FieldError, ValidationFailed
from events.models import Event, EventStatus, Reservation
from notifications.services import NotificationSpec

from ..models import Booking, BookingEvent, BookingLogAction, BookingStatus, ChangeRequestDecision
from ..notify import notify_booker
from .audit import booking_emit, log_write, snapshot
from .change_requests import withdraw_open_change_requests
from .requested_times import load_booking_events
from .transitions import lock_booking, transition_apply


def actor_of(value: Any) -> Actor:
    """Who changed the events, for the log: an Actor as given, a signed-in user as staff, else the system."""
    if isinstance(value, Actor):
        return value
    if getattr(value, "is_authenticated", False):
        return Actor.staff(value)
    return Actor.system()


def booking_events_lock(*, event_ids: Sequence[UUID]) -> list[Booking]:
    """Lock the bookings these events came from before the events and their resources are locked: the
    order every booking service takes its locks in, so the two never wait on each other in a cycle."""
    with transaction.atomic():
        ids = set(BookingEvent.objects.filter(event_id__in=list(event_ids)).values_list("booking_id", flat=True))
        if not ids:
            return []
        return list(Booking.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk"))


def booking_events_follow(
    *,
    events: Sequence[Event],
    actor: Any = None,
    deleted: bool = False,
    price_override: Any = None,
    notification: NotificationSpec | None = None,
) -> list[Booking]:
    """Staff changed calendar events directly (or are deleting them): the booking events they came from
    follow them (title, start, end and resources; a deleted event leaves its request unlinked, as it
    always has), the booking's lastUpdatedAt moves (a decision page opened before is stale), and each
    booking gets one log row. Nobody is emailed: it is staff's own change (bookers use change requests).
    `actor`: an Actor, or the staff user; anything else is logged as the system.

    A deletion that leaves an APPROVED booking without a live event (every one deleted, or the rest
    canceled) cancels it through the transition table (`events_deleted`): its open change request is
    withdrawn, the log row records the status change, the booker gets the cancellation email (unless
    `notification` says not to send) and the organization the `booking.canceled` webhook.

    Prices (docs/architecture.md#prices): events that end (deleted, or now canceled) give back the credit
    they used and revert their NOT_CHARGED charges if they had not started; `price_override` (the events
    API's overridePrice) re-fixes the price of each event with that amount."""
    by_event = {e.pk: e for e in events}
    with transaction.atomic():
        pairs = set(BookingEvent.objects.filter(event_id__in=list(by_event)).values_list("booking_id", "event_id"))
        booking_ids = {booking_id for booking_id, _ in pairs}
        if price_override is not None and len({event_id for _, event_id in pairs}) < len(by_event):
            raise ValidationFailed(
                errors=[
                    FieldError(
                        "overridePrice", "NOT_PRICED", "Only an event of an approved booking has a price to override."
                    )
                ]
            )
        if not booking_ids:
            return []
        resource_ids = _reserved_resources(by_event)
        who = actor_of(actor)
        return [
            _follow_booking(
                booking_id,
                by_event,
                resource_ids,
                who,
                deleted=deleted,
                price_override=price_override,
                notification=notification,
            )
            for booking_id in sorted(booking_ids, key=str)
        ]


def _reserved_resources(by_event: dict[UUID, Event]) -> dict[UUID, list[UUID]]:
    """The resources each event reserves now, in the order they were reserved."""
    resource_ids: dict[UUID, list[UUID]] = {}
    for event_id, rid in (
        Reservation.objects.filter(event_id__in=list(by_event))
        .order_by("created_at", "pk")
        .values_list("event_id", "resource_id")
    ):
        resource_ids.setdefault(event_id, []).append(rid)
    return resource_ids


def _follow_booking(
    booking_id: UUID,
    by_event: dict[UUID, Event],
    resource_ids: dict[UUID, list[UUID]],
    who: Actor,
    *,
    deleted: bool,
    price_override: Any,
    notification: NotificationSpec | None,
) -> Booking:
    """One booking follows its changed (or deleted) events, under its lock, with one log row."""
    booking = lock_booking(booking_id)
    booking_events = load_booking_events(booking)
    before = snapshot(booking, booking_events)
    count, ended = _follow_events(booking_events, by_event, resource_ids, deleted=deleted)
    ending = [be for be in booking_events if be.pk in ended]
    if ending:
        booking_events_release(booking=booking, booking_events=ending, actor=who)
    if price_override is not None:
        for be in booking_events:
            if be.event_id in by_event:
                event_price_override(booking=booking, booking_event=be, amount=price_override, actor=who)
    note = f"{count} calendar event{'s' if count != 1 else ''} {'deleted' if deleted else 'changed'} by staff"
    canceling = deleted and _left_without_events(booking, booking_events)
    if canceling:
        withdraw_open_change_requests(booking, ChangeRequestDecision.WITHDRAWN, who)
        transition_apply(booking, "events_deleted", who)  # saves it
        note += f"; {CANCELED_NOTE}"
    else:
        booking.save()
    action = BookingLogAction.EVENTS_DELETED if deleted else BookingLogAction.EVENTS_CHANGED
    after_events = load_booking_events(booking)
    log_write(booking, who, action, before, snapshot(booking, after_events), note=note)
    if canceling:
        notify_booker(booking, "booking_canceled", after_events, spec=notification)
        booking_emit(booking, "booking.canceled")
    return booking


CANCELED_NOTE = "none of its events is left, so the booking is canceled"


def _left_without_events(booking: Booking, booking_events: Sequence[BookingEvent]) -> bool:
    """Whether an approved booking has no live event left once this deletion is done: each requested time is
    unlinked (its event deleted now or before) or its event is canceled. A pending booking keeps its
    requests to decide on, with or without holds."""
    if booking.status != BookingStatus.APPROVED:
        return False
    return all(be.event is None or be.event.status == EventStatus.CANCELED for be in booking_events)


def _follow_events(
    booking_events: Sequence[BookingEvent],
    by_event: dict[UUID, Event],
    resource_ids: dict[UUID, list[UUID]],
    *,
    deleted: bool,
) -> tuple[int, set[UUID]]:
    """The booking events of these events take their title, times and resources (or are unlinked from a
    deleted event). Returns how many followed, and the booking events whose event ended (deleted or
    canceled)."""
    count = 0
    ended = set()
    unlinked: list[BookingEvent] = []
    for be in booking_events:
        event = by_event.get(be.event_id) if be.event_id is not None else None
        if event is None:
            continue
        count += 1
        if deleted or event.status == EventStatus.CANCELED:
            ended.add(be.pk)
        if deleted:
            be.event = None
            unlinked.append(be)
            continue
        be.title, be.start, be.end = event.title, event.start, event.end
        be.save(update_fields=["title", "start", "end", "updated_at"])
        wanted = resource_ids.get(event.pk)
        if wanted and sorted(map(str, wanted)) != sorted(str(r.pk) for r in be.resources.all()):
            be.resources.set(wanted)  # type: ignore[arg-type]  # set() takes pks; the stubs know int pks only
    if unlinked:  # one statement however many occurrences go
        BookingEvent.objects.filter(pk__in=[be.pk for be in unlinked]).update(event=None, updated_at=timezone.now())
    return count, ended


class BookingOccurrenceHook:
    """The bookings app's events.hooks.OccurrenceHook, registered by bookings.apps at start-up: it locks
    the bookings of events staff change directly, keeps their requested times in step, and answers for
    the charges (bookings.pricing.charges)."""

    def lock(self, *, event_ids: Sequence[UUID], actor: Any) -> None:
        booking_events_lock(event_ids=event_ids)

    def follow(
        self,
        *,
        events: Sequence[Event],
        deleted: bool,
        actor: Any,
        price_override: Any = None,
        notification: NotificationSpec | None = None,
    ) -> None:
        booking_events_follow(
            events=events, deleted=deleted, actor=actor, price_override=price_override, notification=notification
        )

    def charged_event_ids(self, *, event_ids: Iterable[UUID]) -> set[UUID]:
        return charged_event_ids(event_ids)

    def charges_revert(self, *, event_ids: Iterable[UUID], actor: Any) -> None:
        events_charges_revert(event_ids=event_ids, actor=actor_of(actor))
