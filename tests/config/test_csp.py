"""A Content-Security-Policy on every HTML page -- public site, booker's page, admin, Swagger UI, the
browsable API, 404 -- that runs no inline script and no eval. (tests/browser/test_csp.py checks in
Chromium that the pages still work under it.)"""

import re

import pytest
from django.test import Client

from config.csp import inline_style_sources

from .pages import build_pages


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in filter(None, (p.strip() for p in policy.split(";"))):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def assert_strict(name: str, response) -> None:
    assert response["Content-Type"].startswith("text/html"), (name, response["Content-Type"])
    policy = response.get("Content-Security-Policy")
    assert policy, f"{name}: no Content-Security-Policy"
    parsed = directives(policy)
    assert "'unsafe-eval'" not in policy, name
    assert parsed["script-src"] == ["'self'"], (name, parsed["script-src"])  # no inline, no eval, no host
    assert "'unsafe-inline'" not in parsed.get("style-src", []), name
    assert parsed["object-src"] == ["'none'"] and parsed["frame-ancestors"] == ["'none'"], name
    assert parsed["base-uri"] == ["'none'"], name


@pytest.fixture
def pages(db):
    return build_pages()


def test_every_html_page_has_a_strict_policy(pages):
    anonymous = Client()
    staff = Client()
    assert staff.post("/admin/login/", {"username": pages.admin.username, "password": "pw-123456"}).status_code == 302

    for name, url in pages.public.items():
        response = anonymous.get(url)
        assert response.status_code == (404 if name == "404" else 200), (name, response.status_code)
        assert_strict(name, response)
    for name, url in pages.staff.items():
        response = staff.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, (name, url, response.status_code)
        assert_strict(name, response)


def test_swagger_ui_loads_its_init_script_as_a_file(pages):
    response = Client().get("/api/docs/")
    page = response.content.decode()

    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline <script> on /api/docs/"
    script = re.search(r'<script src="([^"]*script=[^"]*)"', page).group(1).replace("&amp;", "&")
    init = Client().get(script)
    assert init.status_code == 200 and init["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in init.content.decode()


def test_only_the_vendor_pages_get_style_hashes_and_only_there(pages):
    public = directives(Client().get(pages.public["portal"])["Content-Security-Policy"])
    admin = directives(Client().get("/admin/login/")["Content-Security-Policy"])

    assert public["style-src"] == ["'self'"]
    assert admin["style-src"] == ["'self'", *inline_style_sources("/admin/")]
    # Django's change list ships one <style> block; its hash is what the admin allows, nothing broader.
    assert len(inline_style_sources("/admin/")) == 1 and inline_style_sources("/admin/")[0].startswith("'sha256-")
    # The browsable API's style="" attributes: allowed one by one, by hash.
    assert "'unsafe-hashes'" in inline_style_sources("/api/")
