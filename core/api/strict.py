"""Strict input: the fields of a body that its serializer does not know (docs/architecture.md#strict-input).

One walk for every serializer: the keys of each object in the body are compared with the serializer's fields,
down through nested serializers, `many=True` lists of them and list or dict fields whose items are
serializers. A key the serializer does not know is an UNKNOWN_FIELD at its wire path (`notification.foo`,
`bookableHours[1].weekday`), unless it is a read-only field of the object's representation, which a client
may send back as it read it: a serializer's own read-only fields, and the fields of its
`representation_class` when its representation is another serializer. Free-form values (a JSONField, a
DictField of JSON such as the custom-field answers of `event` and `contact`) are not walked: their owner
checks their keys (bookings.validation)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.fields import Field

from core.errors import FieldError

UNKNOWN_FIELD = "UNKNOWN_FIELD"
UNKNOWN_MESSAGE = "Not a field of this request; leave it out."


def unknown_fields(field: Field[Any, Any, Any, Any], data: Any, path: str = "") -> list[FieldError]:
    """UNKNOWN_FIELD errors for the keys of `data` that `field` does not take, in the body's order. A query
    string (QueryDict) is not a body: its other parameters belong to filters."""
    if isinstance(data, QueryDict):
        return []
    if isinstance(field, serializers.ListSerializer):
        return _items(field.child, data, path)
    if isinstance(field, serializers.Serializer):
        return _object(field, data, path)
    if isinstance(field, serializers.ListField):
        return _items(field.child, data, path)
    if isinstance(field, serializers.DictField) and isinstance(data, Mapping):
        return [error for key, value in data.items() for error in unknown_fields(field.child, value, _at(path, key))]
    return []


def _items(child: Any, data: Any, path: str) -> list[FieldError]:
    if child is None or not isinstance(data, list):
        return []
    return [error for index, item in enumerate(data) for error in unknown_fields(child, item, f"{path}[{index}]")]


def _object(serializer: serializers.Serializer[Any], data: Any, path: str) -> list[FieldError]:
    if not isinstance(data, Mapping):
        return []  # the serializer itself refuses what is not an object
    fields = serializer.fields
    read_back = representation_fields(type(serializer))
    errors = []
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            if key not in read_back:
                errors.append(FieldError(_at(path, key), UNKNOWN_FIELD, UNKNOWN_MESSAGE))
        elif not field.read_only:
            errors += unknown_fields(field, value, _at(path, key))
    return errors


@cache
def representation_fields(serializer_class: type[serializers.Serializer[Any]]) -> frozenset[str]:
    """The wire names of the representation that `serializer_class` writes, when another serializer
    (`representation_class`) describes it: sent back, they are ignored like read-only fields."""
    representation = getattr(serializer_class, "representation_class", None)
    return frozenset(representation().fields) if representation is not None else frozenset()


def _at(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)
