"""Shapes of the booking endpoints. Request serializers validate shape only (the services validate
meaning); response serializers document the wire form built by bookings.selectors."""

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bookings.api.request_shapes import (
    CheckedEventSerializer,
    ContactInSerializer,
    EventChangeSerializer,
    NewContactSerializer,
    NewEventSerializer,
    shaped,
)
from bookings.models import BookingStatus
from core.api.constraints import Constrained
from core.api.fields import CursorField, QueryBooleanField, StrictQuerySerializer
from events.api.serializers import EventUnitSerializer
from events.models import EventStatus
from notifications.api.serializers import NotificationInSerializer

MAX_EVENTS = 150
MAX_PAGE = 10000  # bookings in one page of the list


class AnswersField(serializers.DictField):
    """Answers keyed by field name or custom field id; their meaning is checked by the validator."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.JSONField(), **kwargs)


REPEAT_HELP = (
    " A requested event may repeat (create only): `repeat: {repeats, repeatEvery, repeatUntil, repeatOnMondays … "
    "repeatOnSundays}`, repeats 1 Daily, 2 Weekly, 3 Monthly, 4 Yearly, 5 FirstOfMonth, 6 SecondOfMonth, "
    "7 ThirdOfMonth, 8 LastOfMonth, 9 FourthOfMonth (default 2 Weekly); repeatEvery ≥ 1 (default 1); "
    "repeatUntil a local date (inclusive). Expanded in the venue's wall-clock time; each occurrence becomes one "
    "of the booking's events and is checked on its own (errors at `event.occurrences[k]`, one per occurrence, "
    "with its date). A public request (submission true) may repeat only when the module's "
    "`config.allowRepeatRequests` is true (else 400 `NOT_ALLOWED` at `event.repeat`). Public callers see a "
    'conflict as "<Resource> is already booked at that time.", without the other booking\'s title or '
    "`conflictingEventIds`."
)


PRICE_HELP = (
    " Pricing: `rateId` (one of the resources' rates that applies; without it the cheapest applicable rate is "
    "used), `products: [{productId, quantity}]` (active products of the event's resources), `overridePrice` "
    "(staff only: replaces the rates' amount; a public request with it is 400 NOT_ALLOWED). Errors at "
    "`events[i].rateId` (RATE_NOT_APPLICABLE), `events[i]` (NO_APPLICABLE_RATE), `events[i].products[k]` "
    "(INVALID_PRODUCT)."
)


class BillingInMixin(serializers.Serializer):
    """What a request says about paying (bookings.validation.billing)."""

    discountCode = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=40,
        help_text="A discount code of the organization (any letter case); 400 "
        "INVALID_DISCOUNT_CODE at `discountCode` when it cannot be used.",
    )
    doNotUseBookingCredit = serializers.BooleanField(required=False, help_text="Do not pay from booking credit.")
    invoiceThisContact = serializers.BooleanField(
        required=False, help_text="Charge the contact rather than the customer."
    )
    purchaseOrder = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Free text, kept on the booking and its charges."
    )


class EventsInMixin(Constrained, serializers.Serializer):
    """`event` (one object) or `events` (a list), never both (docs/architecture.md#http-api-conventions); the
    schema says so too (request_constraints)."""

    EVENT_HELP = (
        "title, start, end, resourceIds, attendees?, unitId?, custom "
        "answers by field id. `unitId` names a unit (desk, seat) of one "
        "of the resources (400 INVALID_UNIT otherwise); left out, the "
        "first free unit is assigned when the event is written. A "
        "unit taken at that time is 409 BOOKING_CONFLICT at "
        "`event.unitId`." + REPEAT_HELP + PRICE_HELP
    )
    event = shaped(NewEventSerializer)(required=False, help_text=EVENT_HELP)
    events = serializers.ListField(
        child=shaped(NewEventSerializer)(),
        required=False,
        min_length=1,
        max_length=MAX_EVENTS,
        help_text="Several requested events, each as `event`.",
    )
    # The other keys that stand for the requested times (POST /bookings: the event the booking is for).
    also_events: ClassVar[tuple[str, ...]] = ()

    require_events = True

    @classmethod
    def request_constraints(cls) -> dict:
        """Never both; with `require_events`, one of them (or of `also_events`) is there and not null."""
        rules: list[dict] = [{"not": {"required": ["event", "events"]}}]
        if cls.require_events:
            kinds: dict[str, dict] = {"event": {"type": "object"}, "events": {"type": "array", "items": {}}}
            keys = ("event", "events", *cls.also_events)
            rules.append(
                {"anyOf": [{"required": [k], "properties": {k: kinds.get(k, {"type": "string"})}} for k in keys]}
            )
        return {"allOf": rules + cls.more_constraints()}

    @classmethod
    def more_constraints(cls) -> list[dict]:
        return []

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if "event" in attrs and "events" in attrs:
            raise serializers.ValidationError(
                {"events": serializers.ErrorDetail("Send either event or events, not both.", code="invalid")}
            )
        if self.require_events and "event" not in attrs and not attrs.get("events") and not attrs.get("eventId"):
            raise serializers.ValidationError(
                {"event": serializers.ErrorDetail("Request at least one time (event or events).", code="required")}
            )
        return attrs

    @staticmethod
    def events_of(attrs: dict) -> tuple[list | None, bool]:
        """(the list of event objects, whether it came as a single `event`)."""
        if "event" in attrs:
            return [attrs["event"]], True
        if "events" in attrs:
            return list(attrs["events"]), False
        return None, False


class VisitorInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=800, help_text="One line.")
    email = serializers.CharField(max_length=1000)


INTERNAL_NOTES_MAX = 20000
INTERNAL_NOTES_HELP = (
    "Staff's notes (plain text; manager and above). Shown to staff only (the API's booking for staff callers, "
    "the admin, the organization's webhooks); never in what a booker or the public sees (public answers, the "
    "private page, emails, calendar feeds). Each change is logged on the booking."
)


def _charge_flag_rules(*, public_possible: bool) -> list[dict]:
    """chargeNow or invoiceNow, not both, and only for a booking created approved (bookingStatus 1) by staff
    (bookings.validation.billing.check_charge_flags)."""

    def true(key: str) -> dict:
        return {"required": [key], "properties": {key: {"enum": [True]}}}

    approved: dict = {"required": ["bookingStatus"], "properties": {"bookingStatus": {"enum": [1]}}}
    if public_possible:
        staff = {"required": ["submission"], "properties": {"submission": {"enum": [False]}}}
        approved = {"allOf": [approved, staff]}
    rules = [{"not": {"allOf": [true("chargeNow"), true("invoiceNow")]}}]
    return rules + [{"not": {"allOf": [true(key), {"not": approved}]}} for key in ("chargeNow", "invoiceNow")]


class SubmitSerializer(BillingInMixin, EventsInMixin):
    also_events = ("eventId",)
    submission = serializers.BooleanField(default=True)
    # many=True hands max_length to the ListSerializer (the stubs know only the child's arguments).
    visitors = VisitorInSerializer(  # type: ignore[call-arg]
        many=True,
        required=False,
        max_length=100,
        help_text="People the booker brings, invited by email when the booking is approved (with the times in the "
        "venue's local time and a calendar file). Emails unique per booking; at most the smallest capacity "
        "of the requested resources (400 CAPACITY_EXCEEDED at `visitors`).",
    )
    orgId = serializers.UUIDField()
    bookingModuleId = serializers.UUIDField()
    portalId = serializers.UUIDField(required=False, allow_null=True)
    title = serializers.CharField(required=False, allow_blank=True, max_length=300)
    customerId = serializers.UUIDField(required=False, allow_null=True)
    contactId = serializers.UUIDField(required=False, allow_null=True)
    contact = shaped(NewContactSerializer)(required=False, help_text="Required (request_constraints): name and email.")
    requestNote = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    # Staff only (submission false, or POST /bookings):
    bookingStatus = serializers.ChoiceField(choices=BookingStatus.choices, required=False)
    eventId = serializers.UUIDField(required=False, allow_null=True)
    notification = NotificationInSerializer(required=False)
    overrideRules = serializers.BooleanField(default=False)
    skipConflicts = serializers.BooleanField(
        default=False,
        help_text="Staff only: book the occurrences of a repeated request that are free and leave "
        "out those that conflict or break a rule (listed in the response's `skipped`).",
    )
    chargeNow = serializers.BooleanField(
        default=False, help_text="Staff create with bookingStatus 1 only: the charges start CHARGED."
    )
    invoiceNow = serializers.BooleanField(
        default=False, help_text="Staff create with bookingStatus 1 only: the charges start INVOICED."
    )
    internalNotes = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=INTERNAL_NOTES_MAX,
        help_text=INTERNAL_NOTES_HELP + " A public submit with it is 400 NOT_ALLOWED.",
    )

    @classmethod
    def more_constraints(cls) -> list[dict]:
        # A public request (submission true, the default) names its portal: not (public and no portalId).
        public = {"not": {"required": ["submission"], "properties": {"submission": {"enum": [False]}}}}
        no_portal = {"not": {"required": ["portalId"], "properties": {"portalId": {"type": "string"}}}}
        return [
            {"required": ["contact"]},
            {"not": {"allOf": [public, no_portal]}},
            *_charge_flag_rules(public_possible=True),
        ]


class CreateSerializer(SubmitSerializer):
    """POST /bookings: the submit body, made by staff (a manager of the organization)."""

    submission = serializers.BooleanField(
        default=False,
        help_text="false (default): staff's booking in `bookingStatus`. true: a request recorded on the booker's "
        "behalf: PENDING (a bookingStatus other than 0 is 400 INVALID), stored with submission true, and the "
        'booker gets the "received" email with the private link, as after a public submit (`notification` '
        "does not apply).",
    )

    @classmethod
    def more_constraints(cls) -> list[dict]:
        # No portal needed; chargeNow/invoiceNow only with bookingStatus 1 (which submission true refuses).
        return [{"required": ["contact"]}, *_charge_flag_rules(public_possible=False)]


SERIES_CHANGE_HELP = (
    "Each change names its bookingEventId and the answers to change. A change of an occurrence of a series "
    "(its event's seriesId) may carry whichEventsToUpdate: 1 this occurrence (default), 2 this and the later "
    "ones, 3 all of them; the same answers then apply to each, and a time change moves each by the same "
    "wall-clock shift in the series' timezone. The request keeps it as asked, and it is applied to the series "
    "as it is when the request is approved."
)


class ChangeRequestSubmitSerializer(EventsInMixin):
    require_events = False
    event = shaped(EventChangeSerializer)(required=False, help_text=SERIES_CHANGE_HELP)
    events = serializers.ListField(
        child=shaped(EventChangeSerializer)(),
        required=False,
        min_length=1,
        max_length=MAX_EVENTS,
        help_text=SERIES_CHANGE_HELP,
    )
    bookingId = serializers.UUIDField()
    accessToken = serializers.CharField(required=False, allow_blank=True, max_length=200)
    cancellation = serializers.BooleanField(default=False)
    contact = shaped(ContactInSerializer)(required=False)
    requestNote = serializers.CharField(required=False, allow_blank=True, max_length=20000)


class ApproveSerializer(BillingInMixin, EventsInMixin):
    require_events = False
    event = shaped(EventChangeSerializer)(
        required=False, help_text="Edits of a single-event booking's time before approving it; {} keeps the request."
    )
    events = serializers.ListField(
        child=shaped(EventChangeSerializer)(),
        required=False,
        min_length=1,
        max_length=MAX_EVENTS,
        help_text="Edits, each naming its bookingEventId.",
    )
    clientBookingLastUpdatedAt = serializers.DateTimeField()
    notification = NotificationInSerializer(required=False)
    customerId = serializers.UUIDField(required=False, allow_null=True)
    contactId = serializers.UUIDField(required=False, allow_null=True)
    overrideRules = serializers.BooleanField(default=False)
    skipConflicts = serializers.BooleanField(
        default=False,
        help_text="Approve the occurrences that are free; those that conflict or break a rule are "
        "removed from the booking and listed in the response's `skipped`.",
    )
    acceptAvailableCredit = serializers.BooleanField(
        default=False,
        help_text="Approve even when less booking credit is left than the estimate counted on (else "
        "409 CREDIT_UNAVAILABLE); the credit left is used and the rest charged.",
    )


class ValidateSerializer(EventsInMixin):
    discountCode = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=40)
    """The submit body, checked without booking anything."""

    event = shaped(CheckedEventSerializer)(required=False, help_text=EventsInMixin.EVENT_HELP)
    events = serializers.ListField(
        child=shaped(CheckedEventSerializer)(), required=False, min_length=1, max_length=MAX_EVENTS
    )
    submission = serializers.BooleanField(
        default=True,
        help_text="true: the public form's checks (portalId of a LIVE portal showing the module). "
        "false: staff's (a manager of the organization; overrideRules, skipConflicts).",
    )
    orgId = serializers.UUIDField()
    bookingModuleId = serializers.UUIDField()
    portalId = serializers.UUIDField(required=False, allow_null=True)
    title = serializers.CharField(required=False, allow_blank=True, max_length=300)
    contact = shaped(NewContactSerializer)(
        required=False, help_text="Checked when given; left out, only the times are checked."
    )
    requestNote = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    overrideRules = serializers.BooleanField(default=False, help_text="Staff only: check conflicts, not rules.")
    skipConflicts = serializers.BooleanField(
        default=False,
        help_text="Staff only: failing occurrences go to `skipped` and the request stays valid "
        "while each repeated request keeps one occurrence.",
    )

    @classmethod
    def more_constraints(cls) -> list[dict]:
        # A public request (submission true, the default) names its portal: not (public and no portalId).
        public = {"not": {"required": ["submission"], "properties": {"submission": {"enum": [False]}}}}
        no_portal = {"not": {"required": ["portalId"], "properties": {"portalId": {"type": "string"}}}}
        return [{"not": {"allOf": [public, no_portal]}}]


class DenySerializer(serializers.Serializer):
    clientBookingLastUpdatedAt = serializers.DateTimeField()
    notification = NotificationInSerializer(required=False)


class CancelSerializer(serializers.Serializer):
    eventProcedure = serializers.ChoiceField(choices=[(0, "CANCEL"), (1, "DELETE")])
    notification = NotificationInSerializer(required=False)


class ChangeRequestApproveSerializer(EventsInMixin):
    require_events = False
    event = shaped(EventChangeSerializer)(required=False, help_text="Edits of the requested change.")
    events = serializers.ListField(
        child=shaped(EventChangeSerializer)(), required=False, min_length=1, max_length=MAX_EVENTS
    )
    notification = NotificationInSerializer(required=False)
    eventProcedure = serializers.ChoiceField(choices=[(0, "CANCEL"), (1, "DELETE")], default=0)
    overrideRules = serializers.BooleanField(default=False)


class ChangeRequestDenySerializer(serializers.Serializer):
    notification = NotificationInSerializer(required=False)


@extend_schema_field(
    {"oneOf": [{"type": "string", "format": "uuid"}, {"type": "string", "maxLength": 0}], "nullable": True}
)
class IdOrBlankField(serializers.CharField):
    """An id, or "" or null for none (the service parses it)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, allow_blank=True, allow_null=True, **kwargs)


class BookingPatchSerializer(serializers.Serializer):
    """Only these may change; any other field of the representation is refused with IMMUTABLE_FIELD by the
    service, anything else with UNKNOWN_FIELD (core.api.strict)."""

    representation_class: type[serializers.Serializer]  # BookingOutSerializer, set below it

    customerId = IdOrBlankField(help_text='A customer id, or "" (or null) to clear.')
    contactId = IdOrBlankField(help_text='A contact id, or "" (or null) to clear.')
    internalNotes = serializers.CharField(
        required=False, allow_blank=True, max_length=INTERNAL_NOTES_MAX, help_text=INTERNAL_NOTES_HELP
    )


class BookingListQuerySerializer(StrictQuerySerializer):
    returnEvents = QueryBooleanField(default=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)
    cursor = CursorField()


# --- responses ------------------------------------------------------------------------------------


class LocalTimesMixin(serializers.Serializer):
    startLocal = serializers.CharField(help_text="Wall-clock time in `timezone`, no offset.")
    endLocal = serializers.CharField()
    timezone = serializers.CharField(help_text="The venue's IANA timezone.")


class RepeatRuleSerializer(serializers.Serializer):
    repeats = serializers.IntegerField(
        help_text="1 Daily, 2 Weekly, 3 Monthly, 4 Yearly, 5 FirstOfMonth, "
        "6 SecondOfMonth, 7 ThirdOfMonth, 8 LastOfMonth, 9 FourthOfMonth"
    )
    repeatEvery = serializers.IntegerField()
    repeatUntil = serializers.DateField(help_text="Local date, inclusive.")
    repeatOnMondays = serializers.BooleanField()
    repeatOnTuesdays = serializers.BooleanField()
    repeatOnWednesdays = serializers.BooleanField()
    repeatOnThursdays = serializers.BooleanField()
    repeatOnFridays = serializers.BooleanField()
    repeatOnSaturdays = serializers.BooleanField()
    repeatOnSundays = serializers.BooleanField()


class BookingEventOutSerializer(LocalTimesMixin):
    id = serializers.UUIDField()
    title = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    resourceIds = serializers.ListField(child=serializers.UUIDField())
    attendees = serializers.IntegerField(allow_null=True)
    answers = AnswersField()
    eventId = serializers.UUIDField(allow_null=True)
    unitId = serializers.UUIDField(allow_null=True, help_text="The unit (desk, seat) asked for; null: any free one.")
    units = EventUnitSerializer(
        many=True, help_text="The units its event occupies, by resource (assigned when the event was written)."
    )
    repeat = RepeatRuleSerializer(allow_null=True, help_text="The repeat this time is an occurrence of (create-only).")
    occurrence = serializers.IntegerField(allow_null=True, help_text="Its place in the repeat's dates (0-based).")
    rateId = serializers.UUIDField(allow_null=True, help_text="The rate the request named (null: the cheapest).")
    products = serializers.ListField(child=AnswersField(), help_text="[{productId, quantity}] as requested.")
    overridePrice = serializers.CharField(allow_null=True, help_text="Staff's price for the rates' part, if set.")
    price = serializers.JSONField(
        allow_null=True,
        help_text=(
            "The estimate (`fixed` false) until approval, then the price fixed on the Event (`fixed` true): currency, "
            "rateId, rateName, unit, quantity, rates[], computedAmount, overridePrice, amount, products[], subtotal, "
            "discount, price, credits[], creditUsed, total (amounts are decimal strings). Public callers see no "
            "credit (creditUsed null, total = price): anyone may submit with any email address."
        ),
    )


class PriceTotalSerializer(serializers.Serializer):
    currency = serializers.CharField()
    subtotal = serializers.CharField()
    discount = serializers.CharField()
    price = serializers.CharField(help_text="After the discount.")
    creditUsed = serializers.CharField(allow_null=True, help_text="null for public callers before approval.")
    total = serializers.CharField(help_text="What is left to pay.")
    fixed = serializers.BooleanField(help_text="true once every event's price is fixed (approved).")


class VisitorOutSerializer(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.CharField()


class BookingOutSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    orgId = serializers.UUIDField()
    bookingModuleId = serializers.UUIDField()
    portalId = serializers.UUIDField(allow_null=True)
    customerId = serializers.UUIDField(allow_null=True)
    contactId = serializers.UUIDField(allow_null=True)
    status = serializers.ChoiceField(
        choices=BookingStatus.choices, help_text="0 PENDING, 1 APPROVED, 2 DENIED, 3 CANCELED"
    )
    submission = serializers.BooleanField()
    title = serializers.CharField()
    contact = AnswersField()
    events = BookingEventOutSerializer(many=True)
    repeat = RepeatRuleSerializer(
        allow_null=True,
        help_text="The repeat the booking was requested with (the first repeated time's; see each event's `repeat`).",
    )
    requestNote = serializers.CharField(allow_blank=True, help_text="Sanitized HTML.")
    discountCode = serializers.CharField(allow_null=True)
    doNotUseBookingCredit = serializers.BooleanField()
    invoiceThisContact = serializers.BooleanField()
    purchaseOrder = serializers.CharField(allow_blank=True)
    priceTotal = PriceTotalSerializer(
        allow_null=True, help_text="The sums of the events' prices; null when none is priced."
    )
    visitors = VisitorOutSerializer(many=True, help_text="Invited by email when the booking is approved.")
    internalNotes = serializers.CharField(required=False, allow_blank=True, help_text="Staff callers only.")
    createdAt = serializers.DateTimeField()
    lastUpdatedAt = serializers.DateTimeField()


BookingPatchSerializer.representation_class = BookingOutSerializer


class EventOutSerializer(LocalTimesMixin):
    id = serializers.UUIDField()
    orgId = serializers.UUIDField()
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=EventStatus.choices, help_text="0 CONFIRMED, 1 TENTATIVE, 2 CANCELED")
    resourceIds = serializers.ListField(child=serializers.UUIDField())
    units = EventUnitSerializer(
        many=True, help_text="The unit (desk, seat) the event occupies of each resource with units."
    )
    bookingId = serializers.UUIDField(allow_null=True)
    seriesId = serializers.UUIDField(allow_null=True)
    price = serializers.JSONField(allow_null=True)
    createdAt = serializers.DateTimeField()
    lastUpdatedAt = serializers.DateTimeField()


class ChangeRequestOutSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    bookingId = serializers.UUIDField()
    cancellation = serializers.BooleanField()
    contact = AnswersField()
    events = serializers.ListField(child=AnswersField(), help_text="[{bookingEventId, ...changed answers}]")
    requestNote = serializers.CharField(allow_blank=True)
    createdAt = serializers.DateTimeField()


class BookingEnvelope(serializers.Serializer):
    booking = BookingOutSerializer()


class SubmitOut(serializers.Serializer):
    booking = BookingOutSerializer()
    accessToken = serializers.CharField(help_text="The booker's private link token; shown only this once.")


class SkippedOccurrenceSerializer(serializers.Serializer):
    field = serializers.CharField(
        help_text="Where the occurrence was requested: event.occurrences[6] (or events[6] at approval)."
    )
    code = serializers.CharField(help_text="Why: BOOKING_CONFLICT, CAPACITY_EXCEEDED, OUTSIDE_BOOKABLE_HOURS, ...")
    message = serializers.CharField()
    occurrence = serializers.IntegerField()
    date = serializers.DateField(help_text="Local date.")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    startLocal = serializers.CharField()
    timezone = serializers.CharField()
    codes = serializers.ListField(child=serializers.CharField())


class BookingWithEventsOut(serializers.Serializer):
    booking = BookingOutSerializer()
    event = EventOutSerializer(required=False, help_text="The first event, for single-event clients.")
    events = EventOutSerializer(many=True, required=False)
    skipped = SkippedOccurrenceSerializer(
        many=True, required=False, help_text="With skipConflicts: the occurrences left out."
    )


class BookingListOut(serializers.Serializer):
    bookings = serializers.DictField(child=BookingOutSerializer(), help_text="Bookings by id.")
    associatedEvents = EventOutSerializer(many=True, required=False)
    nextCursor = serializers.CharField(allow_null=True)


class ChangeRequestEnvelope(serializers.Serializer):
    changeRequest = ChangeRequestOutSerializer()


class ChangeRequestListOut(serializers.Serializer):
    changeRequests = ChangeRequestOutSerializer(many=True)
