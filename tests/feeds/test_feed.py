"""GET /feeds/<token>.ics: which events a feed shows, how, and to whom (docs/architecture.md#calendar-feeds)."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.lifecycle.decide import booking_approve
from events.models import Event, EventStatus
from events.services.single import event_update
from feeds.models import CalendarFeed
from feeds.services import feed_create, feed_replace, feed_revoke

from ..conftest import Setup, future
from .conftest import make_event, parse, status_of, uid, vevents

pytestmark = pytest.mark.django_db


def test_the_org_feed_is_a_calendar_with_its_confirmed_events_only(setup, org_feed, anonymous):
    confirmed = make_event(setup, days=3, title="Board meeting")
    in_hall = make_event(setup, days=4, resources=[setup.hall], title="Concert")
    held = make_event(setup, days=5, status=EventStatus.TENTATIVE, title="Maybe")
    stranger = Setup()
    elsewhere = event_create_for(stranger, title="Other org's secret")

    response = anonymous.get(org_feed.get_path())
    calendar = parse(response)

    assert str(calendar["version"]) == "2.0"
    assert str(calendar["prodid"]).startswith("-//Allot//")
    assert str(calendar["calscale"]) == "GREGORIAN"
    assert str(calendar["x-wr-calname"]) == "Everything"
    assert str(calendar["x-wr-timezone"]) == setup.org.timezone
    events = vevents(response)
    assert set(events) == {uid(confirmed), uid(in_hall)}
    assert {status_of(v) for v in events.values()} == {"CONFIRMED"}
    assert held.pk and elsewhere.pk  # made, and left out
    assert b"Other org" not in response.content


def event_create_for(setup: Setup, **kwargs):
    return make_event(setup, **kwargs)


def test_a_resource_feed_shows_only_events_that_use_the_resource(setup, room_feed, anonymous):
    in_room = make_event(setup, days=3, resources=[setup.room])
    both = make_event(setup, days=4, resources=[setup.hall, setup.room])
    in_hall = make_event(setup, days=5, resources=[setup.hall])

    events = vevents(anonymous.get(room_feed.get_path()))

    assert set(events) == {uid(in_room), uid(both)}
    assert in_hall.pk
    # LOCATION names every resource the event occupies, and the venue.
    location = str(events[uid(both)]["location"])
    assert "Room" in location and "Hall" in location and setup.venue.name in location


def test_tentative_events_only_when_the_feed_includes_them(setup, anonymous):
    confirmed = make_event(setup, days=3)
    held = make_event(setup, days=4, status=EventStatus.TENTATIVE)
    without = feed_create(organization=setup.org, name="Confirmed only")
    with_holds = feed_create(organization=setup.org, name="With holds", include_tentative=True)

    assert set(vevents(anonymous.get(without.get_path()))) == {uid(confirmed)}
    # A query parameter is not a way around the feed's own setting.
    assert set(vevents(anonymous.get(without.get_path() + "?tentative=1&include_tentative=true"))) == {uid(confirmed)}
    events = vevents(anonymous.get(with_holds.get_path()))
    assert set(events) == {uid(confirmed), uid(held)}
    assert status_of(events[uid(held)]) == "TENTATIVE"
    assert status_of(events[uid(confirmed)]) == "CONFIRMED"


def test_a_pending_request_holding_its_slot_shows_as_tentative(setup, anonymous):
    result = setup.submit(setup.event(start=future(6, 14), title="Choir practice"))
    [hold] = result.events
    feed = feed_create(organization=setup.org, name="With holds", include_tentative=True)

    events = vevents(anonymous.get(feed.get_path()))

    assert status_of(events[uid(hold)]) == "TENTATIVE"
    assert str(events[uid(hold)]["summary"]) == "Choir practice"


def test_canceled_events_are_cancelled_entries_with_the_same_uid(setup, org_feed, anonymous):
    event = make_event(setup, days=3)
    before = vevents(anonymous.get(org_feed.get_path()))[uid(event)]

    event_update(event=event, status=EventStatus.CANCELED)
    after = vevents(anonymous.get(org_feed.get_path()))[uid(event)]

    assert status_of(before) == "CONFIRMED" and status_of(after) == "CANCELLED"
    assert str(after["transp"]) == "TRANSPARENT"
    assert int(after["sequence"]) >= int(before["sequence"])
    assert after.decoded("last-modified") >= before.decoded("last-modified")


def test_a_canceled_booking_cancels_its_events_in_the_resource_feed(setup, room_feed, anonymous):
    from bookings.lifecycle.decide import booking_cancel

    result = setup.submit(setup.event(start=future(8, 9)))
    approved = booking_approve(
        booking_id=result.booking.pk, actor=setup.staff, client_last_updated_at=result.booking.updated_at
    )
    [event] = approved.events
    assert status_of(vevents(anonymous.get(room_feed.get_path()))[uid(event)]) == "CONFIRMED"

    booking_cancel(booking_id=result.booking.pk, actor=setup.staff)

    assert status_of(vevents(anonymous.get(room_feed.get_path()))[uid(event)]) == "CANCELLED"


def test_long_canceled_and_out_of_window_events_are_left_out(setup, org_feed, anonymous):
    recent_cancel = make_event(setup, days=3)
    old_cancel = make_event(setup, days=4)
    for event in (recent_cancel, old_cancel):
        event_update(event=event, status=EventStatus.CANCELED)
    Event.objects.filter(pk=old_cancel.pk).update(updated_at=timezone.now() - timedelta(days=45))
    last_month = make_event(setup, days=-30)
    long_ago = make_event(setup, days=-120)
    far_ahead = make_event(setup, days=3 * 365)

    events = vevents(anonymous.get(org_feed.get_path()))

    assert set(events) == {uid(recent_cancel), uid(last_month)}
    assert long_ago.pk and far_ahead.pk


def test_times_are_the_events_instants_in_utc(setup, org_feed, anonymous):
    event = make_event(setup, days=10, hour=9, hours=2)

    vevent = vevents(anonymous.get(org_feed.get_path()))[uid(event)]

    start, end = vevent.decoded("dtstart"), vevent.decoded("dtend")
    assert start == event.start and end == event.end
    assert start.utcoffset() == timedelta(0) and start.tzinfo is not None
    assert vevent["dtstart"].to_ical().endswith(b"Z")
    assert vevent.decoded("dtstamp").tzinfo is not None
    assert str(vevent["summary"]) == "Board meeting"


def test_uids_and_the_whole_file_are_stable_across_fetches(setup, org_feed, anonymous):
    events = [make_event(setup, days=d) for d in (2, 3, 4)]

    first = anonymous.get(org_feed.get_path())
    second = anonymous.get(org_feed.get_path())

    assert set(vevents(first)) == set(vevents(second)) == {uid(e) for e in events}
    assert first.content == second.content
    assert first["ETag"] == second["ETag"]
    # A poll that already has this version gets a 304 without a body.
    unchanged = anonymous.get(org_feed.get_path(), HTTP_IF_NONE_MATCH=first["ETag"])
    assert unchanged.status_code == 304
    event_update(event=events[0], title="Renamed")
    changed = anonymous.get(org_feed.get_path(), HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert str(vevents(changed)[uid(events[0])]["summary"]) == "Renamed"


def test_moving_an_event_raises_its_sequence(setup, org_feed, anonymous):
    event = make_event(setup, days=3)
    before = vevents(anonymous.get(org_feed.get_path()))[uid(event)]
    Event.objects.filter(pk=event.pk).update(created_at=event.created_at - timedelta(minutes=5))

    event_update(
        event=Event.objects.get(pk=event.pk), start=event.start + timedelta(hours=2), end=event.end + timedelta(hours=2)
    )
    after = vevents(anonymous.get(org_feed.get_path()))[uid(event)]

    assert int(after["sequence"]) > int(before["sequence"])
    assert after.decoded("dtstart") == event.start + timedelta(hours=2)


def test_no_booker_data_only_the_events_own_title_and_description(setup, org_feed, anonymous):
    result = setup.submit(
        setup.event(start=future(5, 11), title="Team offsite"), name="Grace Hopper", email="grace@example.net"
    )
    result.booking.internal_notes = "Staff only: pays late"
    result.booking.save()
    approved = booking_approve(
        booking_id=result.booking.pk, actor=setup.staff, client_last_updated_at=result.booking.updated_at
    )
    plain = make_event(setup, days=9, description="<p>Bring <strong>slides</strong> &amp; snacks</p><p>Floor 2</p>")

    response = anonymous.get(org_feed.get_path())
    events = vevents(response)

    body = response.content.decode()
    for private in ("Grace", "Hopper", "grace@example.net", "pays late", result.access_token, "example.org"):
        assert private not in body
    assert str(events[uid(approved.events[0])]["summary"]) == "Team offsite"
    assert str(events[uid(plain)]["description"]) == "Bring slides & snacks\nFloor 2"


def test_headers(setup, org_feed, anonymous):
    make_event(setup)

    response = anonymous.get(org_feed.get_path())

    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'inline; filename="everything.ics"'
    assert response["Cache-Control"] == "private, max-age=300"
    assert "noindex" in response["X-Robots-Tag"]
    assert anonymous.head(org_feed.get_path()).status_code == 200
    assert anonymous.post(org_feed.get_path()).status_code == 405


def test_unknown_malformed_and_revoked_tokens_are_the_same_plain_404(setup, org_feed, anonymous):
    make_event(setup)
    path = org_feed.get_path()
    assert anonymous.get(path).status_code == 200

    feed_revoke(feed=org_feed)
    revoked = anonymous.get(path)
    unknown = anonymous.get(reverse("feeds:feed", kwargs={"token": "x" * 43}))
    too_long = anonymous.get(reverse("feeds:feed", kwargs={"token": org_feed.token * 2}))

    for response in (revoked, unknown, too_long):
        assert response.status_code == 404
        assert response.content == b"Not found.\n"
        assert response["Cache-Control"] == "no-store"
    assert CalendarFeed.objects.get(pk=org_feed.pk).revoked_at is not None


def test_a_replaced_feed_has_a_new_url_with_the_same_settings(setup, room_feed, anonymous):
    event = make_event(setup)
    new = feed_replace(feed=room_feed)

    assert anonymous.get(room_feed.get_path()).status_code == 404
    assert set(vevents(anonymous.get(new.get_path()))) == {uid(event)}
    assert (new.organization_id, new.resource_id, new.name, new.include_tentative) == (
        room_feed.organization_id,
        room_feed.resource_id,
        room_feed.name,
        room_feed.include_tentative,
    )
    assert new.token != room_feed.token and len(new.token) >= 40


def test_the_url_is_the_site_url_plus_the_path(setup, org_feed):
    assert org_feed.get_url() == f"https://bookings.example.org/feeds/{org_feed.token}.ics"


@pytest.mark.parametrize("feed_kind", ["org", "resource"])
def test_queries_do_not_grow_with_the_number_of_events(setup, anonymous, django_assert_num_queries, feed_kind):
    feed = feed_create(
        organization=setup.org,
        resource=setup.room if feed_kind == "resource" else None,
        name="Feed",
        include_tentative=True,
    )
    make_event(setup, days=2)
    with django_assert_num_queries(3):  # the feed, the events, their reservations
        assert len(vevents(anonymous.get(feed.get_path()))) == 1

    for day in range(3, 23):
        event = make_event(
            setup,
            days=day,
            resources=[setup.room, setup.hall],
            status=EventStatus.TENTATIVE if day % 3 else EventStatus.CONFIRMED,
        )
        if day % 5 == 0:
            event_update(event=event, status=EventStatus.CANCELED)
    with django_assert_num_queries(3):
        assert len(vevents(anonymous.get(feed.get_path()))) == 21


def test_event_times_are_utc_whatever_the_venue_timezone(setup, anonymous):
    setup.venue.timezone = "America/New_York"
    setup.venue.save()
    feed = feed_create(organization=setup.org, resource=setup.room, name="NY room")
    event = make_event(setup, days=12, hour=15)

    response = anonymous.get(feed.get_path())
    vevent = vevents(response)[uid(event)]

    assert vevent.decoded("dtstart") == event.start.astimezone(UTC)
    assert str(parse(response)["x-wr-timezone"]) == "America/New_York"
