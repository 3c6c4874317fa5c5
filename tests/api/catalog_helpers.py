"""The helpers of the catalog endpoint tests (tests/api/test_rates.py, test_products.py, test_units.py,
test_discount_codes.py, test_booking_credits.py): urls, the role tables, a query counter and the version check."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from resources.models import Organization, Role

# Staff of any role read; writes are ADMIN's (OWNER includes it).
WRITERS = {Role.OWNER: True, Role.ADMIN: True, Role.MANAGER: False, Role.VIEWER: False}


def url(collection: str, pk=None, action: str | None = None) -> str:
    path = f"/api/v1/{collection}"
    if pk is not None:
        path += f"/{pk}"
    if action:
        path += f"/{action}"
    return path


def post(client, path: str, body: dict):
    return client.post(path, body, format="json")


def patch(client, path: str, body: dict, **headers):
    return client.patch(path, body, format="json", **headers)


def queries(client, path: str, query: dict | None = None) -> tuple[int, list]:
    """The number of queries a GET takes, and its body."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, query or {})
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries), response.json()


def version(org) -> int:
    return Organization.objects.values_list("config_version", flat=True).get(pk=org.pk)


def errors(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]
