"""Exports from the admin's lists (docs/architecture.md#exports): two actions on every exportable list, CSV
and XLSX, of the selected rows, or of the whole filtered list with "Select all" (Django passes the action the
list's filtered queryset, already scoped to the user's organizations). Whoever may see the list may export
what it shows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase

from core.exports import FORMATS, Table, export_response


class ExportAdminMixin:
    """Mix into a ModelAdmin and define `export_table(queryset) -> Table`."""

    def export_table(self, queryset: QuerySet[Any]) -> Table:  # pragma: no cover - every admin overrides
        raise NotImplementedError

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions: dict[str, Any] = super().get_actions(request)  # type: ignore[misc]
        if actions is not None and self.has_view_permission(request):  # type: ignore[attr-defined]
            plural = self.model._meta.verbose_name_plural  # type: ignore[attr-defined]
            for fmt in FORMATS:
                name = f"export_{fmt}"
                actions[name] = (self._exporter(fmt), name, f"Export selected {plural} ({fmt.upper()})")
        return actions

    def _exporter(self, fmt: str) -> Callable[[Any, HttpRequest, QuerySet[Any]], HttpResponseBase]:
        def export(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponseBase:
            return export_response(self.export_table(queryset), fmt)

        return export
