"""API permission classes. Kept apart from common.py: DRF imports these while it is still loading."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from resources.permissions import request_roles


def roles_of(request) -> dict[Any, str]:
    """organization id → role for the caller, cached on the request (one query per request); a superuser's
    is {"*": OWNER}."""
    return request_roles(request)


class IsMember(BasePermission):
    """Authenticated and a member of at least one organization (or a superuser)."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        return bool(roles_of(request))
