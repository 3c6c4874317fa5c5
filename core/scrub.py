"""Taking a person's details out of stored text (docs/architecture.md#personal-data).

An erasure knows what identifies the person (their name, email addresses and phone numbers as they were
given) and replaces every whole occurrence of them, whatever the case, in the text and the JSON values that
may hold them: titles and notes a booker wrote, email bodies (HTML-escaped there too), log snapshots,
webhook payloads. Only whole words match ("Ann" leaves "Annex" alone), JSON keys are never changed (they are
field ids and names, not what people typed), and values too short to identify anyone (a two-letter name)
are left out: replacing them would mangle unrelated words. The callers choose the rows: only those about
the person, never a text search across organizations."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q

ERASED = "[erased]"
MIN_LENGTH = 3


@dataclass(frozen=True)
class Identifiers:
    """What identifies one person in stored text: `values` (longest first, so a full name is replaced before
    a part of it; each also as HTML writes it), the `pattern` that finds any of them as whole words whatever
    the case, their `emails`, and `rows_with` to narrow a query to rows that may hold one (a superset: the
    pattern decides)."""

    values: tuple[str, ...]
    pattern: re.Pattern[str]
    emails: tuple[str, ...]

    @classmethod
    def of(cls, values: Iterable[str | None]) -> Identifiers | None:
        """None when no value is long enough to identify anyone."""
        given = {v.strip() for v in values if v and len(v.strip()) >= MIN_LENGTH}
        if not given:
            return None
        wanted = sorted(given | {html.escape(v) for v in given}, key=len, reverse=True)
        words = "|".join(re.escape(v) for v in wanted)
        return cls(
            tuple(wanted),
            re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE),
            tuple(sorted({v.lower() for v in given if "@" in v})),
        )

    def rows_with(self, *fields: str) -> Q:
        return reduce(or_, (Q(**{f"{field}__icontains": value}) for field in fields for value in self.values))


def scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    """`value` with every match of `pattern` replaced by ERASED: text, and the strings anywhere inside JSON
    lists and objects (values only); anything else as it is."""
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, list):
        return [scrub(item, pattern) for item in value]
    if isinstance(value, dict):
        return {key: scrub(item, pattern) for key, item in value.items()}
    return value


def scrub_fields(obj: Any, fields: Iterable[str], who: Identifiers) -> bool:
    """Scrub the named attributes of the model instance `obj` in place (text cut to its column's length:
    ERASED may be longer than what it replaces); whether any changed."""
    changed = False
    for name in fields:
        old = getattr(obj, name)
        new = scrub(old, who.pattern)
        if new != old:
            limit = obj._meta.get_field(name).max_length
            setattr(obj, name, new[:limit] if isinstance(new, str) and limit else new)
            changed = True
    return changed
