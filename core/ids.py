"""The one UUID parser: what callers send as an id is a string, a UUID, or anything else."""

from __future__ import annotations

from typing import Any
from uuid import UUID


def as_uuid(value: Any) -> UUID | None:
    """A UUID from whatever the caller passed (string, UUID), or None: never an exception."""
    if isinstance(value, UUID):
        return value
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None
