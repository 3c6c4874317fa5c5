"""Tables as files (docs/architecture.md#exports): CSV streamed line by line, XLSX written in write-only
mode, and no cell that a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import glob
import io
import os
import tempfile
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from core.exports import Table, csv_response, neutral, xlsx_response


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1-2", "'+1-2"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tindent", "'\tindent"),
        ("\rreturn", "'\rreturn"),
        ("plain", "plain"),
        ("'already quoted", "'already quoted"),
        (-5, -5),  # a number is a number
        (Decimal("-12.50"), Decimal("-12.50")),
        (None, None),
    ],
)
def test_a_cell_that_a_spreadsheet_would_run_is_quoted(value, written):
    assert neutral(value) == written


def _table() -> Table:
    rows = iter(
        [
            ["=1+1", Decimal("12.50"), datetime(2026, 12, 7, 10, 30, tzinfo=UTC), None],
            ["Zoë\x07 bell", 3, None, "ok"],
        ]
    )
    return Table("people", ["Name", "Amount", "When", "Note"], rows)


def test_csv_is_streamed_and_quoted():
    response = csv_response(_table())
    assert response.streaming and response["Content-Disposition"] == 'attachment; filename="people.csv"'
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert lines == [
        ["Name", "Amount", "When", "Note"],
        ["'=1+1", "12.50", "2026-12-07 10:30", ""],
        ["Zoë\x07 bell", "3", "", "ok"],
    ]


def test_xlsx_opens_with_the_same_cells_without_formulas_or_control_characters():
    response = xlsx_response(_table())
    assert response["Content-Disposition"] == 'attachment; filename="people.xlsx"'
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        ["Name", "Amount", "When", "Note"],
        ["'=1+1", 12.5, datetime(2026, 12, 7, 10, 30)],  # a row's empty cells at its end are not written
        ["Zoë bell", 3, None, "ok"],
    ]


def test_a_header_that_looks_like_a_formula_is_quoted_too():
    table = Table("t", ['=HYPERLINK("http://evil","x")'], iter([["ok"]]))
    [header, _] = list(csv.reader(io.StringIO(b"".join(csv_response(table).streaming_content).decode())))
    assert header == ['\'=HYPERLINK("http://evil","x")']
    table = Table("t", ['=HYPERLINK("http://evil","x")'], iter([["ok"]]))
    book = load_workbook(io.BytesIO(b"".join(xlsx_response(table).streaming_content)))
    cell = book.active["A1"]
    assert (cell.data_type, cell.value) == ("s", '\'=HYPERLINK("http://evil","x")')


def test_a_workbook_that_fails_halfway_leaves_no_file_behind():
    def rows():
        yield ["Ada Lovelace"]
        raise RuntimeError("the database went away")

    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "openpyxl.*")))
    with pytest.raises(RuntimeError):
        xlsx_response(Table("t", ["Name"], rows()))
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "openpyxl.*"))) == before
