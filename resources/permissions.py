"""The one place that answers "may this user do that in this organization" (DESIGN §3 roles)."""

from django.db.models import QuerySet

from .exceptions import PermissionDenied
from .models import Membership, Organization, Role

# Higher rank includes everything below it.
ROLE_RANK = {Role.VIEWER: 1, Role.MANAGER: 2, Role.ADMIN: 3, Role.OWNER: 4}

# What each kind of action needs.
ACTION_ROLE = {
    "view": Role.VIEWER,
    "manage_bookings": Role.MANAGER,  # create, approve, deny, cancel, decide change requests
    "manage_events": Role.MANAGER,
    "configure": Role.ADMIN,  # modules, resources, portals, venues
    "own": Role.OWNER,
}


def user_role(user, organization: Organization | str) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return Role.OWNER
    org_id = getattr(organization, "pk", organization)
    return Membership.objects.filter(user=user, organization_id=org_id).values_list("role", flat=True).first()


def has_permission(user, organization: Organization | str, action: str) -> bool:
    role = user_role(user, organization)
    return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[ACTION_ROLE[action]]


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
