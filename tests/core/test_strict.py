"""The strict-input walk (core.api.strict) on its own: nested serializers, lists of them, list and dict fields of
serializers, read-only fields and a representation's fields passing, free-form values and query strings left
alone."""

from __future__ import annotations

from django.http import QueryDict
from rest_framework import serializers

from core.api.strict import unknown_fields


class Inner(serializers.Serializer):
    name = serializers.CharField()


class Representation(serializers.Serializer):
    id = serializers.UUIDField()
    createdAt = serializers.DateTimeField()


class Outer(serializers.Serializer):
    representation_class = Representation

    id = serializers.UUIDField(read_only=True)
    inner = Inner(required=False)
    items = Inner(many=True, required=False)
    listed = serializers.ListField(child=Inner(), required=False)
    keyed = serializers.DictField(child=Inner(), required=False)
    answers = serializers.DictField(child=serializers.JSONField(), required=False)
    free = serializers.JSONField(required=False)


def paths(data) -> list[str]:
    return [e.field for e in unknown_fields(Outer(data=data), data)]


def test_unknown_keys_at_every_level_are_named_by_path():
    data = {
        "x": 1,
        "inner": {"name": "a", "y": 1},
        "items": [{"name": "a"}, {"z": 1}],
        "listed": [{"w": 1}],
        "keyed": {"k": {"v": 1}},
    }
    assert paths(data) == ["x", "inner.y", "items[1].z", "listed[0].w", "keyed.k.v"]
    assert {e.code for e in unknown_fields(Outer(data=data), data)} == {"UNKNOWN_FIELD"}


def test_read_only_and_representation_fields_pass_free_form_values_are_not_walked():
    data = {"id": "x", "createdAt": "y", "answers": {"anything": {"goes": 1}}, "free": {"a": [{"b": 1}]}}
    assert paths(data) == []


def test_what_is_not_an_object_is_left_to_the_serializer():
    assert paths([1, 2]) == []
    assert paths({"inner": "text", "items": {"a": 1}, "listed": "x"}) == []


def test_a_query_string_is_not_a_body():
    assert paths(QueryDict("x=1&inner=2")) == []
