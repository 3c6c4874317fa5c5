"""The calendar feeds' admin: scoped to the user's organizations, changed only with the "configure" role."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from feeds.models import CalendarFeed
from feeds.services import feed_create
from resources.models import Role

from ..conftest import Setup
from ..factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def client_for(setup: Setup, role: str, *others: tuple[Setup, str]) -> tuple:
    user = UserFactory()
    MembershipFactory(user=user, organization=setup.org, role=role)
    for other, other_role in others:
        MembershipFactory(user=user, organization=other.org, role=other_role)
    client = Client()
    client.force_login(user)
    return user, client


def url(view: str, feed: CalendarFeed | None = None) -> str:
    return reverse(f"admin:feeds_calendarfeed_{view}", args=[feed.pk] if feed is not None else None)


@pytest.fixture
def other(db) -> Setup:
    return Setup()


@pytest.fixture
def feeds(setup, other) -> tuple[CalendarFeed, CalendarFeed]:
    return (
        feed_create(organization=setup.org, name="Our calendar"),
        feed_create(organization=other.org, name="Their calendar"),
    )


def test_the_list_shows_the_users_feeds_with_their_urls_to_copy(setup, feeds):
    mine, theirs = feeds
    _, client = client_for(setup, Role.VIEWER)

    page = client.get(url("changelist")).content.decode()

    assert "Our calendar" in page and mine.get_url() in page
    assert 'readonly value="https://bookings.example.org/feeds/' in page
    assert "Their calendar" not in page and theirs.token not in page


def test_an_admin_adds_a_feed_and_the_server_makes_the_token(setup):
    user, client = client_for(setup, Role.ADMIN)

    response = client.post(
        url("add"),
        {
            "organization": setup.org.pk,
            "resource": setup.room.pk,
            "name": "Room calendar",
            "include_tentative": "on",
            "token": "chosen",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    feed = CalendarFeed.objects.get(name="Room calendar")
    assert feed.token != "chosen" and len(feed.token) >= 40
    assert (feed.organization, feed.resource, feed.include_tentative, feed.created_by) == (
        setup.org,
        setup.room,
        True,
        user,
    )
    assert feed.get_url() in client.get(url("change", feed)).content.decode()


def test_the_resource_must_belong_to_the_feeds_organization(setup, other):
    _, client = client_for(setup, Role.ADMIN, (other, Role.ADMIN))

    response = client.post(url("add"), {"organization": setup.org.pk, "resource": other.room.pk, "name": "Mixed"})

    assert response.status_code == 200
    assert "Choose a resource of this organization." in response.content.decode()
    assert not CalendarFeed.objects.filter(name="Mixed").exists()


def test_resource_choices_are_the_users_organizations_only(setup, other):
    _, client = client_for(setup, Role.ADMIN)

    response = client.post(url("add"), {"organization": setup.org.pk, "resource": other.room.pk, "name": "X"})
    choices = client.get(url("add")).context["adminform"].form.fields["resource"].queryset

    assert response.status_code == 200 and not CalendarFeed.objects.filter(name="X").exists()
    assert set(choices) == {setup.room, setup.hall, setup.desks}


def test_another_organizations_feed_is_not_found(setup, feeds):
    _, theirs = feeds
    _, client = client_for(setup, Role.OWNER)

    for view in ("change", "revoke", "replace", "delete", "history"):
        assert client.get(url(view, theirs)).status_code == 404, view
    assert client.post(url("revoke", theirs)).status_code == 404
    assert client.post(url("replace", theirs)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MANAGER])
def test_viewers_and_managers_see_but_cannot_change(setup, feeds, role):
    mine, _ = feeds
    _, client = client_for(setup, role)

    assert client.get(url("add")).status_code == 403
    page = client.get(url("change", mine))
    assert page.status_code == 200 and mine.get_url() in page.content.decode()
    assert url("revoke", mine) not in page.content.decode()
    assert client.post(url("change", mine), {"name": "Renamed"}).status_code == 403
    assert client.get(url("revoke", mine)).status_code == 403
    assert client.post(url("revoke", mine)).status_code == 403
    assert client.post(url("replace", mine)).status_code == 403
    client.post(url("changelist"), {"action": "revoke_feeds", "_selected_action": [mine.pk]})
    assert client.post(url("delete", mine), {"post": "yes"}).status_code == 403
    mine.refresh_from_db()
    assert mine.revoked_at is None and mine.name == "Our calendar"
    assert CalendarFeed.objects.count() == 2


def test_revoking_from_the_feeds_page(setup, feeds):
    mine, _ = feeds
    _, client = client_for(setup, Role.ADMIN)
    page = client.get(url("change", mine)).content.decode()
    assert url("revoke", mine) in page and url("replace", mine) in page

    confirm = client.get(url("revoke", mine))
    assert confirm.status_code == 200 and b"Revoke URL" in confirm.content
    mine.refresh_from_db()
    assert mine.revoked_at is None  # a GET changes nothing

    assert client.post(url("revoke", mine)).status_code == 302
    mine.refresh_from_db()
    assert mine.revoked_at is not None
    assert Client().get(mine.get_path()).status_code == 404
    page = client.get(url("change", mine)).content.decode()
    assert "no longer works" in page and url("revoke", mine) not in page


def test_replacing_gives_a_new_url_with_the_same_settings(setup, feeds):
    mine, _ = feeds
    user, client = client_for(setup, Role.ADMIN)

    response = client.post(url("replace", mine))

    new = CalendarFeed.objects.active().get(organization=setup.org)
    assert response.status_code == 302 and response["Location"] == url("change", new)
    mine.refresh_from_db()
    assert mine.revoked_at is not None and new.token != mine.token
    assert (new.name, new.resource_id, new.include_tentative, new.created_by) == (mine.name, None, False, user)
    assert Client().get(mine.get_path()).status_code == 404
    assert Client().get(new.get_path()).status_code == 200


def test_list_actions_touch_only_feeds_the_user_may_configure(setup, other, feeds):
    mine, theirs = feeds
    _, client = client_for(setup, Role.ADMIN, (other, Role.VIEWER))

    response = client.post(
        url("changelist"), {"action": "revoke_feeds", "_selected_action": [mine.pk, theirs.pk]}, follow=True
    )

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None and theirs.revoked_at is None
    assert "1 feed(s) left as they were" in response.content.decode()


def test_the_replace_action(setup, feeds):
    mine, _ = feeds
    _, client = client_for(setup, Role.OWNER)

    client.post(url("changelist"), {"action": "replace_feeds", "_selected_action": [mine.pk]})

    mine.refresh_from_db()
    assert mine.revoked_at is not None
    assert CalendarFeed.objects.active().filter(organization=setup.org, name="Our calendar").count() == 1


def test_a_revoked_feed_cannot_be_edited_back_to_life(setup, feeds):
    mine, _ = feeds
    _, client = client_for(setup, Role.ADMIN)
    client.post(url("revoke", mine))

    form = client.get(url("change", mine)).context["adminform"].form
    client.post(url("change", mine), {"name": "Renamed", "include_tentative": "on"})

    mine.refresh_from_db()
    assert not form.fields  # every field is read-only
    assert mine.name == "Our calendar" and mine.revoked_at is not None
