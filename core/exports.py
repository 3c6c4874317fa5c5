"""Tables as files (docs/architecture.md#exports): CSV through a streaming response and XLSX through
openpyxl's write-only mode, so an export of 100,000 rows holds one chunk of rows in memory, not the file.

A cell that a spreadsheet would read as a formula (text starting with =, +, -, @, a tab or a carriage
return) is written with a leading apostrophe (CSV injection); numbers stay numbers. XLSX cannot hold
control characters, which are left out there."""

from __future__ import annotations

import contextlib
import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

Cell = str | int | float | Decimal | date | datetime | None
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Table:
    """A header and its rows, produced as they are written (`rows` is read once)."""

    name: str  # the file's name without its extension
    columns: list[str]
    rows: Iterable[Sequence[Cell]]


def forget_prefetched(*objects: Any) -> None:
    """Drop what prefetch_related cached on `objects` once their rows are written. Each cached queryset refers
    back to its instance: a reference cycle that only the garbage collector frees, late, so an export's memory
    would grow with its rows. Without the cycles, each chunk is freed as soon as the next one is read."""
    for obj in objects:
        getattr(obj, "_prefetched_objects_cache", {}).clear()


def neutral(value: Cell) -> Cell:
    """The value as a spreadsheet must not take it for a formula; datetimes without their time zone (the
    columns say which: the values are already local)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(table: Table) -> Iterator[str]:
    writer = csv.writer(_Echo())
    # No byte-order mark: scripts read the CSV; spreadsheet users take the XLSX, which has no encoding issue.
    yield writer.writerow([csv_cell(name) for name in table.columns])  # labels are typed by staff too
    for row in table.rows:
        yield writer.writerow([csv_cell(cell) for cell in row])


def csv_cell(value: Cell) -> Any:
    """A cell as CSV writes it: quoted against formulas, a time to the minute, nothing for None."""
    value = neutral(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    return "" if value is None else value


def csv_response(table: Table) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_csv_lines(table), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table.name}.csv"'
    return response


def _xlsx_cell(value: Cell) -> Cell:
    value = neutral(value)
    if isinstance(value, str):
        return str(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def xlsx_response(table: Table) -> FileResponse:
    """The workbook is written row by row to a temporary file (write-only mode keeps no rows in memory),
    then streamed; the file is gone once the response is closed. When reading the rows fails, openpyxl's
    own temporary file (the rows so far: personal data) is removed before the error goes on."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(table.name[:31])
    target = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the response)
    try:
        sheet.append([_xlsx_cell(name) for name in table.columns])
        for row in table.rows:
            sheet.append([_xlsx_cell(cell) for cell in row])
        book.save(target)
    except BaseException:
        # openpyxl's row generator, its XML stream, then its file: each closed even if the one before fails.
        for close in (
            getattr(getattr(sheet, "_rows", None), "close", None),
            getattr(getattr(getattr(sheet, "_writer", None), "xf", None), "close", None),
            getattr(getattr(sheet, "_writer", None), "cleanup", None),
        ):
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
        target.close()
        raise
    target.seek(0)
    return FileResponse(target, as_attachment=True, filename=f"{table.name}.xlsx", content_type=XLSX_TYPE)


def export_response(table: Table, fmt: str) -> StreamingHttpResponse | FileResponse:
    return xlsx_response(table) if fmt == "xlsx" else csv_response(table)
