"""Outbound webhooks (docs/architecture.md#webhooks): endpoints and the outbox of deliveries.

`webhook_emit` runs inside the caller's transaction: each delivery row is the outbox entry, so a change
that rolls back never existed for integrators either, and the event's data is computed there, from what
commits; the row holds that data, and the worker builds the body around it (WebhookDelivery.payload).
The send task is enqueued only after commit; sending, signing, retries and disabling an endpoint are
`webhooks.delivery`.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import FieldError, NotFound, ValidationFailed
from core.scrub import Identifiers, scrub_fields
from resources.config_cache import cached, config_changed
from resources.models import Organization

from .delivery import AddressRefused, addresses, refuse_private
from .models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from .tasks import send_webhook_delivery

logger = logging.getLogger(__name__)

ENDPOINT_ATTRIBUTES = ("url", "description", "event_types", "active", "secret")

# A secret is "whsec_" and the standard base64 (its padding optional) of the HMAC key, as the Standard
# Webhooks libraries read it (docs/architecture.md#webhooks). We make 32 random bytes; a secret chosen by an
# admin has 24 to 64. The pattern says exactly that (4 characters per 3 bytes, then 1 or 2 bytes in 2 or 3
# characters), so the OpenAPI schema can state it and a secret that matches it is never refused.
SECRET_PREFIX = "whsec_"
SECRET_RANDOM_BYTES = 32
_B64 = "[A-Za-z0-9+/]"
SECRET_PATTERN = (
    rf"^{SECRET_PREFIX}(?:(?:{_B64}{{4}}){{8,20}}(?:{_B64}{{4}}|{_B64}{{2}}(?:==)?|{_B64}{{3}}=?)?"
    rf"|(?:{_B64}{{4}}){{21}}{_B64}{{2}}(?:==)?)$"
)
SECRET_MIN_LENGTH = len(SECRET_PREFIX) + 32  # 24 bytes
SECRET_MAX_LENGTH = len(SECRET_PREFIX) + 88  # 64 bytes, padded
SECRET_HELP = (
    "whsec_ followed by the base64 of 24 to 64 random bytes (the Standard Webhooks form); the HMAC key is "
    "the decoded bytes"
)


# --- secrets and URLs -------------------------------------------------------------------------------


def webhook_secret_new() -> str:
    """A new random secret: "whsec_" and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_RANDOM_BYTES)).decode("ascii")


def webhook_url_check(url: Any) -> str:
    """The URL, trimmed, if webhooks may POST to it; else ValidationFailed on `url`.

    http(s) only, with a host and without credentials; unless WEBHOOKS_ALLOW_PRIVATE, a host that resolves
    to a private, loopback, link-local or reserved address is refused (PRIVATE_ADDRESS). A name that does
    not resolve now is accepted: every send resolves it again and applies the same rule."""

    def invalid(message: str, code: str = "INVALID") -> ValidationFailed:
        return ValidationFailed(f"Invalid input: {message}", errors=[FieldError("url", code, message)])

    if not isinstance(url, str) or not url.strip():
        raise invalid("Give the URL that receives the webhooks.", "REQUIRED")
    url = url.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise invalid("A URL cannot contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname
        ascii_host = host.encode("idna").decode("ascii") if host else ""
    except (ValueError, UnicodeError) as exc:
        raise invalid("Not a valid URL.") from exc
    if parts.scheme not in ("http", "https") or not ascii_host:
        raise invalid("Use an http:// or https:// URL with a host name.")
    if parts.username is not None or parts.password is not None:
        raise invalid("Leave credentials out of the URL; requests are signed instead.")
    if not settings.WEBHOOKS_ALLOW_PRIVATE:
        try:
            infos = addresses(ascii_host, port)
        except (OSError, UnicodeError):
            infos = []
        try:
            refuse_private(infos)
        except AddressRefused as exc:
            raise invalid("The URL points to a private, loopback or reserved address.", "PRIVATE_ADDRESS") from exc
    return url


def _event_types_check(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not value:
        raise ValidationFailed(errors=[FieldError("eventTypes", "REQUIRED", "Choose at least one event type.")])
    errors = [
        FieldError(
            f"eventTypes[{i}]", "INVALID_CHOICE", f"{item!r} is not an event type; use one of {', '.join(EVENT_TYPES)}."
        )
        for i, item in enumerate(value)
        if item not in EVENT_TYPES
    ]
    if errors:
        raise ValidationFailed(errors=errors)
    return list(dict.fromkeys(value))


def _secret_check(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(SECRET_PATTERN, value):
        raise ValidationFailed(
            errors=[FieldError("secret", "INVALID", f"A secret is {SECRET_HELP}; leave it out to get a new one.")]
        )
    return value


# --- endpoints --------------------------------------------------------------------------------------


def _endpoint_write(endpoint: WebhookEndpoint, values: Mapping[str, Any]) -> WebhookEndpoint:
    if values.get("organization") is not None:
        endpoint.organization = values["organization"]  # the admin may move it; the API never does
    if "url" in values:
        endpoint.url = webhook_url_check(values["url"])
    if "event_types" in values:
        endpoint.event_types = _event_types_check(values["event_types"])
    if "description" in values:
        endpoint.description = (values["description"] or "")[:200]
    if values.get("secret"):
        endpoint.secret = _secret_check(values["secret"])
    if "active" in values:
        if values["active"] and not endpoint.active:
            # Switched back on by staff: it starts with a clean slate, and what piled up while it was off
            # (still PENDING) goes out from now.
            endpoint.consecutive_failures = 0
            endpoint.disabled_at = None
            endpoint.disabled_reason = ""
        endpoint.active = bool(values["active"])
    endpoint.save()
    config_changed(organization_id=endpoint.organization_id)  # webhook_emit reads the endpoints cached
    return endpoint


def webhook_endpoint_create(*, organization: Organization, values: Mapping[str, Any]) -> WebhookEndpoint:
    """`values`: url, event_types (of EVENT_TYPES), description, active (default true), secret (a new
    random one when left out). The caller shows the secret once; nothing lists it afterwards."""
    with transaction.atomic():
        endpoint = WebhookEndpoint(organization=organization, secret=webhook_secret_new())
        if "url" not in values:
            webhook_url_check(None)
        if "event_types" not in values:
            _event_types_check(None)
        return _endpoint_write(endpoint, values)


def webhook_endpoint_update(*, endpoint_id: UUID, changes: Mapping[str, Any]) -> WebhookEndpoint:
    """Change what is given. `active: true` on a disabled endpoint re-enables it and clears its failures."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None:
            raise NotFound("Webhook endpoint not found.")
        return _endpoint_write(endpoint, changes)


def webhook_secret_rotate(*, endpoint_id: UUID) -> WebhookEndpoint:
    """A new random secret for the endpoint, used from the next attempt on (the old one stops verifying at
    once). The caller shows it once; nothing lists it afterwards."""
    return webhook_endpoint_update(endpoint_id=endpoint_id, changes={"secret": webhook_secret_new()})


def webhook_endpoint_delete(*, endpoint_id: UUID) -> None:
    """The endpoint and its delivery log (a delivery in flight finishes and finds nothing to record)."""
    with transaction.atomic():
        org_id = WebhookEndpoint.objects.filter(pk=endpoint_id).values_list("organization_id", flat=True).first()
        WebhookEndpoint.objects.filter(pk=endpoint_id).delete()
        config_changed(organization_id=org_id)


# --- the outbox -------------------------------------------------------------------------------------


def webhook_emit(
    *,
    organization: Organization | UUID,
    event_type: str,
    payload: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
) -> list[WebhookDelivery]:
    """One delivery per active endpoint of the organization subscribed to `event_type`, written in the
    caller's transaction; sent after commit.

    `payload` is the event's `data` object, or a function that returns it: called here (inside the
    transaction, so it shows what commits) and only when some endpoint wants the event, so the services
    pay nothing for organizations without webhooks."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown webhook event type {event_type!r}")
    org_id = organization.pk if isinstance(organization, Organization) else organization
    endpoints = [pk for pk, types in _active_endpoints(org_id) if event_type in types]
    if not endpoints:
        return []
    data = dict(payload() if callable(payload) else payload)
    now = timezone.now()
    event_id = uuid4()
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint_id=pk,
                event_id=event_id,
                event_type=event_type,
                data=data,
                event_at=now,
                next_attempt_at=now,
            )
            for pk in endpoints
        ]
    )
    ids = [str(d.pk) for d in deliveries]
    transaction.on_commit(lambda: _enqueue_sends(ids))
    return deliveries


def _active_endpoints(org_id: UUID) -> list[tuple[UUID, frozenset[str]]]:
    """The organization's active endpoints and their event types, from the configuration cache: every
    booking change asks, and most organizations have none."""

    def load() -> list[tuple[UUID, frozenset[str]]]:
        # Endpoints per organization are few: the subscriptions are filtered in Python (SQLite has no JSON
        # containment).
        rows = WebhookEndpoint.objects.filter(organization_id=org_id, active=True).values_list("pk", "event_types")
        return [(pk, frozenset(types or ())) for pk, types in rows]

    return cached(org_id, "webhook_endpoints", load)


def _enqueue_sends(delivery_ids: list[str]) -> None:
    for delivery_id in delivery_ids:
        try:
            send_webhook_delivery.enqueue(delivery_id)
        except Exception:  # the row stays PENDING; `send_webhooks` picks it up
            logger.exception("could not enqueue webhook delivery %s", delivery_id)


def webhook_deliveries_erase(*, organization_id: UUID, who: Identifiers, related_ids: Iterable[UUID]) -> int:
    """Take a person out of the organization's stored webhook payloads about them
    (docs/architecture.md#personal-data): the deliveries whose data names one of `related_ids` (their
    bookings) or one of their addresses, scrubbed; a delivery not yet sent then sends the scrubbed payload.
    Returns how many rows changed."""
    about = Q(pk=None)
    for value in [*map(str, related_ids), *who.emails]:
        about |= Q(data__icontains=value)
    rows = list(WebhookDelivery.objects.select_for_update().filter(about, endpoint__organization_id=organization_id))
    changed = [row for row in rows if scrub_fields(row, ("data", "last_result"), who)]
    WebhookDelivery.objects.bulk_update(changed, ["data", "last_result"])
    return len(changed)
