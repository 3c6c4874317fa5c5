"""The booker's private page /b/<token>/ with the Django test client: found by the token's hash only,
kept out of caches and Referer headers, and the "request a change" and "cancel" forms."""

import re

import pytest

from bookings.lifecycle.decide import booking_approve, booking_deny
from bookings.models import BookingChangeRequest, BookingStatus
from events.models import EventStatus, Reservation
from tests.conftest import future

from .site import local_input


def html(response) -> str:
    return response.content.decode()


def field_error(page: str, name: str) -> str:
    match = re.search(rf'<p class="field-error" id="id_{re.escape(name)}-error">(.*?)</p>', page, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).replace("Error: ", "") if match else ""


@pytest.fixture
def submitted(site):
    """A pending request for Room, on day 5 10:00-11:00 London, and its private link."""
    result = site.submit(
        site.event(start=future(5, 10), title="Choir rehearsal"), request_note="<p>Hi <b>there</b></p>"
    )
    result.booking.internal_notes = "Staff only: difficult customer"
    result.booking.save()
    return result.booking, f"/b/{result.access_token}/"


def test_a_wrong_or_malformed_token_answers_404(site, submitted, client):
    booking, link = submitted
    for bad in (
        "/b/not-the-token/",
        f"/b/{link[3:-2]}x/",
        f"/b/{booking.access_token_hash}/",
        f"/b/{link[3:-1].upper()}/",
        "/b/%00/",
    ):
        response = client.get(bad)
        assert response.status_code == 404, bad
        assert response["Content-Type"].startswith("text/html") and "Choir rehearsal" not in html(response)
    assert client.get(f"{link}change/".replace(link[3:-1], "wrong")).status_code == 404
    assert client.post(f"{link}cancel/".replace(link[3:-1], "wrong")).status_code == 404


def test_the_private_page_shows_the_status_and_times_in_local_time(site, submitted, client):
    booking, link = submitted

    response = client.get(link)

    page = html(response)
    assert response.status_code == 200
    assert "<h1>Choir rehearsal</h1>" in page and "Waiting for approval" in page
    start = future(5, 10)
    assert f"{start:%a} {start.day} {start:%b %Y}, 10:00–11:00" in page and "Europe/London time" in page
    assert "Room" in page and "Ada Lovelace" in page and "Riverside Choir" in page
    assert "Hi <b>there</b>" in page  # the note, sanitized HTML
    assert "difficult customer" not in page  # internal notes never reach the booker
    assert "Riverside Community Centre" in page and "Rooms and hall" in page
    assert f'href="{link}change/"' in page and f'href="{link}cancel/"' in page


def test_the_private_page_keeps_its_link_out_of_caches_referers_and_search_engines(submitted, client):
    _, link = submitted
    # The pages with forms say "same-origin": under "no-referrer" a browser posts them with `Origin: null`,
    # which the CSRF check refuses. Either way no other site learns the link.
    for url, policy in ((link, "no-referrer"), (f"{link}change/", "same-origin"), (f"{link}cancel/", "same-origin")):
        response = client.get(url)
        assert response["Referrer-Policy"] == policy
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
        assert response["X-Robots-Tag"] == "noindex, nofollow"
        assert f'<meta name="referrer" content="{policy}">' in html(response)
        assert "Content-Security-Policy" in response


def test_the_token_is_long_random_and_stored_hashed(site, submitted):
    booking, link = submitted
    token = link.split("/")[2]
    assert len(token) >= 40 and token not in booking.access_token_hash
    assert booking.access_token_hash == __import__("hashlib").sha256(token.encode()).hexdigest()


# --- request a change --------------------------------------------------------------------------------


def test_the_change_form_is_prefilled_with_the_current_answers(site, submitted, client):
    _, link = submitted

    page = html(client.get(f"{link}change/"))

    assert 'id="id_contact-name" name="contact-name" value="Ada Lovelace"' in page
    assert f'value="{local_input(future(5, 10))}"' in page and f'value="{local_input(future(5, 11))}"' in page
    assert re.search(rf'name="events-0-resourceIds" value="{site.room.pk}" checked', page)
    assert '<option value="Meeting" selected>' in page
    assert re.search(rf'name="{site.name_of("Equipment")}" value="Projector" checked', page)
    assert f'id="id_{site.name_of("Doors open")}" name="{site.name_of("Doors open")}" value="09:30"' in page
    assert 'name="terms"' not in page and "contact_ref" not in page


def change_data(site, page_html: str, **changes) -> dict:
    """What the change form posts: every input as prefilled, with `changes` laid over."""
    data: dict = {}
    for name, value in re.findall(
        r'<input type="(?:text|email|tel|number|date|time|datetime-local|url)" '
        r'id="[^"]+" name="([^"]+)" value="([^"]*)"',
        page_html,
    ):
        data[name] = value
    for input_id, name, value in re.findall(
        r'<input type="checkbox" id="([^"]+)" name="([^"]+)" '
        r'value="([^"]*)" checked',
        page_html,
    ):
        if input_id == f"id_{name}":
            data[name] = value  # a single checkbox
        else:
            data.setdefault(name, []).append(value)  # one of a group
    for name, value in re.findall(
        r'<select id="[^"]+" name="([^"]+)"[^>]*>.*?<option value="([^"]*)" selected', page_html, re.S
    ):
        data[name] = value
    for name, value in re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>(.*?)</textarea>', page_html, re.S):
        data[name] = value
    data.update(changes)
    return data


def test_a_pending_request_is_changed_at_once(site, submitted, client, mailoutbox, django_capture_on_commit_callbacks):
    booking, link = submitted
    form = html(client.get(f"{link}change/"))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{link}change/", change_data(site, form, **{"events-0-end": local_input(future(5, 12))})
        )

    assert response.status_code == 302 and response["Location"] == link
    be = booking.requested_times.get()
    assert (be.start, be.end) == (future(5, 10), future(5, 12))
    assert be.event.end == future(5, 12) and be.event.status == EventStatus.TENTATIVE  # the hold moved along
    page = html(client.get(link))
    assert "Your changes are saved." in page and "10:00–12:00" in page
    assert [m.subject for m in mailoutbox if m.to == ["admin@example.org"]][-1].startswith("A pending request")


def test_an_approved_booking_gets_a_change_request(site, submitted, client):
    booking, link = submitted
    booking_approve(booking_id=booking.pk, actor=site.staff, client_last_updated_at=None)
    form = html(client.get(f"{link}change/"))

    response = client.post(
        f"{link}change/",
        change_data(
            site,
            form,
            **{
                "events-0-start": local_input(future(5, 14)),
                "events-0-end": local_input(future(5, 15)),
                "contact-phone": "+44 1234 567890",
                "requestNote": "Afternoon suits us better.",
            },
        ),
    )

    assert response.status_code == 302
    request = BookingChangeRequest.open.get(booking=booking)
    assert request.contact_changes == {"phone": "+44 1234 567890"}
    [change] = request.event_changes
    assert (change["start"], change["end"]) == (future(5, 14).isoformat(), future(5, 15).isoformat())
    assert set(change) == {"bookingEventId", "start", "end"}  # only what changed
    booking.refresh_from_db()
    assert booking.status == BookingStatus.APPROVED and booking.requested_times.get().start == future(5, 10)
    page = html(client.get(link))
    assert "We received your change request." in page and "You asked for a change." in page


def test_sending_the_form_unchanged_asks_for_a_change(site, submitted, client):
    _, link = submitted
    form = html(client.get(f"{link}change/"))

    page = html(client.post(f"{link}change/", change_data(site, form)))

    assert "Change at least one answer before sending the request." in page


def test_a_change_into_a_taken_slot_is_refused_at_the_field(site, submitted, client):
    booking, link = submitted
    other = site.submit(site.event(start=future(5, 14), title="Secret party"), email="zed@example.com").booking
    booking_approve(booking_id=other.pk, actor=site.staff, client_last_updated_at=None)
    form = html(client.get(f"{link}change/"))

    page = html(
        client.post(
            f"{link}change/",
            change_data(
                site, form, **{"events-0-start": local_input(future(5, 14)), "events-0-end": local_input(future(5, 15))}
            ),
        )
    )

    assert field_error(page, "events-0-resourceIds").startswith("Room is already booked at that time.")
    assert "Secret party" not in page
    assert booking.requested_times.get().start == future(5, 10)


def test_invalid_changes_show_the_validators_messages(site, submitted, client):
    _, link = submitted
    form = html(client.get(f"{link}change/"))

    page = html(
        client.post(
            f"{link}change/", change_data(site, form, **{"contact-email": "nope", site.name_of("Chairs needed"): "101"})
        )
    )

    assert field_error(page, "contact-email") == "Email must be an email address."
    assert field_error(page, site.name_of("Chairs needed")) == "Chairs needed must be at most 100."
    assert 'value="nope"' in page  # nothing typed is lost


# --- cancel --------------------------------------------------------------------------------------------


def test_a_pending_request_is_canceled_at_once(site, submitted, client):
    booking, link = submitted
    assert "Cancel booking" in html(client.get(f"{link}cancel/"))

    response = client.post(f"{link}cancel/", {"requestNote": "Plans changed."})

    assert response.status_code == 302 and response["Location"] == link
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELED
    assert not Reservation.objects.filter(active=True).exists()  # the hold is released
    page = html(client.get(link))
    assert "Your booking is canceled." in page and "Canceled" in page
    assert "Request a change" not in page and f'href="{link}cancel/"' not in page


def test_an_approved_booking_gets_a_cancellation_request(site, submitted, client):
    booking, link = submitted
    booking_approve(booking_id=booking.pk, actor=site.staff, client_last_updated_at=None)
    assert "Ask to cancel" in html(client.get(f"{link}cancel/"))

    client.post(f"{link}cancel/", {"requestNote": ""})

    assert BookingChangeRequest.open.get(booking=booking).cancellation
    page = html(client.get(link))
    assert "You asked to cancel this booking." in page and f'href="{link}cancel/"' not in page


def test_nothing_to_do_when_the_module_forbids_it_or_the_booking_is_over(site, submitted, client):
    booking, link = submitted
    site.module.allow_change_requests = False
    site.module.allow_cancellation = False
    site.module.save()

    page = html(client.get(link))
    assert "Request a change" not in page and "Cancel booking" not in page
    response = client.post(f"{link}cancel/")
    assert response.status_code == 302
    assert "can no longer be canceled here" in html(client.get(link))
    assert client.get(f"{link}change/").status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING

    site.module.allow_change_requests = site.module.allow_cancellation = True
    site.module.save()
    booking_deny(booking_id=booking.pk, actor=site.staff, client_last_updated_at=None)
    page = html(client.get(link))
    assert "Declined" in page and "Request a change" not in page


def test_a_change_form_kept_open_while_staff_deny_the_request_fails_readably(site, submitted, client):
    booking, link = submitted
    form = html(client.get(f"{link}change/"))
    booking_deny(booking_id=booking.pk, actor=site.staff, client_last_updated_at=None)

    response = client.post(f"{link}change/", change_data(site, form, **{"events-0-title": "Later"}))

    assert response.status_code == 302 and "can no longer be changed here" in html(client.get(link))


def test_several_events_each_show_in_local_time(site, client):
    result = site.submit(
        site.event(start=future(5, 10)), site.event(start=future(6, 18), end=future(6, 21), resources=[site.hall])
    )
    page = html(client.get(f"/b/{result.access_token}/"))
    assert "10:00–11:00" in page and "18:00–21:00" in page and page.count('class="card event-line"') == 2
    form = html(client.get(f"/b/{result.access_token}/change/"))
    assert "<h2>Date 2</h2>" in form and f'value="{local_input(future(6, 21))}"' in form
    assert 'value="add"' not in form
