"""Taking a person's details out of stored text (docs/architecture.md#personal-data).

An erasure knows what identifies the person (their name, email addresses and phone numbers as they were
given) and replaces every occurrence of them, whatever the case, in the text and the JSON values and keys
that may hold them: titles and notes a booker wrote, email bodies, log snapshots, webhook payloads, stored
API answers. Values too short to identify anyone (a two-letter name) are left out: replacing them would
mangle unrelated words."""

from __future__ import annotations

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
    a part of it), the `pattern` that finds any of them whatever the case, and `rows_with` to find the rows
    that hold one in the database (case-insensitive; JSON columns are searched as their text)."""

    values: tuple[str, ...]
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, values: Iterable[str | None]) -> Identifiers | None:
        """None when no value is long enough to identify anyone."""
        wanted = sorted({v.strip() for v in values if v and len(v.strip()) >= MIN_LENGTH}, key=len, reverse=True)
        if not wanted:
            return None
        return cls(tuple(wanted), re.compile("|".join(re.escape(v) for v in wanted), re.IGNORECASE))

    def rows_with(self, *fields: str) -> Q:
        return reduce(or_, (Q(**{f"{field}__icontains": value}) for field in fields for value in self.values))


def scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    """`value` with every match of `pattern` replaced by ERASED: text, and the strings (values and keys)
    anywhere inside JSON lists and objects; anything else as it is."""
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, list):
        return [scrub(item, pattern) for item in value]
    if isinstance(value, dict):
        return {scrub(key, pattern): scrub(item, pattern) for key, item in value.items()}
    return value


def scrub_fields(obj: Any, fields: Iterable[str], who: Identifiers) -> bool:
    """Scrub the named attributes of `obj` in place; whether any changed."""
    changed = False
    for name in fields:
        old = getattr(obj, name)
        new = scrub(old, who.pattern)
        if new != old:
            setattr(obj, name, new)
            changed = True
    return changed
