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
        # Typed objects only: the untyped branches of a constraint (anyOf: one of event, events) name a few
        # keys of the body without describing it.
        if schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        pending.extend(schema.get("properties", {}).values())
        pending.extend(schema.get(key) for key in ("items", "additionalProperties"))
        pending.extend(item for key in ("allOf", "oneOf", "anyOf") for item in schema.get(key, []))
    return result


# What each group of operations is for, in the schema's global tag list (readers and generated clients show it).
TAG_DESCRIPTIONS = {
    "booking credits": "Prepaid credit a contact or customer spends on bookings, with logged adjustments.",
    "discount codes": "Codes a booker enters for a percentage or an amount off.",
    "products": "Extras booked with a resource (equipment, catering), priced per use or per minute.",
    "rates": "What a resource costs per hour, day or booking, on which days and hours, and for whom.",
    "units": "The desks or seats of a resource that can be booked one by one.",
    "bookings": "Booking requests and their lifecycle: submit, create, approve, deny, cancel.",
    "booking change requests": "A booker's requests to change an approved booking, and staff's decisions.",
    "booking modules": "The booking forms an organization publishes, with their fields and offered resources.",
    "charges": "What approved bookings cost, and their payment status.",
    "contacts": "The people who book.",
    "customers": "The organizations or accounts bookings can be billed to.",
    "events": "The organization's calendar: events and their resources.",
    "portals": "The public sites that list an organization's booking modules.",
    "reports": "How much the resources were used: bookable and booked minutes, bookings and revenue per period.",
    "public": "What anyone may read without a token: published modules and their availability.",
    "resources": "Rooms, desks and equipment that can be booked, with their rules and availability.",
    "venues": "The places resources are in, each with its timezone.",
    "webhooks": "Endpoints that receive signed event notifications (Standard Webhooks).",
}


def declare_tags(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular hook: the global `tags` list names every tag an operation uses, so a reader (and a
    linter) finds each group declared, with what it is for."""
    used = sorted(
        {
            tag
            for operations in result.get("paths", {}).values()
            for op in operations.values()
            for tag in op.get("tags", [])
        }
    )
    result["tags"] = [
        {"name": tag, **({"description": TAG_DESCRIPTIONS[tag]} if tag in TAG_DESCRIPTIONS else {})} for tag in used
    ]
    return result


# The longest request line the server reads (config/gunicorn.py's limit_request_line, gunicorn's own ceiling).
MAX_REQUEST_LINE = 8190
URI_TOO_LONG = {
    "description": f"URI Too Long: the request line (method, path and query string) is over {MAX_REQUEST_LINE} "
    "bytes, refused by the HTTP server before the API reads it (its body is the server's, not JSON)."
}


def document_uri_too_long(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular hook: operations with query parameters answer 414 to a query string too long to read."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if any(p.get("in") == "query" for p in operation.get("parameters", [])):
                operation.setdefault("responses", {}).setdefault("414", dict(URI_TOO_LONG))
    return result
