""" "Check availability" on the public booking form: what a request with these times would meet
(bookings.validation.public, as `POST /bookings/validate`), the estimate of free times, and free times of the same
length, offered as buttons, also after a refused request (docs/architecture.md#public-site)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.dateparse import parse_datetime

from bookings.models import BookingModule
from bookings.pricing.estimate import has_price
from bookings.selectors import booking_estimate_payload
from bookings.validation.public import booking_preflight
from bookings.validation.submission import check_repeat_allowed
from core.errors import DomainError, FieldError, InvalidDiscountCode, ValidationFailed

from .fields import EventBlock, Field, local_input


@dataclass
class TimeCheck:
    """One requested time (or occurrence) that cannot be booked: why, and free times of the same length."""

    block: EventBlock | None
    label: str  # "Date 1", or the occurrence's date
    reasons: list[str]
    slots: list[dict[str, str]] = field(default_factory=list)  # {"value", "label"}; value "<block>|<start>|<end>"
    occurrence: bool = False


@dataclass
class Availability:
    """The answer to "Check availability" (or the suggestions after a refused request)."""

    checked: bool  # True: the booker asked; False: shown after a refused request
    problems: list[TimeCheck] = field(default_factory=list)
    count: int = 0  # the times checked (repeats expanded)
    price: dict[str, Any] | None = None  # the estimate of free times (bookings.pricing.estimate.price_total, public)

    @property
    def ok(self) -> bool:
        return not self.problems


def _slot_label(slot: dict[str, str]) -> str:
    """A free time on its local wall clock: "Tue 5 Jan 2027, 10:30–11:30"."""
    start, end = parse_datetime(slot["startLocal"]), parse_datetime(slot["endLocal"])
    assert start is not None and end is not None  # the service's own ISO times
    if start.date() == end.date():
        return f"{start:%a} {start.day} {start:%b %Y}, {start:%H:%M}–{end:%H:%M}"
    return f"{start:%a} {start.day} {start:%b %Y} {start:%H:%M} – {end:%a} {end.day} {end:%b %Y} {end:%H:%M}"


class AvailabilityCheck:
    """The "Check availability" half of BookingForm; the form's errors come from FormErrors."""

    module: BookingModule
    events: list[EventBlock]
    summary: list[tuple[str, str]]
    availability: Availability | None
    notice: str

    if TYPE_CHECKING:  # from the other halves of BookingForm: FormErrors and the form itself

        def payload(self) -> tuple[dict[str, Any], list[dict[str, Any]]]: ...
        def discount_code(self) -> str | None: ...
        def message(self, error: FieldError) -> str: ...
        def locate(self, path: str) -> tuple[Field | None, EventBlock | None, bool]: ...
        def add_error(self, error: FieldError) -> None: ...
        def add_errors(self, exc: DomainError) -> None: ...
        def sort_summary(self) -> None: ...

    def suggest_free_times(self, events: list[dict[str, Any]], single: bool) -> None:
        """After a request refused for its times: the free times of the same length, next to those times."""
        suggested = self._availability(events, single, checked=False)
        suggested.problems = [p for p in suggested.problems if p.slots]
        self.availability = suggested if suggested.problems else None

    def check(self) -> Availability | None:
        """What a request with these times would meet (bookings.validation.public, as `POST /bookings/validate`),
        without booking anything. Only the times are assessed: the other answers may still be empty.
        The reasons go next to the times (and into the summary); free times come as buttons."""
        _, events = self.payload()
        single = len(events) == 1
        try:
            check_repeat_allowed(module=self.module, events=events, single_event=single)
        except ValidationFailed as exc:
            self.add_errors(exc)
            self.sort_summary()
            return None
        self.availability = self._availability(events, single, checked=True, place_errors=True)
        code_errors: list[FieldError] = []
        if self.availability.ok:
            try:  # what the free times would cost; a time no rate covers is said by the submit
                estimate = booking_estimate_payload(
                    module=self.module, events=events, single_event=single, discount_code=self.discount_code()
                )
                if has_price(estimate["events"]):
                    self.availability.price = estimate["priceTotal"]
            except InvalidDiscountCode as exc:
                # No estimate rather than one without the code the booker typed (it would look discounted).
                code_errors = exc.errors
            except DomainError:
                self.availability.price = None
        self.summary = []  # the availability panel is this page's summary (the reasons also sit by their inputs)
        for error in code_errors:  # not about the times: the panel does not say it, so the summary does
            self.add_error(error)
        return self.availability

    def _availability(
        self, events: list[dict[str, Any]], single: bool, *, checked: bool, place_errors: bool = False
    ) -> Availability:
        result = booking_preflight(
            module=self.module,
            contact=None,
            events=events,
            single_event=single,
            check_contact=False,
            check_answers=False,
            public=True,
        )
        if place_errors:
            for error in result.errors:
                self.add_error(error)
        slots_for = {s["field"]: s["slots"] for s in result.suggestions}
        problems: list[TimeCheck] = []
        for error in result.errors:
            _, block, _ = self.locate(error.field)
            occurrence = error.meta.get("occurrence") is not None
            path = error.field if occurrence else error.field.split(".")[0]
            message = self.message(error)
            reasons = [message.partition(": ")[2] if occurrence else message]
            existing = next((p for p in problems if p.label == self._check_label(block, error)), None)
            if existing is not None:
                existing.reasons += [r for r in reasons if r not in existing.reasons]
                continue
            slots = [
                {
                    "value": f"{block.index if block else 0}|{s['startLocal'][:16]}|{s['endLocal'][:16]}",
                    "label": _slot_label(s),
                }
                for s in slots_for.get(path, [])
            ]
            problems.append(
                TimeCheck(
                    block=block,
                    label=self._check_label(block, error),
                    reasons=reasons,
                    slots=slots,
                    occurrence=occurrence,
                )
            )
        return Availability(checked=checked, problems=problems, count=len(result.times))

    def _check_label(self, block: EventBlock | None, error: FieldError) -> str:
        if error.meta.get("occurrence") is not None:
            label = error.message.partition(": ")[0]
            return f"{label} (date {block.number} repeated)" if block is not None and len(self.events) > 1 else label
        return f"Date {block.number}" if block is not None and len(self.events) > 1 else "Your time"

    def use_slot(self, value: str) -> bool:
        """A suggested free time's button: its date's start and end become that time."""
        index, _, rest = value.partition("|")
        start, _, end = rest.partition("|")
        if not index.isdigit() or int(index) >= len(self.events):
            return False
        start, end = local_input(start), local_input(end)
        if not start or not end:
            return False
        block = self.events[int(index)]
        block.question("start").value, block.question("end").value = start, end
        block.question("start").autofocus = True
        when = _slot_label({"startLocal": start, "endLocal": end})
        self.notice = (
            f"{'Date ' + str(block.number) if len(self.events) > 1 else 'Your time'} is now {when}. "
            "Check availability again or send your request."
        )
        return True
