"""Reading an import's table (core.imports, docs/architecture.md#imports): CSV with or without a byte-order mark,
`,` or `;`, XLSX; headers matched without regard to case; every problem of the file as a whole is a
ValidationFailed at `file` with its code."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest
from openpyxl import Workbook

from core import imports
from core.errors import ValidationFailed
from core.imports import cell_text, read_table

COLUMNS = ("name", "email", "phone")


def _xlsx(rows) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _read(data: bytes, filename: str = "people.csv"):
    return read_table(data, filename, columns=COLUMNS, required=["name"])


def _code(data: bytes, filename: str = "people.csv") -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        _read(data, filename)
    assert all(e.field == "file" for e in caught.value.errors)
    return [e.code for e in caught.value.errors]


@pytest.mark.parametrize(
    "data",
    [
        b"Name,EMAIL\r\nAda, ada@example.com \r\n",
        b"\xef\xbb\xbfname;email\nAda;ada@example.com\n",  # Excel's "CSV UTF-8" with a semicolon
        b'" name ","e-mail"\n"Ada","ada@example.com"\n'.replace(b"e-mail", b"Email"),
    ],
    ids=["comma-crlf", "bom-semicolon", "quoted"],
)
def test_csv_rows_are_keyed_by_column_and_stripped(data):
    table = _read(data)

    assert table.columns == ["name", "email"]
    assert [(r.number, r.values, r.errors) for r in table.rows] == [
        (2, {"name": "Ada", "email": "ada@example.com"}, [])
    ]


def test_xlsx_cells_read_as_the_text_they_show():
    data = _xlsx([["Name", "Phone", None], ["Ada", 12345.0, None], [None, None, None], ["Bob", True, None]])

    table = _read(data, "people.xlsx")

    assert table.columns == ["name", "phone"]
    assert [(r.number, r.values) for r in table.rows] == [
        (2, {"name": "Ada", "phone": "12345"}),
        (4, {"name": "Bob", "phone": "true"}),
    ]


def test_cell_text_of_each_kind():
    assert [cell_text(v) for v in (None, 3.5, 7.0, date(2026, 1, 2), " a\x00b ", False)] == [
        "",
        "3.5",
        "7",
        "2026-01-02",
        "ab",
        "false",
    ]


def test_empty_rows_are_skipped_and_numbers_stay_the_files():
    table = _read(b"name\n\nAda\n,\nBob\n")

    assert [(r.number, r.values["name"]) for r in table.rows] == [(3, "Ada"), (5, "Bob")]


def test_cells_beyond_the_named_columns_are_the_rows_error():
    table = _read(b"name\nAda,surplus\n")

    assert [e.code for e in table.rows[0].errors] == ["EXTRA_CELLS"]


@pytest.mark.parametrize(
    ("data", "filename", "codes"),
    [
        (b"name\nAda\n", "people.txt", ["UNSUPPORTED_TYPE"]),
        (b"name\nAda\n", "people", ["UNSUPPORTED_TYPE"]),
        (_xlsx([["name"], ["Ada"]]), "people.csv", ["UNREADABLE"]),
        (b"name\nAda\n", "people.xlsx", ["UNREADABLE"]),
        (b"PK\x03\x04 not really an archive", "people.xlsx", ["UNREADABLE"]),
        (b"name\nAd\xe9\n", "people.csv", ["UNREADABLE"]),  # Latin-1, not UTF-8
        (b"name\nA\x00da\n", "people.csv", ["UNREADABLE"]),
        (b"", "people.csv", ["EMPTY"]),
        (b"\n\n", "people.csv", ["EMPTY"]),
        (b"name,email\n", "people.csv", ["EMPTY"]),
        (_xlsx([]), "people.xlsx", ["EMPTY"]),
        (b"name,colour\nAda,red\n", "people.csv", ["UNKNOWN_COLUMN"]),
        (b"name,,email\nAda,,a@example.com\n", "people.csv", ["UNKNOWN_COLUMN"]),
        (b"email\na@example.com\n", "people.csv", ["MISSING_COLUMN"]),
        (b"name,Name\nAda,Ada\n", "people.csv", ["DUPLICATE_COLUMN"]),
        (b"colour\nred\n", "people.csv", ["UNKNOWN_COLUMN", "MISSING_COLUMN"]),
    ],
    ids=[
        "txt",
        "no-ending",
        "xlsx-named-csv",
        "csv-named-xlsx",
        "broken-archive",
        "not-utf8",
        "nul-bytes",
        "empty",
        "blank-lines",
        "header-only",
        "empty-workbook",
        "unknown-column",
        "unnamed-column",
        "missing-column",
        "duplicate-column",
        "unknown-and-missing",
    ],
)
def test_a_file_that_cannot_be_imported_says_why(data, filename, codes):
    assert _code(data, filename) == codes


def test_too_large(monkeypatch):
    monkeypatch.setattr(imports, "MAX_BYTES", 10)

    assert _code(b"name\nAda Lovelace\n") == ["TOO_LARGE"]


@pytest.mark.parametrize("filename", ["people.csv", "people.xlsx"])
def test_too_many_rows(monkeypatch, filename):
    monkeypatch.setattr(imports, "MAX_ROWS", 2)
    rows = [["name"], ["A"], ["B"], ["C"]]
    data = _xlsx(rows) if filename.endswith("xlsx") else "\n".join(r[0] for r in rows).encode()

    assert _code(data, filename) == ["TOO_MANY_ROWS"]


@pytest.mark.parametrize(
    "part", ["xl/worksheets/sheet1.xml", "xl/workbook.xml", "[Content_Types].xml", "xl/styles.xml"]
)
def test_a_workbook_with_a_broken_part_is_unreadable_not_a_crash(part):
    source = zipfile.ZipFile(io.BytesIO(_xlsx([["name"], ["Ada"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as broken:
        for name in source.namelist():
            broken.writestr(name, b"<broken" if name == part else source.read(name))

    assert _code(out.getvalue(), "people.xlsx") == ["UNREADABLE"]


# --- files built to cost more than their size (each refused after a bounded amount of reading) ------------


def _counting(monkeypatch, reader: str) -> list[int]:
    """The width of every row `reader` (_csv_rows or _xlsx_rows) yields, as read_table takes them."""
    widths: list[int] = []
    real = getattr(imports, reader)

    def counted(data):
        rows = real(data)
        try:
            for cells in rows:
                widths.append(len(cells))
                yield cells
        finally:
            rows.close()

    monkeypatch.setattr(imports, reader, counted)
    return widths


def test_a_cell_at_the_sheets_far_corner_is_refused_after_a_bounded_read(monkeypatch):
    # 5 KB on disk; read-only openpyxl pads every row up to row 1,048,576 to 16,384 cells unless told otherwise.
    workbook = Workbook()
    workbook.active["A1"] = "name"
    workbook.active["XFD1048576"] = "x"
    out = io.BytesIO()
    workbook.save(out)
    widths = _counting(monkeypatch, "_xlsx_rows")

    assert _code(out.getvalue(), "people.xlsx") == ["TOO_MANY_ROWS"]
    assert len(widths) <= imports.MAX_ROWS * imports.MAX_PHYSICAL_ROWS_PER_ROW + 2  # the header, the one too many
    assert max(widths) <= imports.MAX_COLUMNS + 1


def test_empty_lines_count_towards_the_limit_on_rows(monkeypatch):
    widths = _counting(monkeypatch, "_csv_rows")

    assert _code(b"name\n" + b",\n" * 2_000_000) == ["TOO_MANY_ROWS"]
    assert len(widths) <= imports.MAX_ROWS * imports.MAX_PHYSICAL_ROWS_PER_ROW + 2  # the header, the one too many


def test_a_header_of_millions_of_cells_is_refused_before_it_is_split(monkeypatch):
    widths = _counting(monkeypatch, "_csv_rows")

    assert _code(b"name" + b"," * 4_000_000 + b"\nAda\n") == ["TOO_MANY_COLUMNS"]
    assert widths == []


def test_a_workbook_header_wider_than_any_import_is_refused():
    header = ["name", *[f"c{i}" for i in range(imports.MAX_COLUMNS)]]

    assert _code(_xlsx([header, ["Ada"]]), "people.xlsx") == ["TOO_MANY_COLUMNS"]


def test_a_data_row_of_millions_of_cells_is_read_as_one_extra_cell(monkeypatch):
    widths = _counting(monkeypatch, "_csv_rows")

    table = _read(b"name\nAda" + b",x" * 1_000_000 + b"\n")

    assert [e.code for e in table.rows[0].errors] == ["EXTRA_CELLS"]
    assert max(widths) == imports.MAX_COLUMNS + 1


def test_a_workbook_that_unpacks_to_more_than_the_limit_is_refused_unread(monkeypatch):
    # 60 MB of one letter: a ~60 KB archive. What openpyxl would load is never opened.
    source = zipfile.ZipFile(io.BytesIO(_xlsx([["name"], ["Ada"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for name in source.namelist():
            bomb.writestr(name, source.read(name))
        bomb.writestr("xl/media/padding.bin", b"a" * (60 * 1024 * 1024))
    monkeypatch.setattr(imports, "load_workbook", lambda *a, **k: pytest.fail("the workbook was loaded"))

    assert len(out.getvalue()) < 200 * 1024
    assert _code(out.getvalue(), "people.xlsx") == ["TOO_LARGE"]


@pytest.mark.parametrize("filename", ["people.csv", "people.xlsx"])
def test_a_cell_longer_than_the_limit_is_its_rows_error_and_is_cut(filename):
    rows = [["name", "email"], ["A" * (imports.MAX_CELL_CHARS + 1), "a@example.com"]]
    data = _xlsx(rows) if filename.endswith("xlsx") else "\n".join(",".join(r) for r in rows).encode()

    row = _read(data, filename).rows[0]

    assert [(e.field, e.code) for e in row.errors] == [("name", "MAX_LENGTH")]
    assert len(row.values["name"]) == imports.MAX_CELL_CHARS


def test_an_unterminated_quote_is_unreadable():
    assert _code(b'name,email\nAda,"ada@example.com\nBob,bob@example.com\n') == ["UNREADABLE"]


def test_the_delimiter_is_decided_by_the_first_line_ended_by_a_carriage_return():
    # Split at "\n" alone, the whole file would be the first line, with more commas than semicolons.
    table = _read(b"name;email\rLovelace, Ada;ada@example.com\rHopper, Grace, RADM;grace@example.com\r")

    assert [r.values for r in table.rows] == [
        {"name": "Lovelace, Ada", "email": "ada@example.com"},
        {"name": "Hopper, Grace, RADM", "email": "grace@example.com"},
    ]


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"])
def test_a_workbook_of_more_cells_or_texts_than_the_limit_is_refused_unparsed(monkeypatch, part):
    # openpyxl parses each cell at ~30 µs: 3 million `<c><v>1</v></c>` in one row (a 92 KB file) took 90 s.
    source = zipfile.ZipFile(io.BytesIO(_xlsx([["name"], ["Ada"]])))
    many = {
        "xl/worksheets/sheet1.xml": b'<row r="3">' + b"<c><v>1</v></c>" * (imports.MAX_CELLS + 1) + b"</row>",
        "xl/sharedStrings.xml": b"<sst>" + b"<si><t>a</t></si>" * (imports.MAX_CELLS + 1) + b"</sst>",
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for name in source.namelist():
            data = source.read(name)
            bomb.writestr(name, data.replace(b"</sheetData>", many[part] + b"</sheetData>") if name == part else data)
        if part not in source.namelist():
            bomb.writestr(part, many[part])
    monkeypatch.setattr(imports, "load_workbook", lambda *a, **k: pytest.fail("the workbook was loaded"))

    assert _code(out.getvalue(), "people.xlsx") == ["TOO_LARGE"]


def test_a_workbook_within_the_limits_is_read_whole():
    rows = [["name", "email", "phone"], *([f"Person {n}", f"p{n}@example.com", "0123"] for n in range(3000))]

    assert len(_read(_xlsx(rows), "people.xlsx").rows) == 3000
