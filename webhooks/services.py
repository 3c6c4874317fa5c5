"""Outbound webhooks (docs/architecture.md#webhooks): endpoints, the outbox of deliveries, sending, retries, disabling.

`webhook_emit` runs inside the caller's transaction: each delivery row is the outbox entry, so a change
that rolls back never existed for integrators either, and the payload is computed there, from what
commits. The send task is enqueued only after commit.

Sending never holds a transaction open while it talks to the integrator's server: a short transaction
claims the row (SENDING, with a lease; `skip_locked`, so two workers never take the same row), the POST
runs outside any transaction, and a second short transaction records the attempt and what comes next
(SUCCEEDED, a retry at WEBHOOKS_RETRY_DELAYS, or FAILED). A worker that dies mid-send leaves a SENDING
row whose lease runs out; the sweeper (`manage.py send_webhooks`) takes it over.

Every request is signed (see `webhook_signature`): `Allot-Timestamp: <unix seconds>` and
`Allot-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed with the endpoint's secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.errors import FieldError, NotFound, ValidationFailed
from notifications.services import notification_enqueue
from resources.models import Membership, Organization, Role

from .models import EVENT_TYPES, DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Allot-Signature"
TIMESTAMP_HEADER = "Allot-Timestamp"
USER_AGENT = "Allot-Webhooks/1.0"
MIN_SECRET_LENGTH = 24
ENDPOINT_ATTRIBUTES = ("url", "description", "event_types", "active", "secret")


# --- signatures -------------------------------------------------------------------------------------


def webhook_signature(*, secret: str, timestamp: int | str, body: bytes) -> str:
    """The `Allot-Signature` value: `v1=` and the hex HMAC-SHA256 of `<timestamp>.<raw body>`.

    The timestamp is inside the signed text so a captured request cannot be replayed later with a fresh
    timestamp; receivers should refuse timestamps more than a few minutes old."""
    signed = f"{timestamp}.".encode() + body
    return "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def webhook_secret_new() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _body(payload: Mapping[str, Any]) -> bytes:
    # Sorted keys: the stored JSON (PostgreSQL's jsonb does not keep key order) gives the same bytes on
    # every retry.
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- URLs and the SSRF guard ------------------------------------------------------------------------


class AddressRefused(OSError):
    """The host resolves to an address webhooks may not reach (private, loopback, link-local, ...)."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback, whatever the IPv6 tables say
    return ip.is_global and not ip.is_multicast


def _addresses(host: str, port: int) -> list[tuple]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def _refuse_private(infos: Sequence[tuple]) -> None:
    """Every address the name has must be public: a mix means someone can pick which one we reach."""
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return
    if any(not _public(info[4][0]) for info in infos):
        raise AddressRefused("the host resolves to a private or reserved address")


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
            infos = _addresses(ascii_host, port)
        except (OSError, UnicodeError):
            infos = []
        try:
            _refuse_private(infos)
        except AddressRefused as exc:
            raise invalid("The URL points to a private, loopback or reserved address.", "PRIVATE_ADDRESS") from exc
    return url


def _event_types_check(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not value:
        raise ValidationFailed(errors=[FieldError("eventTypes", "REQUIRED", "Choose at least one event type.")])
    errors = [
        FieldError(f"eventTypes[{i}]", "INVALID_CHOICE", f"{item!r} is not an event type; use one of "
                                                         f"{', '.join(EVENT_TYPES)}.")
        for i, item in enumerate(value) if item not in EVENT_TYPES
    ]
    if errors:
        raise ValidationFailed(errors=errors)
    return list(dict.fromkeys(value))


def _secret_check(value: Any) -> str:
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH or len(value) > 200:
        raise ValidationFailed(errors=[FieldError(
            "secret", "INVALID", f"A secret has {MIN_SECRET_LENGTH} to 200 characters; leave it out to get one.")])
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


def webhook_endpoint_delete(*, endpoint_id: UUID) -> None:
    """The endpoint and its delivery log (a delivery in flight finishes and finds nothing to record)."""
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint_id).delete()


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
    org_id = getattr(organization, "pk", organization)
    # Endpoints per organization are few: filter the subscriptions here (SQLite has no JSON containment).
    active = WebhookEndpoint.objects.filter(organization_id=org_id, active=True).only("id", "event_types")
    endpoints = [e for e in active if event_type in (e.event_types or [])]
    if not endpoints:
        return []
    data = payload() if callable(payload) else payload
    now = timezone.now()
    event_id = uuid4()
    envelope = {"id": str(event_id), "type": event_type, "createdAt": _iso(now), "orgId": str(org_id),
                "data": dict(data)}
    deliveries = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(endpoint_id=e.pk, event_id=event_id, event_type=event_type, payload=envelope,
                        next_attempt_at=now)
        for e in endpoints
    ])
    ids = [str(d.pk) for d in deliveries]
    transaction.on_commit(lambda: _enqueue_sends(ids))
    return deliveries


def _enqueue_sends(delivery_ids: list[str]) -> None:
    from .tasks import send_webhook_delivery

    for delivery_id in delivery_ids:
        try:
            send_webhook_delivery.enqueue(delivery_id)
        except Exception:  # the row stays PENDING; `send_webhooks` picks it up
            logger.exception("could not enqueue webhook delivery %s", delivery_id)


# --- sending ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One POST: the HTTP status, or why there was none."""

    status: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def summary(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else self.error


def _open_socket(host: str, port: int, timeout: float) -> socket.socket:
    """Resolve, refuse private addresses (again: DNS may have changed since the URL was checked), and
    connect to the addresses we checked, never to a second lookup's answer."""
    infos = _addresses(host, port)
    _refuse_private(infos)
    last: OSError = OSError(f"no address for {host}")
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last


class _HTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = _open_socket(self.host, self.port, self.timeout)


_TLS = ssl.create_default_context()


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        self.sock = _TLS.wrap_socket(_open_socket(self.host, self.port, self.timeout), server_hostname=self.host)


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
    """POST without following redirects (a 3xx is a failure: a redirect could lead anywhere)."""
    timeout = float(settings.WEBHOOKS_TIMEOUT)
    started = time.monotonic()
    status, error = None, ""
    connection = None
    try:
        parts = urlsplit(url)
        connection_class = _HTTPSConnection if parts.scheme == "https" else _HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=timeout)
        connection.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                           body=body, headers=dict(headers))
        status = connection.getresponse().status
    except TimeoutError:
        error = f"timeout after {timeout:g} s"
    except AddressRefused as exc:
        error = f"refused: {exc}"
    except socket.gaierror:
        error = "host not found"
    except ConnectionRefusedError:
        error = "connection refused"
    except ssl.SSLError as exc:
        error = f"TLS error: {exc}"
    except Exception as exc:  # whatever the network does, it is this attempt's result, not a crash
        error = f"{type(exc).__name__}: {exc}"
    finally:
        if connection is not None:
            connection.close()
    return Outcome(status=status, error=error[:500], duration_ms=int((time.monotonic() - started) * 1000))


def _claim(delivery_id: UUID | str, now: datetime) -> WebhookDelivery | None:
    """Take the row if it is due and nobody holds it: SENDING until the lease ends, one attempt more."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(pk=delivery_id, endpoint__active=True)
            .filter(Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
                    | Q(status=DeliveryStatus.SENDING, lease_until__lt=now))
            .first()
        )
        if delivery is None:
            return None
        delivery.status = DeliveryStatus.SENDING
        delivery.attempts += 1
        delivery.lease_until = now + timedelta(seconds=settings.WEBHOOKS_LEASE_SECONDS)
        delivery.save(update_fields=["status", "attempts", "lease_until", "updated_at"])
        return delivery


def webhook_delivery_send(*, delivery_id: UUID | str, now: datetime | None = None) -> str:
    """Try one delivery if it is due; returns "sent", "retry", "failed" or "skipped" (not due, taken by
    another worker, its endpoint inactive, or gone). `now` lets tests (and the sweeper) move time."""
    started_at = now or timezone.now()
    delivery = _claim(delivery_id, started_at)
    if delivery is None:
        return "skipped"
    timestamp = int(time.time())
    body = _body(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Allot-Event-Id": str(delivery.event_id),
        "Allot-Event-Type": delivery.event_type,
        "Allot-Delivery-Id": str(delivery.pk),
        "Allot-Delivery-Attempt": str(delivery.attempts),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: webhook_signature(secret=delivery.endpoint.secret, timestamp=timestamp, body=body),
    }
    outcome = _post(delivery.endpoint.url, body, headers)
    return _record(delivery, outcome, started_at=started_at, now=now)


def _record(claimed: WebhookDelivery, outcome: Outcome, *, started_at: datetime, now: datetime | None) -> str:
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=claimed.pk).first()
        if delivery is None:
            return "skipped"  # the endpoint was deleted meanwhile, with its log
        WebhookAttempt.objects.create(delivery=delivery, number=claimed.attempts, attempted_at=started_at,
                                      response_status=outcome.status, error=outcome.error,
                                      duration_ms=outcome.duration_ms)
        if delivery.status != DeliveryStatus.SENDING or delivery.attempts != claimed.attempts:
            # Our lease ran out and another worker took the row over: its result decides.
            return "skipped"
        finished = now or timezone.now()
        delivery.last_result = outcome.summary[:300]
        delivery.lease_until = None
        if outcome.ok:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = finished
            delivery.next_attempt_at = None
            result = "sent"
            WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, consecutive_failures__gt=0) \
                .update(consecutive_failures=0)
        elif delivery.attempts <= len(settings.WEBHOOKS_RETRY_DELAYS):
            delivery.status = DeliveryStatus.PENDING
            delivery.next_attempt_at = finished + timedelta(
                seconds=settings.WEBHOOKS_RETRY_DELAYS[delivery.attempts - 1])
            result = "retry"
        else:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            result = "failed"
            _endpoint_failed(delivery.endpoint_id, finished, outcome)
        delivery.save(update_fields=["status", "delivered_at", "next_attempt_at", "lease_until", "last_result",
                                     "updated_at"])
        return result


def _endpoint_failed(endpoint_id: UUID, now: datetime, outcome: Outcome) -> None:
    """One more FAILED delivery in a row; at the limit the endpoint is switched off and its organization's
    owners and admins are told (once: the row lock makes one worker the one that crosses the limit)."""
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(consecutive_failures=F("consecutive_failures") + 1)
    endpoint = WebhookEndpoint.objects.select_for_update().select_related("organization").get(pk=endpoint_id)
    limit = settings.WEBHOOKS_DISABLE_AFTER_FAILURES
    if not endpoint.active or endpoint.consecutive_failures < limit:
        return
    endpoint.active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = (f"{endpoint.consecutive_failures} deliveries in a row failed "
                                f"(last: {outcome.summary})")[:300]
    endpoint.save(update_fields=["active", "disabled_at", "disabled_reason", "updated_at"])
    try:
        with transaction.atomic():  # a savepoint: an email that cannot be written must not undo the record
            _notify_disabled(endpoint, outcome)
    except Exception:
        logger.exception("could not write the email about disabled webhook endpoint %s", endpoint.pk)


def _notify_disabled(endpoint: WebhookEndpoint, outcome: Outcome) -> None:
    recipients = list(
        Membership.objects.filter(organization_id=endpoint.organization_id, role__in=[Role.OWNER, Role.ADMIN],
                                  user__is_active=True)
        .exclude(user__email="").order_by("user__email").values_list("user__email", flat=True)
    )
    notification_enqueue(
        organization=endpoint.organization,
        kind="webhook_endpoint_disabled",
        recipients=recipients,
        subject=f"Webhook endpoint disabled: {endpoint.url}"[:200],
        template="notifications/webhook_endpoint_disabled.txt",
        context={
            "endpoint": endpoint,
            "failures": endpoint.consecutive_failures,
            "last_result": outcome.summary,
            "retries": len(settings.WEBHOOKS_RETRY_DELAYS),
            "admin_url": f"{settings.SITE_URL}/admin/webhooks/webhookendpoint/{endpoint.pk}/change/",
        },
        related=endpoint,
    )


def webhook_deliveries_send_due(*, now: datetime | None = None, limit: int = 100) -> dict[str, int]:
    """Try every delivery that is due: retries whose time has come, rows whose task was lost, and rows
    whose worker died (SENDING past the lease). Endpoints that are off are left alone."""
    now = now or timezone.now()
    due = (
        WebhookDelivery.objects.filter(endpoint__active=True)
        .filter(Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
                | Q(status=DeliveryStatus.SENDING, lease_until__lt=now))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    counts: dict[str, int] = {}
    for pk in list(due):
        outcome = webhook_delivery_send(delivery_id=pk, now=now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
