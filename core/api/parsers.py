"""The API's one JSON parser (docs/architecture.md#strict-input): hostile bodies end here as a 400, before any
serializer, service or database sees them.

- The body must be UTF-8 (or the charset it declares): undecodable bytes are a PARSE_ERROR.
- Nesting deeper than MAX_DEPTH is a PARSE_ERROR, counted on the text before it is parsed (Python's json
  would recurse, and a RecursionError is a 500), without recursion here.
- A lone surrogate (`"\\ud800"`: a JSON escape that names half of a character) is no text any database
  or renderer can encode: 400 INVALID at the field that holds it, or at the key that is one.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils.json import strict_constant

from core.errors import FieldError, ValidationFailed

# The deepest a body of ours nests is 5 (bookingForm.contactFields[0].options[0]); free-form answers add a
# little. Far below the interpreter's recursion limit.
MAX_DEPTH = 32
# At most this many lone-surrogate errors are listed (a body may hold thousands of strings).
MAX_REPORTED = 20

# A JSON string literal (escapes included), and the brackets left once strings are gone.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_OPENING = frozenset("[{")

SURROGATE_MESSAGE = "The text is not valid Unicode (it holds half of a character)."


def nesting_depth(text: str) -> int:
    """How deep the arrays and objects of JSON `text` nest (brackets inside strings do not count)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRING.sub("", text)):
        if match.group() in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def lone_surrogates(value: Any) -> list[FieldError]:
    """INVALID at each string (value or key) of a parsed body that holds a lone surrogate, in the body's
    order, the path written as the API writes field paths (`events[0].title`)."""
    errors: list[FieldError] = []
    # (value, its path, whether the key that holds it is itself a lone surrogate)
    stack: list[tuple[Any, str, bool]] = [(value, "", False)]
    while stack and len(errors) < MAX_REPORTED:
        item, path, bad_key = stack.pop()
        if bad_key or (isinstance(item, str) and _SURROGATE.search(item)):
            errors.append(FieldError(path, "INVALID", SURROGATE_MESSAGE))
        if isinstance(item, Mapping):
            stack.extend(
                reversed([(child, _join(path, key), bool(_SURROGATE.search(key))) for key, child in item.items()])
            )
        elif isinstance(item, list):
            stack.extend(reversed([(child, f"{path}[{index}]", False) for index, child in enumerate(item)]))
    return errors[:MAX_REPORTED]


def _join(path: str, key: str) -> str:
    """The path of `key` inside `path`, a lone surrogate in the key shown as its escape (`\\ud800`)."""
    key = key.encode("utf-8", "backslashreplace").decode("utf-8")
    return f"{path}.{key}" if path else key


class StrictJSONParser(JSONParser):
    """DRF's JSON parser (no NaN or Infinity), with the checks of this module."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"The body is not valid {encoding} text.") from exc
        if nesting_depth(text) > MAX_DEPTH:
            raise ParseError(f"The JSON nests deeper than {MAX_DEPTH} levels.")
        try:
            data = json.loads(text, parse_constant=strict_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {_reason(exc)}") from exc
        errors = lone_surrogates(data)
        if errors:
            raise ValidationFailed("Invalid input: some text is not valid Unicode.", errors)
        return data


def _reason(exc: Exception) -> str:
    """json's own explanation (line and column), never the input it quotes."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg}: line {exc.lineno} column {exc.colno} (char {exc.pos})"
    return "the body is not JSON."
