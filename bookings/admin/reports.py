"""The Reports page of the staff admin (docs/architecture.md#utilization-reports): pick a venue or a resource,
a range and a granularity; see the totals, an occupancy chart and a bookings chart, each with its table, and
download the rows as CSV or XLSX. Any member sees the reports of their organizations."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase, QueryDict
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import ValidationFailed
from core.exports import FORMATS, export_response
from resources.admin_base import add_service_errors, scope
from resources.models import Organization, Resource, Venue
from resources.permissions import request_org_ids

from ..reports import (
    GRANULARITIES,
    Report,
    report_build,
    report_by_period,
    report_range_errors,
    report_table,
)
from .charts import bookings_chart, hours, occupancy_chart, percent

STATUS_LABELS = {
    "approved": gettext_lazy("Approved"),
    "pending": gettext_lazy("Pending"),
    "denied": gettext_lazy("Denied"),
    "canceled": gettext_lazy("Canceled"),
}
GRANULARITY_LABELS = {"day": gettext_lazy("Day"), "week": gettext_lazy("Week"), "month": gettext_lazy("Month")}


class DateInput(forms.DateInput):
    input_type = "date"


class ReportForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none(), required=False)
    venue = forms.ModelChoiceField(queryset=Venue.objects.none(), required=False, empty_label=gettext_lazy("All"))
    resource = forms.ModelChoiceField(queryset=Resource.objects.none(), required=False, empty_label=gettext_lazy("All"))
    start = forms.DateField(label=gettext_lazy("From"), widget=DateInput)
    end = forms.DateField(label=gettext_lazy("To (included)"), widget=DateInput)
    granularity = forms.ChoiceField(
        label=gettext_lazy("By"), choices=[(g, GRANULARITY_LABELS[g]) for g in GRANULARITIES]
    )

    def __init__(self, data: QueryDict | dict[str, Any], request: HttpRequest) -> None:
        super().__init__(data)
        orgs = scope(Organization.objects.order_by("name", "pk"), request, org_path="")
        self._choices("organization", orgs)
        self._choices(
            "venue",
            scope(
                Venue.objects.select_related("organization").order_by("organization__name", "name", "pk"),
                request,
                org_path="organization",
            ),
        )
        self._choices(
            "resource",
            scope(
                Resource.objects.select_related("venue").order_by("venue__name", "name", "pk"),
                request,
                org_path="venue__organization",
            ),
        )
        self.several_orgs = len(orgs[:2]) > 1
        if not self.several_orgs:
            self.fields["organization"].widget = forms.HiddenInput()

    def _choices(self, name: str, queryset: Any) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = queryset

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data.get("granularity"):
            for error in report_range_errors(data["start"], data["end"], data["granularity"]):
                self.add_error(error.field, error.message)
        return data


def _defaults(today: date) -> dict[str, str]:
    """This month so far and to its end, by day."""
    first = today.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return {"start": first.isoformat(), "end": last.isoformat(), "granularity": "day"}


def _report(request: HttpRequest, form: ReportForm) -> Report | None:
    data = form.cleaned_data
    try:
        return report_build(
            organization_ids=request_org_ids(request),
            start=data["start"],
            end=data["end"],
            granularity=data["granularity"],
            **{f"{name}_id": data[field].pk if data.get(field) else None for name, field in _PICKED},
        )
    except ValidationFailed as error:
        add_service_errors(form, error, {"orgId": "organization"})
        return None


# report_build's keyword (without "_id") and the form field that picks it.
_PICKED = (("org", "organization"), ("venue", "venue"), ("resource", "resource"))


def _period_label(report: Report, first: date, last: date) -> str:
    """In the page's language: "Mon 2 Nov", "2 Nov–8 Nov", "Nov 2026"."""
    if report.granularity == "day":
        return date_format(first, "D j M")
    if report.granularity == "week":
        return f"{date_format(first, 'j M')}–{date_format(last, 'j M')}"
    return date_format(first, "M Y")


def _context(report: Report) -> dict[str, Any]:
    """What the page shows besides the form: the totals, the two charts and the rows of their tables."""
    series = report_by_period(report)
    labels = [_period_label(report, s["period"].first_day, s["period"].last_day) for s in series]
    for entry, label in zip(series, labels, strict=True):
        entry |= {"label": label, "counts": [entry["bookings"][name] for name in STATUS_LABELS]}
        entry["occupancy_text"] = percent(entry["occupancy"])
    totals = report.totals
    return {
        "report": report,
        "series": series,
        "statuses": list(STATUS_LABELS.values()),
        "totals": {
            "occupancy": percent(totals.occupancy),
            "booked": hours(totals.booked_minutes),
            "bookable": hours(totals.bookable_minutes),
            "counts": [(label, totals.bookings[name]) for name, label in STATUS_LABELS.items()],
        },
        "rows": [
            {
                "row": row,
                "occupancy": percent(row.occupancy),
                "counts": [row.bookings[name] for name in STATUS_LABELS],
            }
            for row in report.rows
        ],
        "occupancy_chart": occupancy_chart(series, labels),
        "bookings_chart": bookings_chart(series, labels, {k: str(v) for k, v in STATUS_LABELS.items()}),
    }


class ReportsAdminMixin:
    """Adds /admin/bookings/booking/reports/ to the booking admin."""

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view  # type: ignore[attr-defined]
        urls: list[Any] = super().get_urls()  # type: ignore[misc]
        return [path("reports/", view(self.reports_view), name="bookings_booking_reports"), *urls]

    def reports_view(self, request: HttpRequest) -> HttpResponseBase:
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        today = timezone.localdate()
        form = ReportForm(request.GET if "start" in request.GET else _defaults(today), request)
        report = _report(request, form) if form.is_valid() else None
        fmt = request.GET.get("format")
        if report is not None and fmt in FORMATS:
            return export_response(report_table(report), fmt)
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": self.model._meta,  # type: ignore[attr-defined]
            "title": _("Reports"),
            "form": form,
        }
        if report is not None:
            context |= _context(report)
            query = QueryDict(mutable=True)
            query.update({k: v for k, v in form.data.items() if k in form.fields})
            context["download_query"] = query.urlencode()
        request.current_app = self.admin_site.name  # type: ignore[attr-defined]
        return TemplateResponse(request, "admin/bookings/booking/reports.html", context)
