"""What every ModelAdmin of ours shares (docs/architecture.md#staff-admin): staff see only their
organizations' objects, in lists, pages, autocomplete and foreign-key choices, and what they may do follows
their role in the object's organization (resources.permissions), not Django's per-model permissions.

Another organization's object is "not found": the queryset never contains it, so the admin answers 404
for its pages exactly as it does for an id that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from .models import Organization
from .permissions import request_allows, request_org_ids


def org_id_of(obj: Model, org_path: str) -> Any:
    """Follow `org_path` ("venue__organization") from obj to its organization's id; "" is the
    organization itself."""
    if not org_path:
        return obj.pk
    *hops, last = org_path.split("__")
    for hop in hops:
        obj = getattr(obj, hop, None)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id", None)


def scope(queryset: QuerySet, request, *, org_path: str, action: str = "view") -> QuerySet:
    """The rows of organizations where the user may do `action`."""
    org_ids = request_org_ids(request, action)
    if org_ids is None:
        return queryset
    return queryset.filter(**{f"{org_path}__in" if org_path else "pk__in": org_ids})


# Where each model that our forms point at keeps its organization, for foreign-key and m2m choices.
def _related_org_path(model) -> str | None:
    if model is Organization:
        return ""
    if model is get_user_model():
        return "memberships__organization"
    path = getattr(model, "admin_org_path", None)
    if path is not None:
        return path
    names = {f.name for f in model._meta.get_fields()}
    if "organization" in names:
        return "organization"
    if "venue" in names:
        return "venue__organization"
    return None


class OrgScopedMixin:
    """For ModelAdmins and inlines. `org_path` leads from the model to its Organization; `change_action`
    is what add, change and delete need (see resources.permissions.ACTION_ROLE)."""

    org_path: str = "organization"
    change_action: str = "configure"

    # --- rows ---
    def get_queryset(self, request):
        return scope(super().get_queryset(request), request, org_path=self.org_path)

    # --- permissions, per organization ---
    def _allows(self, request, obj, action: str) -> bool:
        if obj is None or getattr(obj, "pk", None) is None:
            org_ids = request_org_ids(request, action)
            return org_ids is None or bool(org_ids)
        return request_allows(request, org_id_of(obj, self.org_path), action)

    def has_module_permission(self, request) -> bool:
        return self._allows(request, None, "view")

    def has_view_permission(self, request, obj=None) -> bool:
        return self._allows(request, obj, "view")

    def has_add_permission(self, request, obj=None) -> bool:
        return self._allows(request, obj, self.change_action)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._allows(request, obj, self.change_action)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._allows(request, obj, self.change_action)

    # --- choices: only the user's organizations, and within an object's page only its organization ---
    def _scope_choices(self, request, queryset: QuerySet) -> QuerySet:
        path = _related_org_path(queryset.model)
        if path is None:
            return queryset
        org_id = getattr(request, "_allot_admin_org_id", None)
        if org_id is not None:
            queryset = queryset.filter(**{path or "pk": org_id})
        queryset = scope(queryset, request, org_path=path, action=self.change_action)
        return queryset.distinct() if "__" in path else queryset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if formfield is not None and hasattr(formfield, "queryset"):
            formfield.queryset = self._scope_choices(request, formfield.queryset)
        return formfield

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        if formfield is not None and hasattr(formfield, "queryset"):
            formfield.queryset = self._scope_choices(request, formfield.queryset)
        return formfield


class OrgScopedAdmin(OrgScopedMixin, admin.ModelAdmin):
    list_per_page = 50

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Django's admin would redirect to the index with "doesn't exist"; another organization's
            # object must look exactly like a missing one to the API's 404.
            raise Http404("Not found.")
        # Inline and field choices on this page are limited to the object's own organization.
        request._allot_admin_org_id = org_id_of(obj, self.org_path)
        return obj

    def save_model(self, request, obj, form, change):
        org_id = org_id_of(obj, self.org_path)
        if not request_allows(request, org_id, self.change_action):
            # The organization choices are already limited; this refuses a forged POST.
            raise PermissionDenied
        super().save_model(request, obj, form, change)


class OrgScopedInline(OrgScopedMixin):
    """For inlines: Django passes the parent object to their permission checks, so the organization is
    found from the parent with `parent_org_path`."""

    parent_org_path: str = "organization"

    def _allows(self, request, obj, action: str) -> bool:
        if obj is None or getattr(obj, "pk", None) is None:
            org_ids = request_org_ids(request, action)
            return org_ids is None or bool(org_ids)
        return request_allows(request, org_id_of(obj, self.parent_org_path), action)
