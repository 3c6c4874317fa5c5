"""The schema declares every tag its operations use, each with what it is for (core.api.schema.declare_tags)."""

from __future__ import annotations

from drf_spectacular.generators import SchemaGenerator

from core.api.schema import declare_tags


def test_every_tag_an_operation_uses_is_declared_with_a_description(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    used = {tag for ops in schema["paths"].values() for op in ops.values() for tag in op.get("tags", [])}
    declared = {tag["name"]: tag.get("description") for tag in schema["tags"]}
    assert set(declared) == used
    assert not [name for name, description in declared.items() if not description], (
        "describe new tags in TAG_DESCRIPTIONS"
    )


def test_the_hook_lists_the_tags_in_use_only_once_each():
    result = {"paths": {"/a": {"get": {"tags": ["b", "a"]}, "post": {"tags": ["a"]}}, "/b": {"get": {}}}}
    assert [t["name"] for t in declare_tags(result, None)["tags"]] == ["a", "b"]
