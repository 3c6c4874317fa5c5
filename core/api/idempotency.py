"""`Idempotency-Key` on every POST of the API (docs/architecture.md#idempotent-retries): a middleware, so every
POST view has it without code of its own, and a POST without the header costs nothing.

With the header, the middleware finds the caller the way the view will (its own authentication classes; the
user it finds is handed to the view, so the token is not looked up twice), claims the key before the view
runs (core/idempotency.py), and after it stores the answer, or frees the key when the answer must not be
replayed: a 5xx (a retry must run again) and a 429 (the throttle refused before anything ran)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.views import APIView

from core.errors import Conflict, DomainError, FieldError, ValidationFailed
from core.idempotency import Claim, Outcome, idempotency_claim, idempotency_complete, idempotency_release
from core.models import IdempotencyKey
from core.throttles import client_address

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
PREFIX = "/api/v1/"
MAX_LENGTH = 255
# The answer's headers a replay repeats (the others are the server's of the moment, or not the API's).
REPLAYED_HEADERS = ("Content-Type", "ETag", "Location")
# Statuses whose answer is not stored: the key is freed, so a retry runs (see the module's docstring).
NOT_STORED = 429
SERVER_ERROR = 500
# The request attribute that carries this request's claim from process_view to the answer.
CLAIM_ATTRIBUTE = "_allot_idempotency_claim"


class IdempotencyKeyReused(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"
    status = 422
    default_message = "This Idempotency-Key was already used for another request (another body or path)."

    def __init__(self) -> None:
        super().__init__(errors=[FieldError(HEADER, self.code, "Send a new key with a new request.")])


class IdempotencyKeyInUse(Conflict):
    code = "IDEMPOTENCY_KEY_IN_USE"
    default_message = "The first request with this Idempotency-Key is still running; retry in a moment."

    def __init__(self) -> None:
        super().__init__(errors=[FieldError(HEADER, self.code, "Retry when the first request has been answered.")])


class StoreUnavailable(DomainError):
    code = "SERVICE_UNAVAILABLE"
    status = 503
    default_message = "The database is unavailable for a moment; try again shortly."


# Seconds a refused client should wait before sending the same request again.
RETRY_AFTER = {IdempotencyKeyInUse.status: 1, StoreUnavailable.status: 5}


def parse_key(raw: str) -> str:
    """The key of the header's value: 1 to 255 printable ASCII characters, the length counted as sent
    (surrounding spaces are not part of the key, as HTTP servers strip them); anything else is 400 INVALID at
    `Idempotency-Key`."""
    key = raw.strip(" \t")
    if not key or len(raw) > MAX_LENGTH or not all(" " <= char <= "~" for char in key):
        message = f"Send 1 to {MAX_LENGTH} printable ASCII characters, e.g. a UUID."
        raise ValidationFailed("Idempotency-Key is not valid.", errors=[FieldError(HEADER, "INVALID", message)])
    return key


def fingerprint(request: HttpRequest) -> str:
    """SHA-256 of the method, the path and the body: the body's canonical JSON (so key order and spacing do not
    matter), or its bytes when it is not JSON."""
    body = request.body
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):  # not JSON (the view refuses it), or nested deeper than Python parses
        canonical = body
    digest = hashlib.sha256(f"{request.method} {request.path_info}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def caller_of(request: HttpRequest, view_class: type[APIView], initkwargs: dict[str, Any]) -> str | None:
    """ "user:<pk>" for a signed-in caller, "address:<client address>" for an anonymous one, None when the
    credentials are refused (the view then answers 401 or 403 itself, and nothing is stored)."""
    view = view_class(**initkwargs)
    drf_request = Request(request, authenticators=view.get_authenticators())
    try:
        user = drf_request.user
    except APIException:
        return None
    if user is None or not user.is_authenticated:
        return f"address:{client_address(request)}"
    # DRF's own way to hand a request's authentication over (what its test client uses): the view takes this
    # user and token instead of authenticating again, one token lookup saved. Never done for anonymous callers,
    # whose denials DRF then answers 401 rather than 403.
    request._force_auth_user = user  # type: ignore[attr-defined]
    request._force_auth_token = drf_request.auth  # type: ignore[attr-defined]
    return f"user:{user.pk}"


def replay(record: IdempotencyKey) -> HttpResponse:
    status_code = record.status_code or 200  # a replayed record is never in flight
    response = HttpResponse(record.body, status=status_code)
    for name, value in record.headers.items():
        response[name] = value
    response[REPLAYED] = "true"
    return response


def refusal(error: DomainError) -> JsonResponse:
    response = JsonResponse(error.as_dict(), status=error.status)
    if error.status in RETRY_AFTER:
        response["Retry-After"] = str(RETRY_AFTER[error.status])
    return response


class IdempotencyMiddleware:
    """Claims a POST's Idempotency-Key before its DRF view runs, and stores or frees it after."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        claim: Claim | None = getattr(request, CLAIM_ATTRIBUTE, None)
        if claim is not None and claim.record is not None:
            self._finish(claim.record, response)
        return response

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponseBase | None:
        raw = request.headers.get(HEADER)
        view_class = getattr(view_func, "cls", None)
        if raw is None or request.method != "POST" or not request.path_info.startswith(PREFIX):
            return None
        if not (isinstance(view_class, type) and issubclass(view_class, APIView)):
            return None
        try:
            claim = self._claim(request, parse_key(raw), view_class, getattr(view_func, "initkwargs", {}))
        except DomainError as error:
            return refusal(error)
        if claim is None:
            return None
        if claim.outcome is Outcome.REPLAY and claim.record is not None:
            return replay(claim.record)
        if claim.outcome is Outcome.REUSED:
            return refusal(IdempotencyKeyReused())
        if claim.outcome is Outcome.IN_USE:
            return refusal(IdempotencyKeyInUse())
        setattr(request, CLAIM_ATTRIBUTE, claim)
        return None

    def _claim(
        self, request: HttpRequest, key: str, view_class: type[APIView], initkwargs: dict[str, Any]
    ) -> Claim | None:
        try:
            caller = caller_of(request, view_class, initkwargs)
            if caller is None:
                return None
            return idempotency_claim(caller=caller, key=key, fingerprint=fingerprint(request))
        except RequestDataTooBig:  # the view refuses the body as it would without the header
            return None
        except DatabaseError as exc:
            # Without its claim the request might run twice: refuse it, as the view would with the database gone.
            logger.error("idempotency: the key cannot be claimed", exc_info=exc)
            raise StoreUnavailable() from exc

    def _finish(self, record: IdempotencyKey, response: HttpResponseBase) -> None:
        try:
            body = self._replayable_body(response)
            if body is None:
                idempotency_release(record=record)
                return
            headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
            idempotency_complete(record=record, status_code=response.status_code, body=body, headers=headers)
        except DatabaseError:
            # The answer goes out anyway; the key stays in flight until its lease ends, then a retry runs.
            logger.exception("idempotency: the answer to key %s could not be stored", record.pk)

    @staticmethod
    def _replayable_body(response: HttpResponseBase) -> str | None:
        """The answer's body to store, or None when it must not be replayed."""
        if response.status_code >= SERVER_ERROR or response.status_code == NOT_STORED:
            return None
        if not isinstance(response, HttpResponse):  # a streamed answer (no POST of ours streams)
            return None
        try:
            return response.content.decode("utf-8")
        except UnicodeDecodeError:  # not the API's JSON: not worth keeping
            return None
