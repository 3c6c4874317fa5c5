"""The webhooks admin: admins configure their organization's endpoints (the secret shown once, never in a
form), every member reads the delivery log, other organizations' rows are 404."""

from __future__ import annotations

import base64
import re

import pytest
from django.test import Client
from django.urls import reverse

from resources.models import Role
from tests.factories import (
    MembershipFactory,
    UserFactory,
    WebhookAttemptFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
)
from webhooks.models import WebhookEndpoint
from webhooks.services import SECRET_PATTERN

pytestmark = pytest.mark.django_db


def client_for(org, role) -> Client:
    user = UserFactory()
    MembershipFactory(user=user, organization=org, role=role)
    client = Client()
    client.force_login(user)
    return client


def form(setup, **changes) -> dict:
    return {
        "organization": str(setup.org.pk),
        "url": "https://8.8.8.8/hooks",
        "description": "CRM",
        "event_types": ["booking.approved", "event.created"],
        "active": "on",
        **changes,
    }


def test_an_admin_adds_an_endpoint_and_is_shown_its_secret_once(setup):
    client = client_for(setup.org, Role.ADMIN)
    response = client.post(reverse("admin:webhooks_webhookendpoint_add"), form(setup), follow=True)
    assert response.redirect_chain, response.context["adminform"].form.errors
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["booking.approved", "event.created"] and endpoint.secret.startswith("whsec_")
    assert endpoint.secret in response.content.decode(), "shown on the page after saving"
    for page in (
        reverse("admin:webhooks_webhookendpoint_changelist"),
        reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]),
    ):
        shown = client.get(page)
        assert shown.status_code == 200 and endpoint.secret not in shown.content.decode()


TYPED = "whsec_" + base64.b64encode(b"a secret typed by the admin, 0001").decode()


def test_a_new_secret_can_be_set_or_made_but_never_read(setup):
    client = client_for(setup.org, Role.OWNER)
    endpoint = WebhookEndpointFactory(organization=setup.org, url="https://8.8.8.8/hooks")
    change = reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])
    response = client.post(change, form(setup, new_secret=TYPED))
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.secret == TYPED
    assert TYPED not in client.get(change).content.decode()
    response = client.post(change, form(setup, rotate_secret="on"), follow=True)
    endpoint.refresh_from_db()
    assert endpoint.secret != TYPED and re.fullmatch(SECRET_PATTERN, endpoint.secret)
    assert endpoint.secret in response.content.decode(), "the new one, once"
    assert endpoint.secret not in client.get(change).content.decode()


@pytest.mark.parametrize(
    "typed",
    [
        "a-secret-typed-by-the-admin-0001-and-more",  # the old free-text form
        "whsec_" + base64.urlsafe_b64encode(bytes(range(200, 232))).decode(),  # URL-safe alphabet
        "whsec_" + base64.b64encode(bytes(23)).decode() + "AA",  # 23 bytes and a stray pair
    ],
)
def test_a_secret_that_is_not_whsec_and_base64_shows_an_error_at_the_field(setup, typed):
    client = client_for(setup.org, Role.OWNER)
    endpoint = WebhookEndpointFactory(organization=setup.org, url="https://8.8.8.8/hooks")
    before = endpoint.secret
    change = reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])
    response = client.post(change, form(setup, new_secret=typed))
    assert response.status_code == 200
    assert "whsec_" in str(response.context["adminform"].form.errors["new_secret"])
    endpoint.refresh_from_db()
    assert endpoint.secret == before


def test_the_admin_form_refuses_private_urls_and_unknown_organizations(setup, other_setup, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    client = client_for(setup.org, Role.ADMIN)
    response = client.post(reverse("admin:webhooks_webhookendpoint_add"), form(setup, url="http://10.0.0.8/"))
    assert response.status_code == 200 and "private" in str(response.context["adminform"].form.errors["url"])
    response = client.post(reverse("admin:webhooks_webhookendpoint_add"), form(setup, organization=other_setup.org.pk))
    assert response.status_code == 200 and "organization" in response.context["adminform"].form.errors
    assert not WebhookEndpoint.objects.exists()


def test_viewers_read_the_delivery_log_but_change_nothing(setup):
    endpoint = WebhookEndpointFactory(organization=setup.org)
    delivery = WebhookDeliveryFactory(endpoint=endpoint, attempts=1)
    WebhookAttemptFactory(
        delivery=delivery, number=1, attempted_at=delivery.created_at, response_status=500, duration_ms=40
    )
    client = client_for(setup.org, Role.VIEWER)
    listing = client.get(reverse("admin:webhooks_webhookdelivery_changelist"), {"status": "0"})
    assert listing.status_code == 200 and "booking.submitted" in listing.content.decode()
    page = client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]))
    assert page.status_code == 200 and "500" in page.content.decode()
    endpoint_page = client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]))
    assert endpoint_page.status_code == 200 and endpoint.secret not in endpoint_page.content.decode()
    assert client.get(reverse("admin:webhooks_webhookendpoint_add")).status_code == 403
    assert (
        client.post(
            reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]), form(setup, active="")
        ).status_code
        == 403
    )
    assert WebhookEndpoint.objects.get().active


def test_another_organizations_endpoints_and_deliveries_are_404(setup, other_setup):
    theirs = WebhookEndpointFactory(organization=other_setup.org)
    delivery = WebhookDeliveryFactory(endpoint=theirs)
    client = client_for(setup.org, Role.OWNER)
    assert client.get(reverse("admin:webhooks_webhookendpoint_change", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])).status_code == 404
    listing = client.get(reverse("admin:webhooks_webhookdelivery_changelist")).content.decode()
    assert (
        str(delivery.pk) not in listing
        and theirs.url not in client.get(reverse("admin:webhooks_webhookendpoint_changelist")).content.decode()
    )
