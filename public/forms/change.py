"""The booker's "request a change" on their private page (docs/architecture.md#change-requests): the
booking's current answers, and only what the booker changed sent to change_request_submit."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

from bookings.lifecycle.change_requests import change_request_submit
from bookings.lifecycle.transitions import BookingResult
from bookings.models import Booking
from bookings.validation.public import public_errors
from core.actor import Actor
from core.errors import Conflict, FieldError, InvalidTransition, PermissionDenied, ValidationFailed

from ..selectors import answer_as_input, booking_events, event_timezone
from .booking import BookingForm
from .fields import EventBlock, Field


class ChangeForm(BookingForm):
    """The booker's "request a change": the booking's current answers, one block per requested time.
    Only what the booker changed is sent (so an untouched past date is not checked against the rules)."""

    note_label = "Why the change? (optional)"

    def __init__(self, booking: Booking, *, data: QueryDict | None = None):
        self.booking = booking
        self.booking_events = booking_events(booking)
        module = booking.module
        self._held = {str(r.pk): r for be in self.booking_events for r in be.resources.all()}
        super().__init__(module, data=None)
        self.terms = None
        self.allow_repeat = False  # a repeat is set when the booking is made
        self.events = [self._current_block(i, be) for i, be in enumerate(self.booking_events)]
        self._fill_contact()
        self.initial = {f.name: f.normalized(f.value) for f in self.fields}
        if data is not None:
            self.bind(data)

    def resource_options(self) -> list[tuple[str, str]]:
        resources = {str(r.pk): r for r in self.resources}
        for rid, r in getattr(self, "_held", {}).items():
            resources.setdefault(rid, r)
        return [
            (rid, f"{r.name} (up to {r.capacity} {'person' if r.capacity == 1 else 'people'})")
            for rid, r in resources.items()
        ]

    def _repeat_fields(self, prefix: str) -> list[Field]:
        return []  # a repeat is set when the booking is made, never changed

    def _discount_field(self) -> Field | None:
        return None  # a change request carries no pricing choices (change_request_submit takes none)

    def _fill_contact(self) -> None:
        answers = self.booking.contact_answers or {}
        types = {str(ff.pk): ff.type for ff in self.custom}
        for f in self.contact:
            value = answers.get(f.key)
            f.value = answer_as_input(types[f.key], value) if f.key in types else ("" if value is None else str(value))

    def _current_block(self, index: int, be) -> EventBlock:
        block = self._event_block(index)
        block.booking_event_id = str(be.pk)
        tz = event_timezone(be, self.booking)
        types = {str(ff.pk): ff.type for ff in self.custom}
        values = {
            "title": be.title,
            "resourceIds": [str(r.pk) for r in be.resources.all()],
            "start": be.start.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
            "end": be.end.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
            "attendees": "" if be.attendees is None else str(be.attendees),
        }
        zone = tz.key.replace("_", " ")
        for f in block.fields:
            if f.key in values:
                f.value = values[f.key]
            elif f.key in types:
                f.value = answer_as_input(types[f.key], be.answers.get(f.key))
            if f.key in ("start", "end"):
                f.help_text = f"Date and time, {zone} time."
        return block

    def bind(self, data: QueryDict) -> None:
        for f in self.fields:
            f.value = f.read(data)

    def changes(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        def changed(f: Field) -> bool:
            return f.normalized(f.value) != self.initial.get(f.name)

        contact = {f.key: f.value for f in self.contact if changed(f)}
        events = []
        for block in self.events:
            wanted = {f.key: f.value for f in block.fields if changed(f)}
            if wanted:
                events.append({"bookingEventId": block.booking_event_id, **wanted})
        return contact, events

    def submit(self, booking: Booking) -> BookingResult | None:  # type: ignore[override]
        contact, events = self.changes()
        note = self._note_html()
        if note is None:
            return None
        if not contact and not events:
            self.add_error(FieldError("", "NO_CHANGES", "Change at least one answer before sending the request."))
            return None
        try:
            return change_request_submit(
                booking_id=booking.pk,
                actor=Actor.booker(booking.booker_email),
                contact=contact or None,
                events=events or None,
                request_note=note,
            )
        except (ValidationFailed, Conflict) as exc:
            exc.errors = public_errors(exc.errors)  # never another booking's title or event ids
            self.add_errors(exc)
        except (PermissionDenied, InvalidTransition) as exc:
            self.add_error(FieldError("", exc.code, exc.message))
        self.sort_summary()
        return None
