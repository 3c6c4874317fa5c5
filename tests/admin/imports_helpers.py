"""What the import tests share (test_imports_admin*.py and the browser test): files in either format, the
upload and confirm requests, and each importable list with the rows it takes and how to count them."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from bookings.models import Contact, Customer
from resources.models import Organization, Resource, Role

from .config_helpers import url


def csv_file(rows: Sequence[Sequence[Any]], name: str = "import.csv") -> SimpleUploadedFile:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode(), content_type="text/csv")


def xlsx_file(rows: Sequence[Sequence[Any]], name: str = "import.xlsx") -> SimpleUploadedFile:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return SimpleUploadedFile(name, out.getvalue())


def make_file(fmt: str, rows: Sequence[Sequence[Any]]) -> SimpleUploadedFile:
    return csv_file(rows) if fmt == "csv" else xlsx_file(rows)


def upload(client, app_model: str, organization: Organization, file) -> Any:
    return client.post(url(app_model, "import"), {"organization": str(organization.pk), "file": file})


def confirm(client, app_model: str, payload: str) -> Any:
    return client.post(url(app_model, "import_confirm"), {"payload": payload})


def errors_of(response) -> list[tuple[int, str, str]]:
    """(row number, column, code) of every row error the preview shows."""
    return [(row["number"], e.column, e.code) for row in response.context["rows"] for e in row["errors"]]


@dataclass(frozen=True)
class Importable:
    app_model: str
    role: str  # the least role that may add (and so import) the model
    header: list[str]
    good: list[list[Any]]  # two rows that pass in any organization with a venue named "Main hall"

    def count(self, organization: Organization) -> int:
        if self.app_model == "resources.resource":
            return Resource.objects.filter(venue__organization=organization).count()
        model = Contact if self.app_model == "bookings.contact" else Customer
        return model.objects.filter(organization=organization).count()


IMPORTABLES = {
    "resources.resource": Importable(
        "resources.resource",
        Role.ADMIN,
        ["Venue", "Name", "Kind", "Capacity", "Exclusive", "Max_Duration_Minutes"],
        [["main hall", "Studio A", "Room", 12, "no", ""], ["Main hall", "Hot desks", "desk", "", True, 240]],
    ),
    "bookings.contact": Importable(
        "bookings.contact",
        Role.MANAGER,
        ["NAME", "Email", "phone"],
        [["Grace Hopper", "grace@example.com", "+44 20 7946 0000"], ["Alan Turing", "", ""]],
    ),
    "bookings.customer": Importable(
        "bookings.customer",
        Role.MANAGER,
        ["name", "email", "phone"],
        [["Acme Ltd", "billing@acme.example", ""], ["Globex", "", "0123"]],
    ),
}
