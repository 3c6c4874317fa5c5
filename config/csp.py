"""The Content-Security-Policy of every page (settings.CONTENT_SECURITY_POLICY), plus what three pages of
other people's code need under it: the inline <style> blocks and style="" attributes of Django's admin,
Swagger UI's page and DRF's browsable API (and its pygments stylesheet), allowed by their SHA-256 hashes
on those URL prefixes only.

Scripts need nothing: none of those pages runs inline script (Swagger UI's init script is a separate
file, see SpectacularSwaggerSplitView in config/urls.py), so script-src stays 'self' everywhere.

The hashes are computed from the installed packages' templates when the middleware starts, so an upgrade
that changes such a block changes its hash with it; a block that does not come verbatim from a template
would be blocked, and the browser test (tests/browser/test_csp.py) reports it as a violation.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

import django
import drf_spectacular
import rest_framework
from csp.middleware import CSPMiddleware, PolicyParts
from rest_framework.compat import pygments_css
from rest_framework.renderers import BrowsableAPIRenderer

_STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
_STYLE_ATTRIBUTE = re.compile(r"""\sstyle=(?:"([^"]*)"|'([^']*)')""")
_TEMPLATE_TAG = re.compile(r"{[{%#]")

_DJANGO_ADMIN = Path(django.__file__).parent / "contrib" / "admin" / "templates" / "admin"
_SPECTACULAR = Path(drf_spectacular.__file__).parent / "templates" / "drf_spectacular"
_DRF = Path(rest_framework.__file__).parent / "templates" / "rest_framework"

# URL prefix -> the templates whose inline styles its pages render (most specific prefix first).
INLINE_STYLE_TEMPLATES: dict[str, tuple[Path, ...]] = {
    "/admin/": (_DJANGO_ADMIN / "change_list.html",),
    "/api/docs/": (_SPECTACULAR / "swagger_ui.html",),
    "/api/": (_DRF / "base.html", _DRF / "login_base.html"),
}


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@cache
def inline_style_sources(prefix: str) -> tuple[str, ...]:
    """The style-src sources that allow the inline styles of the templates served under `prefix`."""
    blocks: list[str] = []
    attributes: list[str] = []
    for template in INLINE_STYLE_TEMPLATES.get(prefix, ()):
        source = template.read_text(encoding="utf-8") if template.exists() else ""
        # A block with template code in it renders differently per page: no stable hash, so not allowed.
        blocks += [b for b in _STYLE_BLOCK.findall(source) if not _TEMPLATE_TAG.search(b)]
        attributes += [a or b for a, b in _STYLE_ATTRIBUTE.findall(source) if not _TEMPLATE_TAG.search(a or b)]
    if prefix == "/api/":
        blocks += _browsable_api_code_style()
    sources = [_sha256(block) for block in dict.fromkeys(blocks)]
    if attributes:  # hashes match style="" attributes only together with 'unsafe-hashes'
        sources += ["'unsafe-hashes'"] + [_sha256(attribute) for attribute in dict.fromkeys(attributes)]
    return tuple(sources)


def _browsable_api_code_style() -> list[str]:
    """The browsable API's <style>{{ code_style }}</style>: pygments' stylesheet, the same on every page."""
    css = pygments_css(BrowsableAPIRenderer.code_style)
    return [css] if css else []


class AllotCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with the vendor pages' inline style hashes added under their prefixes."""

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only=report_only)
        prefix = next((p for p in INLINE_STYLE_TEMPLATES if request.path_info.startswith(p)), None)
        sources = inline_style_sources(prefix) if prefix else ()
        if sources and not report_only and parts.replace is None:
            update = dict(parts.update or {})
            update["style-src"] = [*update.get("style-src", []), *sources]
            parts.update = update
        return parts
