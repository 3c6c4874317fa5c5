"""Shapes of the event endpoints and of resource availability. Request serializers check shape only;
events.services checks meaning (rules, conflicts, transitions). Responses are built by
events.selectors.events_payload; EventSerializer documents that form."""

from __future__ import annotations

from datetime import timedelta

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import (
    AmountField,
    BooleanField,
    HtmlField,
    ListField,
    MomentField,
    PlainTextField,
    StrictQuerySerializer,
    UUIDField,
)
from core.errors import ValidationFailed
from events.models import EventStatus
from events.series import DELETE_HELP, DELETE_VALUES, UPDATE_HELP, UPDATE_VALUES, which_events_parse
from notifications.api.serializers import NotificationInSerializer

MAX_RESOURCES = 50
MAX_WINDOW = timedelta(days=366)
STATUS_HELP = "0 CONFIRMED, 1 TENTATIVE, 2 CANCELED"


class EventUnitSerializer(serializers.Serializer):
    resourceId = UUIDField()
    unitId = UUIDField()
    name = serializers.CharField()


class EventSerializer(serializers.Serializer):
    id = UUIDField()
    orgId = UUIDField()
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True, help_text="Sanitized HTML.")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=EventStatus.choices, help_text=STATUS_HELP)
    resourceIds = serializers.ListField(child=UUIDField())
    units = EventUnitSerializer(
        many=True, help_text="The unit (desk, seat) the event occupies of each resource with units."
    )
    bookingId = UUIDField(allow_null=True, help_text="The booking that created it, if any.")
    seriesId = UUIDField(allow_null=True)
    price = serializers.JSONField(
        allow_null=True,
        help_text="The price fixed when its booking was approved (see the booking's events[].price), or null.",
    )
    createdAt = serializers.DateTimeField()
    lastUpdatedAt = serializers.DateTimeField()
    startLocal = serializers.CharField(help_text="Wall-clock time in `timezone`, no offset.")
    endLocal = serializers.CharField()
    timezone = serializers.CharField(help_text="The first resource's venue's IANA timezone, else the organization's.")


@extend_schema_field({"type": "integer", "enum": [int(v) for v in UPDATE_VALUES], "default": 1})
class WhichEventsField(serializers.Field):
    """`whichEventsToUpdate` (events.series): which occurrences of the event's series a change applies to."""

    deleting = False

    def get_value(self, dictionary):
        # A query parameter sent empty (`?whichEventsToUpdate=`) is an error, as for the list filters; DRF
        # would read it as "not given".
        if hasattr(dictionary, "getlist") and dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        if data == "":
            raise serializers.ValidationError("Leave it out rather than empty.", code="blank")
        try:
            return which_events_parse(data, deleting=self.deleting)
        except ValidationFailed as exc:
            raise serializers.ValidationError(exc.errors[0].message, code=exc.errors[0].code) from exc

    def to_representation(self, value):
        return int(value)


@extend_schema_field({"type": "integer", "enum": [int(v) for v in DELETE_VALUES], "default": 1})
class WhichEventsToDeleteField(WhichEventsField):
    deleting = True


class EventUpdateSerializer(serializers.Serializer):
    # Sent back as read, the representation's other fields are ignored (core.api.strict).
    representation_class = EventSerializer

    title = PlainTextField(max_length=300)
    description = HtmlField(max_length=20000, allow_blank=True, help_text="Basic HTML, sanitized.")
    start = MomentField(help_text="ISO 8601; without an offset: the first resource's venue's local time.")
    end = MomentField()
    status = serializers.ChoiceField(
        choices=EventStatus.choices,
        help_text=f"{STATUS_HELP}. 0 confirms a tentative event; 2 cancels and frees "
        "its resources; a canceled event stays canceled.",
    )
    resourceIds = ListField(
        child=UUIDField(),
        allow_empty=False,
        min_length=1,
        max_length=MAX_RESOURCES,
        source="resource_ids",
        help_text="Resources of the event's organization.",
    )
    overrideRules = BooleanField(
        source="override_rules", default=False, help_text="Skip the booking rules (never the conflict check)."
    )
    whichEventsToUpdate = WhichEventsField(source="which", required=False, help_text=UPDATE_HELP)
    overridePrice = AmountField(
        source="price_override",
        required=False,
        help_text="Staff's price (cut to 4 decimals) for the rates' part of each chosen event of an approved booking "
        "(products, the "
        "discount and credit already used stay): its fixed price and its NOT_CHARGED charge follow, "
        "logged on the booking. 400 NOT_PRICED for an event no approved booking priced; 409 "
        "CHARGE_ALREADY_BILLED when its charge is charged or invoiced.",
    )

    def validate(self, attrs):
        # A series' occurrences are made with it (its repeat settings are create-only): no event joins or
        # leaves one afterwards. The event's own seriesId sent back as read changes nothing.
        current = self._series_id()
        if isinstance(self.initial_data, dict) and self.initial_data.get("seriesId", current) != current:
            raise serializers.ValidationError(
                {
                    "seriesId": serializers.ErrorDetail(
                        "An event cannot be added to a series or taken out of one; a series gets all its occurrences "
                        "when it is created.",
                        code="IMMUTABLE_FIELD",
                    )
                }
            )
        return super().validate(attrs)

    def _series_id(self) -> str | None:
        """The changed event's series (the view's context `event`); a new event has none."""
        event = self.context.get("event")
        return str(event.series_id) if event is not None and event.series_id else None


class EventDeleteSerializer(serializers.Serializer):
    """DELETE's options, in the query string or a JSON body (or both, then the same); `notification` in the
    body only."""

    whichEventsToUpdate = WhichEventsToDeleteField(source="which", required=False, help_text=DELETE_HELP)
    notification = NotificationInSerializer(
        required=False,
        help_text="When the deletion leaves an approved booking without a live event, the booking is canceled "
        "and its booker emailed as for a cancellation: `send: false` sends nothing, `subject` and `message` "
        "change the email. Ignored otherwise.",
    )


class EventCreateSerializer(EventUpdateSerializer):
    orgId = UUIDField(source="organization_id")
    title = PlainTextField(max_length=300)
    description = HtmlField(max_length=20000, allow_blank=True, required=False, help_text="Basic HTML, sanitized.")
    start = MomentField(help_text="ISO 8601; without an offset: the first resource's venue's local time.")
    end = MomentField()
    status = serializers.ChoiceField(
        choices=[(value, label) for value, label in EventStatus.choices if value != EventStatus.CANCELED],
        default=EventStatus.CONFIRMED,
        help_text="0 CONFIRMED (default) or 1 TENTATIVE (a hold); a new event is never canceled.",
    )
    resourceIds = ListField(
        child=UUIDField(),
        allow_empty=False,
        min_length=1,
        max_length=MAX_RESOURCES,
        source="resource_ids",
        help_text="Resources of the organization.",
    )
    # None removes the parent's field (DRF; the stubs expect a field there).
    whichEventsToUpdate = None  # type: ignore[assignment]  # a new event is on its own; series: repeated requests
    overridePrice = None  # type: ignore[assignment]  # prices come from bookings


# --- availability ---------------------------------------------------------------------------------


class AvailabilityQuerySerializer(StrictQuerySerializer):
    start = MomentField(help_text="Window start (ISO 8601; without an offset: the venue's local time).")
    end = MomentField(help_text="Window end, after start, at most 366 days later.")

    def validate(self, attrs):
        start, end = attrs["start"], attrs["end"]
        if end <= start:
            raise serializers.ValidationError(
                {"end": serializers.ErrorDetail("The end must be after the start.", code="END_BEFORE_START")}
            )
        if end - start > MAX_WINDOW:
            raise serializers.ValidationError(
                {"end": serializers.ErrorDetail("The window is at most 366 days.", code="WINDOW_TOO_LONG")}
            )
        return attrs


class BusySerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="The event's start.")
    end = serializers.DateTimeField(help_text="The event's end.")
    occupiedUntil = serializers.DateTimeField(
        source="occupied_until", help_text="The end plus the resource's buffer: free again from here."
    )
    eventId = UUIDField(source="event_id")
    status = serializers.ChoiceField(choices=EventStatus.choices, help_text="0 CONFIRMED, 1 TENTATIVE")


class ClosureSpanSerializer(serializers.Serializer):
    id = UUIDField(source="closure_id")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    message = serializers.CharField(allow_blank=True)


class AvailabilitySerializer(serializers.Serializer):
    resourceId = UUIDField(source="resource_id")
    busy = BusySerializer(many=True)
    closures = ClosureSpanSerializer(many=True, help_text="Yearly closures appear at their date in the window.")
