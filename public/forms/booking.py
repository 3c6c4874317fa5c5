"""The request form of a module (docs/architecture.md#public-site): the contact questions, one or more
dates with their optional repeat, visitors, a discount code, a note and the terms; sent through the same
validator and submit service as the API. Its errors are public.forms.errors', its "Check availability"
public.forms.availability's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.http import QueryDict

from bookings.lifecycle.submit import booking_submit
from bookings.lifecycle.transitions import BookingResult
from bookings.models import BookingModule, FormField, FormSection, Portal
from bookings.pricing.estimate import has_price
from bookings.pricing.terms import pricing_resources
from bookings.validation.billing import BookingBilling
from bookings.validation.public import SLOT_CODES, public_errors
from bookings.validation.submission import validate_submission
from core.errors import Conflict, FieldError, InvalidDiscountCode, ValidationFailed
from resources.models import Resource

from ..selectors import offered_resources, venue_timezone
from .availability import Availability, AvailabilityCheck
from .errors import FormErrors
from .fields import MAX_NOTE, EventBlock, Field, custom_field, local_input, note_as_html
from .repeat import repeat_fields

MAX_FORM_EVENTS = 20
MAX_DISCOUNT_CODE = 40  # DiscountCode.code's max_length
HONEYPOT = "contact_ref"  # an input people never see; bots fill in whatever they find
VISITOR_ROWS = 3  # blank visitor rows on the form (no JavaScript needed to add one)


class BookingForm(FormErrors, AvailabilityCheck):
    """The request form of a module: contact questions, one or more dates, a note, the terms."""

    note_label = "A note for the organizers (optional)"

    def __init__(self, module: BookingModule, *, data: QueryDict | None = None, initial: QueryDict | None = None):
        self.module = module
        self.resources: list[Resource] = offered_resources(module)
        self.custom: list[FormField] = list(
            getattr(module, "active_fields", None)
            or module.fields.filter(archived=False).order_by("order", "created_at")
        )
        self.tz = venue_timezone(self.resources, module.organization.tz)
        self.allow_repeat = bool(module.allow_repeat_requests)
        self.non_field_errors: list[str] = []
        self.summary: list[tuple[str, str]] = []  # (message, anchor) for the error summary
        self.availability: Availability | None = None
        self.notice = ""  # what the last button did (a suggested time filled in)
        self.contact = self._contact_fields()
        self.note = Field(
            name="requestNote", key="requestNote", label=self.note_label, kind="textarea", attrs={"maxlength": MAX_NOTE}
        )
        self.terms = self._terms_field()
        self.discount = self._discount_field()
        self.visitors = self._visitor_rows()
        self.visitor_errors: list[str] = []
        self.events: list[EventBlock] = []
        if data is not None:
            self.bind(data)
        else:
            self.events = [self._event_block(0)]
            self._prefill(initial)

    # --- building ------------------------------------------------------------------------------

    def _contact_fields(self) -> list[Field]:
        fields = [
            Field(
                name="contact-name",
                key="name",
                label="Your name",
                kind="text",
                required=True,
                attrs={"autocomplete": "name", "maxlength": 200},
            ),
            Field(
                name="contact-email",
                key="email",
                label="Email address",
                kind="email",
                required=True,
                help_text="We send your private link to follow, change or cancel the request here.",
                attrs={"autocomplete": "email", "maxlength": 254},
            ),
            Field(
                name="contact-phone",
                key="phone",
                label="Phone number",
                kind="tel",
                attrs={"autocomplete": "tel", "maxlength": 50},
            ),
        ]
        fields += [custom_field(ff, f"contact-{ff.pk}") for ff in self.custom if ff.section == FormSection.CONTACT]
        return fields

    def _visitor_rows(self) -> list[tuple[Field, Field]]:
        """VISITOR_ROWS blank (name, email) pairs: works without JavaScript; empty rows are ignored."""
        return [
            (
                Field(
                    name=f"visitor-{i}-name",
                    key="name",
                    label=f"Visitor {i + 1}: name",
                    kind="text",
                    attrs={"maxlength": 200, "autocomplete": "off"},
                ),
                Field(
                    name=f"visitor-{i}-email",
                    key="email",
                    label=f"Visitor {i + 1}: email",
                    kind="email",
                    attrs={"maxlength": 254, "autocomplete": "off"},
                ),
            )
            for i in range(VISITOR_ROWS)
        ]

    def _discount_field(self) -> Field | None:
        """The optional discount code, only when something offered here has a price (a rate or a product):
        on a free module the code could take nothing off, and the input would only puzzle people."""
        terms = pricing_resources([r.pk for r in self.resources]).values()
        if not has_price({"rates": t.rates, "products": t.products} for t in terms):
            return None
        return Field(
            name="discountCode",
            key="discountCode",
            label="Discount code",
            kind="text",
            help_text="If the organizers gave you one. It comes off the estimated price.",
            attrs={"maxlength": MAX_DISCOUNT_CODE, "autocomplete": "off", "spellcheck": "false"},
        )

    def _terms_field(self) -> Field | None:
        if not self.module.terms.strip():
            return None
        return Field(
            name="terms",
            key="terms",
            label="I have read and accept the terms and conditions",
            kind="checkbox",
            required=True,
            value=False,
        )

    def resource_options(self) -> list[tuple[str, str]]:
        return [
            (str(r.pk), f"{r.name} (up to {r.capacity} {'person' if r.capacity == 1 else 'people'})")
            for r in self.resources
        ]

    def _event_block(self, index: int) -> EventBlock:
        prefix = f"events-{index}-"
        zone = self.tz.key.replace("_", " ")
        fields = [
            Field(
                name=f"{prefix}title",
                key="title",
                label="Event title",
                kind="text",
                required=True,
                help_text="A short name, for example “Choir rehearsal”. Only the organizers see it.",
                attrs={"maxlength": 300},
            ),
            Field(
                name=f"{prefix}resourceIds",
                key="resourceIds",
                label="What would you like to book?",
                kind="resources",
                required=True,
                options=self.resource_options(),
                value=[str(self.resources[0].pk)] if len(self.resources) == 1 else [],
            ),
            Field(
                name=f"{prefix}start",
                key="start",
                label="Start",
                kind="datetime-local",
                required=True,
                help_text=f"Date and time, {zone} time.",
            ),
            Field(
                name=f"{prefix}end",
                key="end",
                label="End",
                kind="datetime-local",
                required=True,
                help_text=f"Date and time, {zone} time.",
            ),
            Field(
                name=f"{prefix}attendees",
                key="attendees",
                label="Number of people",
                kind="number",
                attrs={"min": 1, "step": 1, "inputmode": "numeric"},
            ),
        ]
        fields += [custom_field(ff, f"{prefix}{ff.pk}") for ff in self.custom if ff.section == FormSection.EVENT]
        return EventBlock(index=index, fields=fields, repeat=self._repeat_fields(prefix))

    def _repeat_fields(self, prefix: str) -> list[Field]:
        """The optional "Repeat" questions of a date (ChangeForm has none)."""
        return repeat_fields(prefix)

    def _prefill(self, initial: QueryDict | None) -> None:
        """A free slot of the calendar links here with ?resource=&start=&end= (local wall-clock times)."""
        if not initial:
            return
        block = self.events[0]
        offered = {str(r.pk) for r in self.resources}
        if initial.get("resource") in offered:
            block.question("resourceIds").value = [initial["resource"]]
        for key in ("start", "end"):
            block.question(key).value = local_input(initial.get(key, ""))

    # --- reading -------------------------------------------------------------------------------

    @property
    def fields(self) -> Iterator[Field]:
        yield from self.contact
        for block in self.events:
            yield from block.fields
            yield from block.repeat
        for pair in self.visitors:
            yield from pair
        if self.discount:
            yield self.discount
        yield self.note
        if self.terms:
            yield self.terms

    def event_count(self, data: QueryDict) -> int:
        try:
            count = int(data.get("event_count", "1"))
        except (TypeError, ValueError):
            count = 1
        return min(max(count, 1), MAX_FORM_EVENTS)

    def bind(self, data: QueryDict) -> None:
        self.events = [self._event_block(i) for i in range(self.event_count(data))]
        for f in self.fields:
            f.value = f.read(data)

    def add_event(self) -> None:
        """Another date, with the previous one's answers except its times (the same event, another day)."""
        if len(self.events) >= MAX_FORM_EVENTS:
            self.non_field_errors.append(f"One request can hold at most {MAX_FORM_EVENTS} dates.")
            return
        previous = self.events[-1]
        block = self._event_block(len(self.events))
        for f in block.fields:
            if f.key not in ("start", "end"):
                f.value = previous.question(f.key).value
        # The repeat is not copied: another date is usually a one-off.
        block.question("start").autofocus = True
        self.events.append(block)

    def remove_event(self, index: int) -> None:
        if len(self.events) <= 1 or not 0 <= index < len(self.events):
            return
        kept = [b for b in self.events if b.index != index]
        self.events = []
        for new_index, old in enumerate(kept):
            block = self._event_block(new_index)
            for f in block.fields:
                f.value = old.question(f.key).value
            for f in block.repeat:
                f.value = old.repeat_question(f.key).value
            self.events.append(block)

    def honeypot_filled(self, data: QueryDict) -> bool:
        return bool(data.get(HONEYPOT, "").strip())

    def visitors_payload(self) -> list[dict[str, Any]]:
        """The rows with anything typed in, in order (a half-filled row is sent, to be refused clearly)."""
        return [
            {"name": name.value, "email": email.value}
            for name, email in self.visitors
            if str(name.value).strip() or str(email.value).strip()
        ]

    def discount_code(self) -> str | None:
        return (str(self.discount.value).strip() or None) if self.discount else None

    def billing_choices(self) -> BookingBilling | None:
        """The booking's pricing choices as the API takes them: the public form only has the code."""
        code = self.discount_code()
        return BookingBilling.from_wire({"discountCode": code}) if code else None

    def payload(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        contact = {f.key: f.value for f in self.contact}
        events = []
        for block in self.events:
            event = {f.key: f.value for f in block.fields}
            repeat = block.repeat_payload()
            if repeat is not None:
                event["repeat"] = repeat
            events.append(event)
        return contact, events

    # --- sending -------------------------------------------------------------------------------

    def _note_html(self) -> str | None:
        if len(self.note.value) > MAX_NOTE:
            self.add_error(FieldError("requestNote", "MAX_LENGTH", ""))
            return None
        return note_as_html(self.note.value)

    def submit(self, portal: Portal) -> BookingResult | None:
        """The booker's request through the same validator and submit service as the API; None with the
        errors placed on the form when it is refused."""
        contact, events = self.payload()
        single = len(events) == 1
        note = self._note_html()
        try:
            if self.terms is not None and not self.terms.value:
                self.add_error(FieldError("terms", "REQUIRED", "Accept the terms and conditions to send your request."))
            if self.summary:  # still list every other problem at once
                validate_submission(module=self.module, contact=contact, events=events, single_event=single)
                return None
            return booking_submit(
                module=self.module,
                portal=portal,
                contact=contact,
                events=events,
                single_event=single,
                request_note=note or "",
                visitors=self.visitors_payload(),
                billing_choices=self.billing_choices(),
            )
        except (ValidationFailed, Conflict, InvalidDiscountCode) as exc:
            exc.errors = public_errors(exc.errors)  # never another booking's title or event ids
            self.add_errors(exc)
            if any((set(e.meta.get("codes") or ()) | {e.code}) & SLOT_CODES for e in exc.errors):
                self.suggest_free_times(events, single)
            return None
        finally:
            self.sort_summary()
