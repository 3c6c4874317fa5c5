"""Wire shapes of configuration: booking modules with their form fields, portals, customers, contacts, and the two
public module endpoints (docs/architecture.md#http-api-conventions). camelCase keys map to model attributes through
`source=`; nested `about`, `calendar`, `config` and `bookingForm` read and write the module's flat fields
(`source="*"`). These serializers check shapes only; the services check what needs the database (same organization,
unique slugs and emails, field ids of this module)."""

from __future__ import annotations

from datetime import timedelta

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from bookings.models import MAX_OCCURRENCES_LIMIT, FieldType, FormSection, PortalStatus
from bookings.selectors import active_form_fields
from bookings.services import CHOICE_TYPES, LENGTH_TYPES
from core.api.constraints import Constrained
from core.api.fields import PlainTextField, RoundedDecimalField, StrictQuerySerializer
from resources.api.catalog_serializers import ProductSerializer, ResourceRateSerializer
from resources.models import ResourceKind

MAX_HTML = 20_000
MAX_INT32 = 2_147_483_647
MAX_FIELDS = 100
MAX_WINDOW = timedelta(days=62)


class NumberField(RoundedDecimalField):
    """A form field's min/max: a JSON number (an integer when it is whole), cut to 4 decimals."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=14, decimal_places=4, coerce_to_string=False, **kwargs)

    def to_representation(self, value):
        number = super().to_representation(value)
        return int(number) if number == number.to_integral_value() else float(number)


class IdListField(serializers.ListField):
    """Ids of related objects: a list of UUIDs in, the related manager's ids out."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.UUIDField())
        kwargs.setdefault("max_length", 500)
        super().__init__(**kwargs)

    def to_representation(self, manager):
        return [str(obj.pk) for obj in manager.all()]


class PortalStatusField(serializers.ChoiceField):
    """0 LIVE, 1 DRAFT on the wire (integers, like every enum of the API)."""

    TO_WIRE = {PortalStatus.LIVE: 0, PortalStatus.DRAFT: 1}
    FROM_WIRE = {0: PortalStatus.LIVE, 1: PortalStatus.DRAFT}

    def __init__(self, **kwargs):
        super().__init__(choices=[(0, "LIVE"), (1, "DRAFT")], **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid_choice", input=data)
        return self.FROM_WIRE[super().to_internal_value(data)]

    def to_representation(self, value):
        return self.TO_WIRE[value]


# --- booking modules --------------------------------------------------------------------------------


class FormFieldSerializer(Constrained, serializers.Serializer):
    id = serializers.UUIDField(
        required=False, help_text="Assigned by the server. Leave out to create a field; give it to update that field."
    )
    # `label` and `required` are wire names here, not Field's attributes of the same names (stubs: a clash).
    label = PlainTextField(max_length=200, required=False, help_text="Required for a new field.")  # type: ignore[assignment]
    type = serializers.ChoiceField(choices=FieldType.choices, required=False, help_text="Default: text.")
    required = serializers.BooleanField(required=False)  # type: ignore[assignment]
    helpText = PlainTextField(source="help_text", max_length=500, allow_blank=True, required=False)
    options = serializers.ListField(
        child=PlainTextField(max_length=200),
        max_length=200,
        required=False,
        help_text="The choices of a select or multiselect field (at least one).",
    )
    min = NumberField(
        source="min_value",
        allow_null=True,
        required=False,
        help_text="Numbers: the smallest value. Text: the shortest length.",
    )
    max = NumberField(
        source="max_value",
        allow_null=True,
        required=False,
        help_text="Numbers: the largest value. Text: the longest length. Not below min.",
    )
    order = serializers.IntegerField(
        min_value=0, max_value=MAX_INT32, required=False, help_text="Default: the field's position in the list."
    )

    @classmethod
    def request_constraints(cls) -> dict:
        """A new field (no id) has a label; a new select has options; a new text-like field (text unless
        `type` says otherwise) has no negative length. Of an existing field, the stored type decides."""
        new = {"not": {"required": ["id"]}}
        choice = {"required": ["type"], "properties": {"type": {"enum": sorted(CHOICE_TYPES)}}}
        no_options = {"anyOf": [{"not": {"required": ["options"]}}, {"properties": {"options": {"maxItems": 0}}}]}
        text_like = {
            "anyOf": [{"not": {"required": ["type"]}}, {"properties": {"type": {"enum": sorted(LENGTH_TYPES)}}}]
        }
        negative = {"type": "number", "maximum": -0.0001}  # above it, the 4 decimals kept make 0
        negative_length = {
            "anyOf": [{"required": [k], "properties": {k: negative}} for k in ("min", "max")],
        }
        return {
            "anyOf": [{"required": ["id"]}, {"required": ["label"]}],
            "not": {
                "anyOf": [
                    {"allOf": [new, choice, no_options]},
                    {"allOf": [new, text_like, negative_length]},
                ]
            },
        }


class ModuleAboutSerializer(serializers.Serializer):
    title = PlainTextField(source="about_title", max_length=200, allow_blank=True, required=False)
    description = serializers.CharField(
        source="about_description",
        max_length=MAX_HTML,
        allow_blank=True,
        required=False,
        help_text="Basic HTML; sanitized.",
    )


class ModuleCalendarSerializer(serializers.Serializer):
    daysShown = serializers.IntegerField(source="calendar_days_shown", min_value=1, max_value=366, required=False)
    showRequested = serializers.BooleanField(
        source="calendar_show_requested",
        required=False,
        help_text='Show pending requests as "Requested" (else as booked).',
    )


class ModuleConfigSerializer(serializers.Serializer):
    holdPendingSlots = serializers.BooleanField(
        source="hold_pending_slots", required=False, help_text="Pending requests hold their slots (TENTATIVE events)."
    )
    allowChangeRequests = serializers.BooleanField(source="allow_change_requests", required=False)
    allowCancellation = serializers.BooleanField(source="allow_cancellation", required=False)
    terms = serializers.CharField(
        max_length=MAX_HTML, allow_blank=True, required=False, help_text="Terms and conditions (basic HTML; sanitized)."
    )
    maxOccurrences = serializers.IntegerField(
        source="max_occurrences",
        min_value=1,
        max_value=MAX_OCCURRENCES_LIMIT,
        required=False,
        help_text="The most occurrences one repeated request may have.",
    )
    allowRepeatRequests = serializers.BooleanField(
        source="allow_repeat_requests",
        required=False,
        help_text="Bookers may send `repeat` on the public submit and validate (staff always may).",
    )
    autoApprove = serializers.BooleanField(
        source="auto_approve",
        required=False,
        help_text="Instant confirmation: a public request whose resources all have requiresApproval false, and "
        "that passes every rule, is approved at once (CONFIRMED events, approval email). A request with "
        "any resource that requires approval stays pending.",
    )


class BookingFormSerializer(serializers.Serializer):
    """The custom fields of each section. On write, a section that is given is the whole section: fields
    without `id` are created, with `id` updated, and active fields left out are archived."""

    # many=True hands max_length to the ListSerializer (the stubs know only the child's arguments).
    contactFields = FormFieldSerializer(source="contact_fields", many=True, required=False, max_length=MAX_FIELDS)  # type: ignore[call-arg]
    eventFields = FormFieldSerializer(source="event_fields", many=True, required=False, max_length=MAX_FIELDS)  # type: ignore[call-arg]

    def to_representation(self, module):
        fields = active_form_fields(module)

        def section(name: str) -> list:
            # many=True: a ListSerializer, whose data is a list (the stubs type the child's dict).
            return FormFieldSerializer([f for f in fields if f.section == name], many=True).data  # type: ignore[return-value]

        return {"contactFields": section(FormSection.CONTACT), "eventFields": section(FormSection.EVENT)}


class BookingModuleSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    orgId = serializers.UUIDField(source="organization_id")
    name = PlainTextField(max_length=200)
    slug = serializers.SlugField(
        max_length=80, required=False, help_text="Unique in the organization; derived from the name when left out."
    )
    adminUserId = serializers.IntegerField(
        source="admin_user_id",
        min_value=1,
        max_value=MAX_INT32,
        allow_null=True,
        required=False,
        help_text="A member of the organization; receives new requests.",
    )
    portalIds = IdListField(source="portals", required=False, help_text="Portals of the same organization.")
    resourceIds = IdListField(source="resources", required=False, help_text="Resources of the same organization.")
    about = ModuleAboutSerializer(source="*", required=False)
    calendar = ModuleCalendarSerializer(source="*", required=False)
    config = ModuleConfigSerializer(source="*", required=False)
    bookingForm = BookingFormSerializer(source="*", required=False)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastUpdatedAt = serializers.DateTimeField(source="updated_at", read_only=True)


@extend_schema_serializer(component_name="BookingModule")  # PATCH body: PatchedBookingModuleRequest
class BookingModuleUpdateSerializer(BookingModuleSerializer):
    """A module never moves to another organization."""

    orgId = serializers.UUIDField(source="organization_id", read_only=True)


# --- portals ----------------------------------------------------------------------------------------


class PortalSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    orgId = serializers.UUIDField(source="organization_id")
    name = PlainTextField(max_length=200)
    slug = serializers.SlugField(max_length=80, required=False, help_text="Unique; 6 random characters when left out.")
    description = serializers.CharField(
        max_length=MAX_HTML, allow_blank=True, required=False, help_text="Basic HTML; sanitized."
    )
    status = PortalStatusField(required=False, help_text="0 LIVE, 1 DRAFT (default; invisible to the public).")
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=128,
        trim_whitespace=False,
        help_text='Write only; stored hashed. "" or null opens the portal.',
    )
    hasPassword = serializers.SerializerMethodField()
    moduleIds = IdListField(source="modules", read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastUpdatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    def get_hasPassword(self, portal) -> bool:  # noqa: N802 (the wire name)
        return bool(portal.password)


@extend_schema_serializer(component_name="Portal")  # PATCH body: PatchedPortalRequest
class PortalUpdateSerializer(PortalSerializer):
    orgId = serializers.UUIDField(source="organization_id", read_only=True)


# --- customers and contacts -------------------------------------------------------------------------


class CustomerSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    orgId = serializers.UUIDField(source="organization_id")
    name = PlainTextField(max_length=200)
    email = serializers.EmailField(max_length=254, allow_blank=True, required=False)
    phone = PlainTextField(max_length=50, allow_blank=True, required=False)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastUpdatedAt = serializers.DateTimeField(source="updated_at", read_only=True)


@extend_schema_serializer(component_name="Customer")  # PATCH body: PatchedCustomerRequest
class CustomerUpdateSerializer(CustomerSerializer):
    orgId = serializers.UUIDField(source="organization_id", read_only=True)


class ContactSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    orgId = serializers.UUIDField(source="organization_id")
    customerId = serializers.UUIDField(
        source="customer_id",
        allow_null=True,
        required=False,
        help_text="A customer of the same organization; null unlinks.",
    )
    name = PlainTextField(max_length=200)
    email = serializers.EmailField(
        max_length=254, allow_blank=True, required=False, help_text="Unique in the organization, whatever its case."
    )
    phone = PlainTextField(max_length=50, allow_blank=True, required=False)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastUpdatedAt = serializers.DateTimeField(source="updated_at", read_only=True)
    erasedAt = serializers.DateTimeField(
        source="erased_at", read_only=True, allow_null=True, help_text="When the person was erased; null: never."
    )


@extend_schema_serializer(component_name="Contact")  # PATCH body: PatchedContactRequest
class ContactUpdateSerializer(ContactSerializer):
    orgId = serializers.UUIDField(source="organization_id", read_only=True)


class OrgIdSerializer(serializers.Serializer):
    """Read first on create, so the role is checked before the rest of the body."""

    orgId = serializers.UUIDField()


# --- public -----------------------------------------------------------------------------------------


class PublicConfigSerializer(serializers.Serializer):
    allowChangeRequests = serializers.BooleanField(source="allow_change_requests")
    allowCancellation = serializers.BooleanField(source="allow_cancellation")
    terms = serializers.CharField()
    maxOccurrences = serializers.IntegerField(
        source="max_occurrences", help_text="The most occurrences one repeated request may have."
    )
    allowRepeatRequests = serializers.BooleanField(
        source="allow_repeat_requests", help_text="The form accepts `repeat` on its events."
    )
    autoApprove = serializers.BooleanField(
        source="auto_approve", help_text="Requests for resources that do not require approval are confirmed at once."
    )


class PublicUnitSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class PublicResourceSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=ResourceKind.choices)
    description = serializers.CharField(help_text="Sanitized HTML.")
    capacity = serializers.IntegerField()
    timezone = serializers.SerializerMethodField(help_text="The venue's IANA time zone (rules apply in it).")
    units = PublicUnitSerializer(
        source="active_units", many=True, help_text="Units (desks, seats) a request may name as `unitId`; none: any."
    )
    rates = ResourceRateSerializer(
        source="public_rates",
        many=True,
        help_text="Active rates open to everyone (a request may name one as `rateId`; else the cheapest that "
        "applies is used); rates reserved for customers are not listed.",
    )
    products = ProductSerializer(
        source="public_products",
        many=True,
        help_text="Active products a request may add to an event as `products: [{productId, quantity}]`.",
    )

    def get_timezone(self, resource) -> str:
        return resource.venue.tz.key


class PublicPortalSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()


class PublicBookingModuleSerializer(serializers.Serializer):
    """What a booker needs to fill in the form, and nothing private."""

    id = serializers.UUIDField()
    orgId = serializers.UUIDField(source="organization_id")
    name = serializers.CharField()
    about = ModuleAboutSerializer(source="*")
    calendar = ModuleCalendarSerializer(source="*")
    config = PublicConfigSerializer(source="*")
    bookingForm = BookingFormSerializer(source="*")
    resources = PublicResourceSerializer(source="public_resources", many=True)
    portals = PublicPortalSerializer(source="live_portals", many=True, help_text="The LIVE portals showing it.")


class AvailabilityQuerySerializer(StrictQuerySerializer):
    start = serializers.DateTimeField(help_text="ISO 8601; other offsets are converted to UTC.")
    end = serializers.DateTimeField(help_text="After start, at most 62 days later.")

    def validate(self, attrs):
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError(
                {"end": serializers.ErrorDetail("end must be after start.", code="END_BEFORE_START")}
            )
        if attrs["end"] - attrs["start"] > MAX_WINDOW:
            raise serializers.ValidationError(
                {"end": serializers.ErrorDetail("The window can be at most 62 days long.", code="WINDOW_TOO_LONG")}
            )
        return attrs


class BusyBlockSerializer(serializers.Serializer):
    resourceId = serializers.UUIDField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(help_text="Includes the resource's buffer after a booking.")
    status = serializers.ChoiceField(
        choices=["BOOKED", "REQUESTED"], help_text="REQUESTED: held by a pending request (when the module shows those)."
    )


class PublicAvailabilitySerializer(serializers.Serializer):
    bookingModuleId = serializers.UUIDField()
    busy = BusyBlockSerializer(many=True)
