"""Tenant and role checks for the API: a caller sees only its organizations' objects (others answer
404), and a write needs the role the action asks for (403 below it)."""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from django.db.models import Model, QuerySet
from knox.models import AuthToken

from core.actor import Actor
from core.errors import NotFound, PermissionDenied
from core.ids import as_uuid
from resources.models import Role
from resources.permissions import ACTION_ROLE, ROLE_RANK

from .permissions import IsMember, roles_of  # noqa: F401  (re-exported for views)


def visible_org_ids(request) -> list[UUID] | None:
    """The organizations the caller may see; None means all (superuser)."""
    roles = roles_of(request)
    return None if "*" in roles else list(roles)


ModelT = TypeVar("ModelT", bound=Model)


def scope(queryset: QuerySet[ModelT], request, org_field: str = "organization") -> QuerySet[ModelT]:
    ids = visible_org_ids(request)
    return queryset if ids is None else queryset.filter(**{f"{org_field}_id__in": ids})


def require_role(request, organization_id: UUID | str | None, action: str) -> None:
    """404 when the caller is not a member (other organizations' objects do not exist for them),
    403 when the role is too low."""
    roles = roles_of(request)
    role = roles.get("*") or roles.get(organization_id) or roles.get(as_uuid(organization_id))
    if role is None:
        raise NotFound()
    if ROLE_RANK[Role(role)] < ROLE_RANK[ACTION_ROLE[action]]:
        raise PermissionDenied()


def get_scoped(queryset: QuerySet[ModelT], request, pk: Any, org_field: str = "organization") -> ModelT:
    """The object if the caller may see it, else 404 (whether it exists elsewhere or not)."""
    pk = as_uuid(pk)
    if pk is None:
        raise NotFound()
    obj = scope(queryset, request, org_field).filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    return obj


def actor_for(request) -> Actor:
    return Actor.staff(request.user, via_token=isinstance(request.auth, AuthToken))
