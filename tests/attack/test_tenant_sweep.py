"""Tenant isolation sweep (docs/architecture.md#roles-and-tenancy): organization A has one of everything, each name
carrying a secret marker; members of organization B (an OWNER and a MANAGER there) walk every URL of the admin and every
operation of the API, with A's ids filled in wherever a URL takes an id, and must find nothing of A.

The URLs are discovered, not listed: the admin's from `admin.site` (each registered ModelAdmin's own URL
patterns, the site's own ones), the API's from the OpenAPI schema. A new admin page or endpoint is walked
without editing this file; a new model of the project's apps is found through its path to Organization
(tests.attack.tenants.org_path).

What "finds nothing" means:
- a URL that names one of A's objects answers 404 (the project's admin raises Http404 for another
  organization's object, like the API, rather than Django's redirect "... doesn't exist"), or 403 for the
  few global models (users, groups, API tokens, task results) B's staff may not open at all -- a member
  who may not use a model admin is refused before any lookup, which is as good as a 404;
- no response body contains A's marker, and no API body contains any of A's ids;
- POSTing to each of those URLs (delete confirmations, approve/deny/cancel, revoke/replace, ...) changes
  nothing in the database.
A control walks a few of the same URLs as A's own OWNER and finds the marker, so a sweep that reaches
nothing (a broken login, a wrong URL) cannot pass by accident.
"""

from __future__ import annotations

import io
import re
import uuid
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver
from drf_spectacular.generators import SchemaGenerator
from knox.models import AuthToken
from openpyxl import load_workbook
from rest_framework.test import APIClient

from resources.models import Role
from tests.factories import MembershipFactory, UserFactory

from .tenants import PROJECT_APPS, Tenant, org_path

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Models of third-party apps with no organization: B's staff may not use their admin at all (403).
GLOBAL_MODELS = {"auth.User", "auth.Group", "knox.AuthToken", "django_tasks_database.DBTaskResult"}
# Public by design: anyone may read a LIVE portal's module (docs/architecture.md#roles-and-tenancy); the sweep checks
# the others.
PUBLIC_OPERATIONS = {
    "GET /api/v1/public/booking-modules/{id}",
    "GET /api/v1/public/booking-modules/{id}/availability",
    "POST /api/v1/bookings/submit",
    "POST /api/v1/bookings/validate",
    "POST /api/v1/bookings/change-requests/submit",
}


@pytest.fixture
def tenants(db):
    a = Tenant(f"ORG-A-SECRET-{uuid.uuid4().hex}")
    b = Tenant(f"ORG-B-{uuid.uuid4().hex}")
    AuthToken.objects.create(user=a.users[Role.OWNER], expiry=None)  # an API token of A's, for knox's admin
    return a, b


def world() -> dict:
    dump = {}
    for label in (*PROJECT_APPS, "auth", "knox"):
        for model in apps.get_app_config(label).get_models():
            dump[model._meta.label] = list(model.objects.order_by("pk").values())
    return dump


def b_member(b: Tenant, role: Role):
    user = UserFactory()
    MembershipFactory(user=user, organization=b.setup.org, role=role)
    return user


def a_objects(a: Tenant) -> dict[str, list]:
    found = a.objects()
    found["knox.AuthToken"] = list(AuthToken.objects.filter(user__memberships__organization=a.setup.org))
    return found


# === the admin ======================================================================================


def _routes(patterns, prefix: str = "") -> list[tuple[str, URLPattern]]:
    """(route template, pattern) of every URL below `patterns`, includes flattened."""
    found = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _routes(pattern.url_patterns, route)
        else:
            found.append((route, pattern))
    return found


PARAM = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


def admin_urls() -> tuple[dict[str, list[str]], list[str]]:
    """model label → its ModelAdmin's route templates (under /admin/<app>/<model>/); and the site's own
    routes (index, app indexes, view-on-site, autocomplete, ...)."""
    per_model = {}
    for model, model_admin in admin.site._registry.items():
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        per_model[model._meta.label] = [base + route for route, _ in _routes(model_admin.urls)]
    model_routes = {route for routes in per_model.values() for route in routes}
    site = [f"/admin/{route}" for route, _ in _routes(admin.site.get_urls())]
    site = [route for route in site if route not in model_routes]
    return per_model, site


def fill(route: str, values: dict[str, str]) -> str:
    filled = PARAM.sub(lambda m: values.get(m.group("name"), values.get("*", "")), route)
    return filled.replace("^", "").replace("$", "")


def assert_hidden(response, marker: str, where: str) -> None:
    body = response.content.decode(errors="replace")
    assert marker not in body, f"{where}: A's marker in the answer ({response.status_code})"
    for header, value in response.items():
        assert marker not in value, f"{where}: A's marker in the {header} header"


def search_term(a: Tenant) -> str:
    return a.marker[1:]


def filter_queries(a: Tenant, model, objects: dict[str, list]) -> list[dict]:
    """Query strings that point a changelist (or the calendar) at A's objects: a search for A's names, and
    each relation of the model (plus `venue` and `resource`, the calendar's) set to one of A's rows."""
    # The search box echoes its term: search for all of the marker but its first letters, which still
    # matches every name of A's (icontains) but cannot make an echo look like a leak.
    queries = [{"q": search_term(a)}, {"all": "1"}]
    relations = {
        f.name: f.related_model._meta.label
        for f in model._meta.get_fields()
        if f.concrete and getattr(f, "related_model", None) is not None
    }
    relations |= {"venue": "resources.Venue", "resource": "resources.Resource"}
    for name, label in relations.items():
        if objects.get(label):
            pk = str(objects[label][0].pk)
            queries += [{name: pk}, {f"{name}__id__exact": pk}]
    return queries


def _walk_changelist(client, a: Tenant, label: str, route: str, objects: dict[str, list]) -> None:
    """A route without an id (changelist, add, calendar, ...): as is, and pointed at A's objects."""
    queries = [{}] + (filter_queries(a, apps.get_model(label), objects) if not route.endswith("/add/") else [])
    for query in queries:
        url = fill(route, {}) + ("?" + urlencode(query) if query else "")
        response = client.get(url, follow=True)
        # A query naming A's object may be refused outright (the calendar 404s A's venue).
        assert response.status_code in ((200, 403, 404) if query else (200, 403)), (url, response.status_code)
        assert_hidden(response, a.marker, url)


def _walk_object_route(client, a: Tenant, label: str, route: str, row) -> None:
    """A route naming one of A's objects: GET and POST find nothing (the POST is checked to change nothing
    by the caller's world() comparison)."""
    url = fill(route, {"*": str(row.pk)})
    response = client.get(url)
    if response.status_code == 302 and response["Location"] == url + "change/":
        # Django's old-style /<id>/ URL only redirects to /<id>/change/, checked like the others.
        response = client.get(response["Location"])
    assert response.status_code in ((403, 404) if label in GLOBAL_MODELS else (404,)), (url, response.status_code)
    assert_hidden(response, a.marker, url)
    response = client.post(url, {"post": "yes", "action": "delete", "_save": "Save"})
    redirect_only = response.status_code == 302 and response["Location"] == url + "change/"
    assert redirect_only or response.status_code in (403, 404, 405), (url, "POST", response.status_code)
    assert_hidden(response, a.marker, f"POST {url}")


def _walk_model_admin(
    client, a: Tenant, label: str, routes: list[str], objects: dict[str, list], walked_objects: set[str]
) -> None:
    rows = objects.get(label, [])
    if label not in GLOBAL_MODELS:
        model = apps.get_model(label)
        assert rows or not _has_org_path(model), f"A has no {label}: add one to tests.attack.tenants.Tenant"
    for route in routes:
        params = PARAM.findall(route)
        if not params:
            _walk_changelist(client, a, label, route, objects)
            continue
        for row in rows:
            _walk_object_route(client, a, label, route, row)
            walked_objects.add(label)


def _walk_site_route(client, a: Tenant, route: str, per_model: dict[str, list[str]], objects: dict[str, list]) -> None:
    """One of the site's own URLs: the index and app indexes, view-on-site for each of A's objects."""
    if "logout" in route or "password_change" in route:
        return
    names = dict((n, c) for c, n in PARAM.findall(route))
    if "(?P<url>" in route:  # the admin's catch-all (404 or the login): nothing to fill in
        return
    if not names:
        response = client.get(route, follow=True)
        assert_hidden(response, a.marker, route)
    elif set(names) == {"app_label"}:
        for app_label in {label.split(".")[0] for label in per_model}:
            url = fill(route, {"app_label": app_label})
            assert_hidden(client.get(url, follow=True), a.marker, url)
    elif set(names) == {"content_type_id", "object_id"}:
        for label, rows in objects.items():
            content_type = ContentType.objects.get_for_model(apps.get_model(label))
            url = fill(route, {"content_type_id": str(content_type.pk), "object_id": str(rows[0].pk)})
            response = client.get(url)
            assert response.status_code == 404 or (
                response.status_code == 302 and a.marker not in response["Location"]
            ), (url, response)
            assert_hidden(response, a.marker, url)
    else:
        pytest.fail(f"an admin URL with parameters the sweep cannot fill: {route}")


def _walk_autocomplete(client, a: Tenant) -> None:
    """Every relation of every registered model, searched for A's marker."""
    autocomplete = "/admin/autocomplete/"
    for model in admin.site._registry:
        for field in model._meta.get_fields():
            if getattr(field, "related_model", None) is not None and field.concrete:
                query = {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name,
                    "field_name": field.name,
                    "term": search_term(a),
                }
                response = client.get(autocomplete, query)
                assert_hidden(response, a.marker, f"{autocomplete}?{urlencode(query)}")


@pytest.mark.parametrize("role", [Role.OWNER, Role.MANAGER], ids=["B-owner", "B-manager"])
def test_the_admin_of_another_organization_shows_nothing_of_a(tenants, role):
    a, b = tenants
    client = Client()
    client.force_login(b_member(b, role))
    objects = a_objects(a)
    per_model, site_routes = admin_urls()
    before = world()
    walked_objects: set[str] = set()

    for label, routes in per_model.items():
        _walk_model_admin(client, a, label, routes, objects, walked_objects)

    # The site's own URLs: the index and app indexes, view-on-site for each of A's objects, autocomplete.
    for route in site_routes:
        _walk_site_route(client, a, route, per_model, objects)

    # Autocomplete: every relation of every registered model, searched for A's marker.
    _walk_autocomplete(client, a)

    assert world() == before, "a request of B's changed something"
    # Every model A has a row of, and the admin registers, was walked object by object.
    assert {label for label in per_model if objects.get(label)} <= walked_objects | {"auth.Group"}


def _has_org_path(model) -> bool:
    return org_path(model) is not None


def test_the_control_a_owner_sees_the_marker_on_the_same_urls(tenants):
    """The sweep's probes work: A's own OWNER finds the marker on the pages B was refused."""
    a, _ = tenants
    client = Client()
    client.force_login(a.users[Role.OWNER])
    for url in (
        f"/admin/bookings/booking/{a.pending.pk}/change/",
        "/admin/bookings/booking/",
        f"/admin/bookings/booking/?q={search_term(a)}",
        f"/admin/resources/venue/{a.setup.venue.pk}/change/",
        f"/admin/events/event/calendar/?venue={a.setup.venue.pk}",
        f"/admin/feeds/calendarfeed/{a.feed.pk}/change/",
        f"/admin/webhooks/webhookdelivery/{a.delivery.pk}/change/",
    ):
        response = client.get(url)
        assert response.status_code == 200 and a.marker in response.content.decode(), url


# === the API ========================================================================================


def api_operations() -> list[tuple[str, str, dict]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def bearer(user) -> APIClient:
    client = APIClient()
    _, token = AuthToken.objects.create(user=user, expiry=None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def a_ids(objects: dict[str, list]) -> set[str]:
    return {str(row.pk) for rows in objects.values() for row in rows}


def _param_targets(name: str, objects: dict[str, list]) -> list[str]:
    """A's ids worth putting in a query parameter called `name` (e.g. venueId → A's venues)."""
    stem = name.removesuffix("Ids").removesuffix("Id").lower()
    stem = {"org": "organization"}.get(stem, stem)
    matching = [rows for label, rows in objects.items() if label.split(".")[1].lower() == stem]
    pool = matching or list(objects.values())
    return [str(rows[0].pk) for rows in pool]


@pytest.mark.parametrize("role", [Role.OWNER, Role.MANAGER], ids=["B-owner", "B-manager"])
def test_the_api_of_another_organization_shows_nothing_of_a(tenants, role):
    a, b = tenants
    client = bearer(b_member(b, role))
    objects = a_objects(a)
    secret_ids = a_ids(objects)
    # One object of each of A's models (all four bookings: each status is its own case for the transitions).
    targets = [rows[0] for rows in objects.values()] + a.bookings[1:] + [a.change_request]
    before = world()
    checked = 0
    for method, path, operation in api_operations():
        op = f"{method} {path}"
        if op in PUBLIC_OPERATIONS:
            continue
        if "{" not in path:
            if method != "GET":
                continue  # creating inside A is covered by tests/api/test_tenancy.py (CREATES)
            queries = [{}]
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and parameter["name"].endswith(("Id", "Ids")):
                    queries += [{parameter["name"]: pk} for pk in _param_targets(parameter["name"], objects)]
            for query in queries:
                response = client.get(path, query)
                assert response.status_code in (200, 400, 404), (op, query, response.status_code)
                _assert_api_hidden(response, a.marker, secret_ids, f"{op} {query}")
                checked += 1
            continue
        assert re.findall(r"\{(\w+)\}", path) == ["id"], f"a path parameter the sweep cannot fill: {op}"
        for row in targets:
            url = path.replace("{id}", str(row.pk))
            send = getattr(client, method.lower())
            response = send(url) if method == "GET" else send(url, {}, format="json")
            assert response.status_code == 404, (op, type(row).__name__, response.status_code, response.content[:300])
            assert response.json()["errors"][0]["code"] == "NOT_FOUND", response.json()
            _assert_api_hidden(response, a.marker, secret_ids, f"{op} with {type(row).__name__}")
            checked += 1
    assert world() == before, "a request of B's changed something"
    assert checked > 200, checked


def _assert_api_hidden(response, marker: str, secret_ids: set[str], where: str) -> None:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if content[:2] == b"PK":  # an export's workbook: its cells
        sheet = load_workbook(io.BytesIO(content), read_only=True).active
        content = " ".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row).encode()
    body = content.decode(errors="replace")
    assert marker not in body, f"{where}: A's marker in the answer"
    leaked = secret_ids & set(UUID_RE.findall(body))
    assert not leaked, f"{where}: A's ids in the answer: {leaked}"


def test_the_api_control_a_owner_sees_its_objects(tenants):
    a, _ = tenants
    client = bearer(a.users[Role.OWNER])
    for url in (
        f"/api/v1/bookings/{a.pending.pk}",
        f"/api/v1/venues/{a.setup.venue.pk}",
        "/api/v1/bookings",
        f"/api/v1/webhook-endpoints/{a.endpoint.pk}/deliveries",
    ):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert a.marker in response.content.decode() or str(a.delivery.pk) in response.content.decode(), url
