"""Exports over the API (docs/architecture.md#exports): `/bookings.csv`, `/bookings.xlsx`, `/events.csv`,
`/events.xlsx`, `/contacts.csv`, `/contacts.xlsx` and `/charges.xlsx` (charges.csv is the accounting export
beside the charges list). Each takes its list's filters and the caller's scope, and streams the file
(core.exports); any member may export what they may list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from bookings.exports import bookings_table, contacts_table
from bookings.models import Contact
from bookings.pricing.charges import charges_table
from core.api.downloads import DownloadView
from core.api.errors import error_responses
from core.exports import XLSX_TYPE, Table, export_response
from events.api.views import EventFilter
from events.exports import events_table
from events.models import Event
from resources.api.scoping import scope

from .booking_views import LIST_PARAMS, bookings_filtered
from .charge_views import FILTER_PARAMS, _filtered
from .config_views import ContactFilter

# The bookings list's filters, without its paging and its events (the export is every row, with its times).
BOOKING_FILTERS = [p for p in LIST_PARAMS if p.name not in {"returnEvents", "limit", "cursor"}]


def _filter(filterset_class: Any, queryset: QuerySet[Any]) -> Callable[[Any], QuerySet[Any]]:
    def rows(request: Any) -> QuerySet[Any]:
        filterset = filterset_class(request.query_params, queryset=scope(queryset, request))
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        return filterset.qs

    return rows


def _export_view(
    noun: str,
    fmt: str,
    rows: Callable[[Any], QuerySet[Any]],
    table: Callable[[QuerySet[Any]], Table],
    *,
    parameters: list[OpenApiParameter] | None = None,
    filterset_class: Any = None,
    what: str,
) -> type[APIView]:
    """One operation: GET /{noun}.{fmt}."""
    media, kind = ("text/csv", OpenApiTypes.STR) if fmt == "csv" else (XLSX_TYPE, OpenApiTypes.BINARY)

    def get(self: APIView, request: Any) -> Any:
        return export_response(table(rows(request)), fmt)

    schema = extend_schema(
        tags=[noun],
        operation_id=f"{noun}_export_{fmt}",
        summary=f"The {noun} as {fmt.upper()} (any member)",
        description=f"{what} The list's filters apply; every matching row, of your organizations only. A text "
        "cell that a spreadsheet would run as a formula starts with an apostrophe.",
        parameters=parameters or [],
        filters=filterset_class is not None,
        responses={(200, media): kind, **error_responses(400, 401)},
    )
    attrs = {
        "get": schema(get),
        "filterset_class": filterset_class,
        "filter_backends": [DjangoFilterBackend] if filterset_class is not None else [],
    }
    if filterset_class is not None:  # the schema reads the filters' types from the model
        attrs["queryset"] = filterset_class._meta.model.objects.none()
    return type(f"{noun.title()}{fmt.title()}ExportView", (DownloadView,), attrs)


BOOKINGS_WHAT = (
    "One row per requested time, with the booking's status, contact and customer, and a column per custom field "
    'of the bookings\' modules (answers to removed fields under "Other answers").'
)

EVENTS_WHAT = "One row per event with its resources, in its venue's local time."
CHARGES_WHAT = "The columns of charges.csv as a workbook: amounts as numbers, times in the organization's zone."

VIEWS = {
    f"{noun}.{fmt}": _export_view(noun, fmt, rows, table, **options)
    for fmt in ("csv", "xlsx")
    for noun, rows, table, options in (
        ("bookings", bookings_filtered, bookings_table, {"parameters": BOOKING_FILTERS, "what": BOOKINGS_WHAT}),
        (
            "events",
            _filter(EventFilter, Event.objects.all()),
            events_table,
            {
                "filterset_class": EventFilter,
                "what": "One row per event with its resources, in its venue's local time.",
            },
        ),
        (
            "contacts",
            _filter(ContactFilter, Contact.objects.all()),
            contacts_table,
            {"filterset_class": ContactFilter, "what": "One row per contact."},
        ),
    )
}
VIEWS["charges.xlsx"] = _export_view(
    "charges",
    "xlsx",
    _filtered,
    charges_table,
    parameters=FILTER_PARAMS,
    what=CHARGES_WHAT,
)
