"""Series in the admin: one group on the booking page, a series column, filter and occurrence list in the
Event admin, and the Edit occurrence / Delete occurrence pages with their scope choice (docs/architecture.md#series)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import BookingEvent, BookingLog
from events.models import Event
from events.services.saving import events_save
from events.services.scheduling import EventSpec
from resources.models import Role
from tests.conftest import Setup
from tests.series import LONDON, local, make_booked_series, make_series, rows, wall

from .conftest import admin_client_for

HOUR = timedelta(hours=1)


def url(name: str, *args) -> str:
    return reverse(f"admin:events_event_{name}", args=args)


def local_input(moment) -> str:
    return f"{moment.astimezone(LONDON):%Y-%m-%dT%H:%M}"


def edit_data(event, resources, **changes) -> dict:
    """The edit form as the page fills it, with `changes` laid over."""
    data = {
        "title": event.title,
        "description": event.description,
        "start": local_input(event.start),
        "end": local_input(event.end),
        "resources": [str(r.pk) for r in resources],
        "which": "1",
    }
    data.update(changes)
    return data


@pytest.fixture
def series(setup):
    return make_series(setup)


# --- showing series ------------------------------------------------------------------------------------


def test_the_booking_page_groups_the_series(setup, manager_client):
    booking, series_row, events = make_booked_series(setup)
    html = manager_client.get(reverse("admin:bookings_booking_change", args=[booking.pk])).content.decode()
    assert "Series: weekly, 10 occurrences" in html
    assert html.count("Series: weekly") == 1
    assert f"{url('changelist')}?series={series_row.pk}" in html
    # The heading comes before the occurrences it groups.
    assert html.index("Series: weekly") < html.index(f"{url('change', events[0].pk)}")


def test_the_event_list_has_a_series_column_and_filter(setup, manager_client, series):
    series_row, events = series
    [alone] = events_save(
        organization=setup.org,
        specs=[
            EventSpec(
                title="Alone",
                start=events[0].start - timedelta(days=1),
                end=events[0].end - timedelta(days=1),
                resource_ids=[setup.room.pk],
            )
        ],
    )
    page = manager_client.get(url("changelist"))
    html = page.content.decode()
    assert "Weekly, 10 occurrences" in html
    filtered = manager_client.get(url("changelist"), {"series": str(series_row.pk)}).context["cl"].result_list
    assert {e.pk for e in filtered} == {e.pk for e in events}
    not_in = manager_client.get(url("changelist"), {"series": "no"}).context["cl"].result_list
    assert [e.pk for e in not_in] == [alone.pk]
    assert len(manager_client.get(url("changelist"), {"series": "yes"}).context["cl"].result_list) == 10


def test_the_list_costs_the_same_queries_with_more_series(setup, manager_client, django_assert_num_queries):
    make_series(setup, count=3)
    with CaptureQueriesContext(connection) as ctx:
        manager_client.get(url("changelist"))
    make_series(setup, resources=[setup.hall], count=10)
    make_series(setup, resources=[setup.desks], count=10)
    with django_assert_num_queries(len(ctx.captured_queries)):
        response = manager_client.get(url("changelist"))
    assert len(response.context["cl"].result_list) == 23


def test_unchecking_every_resource_is_refused(setup, manager_client, series):
    series_row, events = series
    before = rows(series_row)
    data = edit_data(events[3], [], which="3", title="No resources")
    response = manager_client.post(url("edit_occurrence", events[3].pk), data)
    assert response.status_code == 200 and "Choose at least one resource." in response.content.decode()
    assert rows(series_row) == before


def test_an_events_page_lists_its_series_and_offers_the_buttons(setup, manager_client, series):
    series_row, events = series
    html = manager_client.get(url("change", events[3].pk)).content.decode()
    assert "Weekly, 10 occurrences" in html and "(this event)" in html
    for event in events:
        assert url("change", event.pk) in html
    assert url("edit_occurrence", events[3].pk) in html and url("delete_occurrence", events[3].pk) in html
    assert "Edit occurrence" in html and "Delete occurrence" in html


# --- Edit occurrence -----------------------------------------------------------------------------------


def test_edit_page_shows_the_scope_choice(setup, manager_client, series):
    _, events = series
    response = manager_client.get(url("edit_occurrence", events[3].pk))
    assert response.status_code == 200
    html = response.content.decode()
    for value, label in (("1", "This event"), ("2", "This and the following events"), ("3", "All events")):
        assert f'value="{value}"' in html and label in html
    assert 'name="which"' in html and "Series: weekly, 10 occurrences" in html
    assert f'value="{local_input(events[3].start)}"' in html  # the local wall clock


@pytest.mark.parametrize("which, changed", [("1", [3]), ("2", range(3, 10)), ("3", range(10))])
def test_edit_moves_the_chosen_occurrences(setup, manager_client, series, which, changed):
    series_row, events = series
    before = rows(series_row)
    start = events[3].start + timedelta(minutes=90)
    response = manager_client.post(
        url("edit_occurrence", events[3].pk),
        edit_data(events[3], [setup.room], start=local_input(start), end=local_input(start + HOUR), which=which),
    )
    assert response.status_code == 302, response.context and response.context["page_errors"]
    assert response["Location"] == url("change", events[3].pk)
    after = rows(series_row)
    assert [wall(s) for s, _, _ in after] == ["10:30" if i in changed else "09:00" for i in range(10)]
    assert [row for i, row in enumerate(after) if i not in changed] == [
        row for i, row in enumerate(before) if i not in changed
    ]


def test_edit_changes_only_what_the_form_changed(setup, manager_client, series):
    series_row, events = series
    Event.objects.filter(pk=events[0].pk).update(title="Kick-off")
    manager_client.post(
        url("edit_occurrence", events[3].pk),
        edit_data(
            events[3],
            [setup.room],
            start=local_input(events[3].start + HOUR),
            end=local_input(events[3].end + HOUR),
            which="3",
        ),
    )
    after = rows(series_row)
    assert after[0][2] == "Kick-off" and {t for _, _, t in after[1:]} == {"Weekly sync"}
    assert {wall(s) for s, _, _ in after} == {"10:00"}


def test_edit_into_a_conflict_shows_it_and_changes_nothing(setup, manager_client, series):
    series_row, events = series
    day = events[8].start.astimezone(LONDON).date()
    events_save(
        organization=setup.org,
        specs=[EventSpec(title="Board", start=local(day, 10), end=local(day, 11), resource_ids=[setup.room.pk])],
    )
    before = rows(series_row)
    response = manager_client.post(
        url("edit_occurrence", events[3].pk),
        edit_data(
            events[3],
            [setup.room],
            start=local_input(events[3].start + HOUR),
            end=local_input(events[3].end + HOUR),
            which="2",
        ),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing was changed." in html and "Board" in html and day.strftime("%d %b %Y") in html
    assert rows(series_row) == before


def test_edit_without_a_change_changes_nothing(setup, manager_client, series):
    series_row, events = series
    before = rows(series_row)
    response = manager_client.post(url("edit_occurrence", events[3].pk), edit_data(events[3], [setup.room], which="3"))
    assert response.status_code == 302
    assert rows(series_row) == before


def test_edit_of_a_booked_occurrence_moves_the_booking(setup, manager_client):
    booking, series_row, events = make_booked_series(setup)
    html = manager_client.get(url("edit_occurrence", events[3].pk)).content.decode()
    assert "came from a booking" in html
    manager_client.post(
        url("edit_occurrence", events[3].pk),
        edit_data(
            events[3],
            [setup.room],
            start=local_input(events[3].start + HOUR),
            end=local_input(events[3].end + HOUR),
            which="2",
        ),
    )
    times = BookingEvent.objects.filter(booking=booking).order_by("start").values_list("start", flat=True)
    assert [wall(t) for t in times] == ["09:00"] * 3 + ["10:00"] * 7
    log = BookingLog.objects.filter(booking=booking).order_by("created_at").last()
    assert (log.action, log.actor_user) == ("events_changed", setup.manager)


def test_an_event_outside_a_series_has_no_scope_choice(setup, manager_client):
    start = local(make_series_day(), 9)
    [event] = events_save(
        organization=setup.org,
        specs=[EventSpec(title="Alone", start=start, end=start + HOUR, resource_ids=[setup.room.pk])],
    )
    html = manager_client.get(url("edit_occurrence", event.pk)).content.decode()
    assert 'name="which"' not in html
    data = edit_data(event, [setup.room], title="Alone again")
    del data["which"]
    assert manager_client.post(url("edit_occurrence", event.pk), data).status_code == 302
    assert Event.objects.get(pk=event.pk).title == "Alone again"
    html = manager_client.get(url("change", event.pk)).content.decode()
    assert "Edit event" in html and "Delete event" in html


def test_a_change_request_page_says_how_far_a_series_change_reaches(setup, manager_client):
    from bookings.lifecycle.change_requests import change_request_submit

    booking, _, _ = make_booked_series(setup)
    fourth = booking.requested_times.order_by("start")[3]
    result = change_request_submit(
        booking_id=booking.pk,
        actor=setup.staff,
        events=[{"bookingEventId": str(fourth.pk), "title": "Renamed", "whichEventsToUpdate": 2}],
    )
    html = manager_client.get(
        reverse("admin:bookings_bookingchangerequest_change", args=[result.change_request.pk])
    ).content.decode()
    assert "Applies to" in html and "this and the following occurrences of the series" in html
    assert "whichEventsToUpdate" not in html


def make_series_day():
    from tests.series import first_monday

    return first_monday()


# --- Delete occurrence ---------------------------------------------------------------------------------


def test_delete_page_shows_the_scope_choice_with_counts(setup, manager_client, series):
    _, events = series
    html = manager_client.get(url("delete_occurrence", events[3].pk)).content.decode()
    for value, label in (("1", "This event (1)"), ("6", "This and the following events (7)"), ("5", "All events (10)")):
        assert f'value="{value}"' in html and label in html


@pytest.mark.parametrize("which, gone", [("1", [3]), ("6", range(3, 10)), ("5", range(10))])
def test_delete_removes_the_chosen_occurrences(setup, manager_client, series, which, gone):
    series_row, events = series
    before = rows(series_row)
    response = manager_client.post(url("delete_occurrence", events[3].pk), {"which": which})
    assert response.status_code == 302 and response["Location"] == url("changelist")
    assert rows(series_row) == [row for i, row in enumerate(before) if i not in gone]


def test_delete_refuses_an_unknown_scope(setup, manager_client, series):
    series_row, events = series
    response = manager_client.post(url("delete_occurrence", events[3].pk), {"which": "4"})
    assert response.status_code == 200 and response.context["form"].errors
    assert Event.objects.filter(series=series_row).count() == 10


# --- roles and organizations ---------------------------------------------------------------------------


def test_another_organization_gets_404(setup, series, db):
    _, events = series
    client = admin_client_for(Setup().manager)
    for name in ("change", "edit_occurrence", "delete_occurrence"):
        assert client.get(url(name, events[3].pk)).status_code == 404, name
    assert (
        client.post(
            url("edit_occurrence", events[3].pk), edit_data(events[3], [setup.room], title="X", which="3")
        ).status_code
        == 404
    )
    assert client.post(url("delete_occurrence", events[3].pk), {"which": "5"}).status_code == 404
    assert Event.objects.filter(series=events[3].series).count() == 10
    assert set(Event.objects.values_list("title", flat=True)) == {"Weekly sync"}


def test_a_viewer_sees_the_series_but_gets_403_on_the_pages(setup, member, series):
    _, client = member(Role.VIEWER)
    _, events = series
    html = client.get(url("change", events[3].pk)).content.decode()
    assert "Weekly, 10 occurrences" in html
    assert url("edit_occurrence", events[3].pk) not in html and url("delete_occurrence", events[3].pk) not in html
    for name in ("edit_occurrence", "delete_occurrence"):
        assert client.get(url(name, events[3].pk)).status_code == 403, name
    assert (
        client.post(
            url("edit_occurrence", events[3].pk), edit_data(events[3], [setup.room], title="X", which="3")
        ).status_code
        == 403
    )
    assert client.post(url("delete_occurrence", events[3].pk), {"which": "5"}).status_code == 403
    assert Event.objects.filter(series=events[3].series).count() == 10
    assert set(Event.objects.values_list("title", flat=True)) == {"Weekly sync"}
