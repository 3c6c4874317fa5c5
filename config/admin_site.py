"""The staff admin (docs/architecture.md#staff-admin): Django's admin, open to every member of an organization
(their role decides what they see and may do, see resources.admin_base), with the day's queue on the index."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from bookings.selectors import admin_queue_counts
from resources.models import Membership
from resources.permissions import request_roles


def _may_use_admin(user) -> bool:
    return user.is_active and (user.is_staff or Membership.objects.filter(user=user).exists())


class MemberAuthenticationForm(AdminAuthenticationForm):
    """Members of an organization may sign in without Django's is_staff flag."""

    def confirm_login_allowed(self, user):
        if not _may_use_admin(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class AllotAdminSite(admin.AdminSite):
    site_header = "Allot"
    site_title = "Allot"
    index_title = "Today's work"
    login_form = MemberAuthenticationForm
    # The booking list and the calendar need the width more than a second copy of the index's app list.
    enable_nav_sidebar = False

    def has_permission(self, request) -> bool:
        user = request.user
        return user.is_active and (user.is_staff or bool(request_roles(request)))

    def index(self, request, extra_context=None):
        return super().index(request, {"queue": admin_queue_counts(request), **(extra_context or {})})
