"""The one place that answers "may this user do that in this organization" (docs/architecture.md#roles-and-tenancy)."""

from typing import Any
from uuid import UUID

from django.db.models import QuerySet

from core.errors import PermissionDenied

from .models import Membership, Organization, Role

# Higher rank includes everything below it.
ROLE_RANK = {Role.VIEWER: 1, Role.MANAGER: 2, Role.ADMIN: 3, Role.OWNER: 4}

# What each kind of action needs.
ACTION_ROLE = {
    "view": Role.VIEWER,
    "manage_bookings": Role.MANAGER,  # create, approve, deny, cancel, decide change requests
    "manage_events": Role.MANAGER,
    "adjust_credits": Role.MANAGER,  # grant or take back booking credit (logged)
    "configure": Role.ADMIN,  # modules, resources, portals, venues
    "personal_data": Role.ADMIN,  # export or erase everything held about a person
    "own": Role.OWNER,
}


def role_allows(role: str | None, action: str) -> bool:
    return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[ACTION_ROLE[action]]


def request_roles(request) -> dict:
    """organization id → role for the request's user, cached on the request (one query per request).
    A superuser is {"*": OWNER}: every organization."""
    cached = getattr(request, "_allot_roles", None)
    if cached is None:
        user = request.user
        if not user.is_authenticated:
            cached = {}
        elif user.is_superuser:
            cached = {"*": Role.OWNER}
        else:
            cached = dict(Membership.objects.filter(user=user).values_list("organization_id", "role"))
        request._allot_roles = cached
    return cached


def request_role(request, organization_id) -> str | None:
    roles = request_roles(request)
    return roles.get("*") or roles.get(organization_id)


def request_allows(request, organization_id, action: str) -> bool:
    """The cached form of has_permission, for pages that check many objects of one user."""
    return role_allows(request_role(request, organization_id), action)


def request_org_ids(request, action: str = "view") -> list | None:
    """Ids of the organizations where the user may do `action`; None means all (a superuser)."""
    roles = request_roles(request)
    if "*" in roles:
        return None
    return [org_id for org_id, role in roles.items() if role_allows(role, action)]


def user_role(user, organization: Organization | UUID | str) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return Role.OWNER
    org_id: Any = getattr(organization, "pk", organization)  # an Organization's id, or the id given
    return Membership.objects.filter(user=user, organization_id=org_id).values_list("role", flat=True).first()


def has_permission(user, organization: Organization | UUID | str, action: str) -> bool:
    return role_allows(user_role(user, organization), action)


def require_permission(user, organization: Organization | str, action: str) -> None:
    if not has_permission(user, organization, action):
        raise PermissionDenied()


def organizations_for(user) -> QuerySet[Organization]:
    """Organizations the user may see anything of; other organizations' objects answer 404."""
    if not getattr(user, "is_authenticated", False):
        return Organization.objects.none()
    if user.is_superuser:
        return Organization.objects.all()
    return Organization.objects.filter(memberships__user=user)
