"""The webhook endpoints API (docs/architecture.md#http-api-conventions): CRUD for admins, read for every member, the
secret shown once, validation (URL, SSRF, event types) in the API's error body, tenancy (404), the delivery log."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from core.api.etags import etag_of
from resources.models import Role
from tests.api.conftest import Api, assert_error
from tests.conftest import Setup
from tests.factories import WebhookAttemptFactory, WebhookDeliveryFactory, WebhookEndpointFactory
from webhooks.models import EVENT_TYPES, DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import SECRET_PATTERN

URL = "/api/v1/webhook-endpoints"
PUBLIC_URL = "https://8.8.8.8/hooks"  # an address literal: no DNS needed to check it
UNKNOWN = "5a0c6f1e-2b3d-4c5e-8f90-a1b2c3d4e5f6"


@pytest.fixture
def api(setup) -> Api:
    return Api(setup)


@pytest.fixture
def other(db) -> Api:
    return Api(Setup())


@pytest.fixture
def mine(setup) -> WebhookEndpoint:
    return WebhookEndpointFactory(organization=setup.org, url=PUBLIC_URL, event_types=["booking.approved"])


def body(setup, **changes) -> dict:
    return {
        "orgId": str(setup.org.pk),
        "url": PUBLIC_URL,
        "eventTypes": ["booking.approved", "event.created"],
        **changes,
    }


def snapshot() -> list:
    return [list(model.objects.order_by("pk").values()) for model in (WebhookEndpoint, WebhookDelivery, WebhookAttempt)]


# === CRUD and the secret ================================================================================


def test_an_admin_creates_an_endpoint_and_sees_its_secret_once(setup, api):
    response = api.admin.post(URL, body(setup, description="CRM sync"), format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert created["secret"] == endpoint.secret and created["secret"].startswith("whsec_")
    assert len(created["secret"]) >= 40
    assert created["orgId"] == str(setup.org.pk) and created["url"] == PUBLIC_URL
    assert created["eventTypes"] == ["booking.approved", "event.created"] and created["active"] is True
    assert created["description"] == "CRM sync" and created["consecutiveFailures"] == 0
    assert created["disabledAt"] is None and response["ETag"] == etag_of(endpoint)

    # Never again: not in the list, the object, or a change's answer.
    for answer in (
        api.admin.get(URL),
        api.admin.get(f"{URL}/{endpoint.pk}"),
        api.viewer.get(URL),
        api.admin.patch(f"{URL}/{endpoint.pk}", {"description": "CRM"}, format="json"),
        api.admin.get(f"{URL}/{endpoint.pk}/deliveries"),
    ):
        assert answer.status_code == 200
        assert endpoint.secret not in answer.content.decode()
        assert b'"secret"' not in answer.content


def test_the_client_may_choose_the_secret_and_replace_it(setup, api):
    chosen = "whsec_" + base64.b64encode(b"my own secret of 30 bytes, ok!").decode()
    response = api.admin.post(URL, body(setup, secret=chosen), format="json")
    assert response.status_code == 201 and response.json()["secret"] == chosen
    endpoint_id = response.json()["id"]
    another = "whsec_" + base64.b64encode(bytes(range(64))).decode().rstrip("=")  # 64 bytes, unpadded
    replaced = api.admin.patch(f"{URL}/{endpoint_id}", {"secret": another}, format="json")
    assert replaced.status_code == 200 and "secret" not in replaced.json()
    assert WebhookEndpoint.objects.get(pk=endpoint_id).secret == another
    Webhook(another)  # what the integrator does with it


def b64(size: int) -> str:
    return base64.b64encode(bytes(range(1, size + 1))).decode()


@pytest.mark.parametrize(
    ("secret", "code"),
    [
        ("short", "MIN_LENGTH"),
        ("whsec_" + b64(16), "MIN_LENGTH"),  # 16 bytes
        ("whsec_" + b64(23), "INVALID"),  # 23 bytes: long enough as text, too short as a key
        ("whsec_" + b64(65), "INVALID"),  # 65 bytes: short enough as text, too long as a key
        ("whsec_" + b64(67), "MAX_LENGTH"),
        ("my-own-secret-of-at-least-24-characters-and-more", "INVALID"),  # not the whsec_ form
        (b64(32), "INVALID"),  # no prefix
        ("whsec_" + b64(32).replace("+", "-").replace("/", "_") + "-_", "INVALID"),  # URL-safe alphabet
        ("whsec_" + b64(32)[:-3], "INVALID"),  # one character left of a group: not base64
        ("whsec_" + b64(32) + "\n", "INVALID"),
        (" whsec_" + b64(32), "INVALID"),
        ("whsec_" + b64(32)[:-1] + "\ud800", "INVALID"),
        (12345678901234567890123456789012345678, "INVALID"),
    ],
)
def test_a_secret_that_is_not_whsec_and_base64_of_24_to_64_bytes_is_refused(setup, api, mine, secret, code):
    before = snapshot()
    # As JSON text with \u escapes, which a lone surrogate needs.
    sent = {"data": json.dumps(body(setup, secret=secret)), "content_type": "application/json"}
    assert_error(api.admin.post(URL, **sent), 400, code, "secret")
    sent = {"data": json.dumps({"secret": secret}), "content_type": "application/json"}
    assert_error(api.admin.patch(f"{URL}/{mine.pk}", **sent), 400, code, "secret")
    assert snapshot() == before


@pytest.mark.parametrize("size", [24, 25, 26, 32, 62, 63, 64])
def test_every_key_length_from_24_to_64_bytes_is_accepted_padded_or_not(setup, api, mine, size):
    for secret in ("whsec_" + b64(size), "whsec_" + b64(size).rstrip("=")):
        assert api.admin.patch(f"{URL}/{mine.pk}", {"secret": secret}, format="json").status_code == 200
        assert Webhook(secret)._whsecret == bytes(range(1, size + 1)), "the key the library reads"


def test_an_admin_rotates_the_secret_and_sees_the_new_one_once(setup, api, mine, django_assert_max_num_queries):
    old = mine.secret
    with django_assert_max_num_queries(9):
        response = api.admin.post(f"{URL}/{mine.pk}/rotate-secret")
    assert response.status_code == 200, response.json()
    mine.refresh_from_db()
    rotated = response.json()
    assert rotated["secret"] == mine.secret != old and rotated["id"] == str(mine.pk)
    assert re.fullmatch(SECRET_PATTERN, mine.secret) and len(Webhook(mine.secret)._whsecret) == 32
    assert response["ETag"] == etag_of(mine)
    assert api.admin.post(f"{URL}/{mine.pk}/rotate-secret").json()["secret"] != mine.secret, "random each time"
    for answer in (api.admin.get(URL), api.admin.get(f"{URL}/{mine.pk}")):
        assert b'"secret"' not in answer.content


def test_change_list_and_delete(setup, api, mine):
    listed = api.viewer.get(URL).json()
    assert [e["id"] for e in listed] == [str(mine.pk)]
    assert api.viewer.get(URL, {"active": "false"}).json() == []
    assert api.viewer.get(URL, {"orgId": str(setup.org.pk)}).json()[0]["id"] == str(mine.pk)

    changed = api.admin.patch(
        f"{URL}/{mine.pk}", {"eventTypes": ["booking.denied", "booking.denied"], "active": False}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["eventTypes"] == ["booking.denied"] and changed.json()["active"] is False
    assert api.viewer.get(URL, {"active": "false"}).json()[0]["id"] == str(mine.pk)

    assert_error(
        api.admin.patch(f"{URL}/{mine.pk}", {"description": "x"}, format="json", HTTP_IF_MATCH='"stale"'),
        412,
        "PRECONDITION_FAILED",
    )
    response = api.admin.delete(f"{URL}/{mine.pk}")
    assert response.status_code == 204 and not WebhookEndpoint.objects.exists()
    assert_error(api.admin.get(f"{URL}/{mine.pk}"), 404, "NOT_FOUND")


def test_switching_a_disabled_endpoint_back_on_clears_its_failures(setup, api, mine):
    WebhookEndpoint.objects.filter(pk=mine.pk).update(
        active=False, consecutive_failures=5, disabled_at=timezone.now(), disabled_reason="5 deliveries in a row failed"
    )
    disabled = api.viewer.get(f"{URL}/{mine.pk}").json()
    assert disabled["active"] is False and disabled["disabledAt"] and disabled["consecutiveFailures"] == 5
    response = api.admin.patch(f"{URL}/{mine.pk}", {"active": True}, format="json")
    assert response.status_code == 200
    assert {k: response.json()[k] for k in ("active", "consecutiveFailures", "disabledAt", "disabledReason")} == {
        "active": True,
        "consecutiveFailures": 0,
        "disabledAt": None,
        "disabledReason": "",
    }


# === validation =========================================================================================


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/hooks", "INVALID"),
        ("example.com/hooks", "INVALID"),
        ("http://", "INVALID"),
        ("javascript:alert(1)", "INVALID"),
        ("https://user:password@example.com/hooks", "INVALID"),
        ("https://exa mple.com/hooks", "INVALID"),
        ("http://[::1/hooks", "INVALID"),
        ("", "REQUIRED"),
    ],
)
def test_a_url_that_is_not_http_or_https_is_refused(setup, api, url, code):
    before = snapshot()
    assert_error(api.admin.post(URL, body(setup, url=url), format="json"), 400, code, "url")
    assert snapshot() == before


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hooks",
        "http://localhost/hooks",
        "http://10.1.2.3/hooks",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://100.64.0.1/",
    ],
)
def test_private_addresses_are_refused_unless_allowed(setup, api, settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    assert_error(api.admin.post(URL, body(setup, url=url), format="json"), 400, "PRIVATE_ADDRESS", "url")
    assert not WebhookEndpoint.objects.exists()
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    assert api.admin.post(URL, body(setup, url=url), format="json").status_code == 201


def test_a_change_to_a_private_address_is_refused_too(setup, api, mine, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    assert_error(
        api.admin.patch(f"{URL}/{mine.pk}", {"url": "http://127.0.0.1/"}, format="json"), 400, "PRIVATE_ADDRESS", "url"
    )
    assert WebhookEndpoint.objects.get(pk=mine.pk).url == PUBLIC_URL
    assert api.admin.post(URL, body(setup), format="json").status_code == 201, "a public address is fine"


def test_event_types_are_checked_against_the_list(setup, api):
    response = api.admin.post(URL, body(setup, eventTypes=["booking.approved", "booking.exploded"]), format="json")
    assert_error(response, 400, "INVALID_CHOICE", "eventTypes[1]")
    assert_error(api.admin.post(URL, body(setup, eventTypes=[]), format="json"), 400, "REQUIRED", "eventTypes")
    assert_error(
        api.admin.post(URL, body(setup, eventTypes="booking.approved"), format="json"), 400, None, "eventTypes"
    )
    without = body(setup)
    del without["eventTypes"]
    assert_error(api.admin.post(URL, without, format="json"), 400, "REQUIRED", "eventTypes")
    assert_error(api.admin.post(URL, body(setup, active="yes"), format="json"), 400, "INVALID", "active")
    every = api.admin.post(URL, body(setup, eventTypes=list(EVENT_TYPES)), format="json")
    assert every.status_code == 201 and every.json()["eventTypes"] == list(EVENT_TYPES)
    assert not WebhookEndpoint.objects.exclude(pk=every.json()["id"]).exists()


# === roles and tenancy ==================================================================================


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MANAGER])
def test_viewers_and_managers_read_but_cannot_write(setup, api, mine, role):
    client = api[role]
    assert client.get(URL).status_code == 200
    assert client.get(f"{URL}/{mine.pk}").status_code == 200
    assert client.get(f"{URL}/{mine.pk}/deliveries").status_code == 200
    before = snapshot()
    assert_error(client.post(URL, body(setup), format="json"), 403, "PERMISSION_DENIED")
    assert_error(client.patch(f"{URL}/{mine.pk}", {"active": False}, format="json"), 403, "PERMISSION_DENIED")
    assert_error(client.delete(f"{URL}/{mine.pk}"), 403, "PERMISSION_DENIED")
    assert_error(client.post(f"{URL}/{mine.pk}/rotate-secret"), 403, "PERMISSION_DENIED")
    assert snapshot() == before


def test_another_organization_gets_404_for_each_operation_and_sees_nothing(setup, api, other, mine):
    WebhookDeliveryFactory(endpoint=mine)
    before = snapshot()
    for role in Role:
        client = other[role]
        for response in (
            client.get(f"{URL}/{mine.pk}"),
            client.patch(f"{URL}/{mine.pk}", {"active": False}, format="json"),
            client.patch(f"{URL}/{mine.pk}", {"active": False}, format="json", HTTP_IF_MATCH=etag_of(mine)),
            client.delete(f"{URL}/{mine.pk}"),
            client.get(f"{URL}/{mine.pk}/deliveries"),
            client.post(f"{URL}/{mine.pk}/rotate-secret"),
            client.post(URL, body(setup), format="json"),
        ):
            assert_error(response, 404, "NOT_FOUND")
            assert str(mine.pk) not in response.content.decode() and "ETag" not in response
        for query in ({}, {"orgId": str(setup.org.pk)}, {"active": "true"}):
            listed = client.get(URL, query)
            assert listed.status_code == 200 and listed.json() == []
    assert snapshot() == before
    # Word for word what an id that exists nowhere answers.
    assert other[Role.OWNER].get(f"{URL}/{mine.pk}").json() == other[Role.OWNER].get(f"{URL}/{UNKNOWN}").json()
    # The control: setup's own owner does all of it.
    assert api[Role.OWNER].get(f"{URL}/{mine.pk}/deliveries").status_code == 200
    assert api[Role.OWNER].delete(f"{URL}/{mine.pk}").status_code == 204


def test_anonymous_callers_get_401(mine):
    from rest_framework.test import APIClient

    assert_error(APIClient().get(URL), 401, "NOT_AUTHENTICATED")
    assert_error(APIClient().get(f"{URL}/{mine.pk}/deliveries"), 401, "NOT_AUTHENTICATED")
    assert_error(APIClient().post(f"{URL}/{mine.pk}/rotate-secret"), 401, "NOT_AUTHENTICATED")


def test_ids_that_are_not_uuids_are_404(api):
    assert_error(api.admin.get(f"{URL}/42"), 404)
    assert_error(api.admin.get(f"{URL}/42/deliveries"), 404)


# === the delivery log ===================================================================================


def test_deliveries_are_listed_newest_first_page_by_page_with_their_attempts(setup, api, mine):
    now = timezone.now()
    made = []
    for age in range(5):
        delivery = WebhookDeliveryFactory(
            endpoint=mine, status=DeliveryStatus.FAILED if age == 4 else DeliveryStatus.SUCCEEDED, attempts=1
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=now - timedelta(minutes=age))
        made.append(str(delivery.pk))
    WebhookAttemptFactory(
        delivery=WebhookDelivery.objects.get(pk=made[0]),
        number=1,
        attempted_at=now,
        response_status=200,
        duration_ms=12,
    )
    WebhookDeliveryFactory(endpoint=WebhookEndpointFactory(organization=setup.org))  # another endpoint's

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.viewer.get(f"{URL}/{mine.pk}/deliveries", query).json()
        seen += [d["id"] for d in page["deliveries"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == made and pages == 3

    first = api.viewer.get(f"{URL}/{mine.pk}/deliveries").json()["deliveries"][0]
    assert first["attemptLog"] == [
        {
            "number": 1,
            "attemptedAt": first["attemptLog"][0]["attemptedAt"],
            "responseStatus": 200,
            "error": "",
            "durationMs": 12,
        }
    ]
    assert first["status"] == DeliveryStatus.SUCCEEDED and first["endpointId"] == str(mine.pk)
    assert first["eventType"] == "booking.submitted" == first["payload"]["type"]
    assert set(first["payload"]) == {"type", "timestamp", "data"}
    failed = api.viewer.get(f"{URL}/{mine.pk}/deliveries", {"status": 3}).json()["deliveries"]
    assert [d["id"] for d in failed] == [made[4]]

    assert_error(api.viewer.get(f"{URL}/{mine.pk}/deliveries", {"cursor": "nonsense"}), 400, "INVALID", "cursor")
    assert_error(api.viewer.get(f"{URL}/{mine.pk}/deliveries", {"limit": 0}), 400, "MIN_VALUE", "limit")
    assert_error(api.viewer.get(f"{URL}/{mine.pk}/deliveries", {"status": 9}), 400, "INVALID_CHOICE", "status")
