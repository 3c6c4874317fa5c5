"""The objects inside a booking body that the services read themselves (bookings.validation): a requested
event, its repeat rule and products, and the contact. The serializers here parse nothing; they are what the
OpenAPI schema says of those objects (each property's type, format, bounds and pattern, and what is
required), and core.api.json_types checks the JSON type of every value they declare before the services
judge the rest. Keys they do not declare are the module's custom answers, keyed by form field id
(docs/architecture.md#form-fields): any JSON value but null, and a key that names no field of the module is
400 UNKNOWN_FIELD. No value inside these objects may be null (leave the key out instead)."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bookings.validation.billing import MAX_PRICE, MAX_PRODUCTS
from bookings.validation.fields import EARLIEST_YEAR, LATEST_YEAR, PHONE_RE
from bookings.validation.repeat import DATE_CYCLES, MAX_EVERY, WEEKDAY_KEYS, Cycle
from core.api.constraints import Constrained
from core.api.fields import MAX_AMOUNT, AmountField, TextField

MAX_RESOURCES = 50
MAX_QUANTITY = 10000

# Plain text on one line (a title, a name): no control characters nor line breaks, and something that is
# not white space (bookings.validation.fields.clean_text).
_NOT_ONE_LINE = r"\x00-\x1f\x7f\x85\u2028\u2029"
ONE_LINE_PATTERN = rf"^[^{_NOT_ONE_LINE}]*[^\s{_NOT_ONE_LINE}][^{_NOT_ONE_LINE}]*$"
# A requested time's years (bookings.validation.fields: EARLIEST_YEAR to LATEST_YEAR, 1970-2200).
EVENT_YEARS_PATTERN = r"^(19[7-9][0-9]|20[0-9]{2}|21[0-9]{2}|2200)-"
assert (EARLIEST_YEAR, LATEST_YEAR) == (1970, 2200), "EVENT_YEARS_PATTERN says these years"
assert MAX_PRICE == MAX_AMOUNT, "overridePrice is an AmountField"


@extend_schema_field({"type": "string", "format": "date-time", "pattern": EVENT_YEARS_PATTERN})
class EventMomentField(serializers.DateTimeField):
    """ISO 8601 with a year from 1970 to 2200; without an offset, the venue's wall-clock time."""


@extend_schema_field({"type": "string", "format": "date", "pattern": EVENT_YEARS_PATTERN})
class EventDateField(serializers.DateField):
    """A local date (YYYY-MM-DD) with a year from 1970 to 2200."""


class OneLineField(TextField):
    """One line of plain text (the schema's pattern, from the RegexValidator; the services check it)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validators=[RegexValidator(ONE_LINE_PATTERN)], **kwargs)


class ProductInSerializer(serializers.Serializer[Any]):
    productId = serializers.UUIDField(help_text="An active product of one of the event's resources.")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, required=False, help_text="Default 1.")


_DATE_CYCLES = sorted(int(c) for c in DATE_CYCLES)


class RepeatInSerializer(serializers.Serializer[Any]):
    repeats = serializers.ChoiceField(
        choices=[(int(c), c.name) for c in Cycle],
        help_text="1 Daily, 2 Weekly, 3 Monthly, 4 Yearly, 5 FirstOfMonth, 6 SecondOfMonth, 7 ThirdOfMonth, "
        "8 LastOfMonth, 9 FourthOfMonth. Monthly and yearly repeats keep the start's date: no weekday is true.",
    )
    repeatEvery = serializers.IntegerField(min_value=1, max_value=MAX_EVERY, required=False, help_text="Default 1.")
    repeatUntil = EventDateField(help_text="Local date, inclusive.")
    repeatOnMondays = serializers.BooleanField(required=False)
    repeatOnTuesdays = serializers.BooleanField(required=False)
    repeatOnWednesdays = serializers.BooleanField(required=False)
    repeatOnThursdays = serializers.BooleanField(required=False)
    repeatOnFridays = serializers.BooleanField(required=False)
    repeatOnSaturdays = serializers.BooleanField(required=False)
    repeatOnSundays = serializers.BooleanField(required=False)


assert tuple(f for f in RepeatInSerializer._declared_fields if f.startswith("repeatOn")) == WEEKDAY_KEYS


class RepeatInSchema(OpenApiSerializerExtension):
    """A monthly or yearly repeat keeps the start's date: no weekday may be true (bookings.validation.repeat)."""

    target_class = RepeatInSerializer

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["not"] = {
            "required": ["repeats"],
            "properties": {"repeats": {"enum": _DATE_CYCLES}},
            "anyOf": [{"required": [key], "properties": {key: {"enum": [True]}}} for key in WEEKDAY_KEYS],
        }
        return schema


# The module's custom answers, beside the declared keys: any JSON value but null.
_NOT_NULL = [
    {"type": "string"},
    {"type": "number"},
    {"type": "boolean"},
    {"type": "array", "items": {}},
    {"type": "object"},
]
ANSWERS_SCHEMA = {"additionalProperties": {"anyOf": _NOT_NULL}}


class Answers(Constrained):
    """An object whose undeclared keys are custom answers (ANSWERS_SCHEMA)."""

    @classmethod
    def request_constraints(cls) -> dict[str, Any]:
        return dict(ANSWERS_SCHEMA)


class RequestedEventSerializer(Answers, serializers.Serializer[Any]):
    """One requested time, as the services read it; the module's custom answers sit beside these keys."""

    title = OneLineField(max_length=300, required=False, help_text="One line.")
    start = EventMomentField(required=False, help_text="ISO 8601; without an offset: the venue's local time.")
    end = EventMomentField(required=False, help_text="After start.")
    resourceIds = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=MAX_RESOURCES,
        required=False,
        help_text="Resources the module offers.",
    )
    attendees = serializers.IntegerField(
        min_value=1, required=False, help_text="At most the resources' capacity together."
    )
    unitId = serializers.UUIDField(required=False, help_text="A unit of one of the resources.")
    rateId = serializers.UUIDField(required=False, help_text="One of the resources' rates.")
    products = ProductInSerializer(many=True, required=False, max_length=MAX_PRODUCTS)  # type: ignore[call-arg]
    overridePrice = AmountField(required=False, help_text="Staff only.")
    repeat = RepeatInSerializer(required=False, help_text="Create only: the request repeats.")


class NewEventSerializer(RequestedEventSerializer):
    """A requested time of a new booking: title, start, end and resources are required."""

    title = OneLineField(max_length=300, help_text="One line.")
    start = EventMomentField(help_text="ISO 8601; without an offset: the venue's local time.")
    end = EventMomentField(help_text="After start.")
    resourceIds = serializers.ListField(
        child=serializers.UUIDField(), min_length=1, max_length=MAX_RESOURCES, help_text="Resources the module offers."
    )


class CheckedEventSerializer(NewEventSerializer):
    """A requested time to check (POST /bookings/validate): the title may wait."""

    title = OneLineField(max_length=300, required=False, help_text="One line.")


class EventChangeSerializer(RequestedEventSerializer):
    """A change to one of a booking's times: the keys to change, and which time (bookingEventId)."""

    bookingEventId = serializers.UUIDField(required=False, help_text="The booking's event; optional for one.")
    whichEventsToUpdate = serializers.ChoiceField(
        choices=[(1, "THIS"), (2, "THIS_AND_LATER"), (3, "ALL")],
        required=False,
        help_text="For an occurrence of a series: 1 this one (default), 2 this and the later ones, 3 all.",
    )
    repeat = None  # type: ignore[assignment]  # a repeat is chosen when the request is made


class ContactInSerializer(Answers, serializers.Serializer[Any]):
    """The booker's answers: name, email, phone, and the module's contact fields by id."""

    name = OneLineField(max_length=200, required=False)
    email = serializers.EmailField(max_length=254, required=False)
    # Spaces only: no phone (any number of them); else 5 to 30 of digits, spaces and + ( ) - .
    phone = TextField(required=False, allow_blank=True, validators=[RegexValidator(PHONE_RE.pattern + "|^ +$")])


class NewContactSerializer(ContactInSerializer):
    name = OneLineField(max_length=200)
    email = serializers.EmailField(max_length=254)


def shaped(shape: type[serializers.Serializer[Any]]) -> type[serializers.DictField]:
    """A dict field whose schema is `shape` and whose declared values core.api.json_types checks."""

    @extend_schema_field(shape)
    class Shaped(serializers.DictField):
        json_shape = shape

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(child=serializers.JSONField(), **kwargs)

    Shaped.__name__ = Shaped.__qualname__ = f"{shape.__name__.removesuffix('Serializer')}Field"
    return Shaped
