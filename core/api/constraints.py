"""Request schemas that say more than their fields: which keys go together (docs/architecture.md#the-schema-is-
the-contract).

A field's own rules (type, bounds, pattern, enum) come from the field. What ties keys together, such as "event or
events, never both" or "a new form field needs a label", a serializer states as JSON Schema in
`request_constraints()`; `ConstrainedSchema` adds it to the serializer's request schema (`not`, `anyOf`, `allOf`),
and the serializer or the service refuses the same requests with 400.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension


class Constrained:
    """Mixin for a serializer whose request schema carries `request_constraints()` (`patch_constraints()` for
    the PATCH body, where every key is optional and the stored object supplies the rest)."""

    @classmethod
    def request_constraints(cls) -> dict[str, Any]:
        return {}

    @classmethod
    def patch_constraints(cls) -> dict[str, Any]:
        return cls.request_constraints()


class ConstrainedSchema(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]  # drf-spectacular's registration hook
    target_class = Constrained
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            kind = type(self.target)
            # drf-spectacular marks the serializer of a PATCH body partial, as DRF does when it parses one
            partial = getattr(self.target, "partial", False)
            schema.update(kind.patch_constraints() if partial else kind.request_constraints())
        return schema
