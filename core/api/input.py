"""Parsing a request body with a serializer: values of the wrong JSON type (core.api.json_types) and the
serializer's errors become the API's 400 body."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api.json_types import refuse_wrong_json_types


def valid(serializer_class: type[serializers.Serializer[Any]], data: Any, **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, **kwargs)
    refuse_wrong_json_types(serializer, data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
