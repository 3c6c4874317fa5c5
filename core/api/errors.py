"""The API's error body and its one exception handler: every error leaves the API as
`{"status", "error", "errors": [{"field", "code", "message"}]}` (docs/architecture.md#http-api-conventions)."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.db.models import ProtectedError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import bad_request, page_not_found
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError, FieldError, ValidationFailed

logger = logging.getLogger(__name__)

# Code points that are never text on their own: a JSON escape like "\\ud800" decodes to one of them.
_SURROGATE = re.compile("[\ud800-\udfff]")

# Seconds a client should wait before retrying after the database dropped out.
DATABASE_RETRY_AFTER = 5

# DRF's lower-case codes → ours.
DRF_CODES = {
    "required": "REQUIRED",
    "null": "REQUIRED",
    "blank": "REQUIRED",
    "invalid": "INVALID",
    "max_length": "MAX_LENGTH",
    "min_length": "MIN_LENGTH",
    "max_value": "MAX_VALUE",
    "min_value": "MIN_VALUE",
    "invalid_choice": "INVALID_CHOICE",
    "does_not_exist": "NOT_FOUND",
    "unique": "NOT_UNIQUE",
    "not_a_list": "INVALID",
    "not_a_dict": "INVALID",
    "empty": "REQUIRED",
    "parse_error": "PARSE_ERROR",
    "max_digits": "INVALID",
    "max_decimal_places": "INVALID",
    "max_whole_digits": "INVALID",
    "date": "INVALID",
    "datetime": "INVALID",
    "make_aware": "INVALID",
    "overflow": "INVALID",
    "max_string_length": "MAX_VALUE",
}


def flatten_errors(detail: Any, path: str = "") -> list[FieldError]:
    """A serializer's nested errors as our field errors, with wire paths (`events[1].start`)."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):  # DRF keys list items by index
                out += flatten_errors(value, f"{path}[{key}]")
                continue
            key = "" if key == "non_field_errors" else str(key)
            out += flatten_errors(value, f"{path}.{key}" if path and key else (key or path))
        return out
    if isinstance(detail, list):
        if all(isinstance(item, drf_exceptions.ErrorDetail) for item in detail):
            return [e for item in detail for e in flatten_errors(item, path)]
        out = []
        for index, item in enumerate(detail):
            if item:  # DRF puts {} for list items without errors
                out += flatten_errors(item, f"{path}[{index}]")
        return out
    code = getattr(detail, "code", None) or "invalid"
    return [FieldError(path, DRF_CODES.get(code, str(code).upper()), str(detail))]


def invalid_input(errors: list[FieldError]) -> ValidationFailed:
    """The 400 of a body that does not fit its serializer (unknown fields included)."""
    first = errors[0].message if errors else "Invalid input."
    return ValidationFailed(
        f"Invalid input: {first}" if len(errors) == 1 else f"Invalid input ({len(errors)} problems).", errors
    )


def safe_text(value: Any) -> Any:
    """`value` with every string made encodable: a lone surrogate that slipped into a message (quoted input)
    becomes the visible escape `\\ud800` instead of breaking the JSON renderer (a 500). Iterative: an
    error body is shallow, but nothing here trusts that."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8") if _SURROGATE.search(value) else value
    if not isinstance(value, dict | list):
        return value
    root: list[Any] = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, str):
            container[key] = safe_text(item)
        elif isinstance(item, dict):
            copy = {safe_text(k): v for k, v in item.items()}
            container[key] = copy
            stack.extend((copy, k) for k in copy)
        elif isinstance(item, list):
            copy_list = list(item)
            container[key] = copy_list
            stack.extend((copy_list, i) for i in range(len(copy_list)))
    return root[0]


def _body(status_code: int, message: str, errors: list[FieldError] | None = None) -> dict[str, Any]:
    return {"status": status_code, "error": message, "errors": [e.as_dict() for e in errors or []]}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """One handler for domain errors and DRF's own, so every error has the same body; whatever input a
    message quotes back, the body stays encodable (docs/architecture.md#strict-input)."""
    response = _handle(exc, context)
    if response is not None:
        response.data = safe_text(response.data)
    return response


def _handle(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, ProtectedError):
        return Response(
            _body(
                409,
                "It is still in use; archive it instead.",
                [FieldError("", "IN_USE", "Other records still refer to it.")],
            ),
            status=409,
        )
    if isinstance(exc, OperationalError | InterfaceError):
        return _database_unavailable(exc, context)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = drf_exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.ValidationError):
        response.data = invalid_input(flatten_errors(exc.detail)).as_dict()
        return response
    code = {
        401: "NOT_AUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        406: "NOT_ACCEPTABLE",
        415: "UNSUPPORTED_MEDIA_TYPE",
        429: "THROTTLED",
        400: "PARSE_ERROR",
    }.get(response.status_code, "ERROR")
    message = str(getattr(exc, "detail", "")) or "Error."
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        response.status_code = 401  # DRF answers 403 when no authenticate header is declared
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    response.data = _body(response.status_code, message, [FieldError("", code, message)])
    return response


def _database_unavailable(exc: Exception, context: dict[str, Any]) -> Response:
    """503 with Retry-After when the database connection dropped or refused us (a restart, a failover, a
    terminated backend, too many clients, SQLite's busy timeout): not the client's input, so not a 400,
    and not a bug in the request, so not a bare 500. Every change runs in one transaction, which the
    database rolled back with the connection; sending the same request again is the way out (a decision
    already made answers INVALID_TRANSITION). Logged with the traceback: it is the operator's problem."""
    view = context.get("view")
    logger.error("database unavailable in %s", type(view).__name__ if view else "API", exc_info=exc)
    message = "The database is unavailable for a moment; try again shortly."
    response = Response(_body(503, message, [FieldError("", "SERVICE_UNAVAILABLE", message)]), status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


class FieldErrorSerializer(serializers.Serializer[Any]):
    field = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer[Any]):
    status = serializers.IntegerField()
    error = serializers.CharField()
    errors = FieldErrorSerializer(many=True)  # type: ignore[assignment]  # a field, not Serializer.errors


ERROR_TEXT = {
    400: "Invalid input: each error names the field and a code.",
    401: "No token, or a token that is not valid.",
    403: "Your role does not allow this.",
    404: "Not found, or not in your organizations.",
    409: "Conflict: BOOKING_CONFLICT, CAPACITY_EXCEEDED, STALE_BOOKING or INVALID_TRANSITION.",
    412: "If-Match does not match the current ETag.",
    429: "Too many requests; try again later.",
    503: "The database is unavailable for a moment; retry after Retry-After seconds.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_TEXT[code]) for code in codes}


def json_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 for URLs no view matches (e.g. an id that is not a UUID): the API error body under
    /api/, the normal page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(_body(404, "Not found.", [FieldError("", "NOT_FOUND", "Not found.")]), status=404)
    return page_not_found(request, exception)


def json_400(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 for requests it refuses before any view (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, too
    many fields): the API error body under /api/, the normal page elsewhere."""
    if request.path.startswith("/api/"):
        message = (
            "The body is larger than the API accepts." if isinstance(exception, RequestDataTooBig) else "Bad request."
        )
        return JsonResponse(_body(400, message, [FieldError("", "BAD_REQUEST", message)]), status=400)
    return bad_request(request, exception)
