"""Reading an uploaded table for an import (docs/architecture.md#imports): a CSV (UTF-8, with or without a
byte-order mark, `,` or `;` between cells) or an XLSX workbook (its first sheet, read-only), as rows of
stripped strings keyed by the documented column names.

What is wrong with the file as a whole (its type, its size, its header) is a ValidationFailed whose field
errors name `file`; nothing here knows a model. What is wrong with one row is the caller's to say.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from openpyxl import load_workbook

from .errors import FieldError, ValidationFailed

MAX_BYTES = 5 * 1024 * 1024
# Every row runs its service twice (preview, confirmation), each inside one request: measured on PostgreSQL on a
# 2-core machine, 2,000 contacts took 10 s a step, so 3,000 rows stay well inside gunicorn's 30-second limit
# (docs/architecture.md#imports).
MAX_ROWS = 3_000
# Rows read at all, empty or not, before a file is refused: a file of blank lines (or a sheet whose one cell sits at
# row 1,048,576, which read-only openpyxl pads with empty rows) is refused after this many, not read to its end.
MAX_PHYSICAL_ROWS_PER_ROW = 2
# Columns a header may name (no import has half as many), and columns read of an XLSX row: a cell at XFD would
# otherwise pad every row to 16,384 cells.
MAX_COLUMNS = 100
# Characters in one cell; more is that cell's MAX_LENGTH (no column holds as many).
MAX_CELL_CHARS = 10_000
# What an XLSX's members may unpack to, together: a 310 KB archive can hold a 300 MB string.
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
# Cells and shared strings a workbook may hold, empty ones written in the file too: openpyxl parses every one,
# at ~30 µs each, so 50 MB of `<c><v>1</v></c>` would take 90 s and 1.4 GB. 3,000 rows of 13 columns are 39,000.
MAX_CELLS = 100_000
# How the XML elements of a cell (`c`) and of a shared string (`si`) begin, with or without a namespace prefix:
# counted in every member, a few other elements too (`<col`, `<color`), never fewer.
_CELL_STARTS, _STRING_STARTS = (b"<c", b":c"), (b"<si", b":si")
FORMATS = ("csv", "xlsx")
# An XLSX is a zip archive; a zip archive starts with these bytes.
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class SourceRow:
    """One data row: its number as a spreadsheet shows it (the header is row 1), its cells by column name
    (every column of the header, "" where empty), and what is wrong with its shape (cells without a header)."""

    number: int
    values: dict[str, str]
    errors: list[FieldError] = field(default_factory=list)


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[SourceRow]


def file_error(code: str, message: Any) -> ValidationFailed:
    return ValidationFailed(str(message), errors=[FieldError("file", code, str(message))])


def read_table(data: bytes, filename: str, *, columns: Sequence[str], required: Iterable[str]) -> Table:
    """The rows of `data`, headed by names among `columns` (matched without regard to case, spaces as `_`).

    Raises ValidationFailed (field `file`) with UNSUPPORTED_TYPE, UNREADABLE, TOO_LARGE, TOO_MANY_ROWS,
    TOO_MANY_COLUMNS, EMPTY, UNKNOWN_COLUMN, DUPLICATE_COLUMN or MISSING_COLUMN. Rows whose cells are all empty
    are skipped (their numbers too: the numbers stay the file's), but counted against the limit on rows."""
    if len(data) > MAX_BYTES:
        raise file_error("TOO_LARGE", _("The file is larger than %(mb)d MB.") % {"mb": MAX_BYTES // (1024 * 1024)})
    fmt = detect_format(data, filename)
    raw = _csv_rows(data) if fmt == "csv" else _xlsx_rows(data)
    try:
        header = next(raw, None)
        if header is None or not any(header):
            raise file_error("EMPTY", _("The file is empty: its first row must name the columns."))
        if len(header) > MAX_COLUMNS and any(header[MAX_COLUMNS:]):
            raise too_many_columns()
        names = _header(header, columns, required)
        rows = _data_rows(raw, names)
    finally:
        close = getattr(raw, "close", None)
        if close is not None:
            close()  # a workbook left halfway closes its archive now, not when collected
    if not rows:
        raise file_error("EMPTY", _("The file has a header but no rows."))
    return Table(columns=[n for n in names if n], rows=rows)


def too_many_columns() -> ValidationFailed:
    return file_error("TOO_MANY_COLUMNS", _("The file has more than %(max)d columns.") % {"max": MAX_COLUMNS})


def detect_format(data: bytes, filename: str) -> str:
    """ "csv" or "xlsx", from the name's ending, checked against the content: an archive named .csv, or a text
    named .xlsx, is refused rather than guessed."""
    ending = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ending not in FORMATS:
        raise file_error("UNSUPPORTED_TYPE", _("Upload a .csv or .xlsx file."))
    if (ending == "xlsx") != data.startswith(ZIP_MAGIC):
        raise file_error("UNREADABLE", _("The file is not a readable %(type)s file.") % {"type": ending.upper()})
    return ending


def cell_text(value: Any) -> str:
    """A cell as the text it shows: trimmed, whole numbers without ".0", dates in ISO 8601, booleans as true
    or false; control characters other than tab and line breaks are left out."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, datetime | date | time):
        text = value.isoformat()
    elif isinstance(value, Decimal):
        text = format(value, "f")
    else:
        text = str(value)
    return "".join(c for c in text if c >= " " or c in "\t\n").strip()


def normalize_header(value: str) -> str:
    return "_".join(value.strip().lower().replace("-", " ").split())


def _header(cells: Sequence[str], columns: Sequence[str], required: Iterable[str]) -> list[str]:
    """The column name of each position ("" for trailing empty headers)."""
    names = [normalize_header(c) for c in cells]
    while names and not names[-1]:
        names.pop()
    errors = []
    for position, name in enumerate(names, start=1):
        if name not in columns:
            shown = cells[position - 1] or _("(empty)")
            errors.append(
                FieldError(
                    "file",
                    "UNKNOWN_COLUMN",
                    str(_("Column %(n)d, “%(name)s”, is not one of: %(known)s."))
                    % {"n": position, "name": shown, "known": ", ".join(columns)},
                )
            )
        elif names.index(name) != position - 1:
            errors.append(
                FieldError("file", "DUPLICATE_COLUMN", str(_("The column “%(name)s” appears twice.")) % {"name": name})
            )
    for name in required:
        if name not in names:
            errors.append(
                FieldError("file", "MISSING_COLUMN", str(_("The column “%(name)s” is required.")) % {"name": name})
            )
    if errors:
        raise ValidationFailed(str(_("The file's first row must name the columns.")), errors=errors)
    return names


def _data_rows(raw: Iterator[list[str]], names: list[str]) -> list[SourceRow]:
    rows: list[SourceRow] = []
    too_many = file_error("TOO_MANY_ROWS", _("The file has more than %(max)d rows.") % {"max": MAX_ROWS})
    for number, cells in enumerate(raw, start=2):
        if number - 1 > MAX_ROWS * MAX_PHYSICAL_ROWS_PER_ROW:
            raise too_many  # empty rows count too: reading them is what takes the time
        if not any(cells):
            continue
        if len(rows) == MAX_ROWS:
            raise too_many
        values = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(names)}
        errors = []
        if any(cells[len(names) :]):
            errors.append(FieldError("", "EXTRA_CELLS", str(_("This row has cells beyond the named columns."))))
        for name, value in values.items():
            if len(value) > MAX_CELL_CHARS:
                values[name] = value[:MAX_CELL_CHARS]  # what the preview shows and the payload carries
                message = _("At most %(max)d characters in a cell.") % {"max": MAX_CELL_CHARS}
                errors.append(FieldError(name, "MAX_LENGTH", str(message)))
        rows.append(SourceRow(number=number, values=values, errors=errors))
    return rows


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise file_error("UNREADABLE", _("The CSV file is not UTF-8 text; save it as “CSV UTF-8”.")) from exc
    if "\x00" in text:
        raise file_error("UNREADABLE", _("The file is not a readable CSV file."))
    first_line = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    if first_line.count(delimiter) >= MAX_COLUMNS:  # before a header of millions of cells is split
        raise too_many_columns()
    return _csv_cells(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))


def _csv_cells(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    """Each row's cells as text; of a row wider than any header may be, the first MAX_COLUMNS cells and one
    that says whether any of the rest holds something."""
    try:
        for cells in reader:
            text = [cell_text(c) for c in cells[:MAX_COLUMNS]]
            if len(cells) > MAX_COLUMNS:
                text.append("…" if any(c.strip() for c in cells[MAX_COLUMNS:]) else "")
            yield text
    except csv.Error as exc:
        raise file_error("UNREADABLE", _("The CSV file cannot be read: %(error)s") % {"error": exc}) from exc


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            # A member's declared size is what zipfile reads of it (more fails its check), so the sum is a bound.
            unpacked = sum(member.file_size for member in archive.infolist())
            if unpacked > MAX_UNPACKED_BYTES:
                raise file_error(
                    "TOO_LARGE", _("The workbook unpacks to more than %(mb)d MB.") % {"mb": MAX_UNPACKED_BYTES >> 20}
                )
            cells = max(_count_cells(archive, starts) for starts in (_CELL_STARTS, _STRING_STARTS))
    except ValidationFailed:
        raise
    except Exception as exc:  # BadZipFile, or whatever a broken central directory raises
        raise file_error("UNREADABLE", _("The file is not a readable XLSX file.")) from exc
    if cells > MAX_CELLS:
        message = _("The workbook has more than %(max)d cells or texts.") % {"max": MAX_CELLS}
        raise file_error("TOO_LARGE", message)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl lets through whatever a broken part raises (zip, XML, KeyError, ...)
        raise file_error("UNREADABLE", _("The file is not a readable XLSX file.")) from exc
    return _xlsx_cells(workbook)


def _count_cells(archive: zipfile.ZipFile, starts: tuple[bytes, ...]) -> int:
    """At least how many elements beginning with one of `starts` the archive's members hold, without parsing
    them (bytes.count: about 0.1 s for each start in 50 MB)."""
    found = 0
    for member in archive.infolist():
        if not member.is_dir():
            text = archive.read(member)
            found += sum(text.count(start) for start in starts)
    return found


def _xlsx_cells(workbook: Any) -> Iterator[list[str]]:
    """The first sheet's rows, MAX_COLUMNS + 1 cells wide at most (the header's check sees one too many);
    whatever size the sheet claims is ignored, so a cell far away pads nothing."""
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()
        for values in sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True):
            yield [cell_text(v) for v in values]
    except Exception as exc:  # as above: a corrupt sheet fails while it is read, with any kind of error
        raise file_error("UNREADABLE", _("The file is not a readable XLSX file.")) from exc
    finally:
        workbook.close()
