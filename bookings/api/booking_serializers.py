"""Shapes of the booking endpoints. Request serializers validate shape only (the services validate
meaning); response serializers document the wire form built by bookings.selectors."""

from django.core.validators import RegexValidator
from rest_framework import serializers

from bookings.models import BookingStatus
from events.models import EventStatus
from notifications.services import NotificationSpec

MAX_EVENTS = 150


class AnswersField(serializers.DictField):
    """Answers keyed by field name or custom field id; their meaning is checked by the validator."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.JSONField(), **kwargs)


# The subject becomes an email header: a line break in it would end the header (and could start another).
one_line = RegexValidator(r"\A[^\r\n\x85\u2028\u2029]*\Z", "The subject must be one line.", code="invalid")


class NotificationInSerializer(serializers.Serializer):
    send = serializers.BooleanField(default=True)
    subject = serializers.CharField(required=False, allow_blank=True, max_length=300, validators=[one_line])
    message = serializers.CharField(required=False, allow_blank=True, max_length=20000,
                                    help_text="Basic HTML, sanitized; added to the email.")

    @staticmethod
    def spec(data: dict | None) -> NotificationSpec | None:
        if data is None:
            return None
        return NotificationSpec(send=data.get("send", True), subject=data.get("subject") or None,
                                message=data.get("message") or None)


class EventsInMixin(serializers.Serializer):
    """`event` (one object) or `events` (a list): both forms of DESIGN §6."""

    event = AnswersField(required=False)
    events = serializers.ListField(child=AnswersField(), required=False, max_length=MAX_EVENTS)

    require_events = True

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if "event" in attrs and "events" in attrs:
            raise serializers.ValidationError({"events": serializers.ErrorDetail(
                "Send either event or events, not both.", code="invalid")})
        if self.require_events and "event" not in attrs and not attrs.get("events") and not attrs.get("eventId"):
            raise serializers.ValidationError({"event": serializers.ErrorDetail(
                "Request at least one time (event or events).", code="required")})
        return attrs

    @staticmethod
    def events_of(attrs: dict) -> tuple[list | None, bool]:
        """(the list of event objects, whether it came as a single `event`)."""
        if "event" in attrs:
            return [attrs["event"]], True
        if "events" in attrs:
            return list(attrs["events"]), False
        return None, False


class SubmitSerializer(EventsInMixin):
    submission = serializers.BooleanField(default=True)
    orgId = serializers.UUIDField()
    bookingModuleId = serializers.UUIDField()
    portalId = serializers.UUIDField(required=False, allow_null=True)
    title = serializers.CharField(required=False, allow_blank=True, max_length=300)
    customerId = serializers.UUIDField(required=False, allow_null=True)
    contactId = serializers.UUIDField(required=False, allow_null=True)
    contact = AnswersField(required=False)
    requestNote = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    # Staff only (submission false, or POST /bookings):
    bookingStatus = serializers.ChoiceField(choices=BookingStatus.choices, required=False)
    eventId = serializers.UUIDField(required=False, allow_null=True)
    notification = NotificationInSerializer(required=False)
    overrideRules = serializers.BooleanField(default=False)


class ChangeRequestSubmitSerializer(EventsInMixin):
    require_events = False
    bookingId = serializers.UUIDField()
    accessToken = serializers.CharField(required=False, allow_blank=True, max_length=200)
    cancellation = serializers.BooleanField(default=False)
    contact = AnswersField(required=False)
    requestNote = serializers.CharField(required=False, allow_blank=True, max_length=20000)


class ApproveSerializer(EventsInMixin):
    require_events = False
    clientBookingLastUpdatedAt = serializers.DateTimeField()
    notification = NotificationInSerializer(required=False)
    customerId = serializers.UUIDField(required=False, allow_null=True)
    contactId = serializers.UUIDField(required=False, allow_null=True)
    overrideRules = serializers.BooleanField(default=False)


class DenySerializer(serializers.Serializer):
    clientBookingLastUpdatedAt = serializers.DateTimeField()
    notification = NotificationInSerializer(required=False)


class CancelSerializer(serializers.Serializer):
    eventProcedure = serializers.ChoiceField(choices=[(0, "CANCEL"), (1, "DELETE")])
    notification = NotificationInSerializer(required=False)


class ChangeRequestApproveSerializer(EventsInMixin):
    require_events = False
    notification = NotificationInSerializer(required=False)
    eventProcedure = serializers.ChoiceField(choices=[(0, "CANCEL"), (1, "DELETE")], default=0)
    overrideRules = serializers.BooleanField(default=False)


class ChangeRequestDenySerializer(serializers.Serializer):
    notification = NotificationInSerializer(required=False)


class BookingPatchSerializer(serializers.Serializer):
    """Only these two may change; any other key is refused with IMMUTABLE_FIELD by the service."""

    customerId = serializers.CharField(required=False, allow_blank=True, allow_null=True,
                                       help_text='A customer id, or "" to clear.')
    contactId = serializers.CharField(required=False, allow_blank=True, allow_null=True,
                                      help_text='A contact id, or "" to clear.')


class BookingListQuerySerializer(serializers.Serializer):
    returnEvents = serializers.BooleanField(default=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=10000)
    cursor = serializers.CharField(required=False, max_length=500)


# --- responses ------------------------------------------------------------------------------------


class LocalTimesMixin(serializers.Serializer):
    startLocal = serializers.CharField(help_text="Wall-clock time in `timezone`, no offset.")
    endLocal = serializers.CharField()
    timezone = serializers.CharField(help_text="The venue's IANA timezone.")


class BookingEventOutSerializer(LocalTimesMixin):
    id = serializers.UUIDField()
    title = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    resourceIds = serializers.ListField(child=serializers.UUIDField())
    attendees = serializers.IntegerField(allow_null=True)
    answers = AnswersField()
    eventId = serializers.UUIDField(allow_null=True)


class BookingOutSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    orgId = serializers.UUIDField()
    bookingModuleId = serializers.UUIDField()
    portalId = serializers.UUIDField(allow_null=True)
    customerId = serializers.UUIDField(allow_null=True)
    contactId = serializers.UUIDField(allow_null=True)
    status = serializers.ChoiceField(choices=BookingStatus.choices,
                                     help_text="0 PENDING, 1 APPROVED, 2 DENIED, 3 CANCELED")
    submission = serializers.BooleanField()
    title = serializers.CharField()
    contact = AnswersField()
    events = BookingEventOutSerializer(many=True)
    requestNote = serializers.CharField(allow_blank=True, help_text="Sanitized HTML.")
    internalNotes = serializers.CharField(required=False, allow_blank=True, help_text="Staff callers only.")
    createdAt = serializers.DateTimeField()
    lastUpdatedAt = serializers.DateTimeField()


class EventOutSerializer(LocalTimesMixin):
    id = serializers.UUIDField()
    orgId = serializers.UUIDField()
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=EventStatus.choices, help_text="0 CONFIRMED, 1 TENTATIVE, 2 CANCELED")
    resourceIds = serializers.ListField(child=serializers.UUIDField())
    bookingId = serializers.UUIDField(allow_null=True)
    seriesId = serializers.UUIDField(allow_null=True)
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


class BookingWithEventsOut(serializers.Serializer):
    booking = BookingOutSerializer()
    event = EventOutSerializer(required=False, help_text="The first event, for single-event clients.")
    events = EventOutSerializer(many=True, required=False)


class BookingListOut(serializers.Serializer):
    bookings = serializers.DictField(child=BookingOutSerializer(), help_text="Bookings by id.")
    associatedEvents = EventOutSerializer(many=True, required=False)
    nextCursor = serializers.CharField(allow_null=True)


class ChangeRequestEnvelope(serializers.Serializer):
    changeRequest = ChangeRequestOutSerializer()


class ChangeRequestListOut(serializers.Serializer):
    changeRequests = ChangeRequestOutSerializer(many=True)
