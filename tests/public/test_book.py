"""Submitting the public form with the Django test client: the same validator and submit service as the
API, errors next to their fields and in the summary, nothing typed lost, several dates, the honeypot,
the per-IP throttle and CSRF."""

import re
from datetime import timedelta

import pytest
from django.test import Client

from bookings.lifecycle.decide import booking_approve
from bookings.models import Booking, BookingStatus
from bookings.selectors import booking_by_access_token
from core.throttles import PublicSubmitThrottle
from events.models import EventStatus
from tests.conftest import future

from .site import local_input


def html(response) -> str:
    return response.content.decode()


def field_error(page: str, name: str) -> str:
    """The error text shown next to the input `name` (empty if none)."""
    match = re.search(rf'<p class="field-error" id="id_{re.escape(name)}-error">(.*?)</p>', page, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).replace("Error: ", "") if match else ""


def summary_links(page: str) -> list[tuple[str, str]]:
    box = re.search(r'<div class="error-summary".*?</div>', page, re.S)
    return re.findall(r'<a href="#([^"]+)">(.*?)</a>', box.group(0)) if box else []


def private_path(message) -> str:
    match = re.search(r"https://bookings\.example\.org(/b/[A-Za-z0-9_-]+/)", message.body)
    assert match, message.body
    return match.group(1)


# --- a request goes through ----------------------------------------------------------------------


def test_a_complete_request_is_stored_emailed_and_confirmed(
    site, client, mailoutbox, django_capture_on_commit_callbacks
):
    start = future(5, 18)
    data = site.post_data(start, start + timedelta(hours=2), requestNote="Two rooms if possible.\n\n<b>Thanks</b>")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(site.url("book"), data)

    assert response.status_code == 302 and response["Location"] == site.url("book/sent")
    booking = Booking.objects.get()
    assert (booking.status, booking.submission, booking.portal, booking.title) == (
        BookingStatus.PENDING,
        True,
        site.portal,
        "Choir rehearsal",
    )
    f = {label: str(ff.pk) for label, ff in site.fields.items()}
    assert booking.contact_answers == {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        f["Organisation"]: "Riverside Choir",
        f["Billing email"]: "treasurer@example.com",
        f["Emergency phone"]: "+44 20 7946 0000",
        f["Send me the newsletter"]: True,
    }
    be = booking.requested_times.get()
    assert (be.start, be.end, be.attendees) == (start, start + timedelta(hours=2), 8)
    assert list(be.resources.all()) == [site.room]
    assert be.answers == {
        f["Describe the event"]: "Our weekly rehearsal, about twenty singers.",
        f["Chairs needed"]: 20,
        f["Date of the rehearsal"]: "2030-01-15",
        f["Doors open"]: "18:30:00",
        f["Set-up from"]: "2030-01-15T17:00:00",
        f["Type of event"]: "Workshop",
        f["Equipment"]: ["Piano", "Microphone"],
        f["Event website"]: "https://choir.example.org/",
        f["Alcohol will be served"]: True,
    }
    assert be.event.status == EventStatus.TENTATIVE  # the module holds pending slots
    assert booking.request_note == "<p>Two rooms if possible.</p>\n\n<p>&lt;b&gt;Thanks&lt;/b&gt;</p>"

    [to_booker] = [m for m in mailoutbox if m.to == ["ada@example.com"]]
    path = private_path(to_booker)
    assert booking_by_access_token(path.split("/")[2]) == booking
    assert booking.access_token_hash not in to_booker.body  # the link carries the token, never its hash

    sent = html(client.get(response["Location"]))
    assert "Thank you, your request is sent" in sent and "ada@example.com" in sent
    assert f"{start:%a} {start.day} {start:%b %Y}, 18:00–20:00" in sent and "Europe/London" in sent
    assert "Waiting for approval" in sent and path not in sent  # the token only travels by email


def test_the_confirmation_page_shows_only_this_browsers_request(site, client):
    client.post(site.url("book"), site.post_data())

    other = Client().get(site.url("book/sent"))

    assert "Choir rehearsal" not in html(other) and "ada@example.com" not in html(other)


# --- validation messages at their fields ---------------------------------------------------------

# (label or built-in input name, posted value, message shown next to it)
BAD_ANSWERS = [
    ("Organisation", "", "Organisation is required."),
    ("Organisation", "x" * 41, "Organisation must be at most 40 characters."),
    ("Billing email", "treasurer-at-example", "Billing email must be an email address."),
    ("Emergency phone", "call me maybe", "Emergency phone must be a phone number."),
    ("Describe the event", "Short", "Describe the event must be at least 10 characters."),
    ("Chairs needed", "lots", "Chairs needed must be a number."),
    ("Chairs needed", "101", "Chairs needed must be at most 100."),
    ("Date of the rehearsal", "15/01/2030", "Date of the rehearsal must be a date (YYYY-MM-DD)."),
    ("Doors open", "half six", "Doors open must be a time (HH:MM)."),
    ("Set-up from", "tomorrow", "Set-up from must be a date and time."),
    ("Type of event", "Rave", "Type of event: choose one of Meeting, Workshop, Party."),
    ("Equipment", ["Drum kit"], "Equipment: choose from Projector, Microphone, Piano."),
    ("Equipment", [], "Equipment is required."),
    ("Event website", "choir.example", "Event website must be a web address starting with http:// or https://."),
    ("Alcohol will be served", "", "Alcohol will be served must be checked."),
    ("contact-name", "", "Your name is required."),
    ("contact-email", "ada(at)example.com", "Email must be an email address."),
    ("contact-phone", "ring ring", "Phone must be a phone number."),
    ("events-0-title", "", "Enter a title for the event."),
    ("events-0-start", "", "Enter the start date and time."),
    ("events-0-end", "soon", "Enter the end as a date and a time."),
    ("events-0-resourceIds", [], "Choose at least one space."),
    ("events-0-attendees", "0", "Attendees must be a whole number of at least 1."),
    ("events-0-attendees", "11", "At most 10 people fit in the chosen resources."),
    ("terms", "", "Accept the terms and conditions to send your request."),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_ANSWERS, ids=lambda v: str(v)[:30])
def test_each_field_shows_its_validation_message_next_to_it_and_in_the_summary(site, client, field, value, message):
    name = site.name_of(field) if field in site.fields else field
    data = site.post_data(requestNote="Please keep the piano tuned.", **{name: value})
    checkbox = name == "terms" or (field in site.fields and site.fields[field].type == "checkbox")
    if checkbox and value == "":
        data.pop(name)  # an unticked checkbox is not posted at all

    response = client.post(site.url("book"), data)

    page = html(response)
    assert response.status_code == 200 and not Booking.objects.exists()
    assert field_error(page, name) == message
    anchor = f"id_{name}_0" if field in ("Equipment", "events-0-resourceIds") else f"id_{name}"
    assert (anchor, message) in summary_links(page)
    assert f'aria-describedby="id_{name}-error' in page or field in ("Equipment", "events-0-resourceIds")
    assert "<title>Error: Request a booking" in page
    # Nothing typed is lost.
    assert 'value="Ada Lovelace"' in page or name == "contact-name"
    assert "Please keep the piano tuned.</textarea>" in page
    if field != "Equipment":
        assert re.search(rf'name="{site.name_of("Equipment")}" value="Piano" checked', page)
    if field != "Type of event":
        assert '<option value="Workshop" selected>' in page


def test_booking_rules_show_at_the_time_they_concern(site, client):
    site.room.min_duration_minutes = 90
    site.room.save()
    past = future(-2, 10)

    page = html(client.post(site.url("book"), site.post_data(past, past + timedelta(hours=1))))

    assert field_error(page, "events-0-start") == "The start is in the past."
    assert field_error(page, "events-0-end") == "Bookings of Room last at least 90 minutes."
    page = html(client.post(site.url("book"), site.post_data(future(3, 12), future(3, 11))))
    assert field_error(page, "events-0-end") == "The end must be after the start."


def test_a_conflicting_request_is_refused_with_a_readable_message_at_the_resources(site, client):
    taken = site.submit(site.event(start=future(5, 10), title="Secret board meeting")).booking
    booking_approve(booking_id=taken.pk, actor=site.staff, client_last_updated_at=None)

    response = client.post(site.url("book"), site.post_data(future(5, 10, 30), future(5, 11, 30)))

    page = html(response)
    message = "Room is already booked at that time. Choose another time or another space."
    assert field_error(page, "events-0-resourceIds") == message
    assert ("id_events-0-resourceIds_0", message) in summary_links(page)
    assert "Secret board meeting" not in page  # the conflict never names the other booking
    assert Booking.objects.count() == 1


def test_a_conflict_with_a_pending_hold_and_capacity_are_readable_too(site, client):
    site.submit(site.event(start=future(5, 10)))
    page = html(client.post(site.url("book"), site.post_data(future(5, 10))))
    assert field_error(page, "events-0-resourceIds").startswith("Room is already booked at that time.")

    for email in ("a@example.com", "b@example.com", "c@example.com"):
        site.submit(site.event(start=future(6, 10), resources=[site.desks]), email=email)
    page = html(
        client.post(
            site.url("book"), site.post_data(future(6, 10), resources=[site.desks], **{"events-0-attendees": "1"})
        )
    )
    assert field_error(page, "events-0-resourceIds").startswith("Desks is fully booked at that time.")


def test_without_the_terms_every_other_problem_is_listed_too(site, client):
    data = site.post_data(**{"contact-email": "nope"})
    data.pop("terms")

    page = html(client.post(site.url("book"), data))

    messages = [m for _, m in summary_links(page)]
    assert "Accept the terms and conditions to send your request." in messages
    assert "Email must be an email address." in messages


def test_tampered_resources_and_oversized_notes_are_refused(site, client):
    page = html(client.post(site.url("book"), site.post_data(**{"events-0-resourceIds": ["not-a-uuid"]})))
    assert field_error(page, "events-0-resourceIds") == "Choose one of the spaces listed."

    page = html(client.post(site.url("book"), site.post_data(requestNote="x" * 5001)))
    assert field_error(page, "requestNote") == "The note must be at most 5000 characters."
    assert not Booking.objects.exists()


# --- several dates ---------------------------------------------------------------------------------


def test_add_another_date_keeps_everything_and_copies_the_event_answers(site, client):
    data = site.post_data(action="add")

    response = client.post(site.url("book"), data)

    page = html(response)
    assert response.status_code == 200 and not Booking.objects.exists()
    assert 'name="event_count" value="2"' in page and "<h2>Date 2</h2>" in page
    assert 'id="id_events-1-title" name="events-1-title" value="Choir rehearsal"' in page
    assert re.search(rf'name="events-1-resourceIds" value="{site.room.pk}" checked', page)
    assert 'id="id_events-1-start" name="events-1-start" value=""' in page and "autofocus" in page
    assert "error-summary" not in page  # adding a date is not a failed submit


def test_a_request_with_several_dates_becomes_one_booking_with_several_events(site, client):
    data = site.post_data(
        future(5, 10),
        future(5, 11),
        event_count="2",
        **{
            "events-1-title": "Choir rehearsal",
            "events-1-resourceIds": [str(site.hall.pk)],
            "events-1-start": local_input(future(12, 10)),
            "events-1-end": local_input(future(12, 12)),
            **site.custom_answers(1),
        },
    )

    response = client.post(site.url("book"), data)

    assert response.status_code == 302
    booking = Booking.objects.get()
    events = list(booking.requested_times.order_by("start"))
    assert [(e.start, e.end) for e in events] == [(future(5, 10), future(5, 11)), (future(12, 10), future(12, 12))]
    assert [list(e.resources.all()) for e in events] == [[site.room], [site.hall]]


def test_errors_of_a_second_date_say_which_date(site, client):
    data = site.post_data(
        event_count="2",
        **{
            "events-1-title": "",
            "events-1-resourceIds": [str(site.room.pk)],
            "events-1-start": "",
            "events-1-end": "",
            **site.custom_answers(1),
        },
    )

    page = html(client.post(site.url("book"), data))

    assert field_error(page, "events-1-start") == "Enter the start date and time."
    assert ("id_events-1-title", "Date 2: Enter a title for the event.") in summary_links(page)
    assert field_error(page, "events-0-start") == ""


def test_remove_a_date(site, client):
    data = site.post_data(
        event_count="2", action="remove-0", **{"events-1-title": "Second", "events-1-start": local_input(future(9, 9))}
    )

    page = html(client.post(site.url("book"), data))

    assert 'name="event_count" value="1"' in page
    assert 'id="id_events-0-title" name="events-0-title" value="Second"' in page
    assert f'value="{local_input(future(9, 9))}"' in page


# --- protection ------------------------------------------------------------------------------------


def test_a_filled_honeypot_looks_accepted_but_stores_and_sends_nothing(
    site, client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(site.url("book"), site.post_data(contact_ref="http://spam.example/"))

    assert response.status_code == 302 and response["Location"] == site.url("book/sent")
    assert not Booking.objects.exists() and mailoutbox == []
    sent = html(client.get(response["Location"]))
    assert "Thank you, your request is sent" in sent and "Choir rehearsal" not in sent


def test_submissions_are_throttled_per_client_ip_with_a_clear_page(site, client, monkeypatch):
    monkeypatch.setattr(PublicSubmitThrottle, "rate", "2/minute", raising=False)
    for day in (5, 6):
        assert client.post(site.url("book"), site.post_data(future(day, 10))).status_code == 302

    response = client.post(site.url("book"), site.post_data(future(7, 10)))

    page = html(response)
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "Too many requests" in page and "Nothing you typed is lost." in page
    assert 'value="Ada Lovelace"' in page and f'value="{local_input(future(7, 10))}"' in page
    assert Booking.objects.count() == 2
    # A forged X-Forwarded-For changes nothing; another address has its own allowance.
    assert (
        client.post(site.url("book"), site.post_data(future(7, 10)), HTTP_X_FORWARDED_FOR="198.51.100.7").status_code
        == 429
    )
    assert client.post(site.url("book"), site.post_data(future(7, 10)), REMOTE_ADDR="203.0.113.9").status_code == 302


def test_the_form_and_the_api_share_one_allowance(site, client, monkeypatch):
    monkeypatch.setattr(PublicSubmitThrottle, "rate", "1/minute", raising=False)
    contact = {"name": "Ada", "email": "ada@example.com", str(site.fields["Organisation"].pk): "Choir"}
    body = {
        "submission": True,
        "orgId": str(site.org.pk),
        "bookingModuleId": str(site.module.pk),
        "portalId": str(site.portal.pk),
        "contact": contact,
        "event": site.event(start=future(4, 10)),
    }
    assert client.post("/api/v1/bookings/submit", body, content_type="application/json").status_code == 201

    assert client.post(site.url("book"), site.post_data()).status_code == 429


def test_adding_a_date_is_not_a_submission(site, client, monkeypatch):
    monkeypatch.setattr(PublicSubmitThrottle, "rate", "1/minute", raising=False)
    for _ in range(3):
        assert client.post(site.url("book"), site.post_data(action="add")).status_code == 200
    assert client.post(site.url("book"), site.post_data()).status_code == 302


def test_posts_without_the_csrf_token_are_refused(site):
    client = Client(enforce_csrf_checks=True)
    client.get(site.url("book"))

    assert client.post(site.url("book"), site.post_data()).status_code == 403
    assert not Booking.objects.exists()
