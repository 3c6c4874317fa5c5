"""The OpenAPI side of `Idempotency-Key` (docs/architecture.md#idempotent-retries): a drf-spectacular
postprocessing hook that documents, on every POST operation of the API, the header, the replay's
`Idempotent-Replayed` answer header, and the answers the middleware itself gives (400, 409, 422).

Written inline on each operation rather than as shared components, so that generated clients see a plain
optional header parameter on every POST."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from core.api.idempotency import HEADER, MAX_LENGTH, PREFIX, REPLAYED

ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}

PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "description": (
        "Makes a retry safe: the first request with a key runs and its answer is kept for 24 hours (per caller "
        "and key); a repeat with the same body gets that answer again, with `Idempotent-Replayed: true`, and "
        "changes nothing. 1 to 255 printable ASCII characters, e.g. a fresh UUID per request."
    ),
    # At least one character that is not a space: HTTP servers strip surrounding spaces.
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH, "pattern": "^[ -~]*[!-~][ -~]*$"},
}
REPLAYED_HEADER = {
    "description": "`true` when this is the kept answer to an earlier request with the same Idempotency-Key.",
    "schema": {"type": "string", "enum": ["true"]},
}
ANSWERS = {
    "400": "Invalid input: each error names the field and a code (an Idempotency-Key that is not valid: INVALID).",
    "409": "IDEMPOTENCY_KEY_IN_USE: the first request with this Idempotency-Key is still running.",
    "422": "IDEMPOTENCY_KEY_REUSED: this Idempotency-Key was already used for another request.",
}


def document_idempotency(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular's POSTPROCESSING_HOOKS signature: the schema, changed in place and returned."""
    for path, operations in result.get("paths", {}).items():
        operation = operations.get("post")
        if path.startswith(PREFIX) and operation is not None:
            _document(operation)
    return result


def _document(operation: dict[str, Any]) -> None:
    operation.setdefault("parameters", []).append(deepcopy(PARAMETER))
    responses = operation.setdefault("responses", {})
    for response in responses.values():
        response.setdefault("headers", {})[REPLAYED] = deepcopy(REPLAYED_HEADER)
    for status, text in ANSWERS.items():
        existing = responses.get(status)
        if existing is None:
            responses[status] = {"description": text, "content": {"application/json": {"schema": dict(ERROR_SCHEMA)}}}
        elif status != "400":  # the 400's own text already says each error names its field and code
            existing["description"] = f"{existing['description']} Or {text}"
