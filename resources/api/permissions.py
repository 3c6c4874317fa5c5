"""API permission classes. Kept apart from common.py: DRF imports these while it is still loading."""

from __future__ import annotations

from uuid import UUID

from rest_framework.permissions import BasePermission

from resources.models import Membership, Role


def roles_of(request) -> dict[UUID, str]:
    """organization id → role for the caller, cached on the request (one query per request)."""
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


class IsMember(BasePermission):
    """Authenticated and a member of at least one organization (or a superuser)."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        return bool(roles_of(request))
