"""Sending webhook deliveries (docs/architecture.md#webhooks): the POST, retries, disabling.

Sending never holds a transaction open while it talks to the integrator's server: a short transaction
claims the row (SENDING, with a lease; `skip_locked`, so two workers never take the same row), the POST
runs outside any transaction, and a second short transaction records the attempt and what comes next
(SUCCEEDED, a retry at WEBHOOKS_RETRY_DELAYS, or FAILED). A worker that dies mid-send leaves a SENDING
row whose lease runs out; the sweeper (`manage.py send_webhooks`) takes it over. Writing the deliveries
and enqueueing their send task is `webhooks.services`' job; the task (`webhooks.tasks`) calls here.

Every request follows the Standard Webhooks specification (see `webhook_headers`): `webhook-id` (the
event's id, the same on every retry), `webhook-timestamp` (unix seconds of this attempt) and
`webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw body>">`, keyed with the base64-decoded
part of the endpoint's `whsec_` secret. For one release the old headers (`Allot-Timestamp`,
`Allot-Signature`, `Allot-Event-Id`, `Allot-Event-Type`) are sent too, signed with the same key
(WEBHOOKS_LEGACY_HEADERS). The SSRF guard lives here too: every send resolves the host again and refuses
private addresses, and the endpoint services check a URL with the same rule when it is saved.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications.services import notification_enqueue
from resources.config_cache import config_changed
from resources.models import Membership, Role

from .models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

USER_AGENT = "Allot-Webhooks/1.0"


# --- signatures -------------------------------------------------------------------------------------


def webhook_secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret: the decoded bytes, as the Standard Webhooks libraries
    read it. A secret converted from the old format decodes to the old secret's UTF-8 bytes, its old key."""
    encoded = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:  # the services never store such a secret
        raise ValueError("the endpoint's secret is not whsec_ and base64") from exc


def webhook_signature(*, secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """The `webhook-signature` value: `v1,` and the base64 HMAC-SHA256 of `<id>.<timestamp>.<raw body>`.

    The id and the timestamp are inside the signed text, so a captured request can be replayed neither
    later with a fresh timestamp nor as another event; receivers refuse timestamps more than a few minutes
    old (the libraries do) and drop ids they have seen."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(webhook_secret_key(secret), signed, hashlib.sha256).digest()).decode()


def legacy_signature(*, secret: str, timestamp: int | str, body: bytes) -> str:
    """The deprecated `Allot-Signature` value, sent for one release beside the standard headers: `v1=` and
    the hex HMAC-SHA256 of `<timestamp>.<raw body>`, with the same key (for an endpoint converted from the
    old format, the old secret), so a receiver written for the old headers keeps verifying."""
    signed = f"{timestamp}.".encode() + body
    return "v1=" + hmac.new(webhook_secret_key(secret), signed, hashlib.sha256).hexdigest()


def webhook_headers(delivery: WebhookDelivery, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers of one attempt. `webhook-id` is the event's id: one per event, kept by every retry."""
    secret, msg_id = delivery.endpoint.secret, str(delivery.event_id)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_signature(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body),
        "Allot-Delivery-Id": str(delivery.pk),
        "Allot-Delivery-Attempt": str(delivery.attempts),
    }
    if settings.WEBHOOKS_LEGACY_HEADERS:
        headers |= {
            "Allot-Event-Id": msg_id,
            "Allot-Event-Type": delivery.event_type,
            "Allot-Timestamp": str(timestamp),
            "Allot-Signature": legacy_signature(secret=secret, timestamp=timestamp, body=body),
        }
    return headers


def _body(payload: Mapping[str, Any]) -> bytes:
    # Sorted keys: the stored JSON (PostgreSQL's jsonb does not keep key order) gives the same bytes on
    # every retry.
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- URLs and the SSRF guard ------------------------------------------------------------------------


class AddressRefused(OSError):
    """The host resolves to an address webhooks may not reach (private, loopback, link-local, ...)."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback, whatever the IPv6 tables say
    return ip.is_global and not ip.is_multicast


def addresses(host: str, port: int) -> list[tuple]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def refuse_private(infos: Sequence[tuple]) -> None:
    """Every address the name has must be public: a mix means someone can pick which one we reach."""
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return
    if any(not _public(info[4][0]) for info in infos):
        raise AddressRefused("the host resolves to a private or reserved address")


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


def _open_socket(host: str, port: int, timeout: float | None) -> socket.socket:
    """Resolve, refuse private addresses (again: DNS may have changed since the URL was checked), and
    connect to the addresses we checked, never to a second lookup's answer."""
    infos = addresses(host, port)
    refuse_private(infos)
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
        if not parts.hostname:  # the endpoint services refuse such URLs; a stored one fails this attempt
            raise AddressRefused("the URL has no host")
        connection_class = _HTTPSConnection if parts.scheme == "https" else _HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=timeout)
        connection.request(
            "POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body, headers=dict(headers)
        )
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
            .filter(
                Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
                | Q(status=DeliveryStatus.SENDING, lease_until__lt=now)
            )
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
    body = _body(delivery.payload)
    # This attempt's time, whatever `now` says about which rows are due: receivers compare it with their
    # clock.
    try:
        headers = webhook_headers(delivery, body, int(timezone.now().timestamp()))
    except ValueError as exc:  # a secret written behind the services' back: a failed attempt, not a crash
        outcome = Outcome(status=None, error=f"not sent: {exc}", duration_ms=0)
    else:
        outcome = _post(delivery.endpoint.url, body, headers)
    return _record(delivery, outcome, started_at=started_at, now=now)


def _record(claimed: WebhookDelivery, outcome: Outcome, *, started_at: datetime, now: datetime | None) -> str:
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=claimed.pk).first()
        if delivery is None:
            return "skipped"  # the endpoint was deleted meanwhile, with its log
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=claimed.attempts,
            attempted_at=started_at,
            response_status=outcome.status,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
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
            WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, consecutive_failures__gt=0).update(
                consecutive_failures=0
            )
        elif delivery.attempts <= len(settings.WEBHOOKS_RETRY_DELAYS):
            delivery.status = DeliveryStatus.PENDING
            delivery.next_attempt_at = finished + timedelta(
                seconds=settings.WEBHOOKS_RETRY_DELAYS[delivery.attempts - 1]
            )
            result = "retry"
        else:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            result = "failed"
            _endpoint_failed(delivery.endpoint_id, finished, outcome)
        delivery.save(
            update_fields=["status", "delivered_at", "next_attempt_at", "lease_until", "last_result", "updated_at"]
        )
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
    endpoint.disabled_reason = (
        f"{endpoint.consecutive_failures} deliveries in a row failed (last: {outcome.summary})"
    )[:300]
    endpoint.save(update_fields=["active", "disabled_at", "disabled_reason", "updated_at"])
    config_changed(organization_id=endpoint.organization_id)
    try:
        with transaction.atomic():  # a savepoint: an email that cannot be written must not undo the record
            _notify_disabled(endpoint, outcome)
    except Exception:
        logger.exception("could not write the email about disabled webhook endpoint %s", endpoint.pk)


def _notify_disabled(endpoint: WebhookEndpoint, outcome: Outcome) -> None:
    recipients = list(
        Membership.objects.filter(
            organization_id=endpoint.organization_id, role__in=[Role.OWNER, Role.ADMIN], user__is_active=True
        )
        .exclude(user__email="")
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )
    notification_enqueue(
        organization=endpoint.organization,
        kind="webhook_endpoint_disabled",
        recipients=recipients,
        subject=f"Webhook endpoint disabled: {endpoint.url}"[:200],
        template="notifications/webhook_endpoint_disabled.txt",
        context={
            "endpoint": {"id": str(endpoint.pk), "url": endpoint.url, "description": endpoint.description},
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
        .filter(
            Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            | Q(status=DeliveryStatus.SENDING, lease_until__lt=now)
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    counts: dict[str, int] = {}
    for pk in list(due):
        outcome = webhook_delivery_send(delivery_id=pk, now=now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
