"""The API's JSON parser (core.api.parsers): depth counted on the text without recursion (brackets inside strings
do not count), lone surrogates found iteratively with their paths, bytes decoded strictly."""

from __future__ import annotations

import io
import json

import pytest
from rest_framework.exceptions import ParseError

from core.api.parsers import MAX_DEPTH, MAX_REPORTED, StrictJSONParser, lone_surrogates, nesting_depth
from core.errors import ValidationFailed


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("{}", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "[[[[{{{{"}', 1),
        (r'{"a": "\"[[[[", "b": ["\\"]}', 2),  # an escaped quote does not end the string; an escaped backslash does
        ("[" * 5000 + "]" * 5000, 5000),
    ],
)
def test_nesting_depth(text, depth):
    assert nesting_depth(text) == depth


def parse(raw: bytes, encoding: str = "utf-8"):
    return StrictJSONParser().parse(io.BytesIO(raw), "application/json", {"encoding": encoding})


def test_the_parser_takes_what_json_takes_up_to_the_cap():
    body = {"events": [{"title": "Caf\u00e9 \U0001f600", "resourceIds": ["a"]}], "n": 1.5, "ok": None}
    assert parse(json.dumps(body).encode()) == body
    assert parse(("[" * MAX_DEPTH + "]" * MAX_DEPTH).encode()) == json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    with pytest.raises(ParseError, match="deeper"):
        parse(("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode())


@pytest.mark.parametrize("raw", [b"NaN", b'{"a": Infinity}', b"{", b'{"a": 1}}', b"\xff", b'"\xed\xa0\x80"'])
def test_what_is_not_strict_json_in_utf8_is_a_parse_error(raw):
    with pytest.raises(ParseError):
        parse(raw)


def test_a_declared_charset_is_honoured_strictly():
    assert parse('{"a": "caf\u00e9"}'.encode("latin-1"), "latin-1") == {"a": "caf\u00e9"}
    with pytest.raises(ParseError):
        parse('{"a": "caf\u00e9"}'.encode("latin-1"))


def test_lone_surrogates_are_found_at_their_paths_in_order():
    body = json.loads(r'{"t": "\ud800", "events": [{"ok": "\ud83d\ude00"}, {"title": "x\udfff"}], "\udc00": {"k": 1}}')
    assert [e.field for e in lone_surrogates(body)] == ["t", "events[1].title", "\\udc00"]
    assert {e.code for e in lone_surrogates(body)} == {"INVALID"}
    with pytest.raises(ValidationFailed):
        parse(json.dumps(body).encode())


def test_lone_surrogates_are_reported_up_to_a_cap():
    body = [f"\ud800{i}" for i in range(1000)]
    errors = lone_surrogates(body)
    assert [e.field for e in errors] == [f"[{i}]" for i in range(MAX_REPORTED)]
