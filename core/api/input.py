"""Parsing a request body with a serializer: unknown fields (docs/architecture.md#strict-input), values of
the wrong JSON type (core.api.json_types) and the
serializer's errors become the API's 400 body."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api.errors import flatten_errors, invalid_input
from core.api.json_types import refuse_wrong_json_types
from core.api.strict import unknown_fields


def valid(
    serializer_class: type[serializers.Serializer[Any]], data: Any, *, strict: bool = True, **kwargs: Any
) -> dict[str, Any]:
    """The validated data of `data`, else a 400 with every problem at once: unknown fields first, then the
    serializer's errors. `strict=False` only for a serializer that reads a part of a body that another
    serializer checks whole (the `orgId` read before the role check)."""
    serializer = serializer_class(data=data, **kwargs)
    unknown = unknown_fields(serializer, data) if strict else []
    if not unknown:
        refuse_wrong_json_types(serializer, data)
    if serializer.is_valid() and not unknown:
        return dict(serializer.validated_data)
    raise invalid_input(unknown + flatten_errors(serializer.errors))


def refuse_unknown(serializer_class: type[serializers.Serializer[Any]], data: Any) -> None:
    """The strict-input check alone, for a view that hands the body to its service as it came."""
    unknown = unknown_fields(serializer_class(data=data), data)
    if unknown:
        raise invalid_input(unknown)


class NoBody(serializers.Serializer[Any]):
    """The body of a write that takes none: any field in it is unknown."""


def no_body(data: Any) -> None:
    refuse_unknown(NoBody, data)
