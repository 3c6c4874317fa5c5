"""The public form's "Repeat" fieldset (when the module takes repeat requests), "Check availability" (the
validate endpoint's logic, nothing created) with its suggested free times, and what the booker sees of a
repeated request afterwards: the confirmation, the private page and its .ics link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail

from bookings.models import Booking, BookingEvent
from bookings.validation.repeat import WEEKDAY_KEYS
from events.models import Event, Reservation
from events.services.single import event_create
from notifications.models import Notification
from public.forms.repeat import REPEAT_CHOICES
from tests.conftest import future

from .site import PublicSite, local_input

FIRST = 7  # the series starts a week from today, 10:00 London time


@pytest.fixture
def repeating(db) -> PublicSite:
    site = PublicSite()
    site.module.allow_repeat_requests = True
    site.module.save(update_fields=["allow_repeat_requests"])
    return site


def weekly(site: PublicSite, count: int, **overrides) -> dict:
    start = future(FIRST, 10)
    until = (start + timedelta(weeks=count - 1)).date()
    return site.post_data(
        start,
        **{
            "events-0-repeats": "2",
            "events-0-repeatEvery": "1",
            "events-0-repeatUntil": until.isoformat(),
            **overrides,
        },
    )


def board_meeting(site: PublicSite, week: int = 6) -> Event:
    """Someone else's booking, 10:30 to 11:30 on the series' 7th date: its title must never reach the booker."""
    start = future(FIRST + 7 * week, 10, 30)
    return event_create(
        organization=site.org,
        title="Secret board meeting",
        start=start,
        end=start + timedelta(hours=1),
        resource_ids=[site.room.pk],
    )


def world() -> dict:
    return {
        model.__name__: model.objects.count() for model in (Booking, BookingEvent, Event, Reservation, Notification)
    }


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# === the setting ======================================================================================


def test_without_the_setting_the_form_has_no_repeat(client, site):
    page = text(client.get(site.url("book")))
    assert "Repeats" not in page and 'name="events-0-repeats"' not in page
    assert "Check availability" in page  # the check works for single dates too


def test_without_the_setting_a_posted_repeat_is_refused_and_nothing_is_created(client, site):
    response = client.post(site.url("book"), weekly(site, 4))
    assert response.status_code == 200
    assert "This form does not take repeating bookings" in text(response)
    assert Booking.objects.count() == 0 and not mail.outbox


def test_with_the_setting_each_date_has_an_accessible_repeat_fieldset(client, repeating):
    page = text(client.get(repeating.url("book")))
    assert '<fieldset class="repeat" id="event-1-repeat">' in page
    assert re.search(r'<legend class="label">Repeat <span class="muted">\(optional\)</span></legend>', page)
    assert '<label class="label" for="id_events-0-repeats">Repeats</label>' in page
    assert '<option value="">Does not repeat</option>' in page
    for value, label in REPEAT_CHOICES:
        assert f'<option value="{value}">{label}</option>' in page
    assert '<label class="label" for="id_events-0-repeatEvery">Every</label>' in page
    assert 'type="date" id="id_events-0-repeatUntil"' in page
    assert 'aria-describedby="id_events-0-repeatUntil-help"' in page
    assert '<legend class="label">On these weekdays</legend>' in page
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"):
        assert f">{day}</label>" in page


# === booking a repeat =================================================================================


@pytest.mark.parametrize(("value", "label"), REPEAT_CHOICES)
def test_each_repeats_choice_books_and_keeps_its_rule(client, repeating, value, label):
    start = future(FIRST, 10)
    data = repeating.post_data(
        start, **{"events-0-repeats": value, "events-0-repeatUntil": (start + timedelta(days=70)).isoformat()[:10]}
    )
    if value in ("5", "6", "7", "8", "9"):
        data["events-0-repeatDays"] = [WEEKDAY_KEYS[start.weekday()]]
    response = client.post(repeating.url("book"), data)
    assert response.status_code == 302, text(response)[:3000]
    events = list(BookingEvent.objects.order_by("start"))
    assert events and {e.repeat["repeats"] for e in events} == {int(value)}
    assert all(e.start.astimezone(start.tzinfo).strftime("%H:%M") == "10:00" for e in events)


def test_a_weekly_repeat_books_its_dates_and_the_confirmation_lists_them(client, repeating):
    response = client.post(repeating.url("book"), weekly(repeating, 4))
    assert response.status_code == 302
    booking = Booking.objects.get()
    assert booking.requested_times.count() == 4
    page = text(client.get(response["Location"]))
    last = future(FIRST + 21, 10)
    assert f"Weekly until {last:%a} {last.day} {last:%b %Y}, 4 dates" in page
    for k in range(4):
        day = future(FIRST + 7 * k, 10)
        assert f"{day:%a} {day.day} {day:%b %Y}, 10:00–11:00" in page


def test_a_long_series_is_folded_on_the_private_page(client, repeating):
    start = future(FIRST, 10)
    rule = {"repeats": 2, "repeatUntil": (start + timedelta(weeks=9)).date().isoformat()}
    token = repeating.submit(repeating.event(start, repeat=rule)).access_token
    page = text(client.get(f"/b/{token}/"))
    assert ", 10 dates" in page and "<summary>All 10 dates</summary>" in page
    assert page.count("10:00–11:00") == 10


def test_a_series_with_its_7th_date_taken_is_refused_naming_that_date(client, repeating):
    board_meeting(repeating)
    before = world()
    response = client.post(repeating.url("book"), weekly(repeating, 10))
    assert response.status_code == 200 and world() == before
    page = text(response)
    seventh = future(FIRST + 42, 10)
    message = f"{seventh:%a %d %b %Y} 10:00: Room is already booked at that time."
    summary = page.split('id="form-errors"', 1)[1].split("</div>", 1)[0]
    assert message in summary and 'href="#event-1-repeat"' in summary
    repeat_box = page.split('id="event-1-repeat"', 1)[1].split("</fieldset>", 1)[0]
    assert message in repeat_box
    assert "Secret board meeting" not in page
    # nothing typed is lost
    assert '<option value="2" selected>Weekly</option>' in page
    until = (future(FIRST, 10) + timedelta(weeks=9)).date().isoformat()
    assert f'value="{until}"' in page and 'value="Ada Lovelace"' in page
    # and the free times nearby that date are offered
    assert "Free times you could ask for instead" in page


def test_repeat_mistakes_are_shown_next_to_their_inputs(client, repeating):
    response = client.post(
        repeating.url("book"), weekly(repeating, 4, **{"events-0-repeatUntil": "", "events-0-repeatEvery": "0"})
    )
    page = text(response)
    assert "Enter the last date of the repeat (“Until”)." in page
    assert "Enter “Every” as a whole number from 1 to 99." in page
    assert 'id="id_events-0-repeatUntil-error"' in page and 'href="#id_events-0-repeatUntil"' in page
    assert Booking.objects.count() == 0


def test_remove_and_add_a_date_keep_the_repeat(client, repeating):
    data = weekly(repeating, 4, action="add")
    page = text(client.post(repeating.url("book"), data))
    assert '<option value="2" selected>Weekly</option>' in page
    assert 'name="events-1-repeats"' in page


# === check availability ===============================================================================


def test_check_availability_explains_suggests_and_creates_nothing(client, site):
    taken = future(FIRST, 10)
    event_create(
        organization=site.org,
        title="Secret board meeting",
        start=taken,
        end=taken + timedelta(hours=1),
        resource_ids=[site.room.pk],
    )
    before = world()
    data = site.post_data(taken, check="1")
    data.pop("action")
    response = client.post(site.url("book"), data)
    assert response.status_code == 200
    assert world() == before and not mail.outbox and Booking.objects.count() == 0
    page = text(response)
    assert "One time cannot be booked" in page and "Room is already booked at that time." in page
    assert "Secret board meeting" not in page
    buttons = re.findall(
        r'<button type="submit" form="booking-form" name="use" value="([^"]+)"[^>]*>Use ([^<]+)</button>', page
    )
    assert len(buttons) == 3
    nearest = taken + timedelta(hours=1)  # 11:00 (10:30 would still overlap the hour taken)
    assert buttons[0][0] == f"0|{local_input(nearest)}|{local_input(nearest + timedelta(hours=1))}"
    assert buttons[0][1] == f"{nearest:%a} {nearest.day} {nearest:%b %Y}, 11:00–12:00"
    assert 'value="Ada Lovelace"' in page  # nothing typed is lost


def test_check_availability_needs_only_the_times(client, site):
    data = {
        "check": "1",
        "event_count": "1",
        "events-0-resourceIds": [str(site.room.pk)],
        "events-0-start": local_input(future(FIRST, 10)),
        "events-0-end": local_input(future(FIRST, 11)),
    }
    page = text(client.post(site.url("book"), data))
    assert "Your time is free" in page and "There is a problem" not in page
    assert Booking.objects.count() == 0


def test_check_availability_of_a_series_names_the_taken_date(client, repeating):
    board_meeting(repeating)
    data = weekly(repeating, 10, check="1")
    data.pop("action")
    page = text(client.post(repeating.url("book"), data))
    seventh = future(FIRST + 42, 10)
    assert f"{seventh:%a %d %b %Y} 10:00" in page and "Room is already booked at that time." in page
    assert "Secret board meeting" not in page and Booking.objects.count() == 0


def test_a_suggested_time_refills_the_form_and_keeps_the_rest(client, site):
    start = future(FIRST, 14)
    data = site.post_data(future(FIRST, 10), use=f"0|{local_input(start)}|{local_input(start + timedelta(hours=1))}")
    data.pop("action")
    page = text(client.post(site.url("book"), data))
    assert f'value="{local_input(start)}"' in page and f'value="{local_input(start + timedelta(hours=1))}"' in page
    assert 'value="Ada Lovelace"' in page and 'value="Choir rehearsal"' in page
    assert "Your time is now" in page and Booking.objects.count() == 0
    # and that time then books
    response = client.post(site.url("book"), site.post_data(start))
    assert response.status_code == 302


def test_a_refused_submit_shows_the_same_suggestions(client, site):
    taken = future(FIRST, 10)
    event_create(
        organization=site.org,
        title="Secret board meeting",
        start=taken,
        end=taken + timedelta(hours=1),
        resource_ids=[site.room.pk],
    )
    page = text(client.post(site.url("book"), site.post_data(taken)))
    assert "Room is already booked at that time." in page and "Secret board meeting" not in page
    assert "Free times you could ask for instead" in page
    assert len(re.findall(r'name="use" value="0\|', page)) == 3


# === the private page's .ics link =====================================================================


def test_the_private_page_links_its_events_file(client, site):
    token = site.submit().access_token
    response = client.get(f"/b/{token}/")
    page = response.content.decode()
    assert f'<a href="/b/{token}/events.ics" download>Add to my calendar (.ics)</a>' in page
    # the token appears only in links under its own /b/<token>/ path
    assert page.count(token) == len(re.findall(rf'href="/b/{re.escape(token)}/[^"]*"', page))
    assert response["Referrer-Policy"] == "no-referrer"
    ics = client.get(f"/b/{token}/events.ics")
    assert ics.status_code == 200 and ics["Content-Type"].startswith("text/calendar")
