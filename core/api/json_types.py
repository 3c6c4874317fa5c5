"""A JSON body's values must have the JSON type the OpenAPI schema gives their field
(docs/architecture.md#http-api-conventions).

DRF reads more than the schema promises: 12 for a text field (as "12"), "5" or true for an integer, "1.5"
for a number, "0" for an integer enum, "yes" for a boolean. A client that relied on that would break the
day a stricter server (or a generated client) sits in between, and the schema would say less than the
server does. `json_type_errors` walks a body along the serializer that parses it (the same fields
drf-spectacular turns into the schema) and names every value of the wrong type; `valid()` refuses those
with 400 INVALID at the value's path before the serializer runs. Query strings are text by nature and are
not walked: their parameters are parsed by the serializer or the filter set alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.relations import ManyRelatedField, RelatedField

from core.errors import FieldError, ValidationFailed

Check = tuple[str, Callable[[Any], bool]]

_STRING: Check = ("a string", lambda v: isinstance(v, str))
_BOOLEAN: Check = ("true or false", lambda v: isinstance(v, bool))
_INTEGER: Check = ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
_NUMBER: Check = ("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool))
_ARRAY: Check = ("a list", lambda v: isinstance(v, list))
_OBJECT: Check = ("an object", lambda v: isinstance(v, dict))


def _choice_check(field: serializers.ChoiceField) -> Check | None:
    """The JSON type of a choice field's keys (integers on the wire for the integer enums)."""
    keys = list(field.choices)
    if keys and all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
        return _INTEGER
    if keys and all(isinstance(k, str) for k in keys):
        return _STRING
    return None


# Checked in this order: subclasses before their bases.
_BY_CLASS: list[tuple[type[serializers.Field[Any, Any, Any, Any]], Check]] = [
    (serializers.BooleanField, _BOOLEAN),
    (serializers.IntegerField, _INTEGER),
    (serializers.FloatField, _NUMBER),
    (serializers.DecimalField, _NUMBER),
    (serializers.CharField, _STRING),  # EmailField, URLField, RegexField, SlugField, ... too
    (serializers.UUIDField, _STRING),
    (serializers.DateTimeField, _STRING),
    (serializers.DateField, _STRING),
    (serializers.TimeField, _STRING),
    (serializers.DurationField, _STRING),
]


def _check_of(field: serializers.Field[Any, Any, Any, Any]) -> Check | None:
    own = getattr(field, "json_check", None)  # a field that takes more than one JSON type says which
    if own is not None:
        return own  # type: ignore[no-any-return]
    if isinstance(field, serializers.MultipleChoiceField | serializers.ListField | serializers.ListSerializer):
        return _ARRAY
    if isinstance(field, ManyRelatedField):
        return _ARRAY
    if isinstance(field, serializers.ChoiceField):
        return _choice_check(field)
    if isinstance(field, serializers.DictField | serializers.Serializer):
        return _OBJECT
    for cls, check in _BY_CLASS:
        if isinstance(field, cls):
            return check
    return None  # JSONField, related fields by primary key, custom fields: any JSON value


def _value_errors(field: serializers.Field[Any, Any, Any, Any], value: Any, path: str) -> list[FieldError]:
    if value is None:  # null is the serializer's to judge (allow_null), as the schema's `nullable` says
        return []
    check = _check_of(field)
    if check is not None and not check[1](value):
        # A value of another type is none of an enum's values: the code a wrong value of the right type gets.
        code = "INVALID_CHOICE" if isinstance(field, serializers.ChoiceField) and check is not _ARRAY else "INVALID"
        return [FieldError(path, code, f"Expected {check[0]}.")]
    if isinstance(field, serializers.ListSerializer):
        return _items_errors(field.child, value, path)
    if isinstance(field, serializers.Serializer):
        return json_type_errors(field, value, path)
    if isinstance(field, serializers.ListField):
        return _items_errors(field.child, value, path)
    shape = getattr(field, "json_shape", None)  # a dict the services read, documented by a serializer
    if shape is not None:
        return json_type_errors(_shape_of(shape), value, path)
    if isinstance(field, serializers.DictField):
        return [e for key, item in value.items() for e in _value_errors(field.child, item, _join(path, str(key)))]
    if isinstance(field, serializers.MultipleChoiceField):
        choice = _choice_check(field)
        return [
            FieldError(f"{path}[{i}]", "INVALID", f"Expected {choice[0]}.")
            for i, item in enumerate(value)
            if choice is not None and not choice[1](item)
        ]
    return []


@cache
def _shape_of(shape: type[serializers.Serializer[Any]]) -> serializers.Serializer[Any]:
    """One instance of a shape serializer per process: it parses nothing, and only its fields are read, so
    they are built once instead of on every request."""
    return shape()


def _items_errors(child: Any, items: list[Any], path: str) -> list[FieldError]:
    if child is None or isinstance(child, RelatedField):
        return []
    return [e for i, item in enumerate(items) for e in _value_errors(child, item, f"{path}[{i}]")]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def json_type_errors(serializer: serializers.Serializer[Any], data: Any, path: str = "") -> list[FieldError]:
    """Every value of `data` (a parsed JSON body) whose JSON type is not its field's, with its path."""
    if not isinstance(data, Mapping):
        return []  # the serializer itself refuses a body that is no object
    errors: list[FieldError] = []
    for name, field in serializer.fields.items():
        if field.read_only or name not in data:
            continue
        errors += _value_errors(field, data[name], _join(path, name))
    return errors


def refuse_wrong_json_types(serializer: serializers.Serializer[Any], data: Any) -> None:
    """400 INVALID at every value of the wrong JSON type (module docstring); a query string is not walked."""
    if isinstance(data, QueryDict):
        return
    errors = json_type_errors(serializer, data)
    if errors:
        first = errors[0]
        message = f"Invalid input: {first.message}" if len(errors) == 1 else f"Invalid input ({len(errors)} problems)."
        raise ValidationFailed(message, errors=errors)
