"""Views that answer a file (CSV, XLSX): DRF's content negotiation only knows the JSON renderer, so a client
that asks for the file's own type (`Accept: text/csv`, as the schema says) would get 406. A download skips the
negotiation: the view answers its file, and its errors are the API's JSON body."""

from __future__ import annotations

from typing import Any

from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView


class DownloadView(APIView):
    def perform_content_negotiation(self, request: Any, force: bool = False) -> tuple[JSONRenderer, str]:
        renderer = JSONRenderer()
        return renderer, renderer.media_type
