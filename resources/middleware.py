"""Each request reads an organization's configuration version once (docs/architecture.md#configuration-cache)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .config_cache import config_read_scope


class ConfigReadScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with config_read_scope():
            return self.get_response(request)
