"""OpenAPI post-processing: the schema says what the server enforces (docs/architecture.md#strict-input)."""

from __future__ import annotations

from typing import Any

WRITE_METHODS = ("post", "put", "patch", "delete")
REF_PREFIX = "#/components/schemas/"


def strict_request_bodies(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular hook: every object with declared properties that a write operation's request body
    reaches gets `additionalProperties: false`, as the API refuses unknown fields with UNKNOWN_FIELD. Objects
    that declare their own additionalProperties (answers keyed by field id) stay as they are."""
    components = result.get("components", {}).get("schemas", {})
    pending = [
        media["schema"]
        for operations in result.get("paths", {}).values()
        for method, operation in operations.items()
        if method in WRITE_METHODS
        for media in operation.get("requestBody", {}).get("content", {}).values()
        if "schema" in media
    ]
    seen: set[int] = set()
    while pending:
        schema = pending.pop()
        if not isinstance(schema, dict) or id(schema) in seen:
            continue
        seen.add(id(schema))
        ref = schema.get("$ref", "")
        if ref.startswith(REF_PREFIX):
            pending.append(components.get(ref[len(REF_PREFIX) :]))
            continue
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        pending.extend(schema.get("properties", {}).values())
        pending.extend(schema.get(key) for key in ("items", "additionalProperties"))
        pending.extend(item for key in ("allOf", "oneOf", "anyOf") for item in schema.get(key, []))
    return result
