"""The per-process cache of configuration (docs/architecture.md#configuration-cache).

What every public submit reads (its module and form fields, the offered resources with their rules, units,
rates and products, the organization's closures and webhook endpoints) changes rarely and is read on every
request. Each process keeps what it loaded, tagged with the organization's `config_version`; every
configuration service bumps that version in the same transaction as its change (`config_changed`), so a
reader checks the version (one query, once per request and organization) and reloads what is older. A
change is therefore seen by the very next request of every process, and nothing needs a shared cache or
an invalidation message.

Cached values are shared between the requests of a process: callers read them and never change them.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar
from uuid import UUID

from .models import Organization

T = TypeVar("T")

# (organization id, key) → (version, value). Bounded: an organization's entries are few (its modules), and
# a process serves a handful of organizations; the bound only guards against a pathological caller.
MAX_ENTRIES = 2_000
_store: dict[tuple[UUID, Hashable], tuple[int, Any]] = {}
_lock = threading.Lock()

# The versions read in this request (None outside one): a request reads each organization's version once.
_versions: ContextVar[dict[UUID, int] | None] = ContextVar("config_versions", default=None)


@contextmanager
def config_read_scope() -> Iterator[None]:
    """One request: each organization's version is read at most once inside it (the middleware opens it)."""
    token = _versions.set({})
    try:
        yield
    finally:
        _versions.reset(token)


def config_version(organization_id: UUID) -> int | None:
    """The organization's configuration version (None: no such organization)."""
    seen = _versions.get()
    if seen is not None and organization_id in seen:
        return seen[organization_id]
    version = Organization.objects.filter(pk=organization_id).values_list("config_version", flat=True).first()
    if seen is not None and version is not None:
        seen[organization_id] = version
    return version


def cached(organization_id: UUID, key: Hashable, loader: Callable[[], T]) -> T:
    """`loader()`'s value for this organization and key, loaded again only when the organization's
    configuration changed since (or never loaded in this process)."""
    version = config_version(organization_id)
    entry = _store.get((organization_id, key))
    if entry is not None and version is not None and entry[0] == version:
        return entry[1]  # type: ignore[no-any-return]
    value = loader()
    if version is not None:
        with _lock:
            if len(_store) >= MAX_ENTRIES:
                _store.clear()
            _store[(organization_id, key)] = (version, value)
    return value


class StaleConfiguration(Exception):  # noqa: N818  (not an error: the caller retries with a checked read)
    """What a request read unchecked (cached_peek) turned out older than the organization's configuration."""


def cached_peek(organization_id: UUID, key: Hashable) -> tuple[int, Any] | None:
    """(version, value) as this process cached them, without checking the version: for a writer that checks
    it with its first write (config_assume, config_check) and starts again on StaleConfiguration."""
    return _store.get((organization_id, key))


def config_assume(organization_id: UUID, version: int) -> None:
    """Let this request read the organization's configuration as of `version` without a query; the caller
    checks it before anything it wrote can commit."""
    seen = _versions.get()
    if seen is not None:
        seen[organization_id] = version


def config_forget(organization_id: UUID) -> None:
    """Read the organization's version again (after StaleConfiguration)."""
    seen = _versions.get()
    if seen is not None:
        seen.pop(organization_id, None)


def config_check(organization_id: UUID, version: int | None) -> None:
    """StaleConfiguration unless the organization's configuration is still at `version` (None: not assumed)."""
    if version is None:
        return
    current = Organization.objects.filter(pk=organization_id).values_list("config_version", flat=True).first()
    if current != version:
        raise StaleConfiguration


def config_changed(*, organization_id: UUID | None) -> None:
    """Call inside the transaction of every change to configuration a submit reads: every process reloads
    it on its next request once this commits (and never before: a rollback leaves the version as it was)."""
    if organization_id is None:
        return
    # A random version, not a counter: a change that rolls back may have been read (and cached) by its own
    # transaction under its new version; a counter would give that number to the next change.
    Organization.objects.filter(pk=organization_id).update(config_version=secrets.randbits(62))
    seen = _versions.get()
    if seen is not None:
        seen.pop(organization_id, None)  # this request reads its own change too


def config_cache_clear() -> None:
    """Forget everything this process cached (tests that change configuration behind the services' back)."""
    with _lock:
        _store.clear()
