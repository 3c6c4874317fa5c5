import pytest
from django.contrib.auth.models import AnonymousUser

from core.errors import PermissionDenied
from resources.models import Role
from resources.permissions import has_permission, organizations_for, require_permission, user_role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

ALLOWED = {
    # role: actions it may take
    Role.VIEWER: {"view"},
    Role.MANAGER: {"view", "manage_bookings", "manage_events"},
    Role.ADMIN: {"view", "manage_bookings", "manage_events", "configure"},
    Role.OWNER: {"view", "manage_bookings", "manage_events", "configure", "own"},
}
ACTIONS = ["view", "manage_bookings", "manage_events", "configure", "own"]


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(ALLOWED))
@pytest.mark.parametrize("action", ACTIONS)
def test_role_table(role, action):
    membership = MembershipFactory(role=role)
    expected = action in ALLOWED[role]
    assert has_permission(membership.user, membership.organization, action) is expected
    if expected:
        require_permission(membership.user, membership.organization, action)
    else:
        with pytest.raises(PermissionDenied) as exc:
            require_permission(membership.user, membership.organization, action)
        assert exc.value.code == "PERMISSION_DENIED" and exc.value.status == 403


@pytest.mark.django_db
@pytest.mark.parametrize("action", ACTIONS)
def test_a_member_has_no_rights_in_another_organization(action):
    membership = MembershipFactory(role=Role.OWNER)
    other = OrganizationFactory()
    assert not has_permission(membership.user, other, action)
    assert user_role(membership.user, other) is None


@pytest.mark.django_db
def test_superuser_may_do_everything_everywhere():
    root = UserFactory(is_superuser=True)
    org = OrganizationFactory()
    assert all(has_permission(root, org, action) for action in ACTIONS)
    assert list(organizations_for(root)) == list(type(org).objects.all())


@pytest.mark.django_db
def test_anonymous_has_nothing():
    org = OrganizationFactory()
    assert not has_permission(AnonymousUser(), org, "view")
    assert list(organizations_for(AnonymousUser())) == []


@pytest.mark.django_db
def test_organizations_for_lists_only_memberships():
    mine = MembershipFactory(role=Role.VIEWER)
    MembershipFactory(user=mine.user, organization=OrganizationFactory(), role=Role.MANAGER)
    OrganizationFactory()  # not mine
    assert set(organizations_for(mine.user)) == set(type(mine.organization).objects.filter(memberships__user=mine.user))
    assert organizations_for(mine.user).count() == 2
