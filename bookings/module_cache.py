"""What every submit reads of its booking module, from the configuration cache
(docs/architecture.md#configuration-cache): the module with its organization and admin, its form fields, the
portals it is on, its email templates, and the resources it offers with their venue, bookable hours and
active units, all prefetched, so the validation, the scheduling and the emails read no configuration from the database.

The module and portal objects are shared by the requests of a process: read them, never change or save
them (the services load their own rows to change).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Prefetch

from core.ids import as_uuid
from resources.config_cache import cached, cached_peek, config_assume
from resources.models import Resource, ResourceUnit

from .models import BookingModule, Portal

# The offered resources as the validation, the rules and the emails read them.
OFFERED_PREFETCH = ("bookable_hours",)


def _offered(organization_id: UUID) -> Prefetch:
    units = ResourceUnit.objects.filter(archived=False).order_by("order", "name", "pk")
    return Prefetch(
        "resources",
        # Same organization only, even if a module was misconfigured to offer another's resource.
        queryset=Resource.objects.filter(venue__organization_id=organization_id)
        .select_related("venue__organization")
        .prefetch_related(
            *OFFERED_PREFETCH,
            Prefetch("units", queryset=units, to_attr="active_units"),
            # Archived ones too: an event may still occupy one (bookings.selectors.booking_written_payload).
            Prefetch("units", queryset=ResourceUnit.objects.only("id", "resource_id"), to_attr="all_units"),
        ),
    )


def module_cached(*, organization_id: Any, module_id: Any) -> BookingModule | None:
    """The organization's module with everything a submit reads prefetched; None when there is no such
    module in that organization."""
    org_pk, module_pk = as_uuid(organization_id), as_uuid(module_id)
    if org_pk is None or module_pk is None:
        return None

    def load() -> BookingModule | None:
        return (
            BookingModule.objects.select_related("organization", "admin_user")
            # Staff's email templates too: the submit's emails pick theirs with no query
            # (docs/architecture.md#email-templates).
            .prefetch_related("fields", "portals", "email_templates", _offered(org_pk))
            .filter(pk=module_pk, organization_id=org_pk)
            .first()
        )

    return cached(org_pk, ("module", module_pk), load)


def portal_cached(*, organization_id: Any, portal_id: Any) -> Portal | None:
    """The organization's portal (None when there is none with that id)."""
    org_pk, portal_pk = as_uuid(organization_id), as_uuid(portal_id)
    if org_pk is None or portal_pk is None:
        return None
    return cached(
        org_pk, ("portal", portal_pk), lambda: Portal.objects.filter(pk=portal_pk, organization_id=org_pk).first()
    )


def submit_config(
    *, organization_id: Any, module_id: Any, portal_id: Any, checked: bool
) -> tuple[BookingModule | None, Portal | None, int | None]:
    """The module and portal of a submit, and the configuration version they were read at when it is still
    to be checked (None: checked already). Unchecked (`checked` False) when this process has both cached
    alike: no query at all, and the request reads the rest of the organization's configuration at that
    version too; the submit's first write checks it (bookings.lifecycle.submit) and the caller starts again,
    checked, on StaleConfiguration."""
    org_pk, module_pk, portal_pk = as_uuid(organization_id), as_uuid(module_id), as_uuid(portal_id)
    if not checked and org_pk is not None and module_pk is not None:
        module = cached_peek(org_pk, ("module", module_pk))
        portal = cached_peek(org_pk, ("portal", portal_pk)) if portal_pk is not None else None
        if (
            module is not None
            and module[1] is not None
            and (portal_id is None or (portal is not None and portal[1] is not None and portal[0] == module[0]))
        ):
            config_assume(org_pk, module[0])
            return module[1], portal[1] if portal is not None else None, module[0]
    module_row = module_cached(organization_id=organization_id, module_id=module_id)
    portal_row = portal_cached(organization_id=organization_id, portal_id=portal_id) if portal_id else None
    return module_row, portal_row, None


def prefetched(instance: Any, relation: str) -> list[Any] | None:
    """The instance's prefetched rows of `relation` (a cached module's), None when they were not prefetched."""
    rows = getattr(instance, "_prefetched_objects_cache", {}).get(relation)
    return None if rows is None else list(rows)
