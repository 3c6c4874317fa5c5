"""The emails themselves (docs/architecture.md#emails, docs/architecture.md#time): every kind, driven through the real
services, as the provider receives it: recipients, subject, a text and an HTML body that both tell the booking's facts
in the venue's local time, the private link only where it exists, the admin's address in the footer, HTML escaping, the
approved booking's .ics, staff's subject and message, and header safety at input."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import transaction
from django.utils.html import escape
from icalendar import Calendar

from bookings.lifecycle.change_requests import change_request_approve, change_request_deny, change_request_submit
from bookings.lifecycle.decide import booking_approve, booking_cancel, booking_deny
from bookings.lifecycle.submit import booking_create
from bookings.models import Booking, BookingChangeRequest, BookingEvent, BookingStatus
from bookings.notify import notify_admin, notify_booker
from core.actor import Actor
from core.errors import ValidationFailed
from notifications.models import Notification
from notifications.sending import notification_send
from notifications.services import NotificationSpec, notification_enqueue
from tests.api.conftest import Api, assert_error
from tests.conftest import Setup, future
from tests.factories import BookingChangeRequestFactory

NEW_YORK = ZoneInfo("America/New_York")
BOOKER = "ada@example.com"
ADMIN = "admin@example.org"  # Setup's module admin
# Survives input cleaning (no tag in it) and still needs escaping in HTML.
TITLE = 'Fish & Chips "Night"'
ADMIN_KINDS = {"admin_new_request", "admin_booking_changed", "admin_new_change_request", "admin_booker_canceled"}
BOOKER_ACTOR = Actor.booker(BOOKER)


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()  # the public endpoints' throttling counts live in the cache
    yield
    cache.clear()


@pytest.fixture
def api(setup) -> Api:
    return Api(setup)


@pytest.fixture
def ny_setup(setup) -> Setup:
    """Setup's venue in New York, its organization in London: emails must use the venue's zone."""
    setup.venue.timezone = "America/New_York"
    setup.venue.save()
    return setup


# --- scenarios: each drives the services to the email of one kind ----------------------------------


@dataclass
class Scenario:
    booking: Booking
    token: str | None = None
    requested: list[tuple[datetime, datetime]] = field(default_factory=list)  # a change request's new times


def two_events(setup: Setup) -> list[dict]:
    # 10:00 in New York is 14:00 or 15:00 UTC; 20:30 the next day is already the day after in UTC.
    first = future(days=10, hour=10, tz=NEW_YORK)
    second = future(days=11, hour=20, minute=30, tz=NEW_YORK)
    return [
        setup.event(first, first + timedelta(hours=1), title="Dinner"),
        setup.event(second, second + timedelta(hours=1, minutes=30), resources=[setup.hall], title="Quiz"),
    ]


def submitted(setup: Setup) -> Scenario:
    result = setup.submit(*two_events(setup), title=TITLE, request_note="<p>Vegetarian <b>please</b> &amp; thanks</p>")
    return Scenario(result.booking, token=result.access_token)


def approved(setup: Setup) -> Scenario:
    scenario = submitted(setup)
    booking_approve(booking_id=scenario.booking.pk, actor=setup.staff, client_last_updated_at=None)
    return Scenario(scenario.booking)


def denied(setup: Setup) -> Scenario:
    scenario = submitted(setup)
    booking_deny(booking_id=scenario.booking.pk, actor=setup.staff, client_last_updated_at=None)
    return Scenario(scenario.booking)


def canceled_by_staff(setup: Setup) -> Scenario:
    scenario = approved(setup)
    booking_cancel(booking_id=scenario.booking.pk, actor=setup.staff)
    return scenario


def canceled_by_booker(setup: Setup) -> Scenario:
    scenario = submitted(setup)
    change_request_submit(booking_id=scenario.booking.pk, actor=BOOKER_ACTOR, cancellation=True)
    return Scenario(scenario.booking)


def changed_while_pending(setup: Setup) -> Scenario:
    scenario = submitted(setup)
    first = scenario.booking.requested_times.order_by("order").first()
    start = future(days=12, hour=9, tz=NEW_YORK)
    change_request_submit(
        booking_id=scenario.booking.pk,
        actor=BOOKER_ACTOR,
        events=[
            {
                "bookingEventId": str(first.pk),
                "start": start.isoformat(),
                "end": (start + timedelta(hours=2)).isoformat(),
            }
        ],
    )
    return Scenario(scenario.booking)


def change_requested(setup: Setup) -> Scenario:
    scenario = approved(setup)
    first = scenario.booking.requested_times.order_by("order").first()
    start = future(days=13, hour=15, tz=NEW_YORK)
    end = start + timedelta(hours=1)
    change_request_submit(
        booking_id=scenario.booking.pk,
        actor=BOOKER_ACTOR,
        request_note="<p>Running late</p>",
        events=[{"bookingEventId": str(first.pk), "start": start.isoformat(), "end": end.isoformat()}],
    )
    return Scenario(scenario.booking, requested=[(start, end)])


def change_approved(setup: Setup) -> Scenario:
    scenario = change_requested(setup)
    change_request = BookingChangeRequest.open.get(booking=scenario.booking)
    change_request_approve(change_request_id=change_request.pk, actor=setup.staff)
    return Scenario(scenario.booking)


def change_denied(setup: Setup) -> Scenario:
    scenario = change_requested(setup)
    change_request = BookingChangeRequest.open.get(booking=scenario.booking)
    change_request_deny(change_request_id=change_request.pk, actor=setup.staff)
    return Scenario(scenario.booking)


def reminded(setup: Setup) -> Scenario:
    scenario = approved(setup)
    with transaction.atomic():  # as the reminder sweep calls it: inside its own transaction
        notify_booker(scenario.booking, "booking_reminder", list(scenario.booking.requested_times.all()))
    return scenario


# kind, scenario, subject (before the title), what the first sentence says
KINDS: list[tuple[str, Callable[[Setup], Scenario], str, str]] = [
    ("booking_received", submitted, "We received your booking request: ", "We received your request"),
    ("booking_approved", approved, "Your booking is confirmed: ", "is confirmed"),
    ("booking_denied", denied, "Your booking request was declined: ", "was declined"),
    ("booking_canceled", canceled_by_staff, "Your booking was canceled: ", "has been canceled"),
    (
        "change_request_received",
        change_requested,
        "We received your change request: ",
        "We received your change request for",
    ),
    ("change_request_approved", change_approved, "Your change request was approved: ", "was approved"),
    ("change_request_denied", change_denied, "Your change request was declined: ", "was declined"),
    ("booking_reminder", reminded, "Your booking is coming up: ", "is coming up"),
    ("admin_new_request", submitted, "New booking request: ", "requested"),
    (
        "admin_booking_changed",
        changed_while_pending,
        "A pending request was changed by the booker: ",
        "changed their pending request",
    ),
    ("admin_new_change_request", change_requested, "New change request: ", "asks for a change to"),
    ("admin_booker_canceled", canceled_by_booker, "A booker canceled: ", "canceled their request"),
]


# --- reading what was sent -------------------------------------------------------------------------


@dataclass
class Sent:
    row: Notification
    subject: str
    to: list[str]
    text: str
    html: str
    attachments: list


def sent(booking: Booking, kind: str, mailoutbox) -> Sent:
    (row,) = Notification.objects.filter(object_id=booking.pk, kind=kind)
    (message,) = [m for m in mailoutbox if m.subject == row.subject and m.to == row.recipients]
    htmls = [content for content, mimetype in message.alternatives if mimetype == "text/html"]
    assert len(htmls) == 1, message.alternatives
    return Sent(row, message.subject, message.to, message.body, htmls[0], list(message.attachments))


def drive(setup: Setup, scenario: Callable[[Setup], Scenario], capture) -> Scenario:
    with capture(execute=True):
        return scenario(setup)


def local_when(be: BookingEvent | tuple[datetime, datetime], tz: ZoneInfo) -> str:
    start, end = (be.start, be.end) if isinstance(be, BookingEvent) else be
    start, end = start.astimezone(tz), end.astimezone(tz)
    return f"{start:%a %d %b %Y, %H:%M}–{end:%H:%M}"


def text_footer(text: str) -> str:
    return text.rsplit("\n--\n", 1)[1]


def html_footer(html: str) -> str:
    return re.search(r"<footer>(.*?)</footer>", html, re.DOTALL)[1]


def html_text(html: str) -> str:
    """The HTML body's visible words (tags out, whitespace folded), to look for phrases across tags."""
    body = re.search(r"<body>(.*)</body>", html, re.DOTALL)[1]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


# --- every kind ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "scenario", "subject", "sentence"), KINDS, ids=[k[0] for k in KINDS])
def test_each_email_tells_the_booking_in_both_bodies(
    ny_setup, mailoutbox, django_capture_on_commit_callbacks, kind, scenario, subject, sentence
):
    setup = ny_setup
    result = drive(setup, scenario, django_capture_on_commit_callbacks)
    email = sent(result.booking, kind, mailoutbox)
    to_admin = kind in ADMIN_KINDS

    assert email.to == ([ADMIN] if to_admin else [BOOKER])
    assert email.subject == subject + TITLE
    html_words = html_text(email.html)

    # The text body is plain: the title as typed. The HTML body escapes it.
    assert f'"{TITLE}"' in email.text
    assert escape(TITLE) in email.html and TITLE not in email.html
    assert sentence in email.text and sentence in html_words
    assert f"<title>{escape(email.subject)}</title>" in email.html
    for body in (email.text, html_words):
        assert setup.org.name in body
        assert "Ada Lovelace" in body

    # Every event, in New York time (the venue's), with the zone named: not London (the
    # organization's) and not UTC.
    events = list(result.booking.requested_times.order_by("order"))
    assert len(events) == 2
    for be in events:
        when = local_when(be, NEW_YORK)
        assert f"{be.title}: {when} (America/New_York)" in email.text
        assert f"{when} (America/New_York)" in html_words
        assert local_when(be, UTC) not in email.text + email.html
    assert "20:30–22:00" in email.text  # the second event, never moved: 00:30–02:00 the next day in UTC
    for line in (
        f"Dinner: {local_when(events[0], NEW_YORK)} (America/New_York), Room · {setup.venue.name}",
        f"Quiz: {local_when(events[1], NEW_YORK)} (America/New_York), Hall · {setup.venue.name}",
    ):
        assert line in email.text
    for requested in result.requested:  # a change request: what the booker asked for, as well
        assert local_when(requested, NEW_YORK) in email.text
        assert local_when(requested, NEW_YORK) in html_words

    # The footer: who sends it, and the module admin's address.
    assert setup.org.name in text_footer(email.text) and ADMIN in text_footer(email.text)
    assert setup.org.name in html_footer(email.html) and f'href="mailto:{ADMIN}"' in html_footer(email.html)

    # The private link is in the first email only (the raw token exists nowhere else), never the admin's.
    if result.token and not to_admin:
        link = f"https://bookings.example.org/b/{result.token}/"
        assert link in email.text and f'href="{link}"' in email.html
    else:
        assert "/b/" not in email.text + email.html

    admin_url = f"https://bookings.example.org/admin/bookings/booking/{result.booking.pk}/change/"
    if to_admin:
        assert admin_url in email.text and f'href="{admin_url}"' in email.html
        assert "Ada Lovelace <ada@example.com>" in email.text and 'href="mailto:ada@example.com"' in email.html
    else:
        assert "/admin/" not in email.text + email.html

    # Only the approval carries a calendar file.
    assert bool(email.row.attachments) == (kind == "booking_approved")


def test_the_booker_note_reaches_the_admin_as_text_and_as_sanitized_html(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    result = drive(setup, submitted, django_capture_on_commit_callbacks)
    email = sent(result.booking, "admin_new_request", mailoutbox)
    assert "Their note:\nVegetarian please & thanks" in email.text
    assert "<p>Vegetarian <b>please</b> &amp; thanks</p>" in email.html


def test_emails_without_the_link_say_where_it_is_while_the_booking_can_change(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    result = drive(setup, change_denied, django_capture_on_commit_callbacks)
    hint = "use the private link from our first email"
    assert hint in sent(result.booking, "booking_approved", mailoutbox).text
    assert hint in sent(result.booking, "change_request_denied", mailoutbox).html
    canceled = drive(Setup(), canceled_by_staff, django_capture_on_commit_callbacks)
    assert hint not in sent(canceled.booking, "booking_canceled", mailoutbox).text  # nothing left to change


@pytest.mark.parametrize(
    ("status", "kind", "has_link"),
    [
        (BookingStatus.PENDING, "booking_received", True),
        (BookingStatus.APPROVED, "booking_approved", True),
        (BookingStatus.DENIED, "booking_denied", False),
        (BookingStatus.CANCELED, "booking_canceled", False),
    ],
)
def test_staff_create_sends_the_private_link_while_the_booking_can_be_managed(
    setup, mailoutbox, django_capture_on_commit_callbacks, status, kind, has_link
):
    with django_capture_on_commit_callbacks(execute=True):
        result = booking_create(
            module=setup.module,
            actor=setup.staff,
            status=status,
            title=TITLE,
            contact={"name": "Ada Lovelace", "email": BOOKER},
            events=[setup.event()],
            single_event=True,
            notification=NotificationSpec(),
        )
    email = sent(result.booking, kind, mailoutbox)
    link = f"https://bookings.example.org/b/{result.access_token}/"
    assert (link in email.text, f'href="{link}"' in email.html) == (has_link, has_link)


# --- escaping --------------------------------------------------------------------------------------

ALL_KINDS = [k[0] for k in KINDS]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_html_escapes_every_stored_value(setup, kind):
    """Input cleaning strips tags, but the templates do not rely on it: a title, a name or an event title
    stored with markup (older rows, other writers) shows as text in HTML and as typed in text."""
    booking = setup.submit().booking
    Booking.objects.filter(pk=booking.pk).update(
        title="<b>x</b>", contact_answers={"name": "<script>alert(1)</script>", "email": BOOKER}
    )
    BookingEvent.objects.filter(booking=booking).update(title='<img src=x onerror="alert(2)">')
    booking = Booking.objects.select_related("organization", "module__admin_user").get(pk=booking.pk)
    events = list(booking.requested_times.prefetch_related("resources__venue"))
    change_request = BookingChangeRequestFactory(
        booking=booking, event_changes=[{"bookingEventId": str(events[0].pk), "title": "<i>moved</i>"}]
    )
    Notification.objects.all().delete()

    with transaction.atomic():
        notify = notify_admin if kind in ADMIN_KINDS else notify_booker
        notify(booking, kind, events, change_request=change_request, note="<p>hi <script>alert(3)</script></p>")
    row = Notification.objects.get(kind=kind)
    assert row.body_html == ""  # the worker renders the snapshot
    notification_send(notification_id=row.pk)
    row.refresh_from_db()

    assert "&lt;b&gt;x&lt;/b&gt;" in row.body_html and "<b>x</b>" not in row.body_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in row.body_html
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in row.body_html
    for raw in ("<script", "<img", "<i>", "alert(3)"):
        assert raw not in row.body_html
    assert '"<b>x</b>"' in row.body_text  # text/plain is shown as is: nothing to escape
    assert row.subject.endswith(": <b>x</b>")


# --- the calendar file -----------------------------------------------------------------------------


def check_ics(content: str | bytes, booking: Booking) -> None:
    calendar = Calendar.from_ical(content)
    assert calendar["METHOD"] == "PUBLISH" and calendar["VERSION"] == "2.0" and calendar["PRODID"]
    vevents = calendar.walk("VEVENT")
    booking_events = list(booking.requested_times.order_by("order").prefetch_related("resources__venue"))
    assert len(vevents) == len(booking_events) == 2
    for vevent, be in zip(vevents, booking_events, strict=True):
        assert str(vevent["UID"]) == f"{be.pk}@allot"
        # Compared as instants: whatever zone the file writes them in, they are these moments.
        assert vevent.decoded("DTSTART").astimezone(UTC) == be.start.astimezone(UTC)
        assert vevent.decoded("DTEND").astimezone(UTC) == be.end.astimezone(UTC)
        assert str(vevent["SUMMARY"]) == be.title
        assert str(vevent["STATUS"]) == "CONFIRMED"
        location = str(vevent["LOCATION"])
        assert all(r.name in location for r in be.resources.all()) and be.resources.first().venue.name in location
        assert booking.title in str(vevent["DESCRIPTION"]) and "/b/" not in str(vevent["DESCRIPTION"])
        assert vevent.decoded("DTSTAMP").tzinfo is not None


def test_the_approval_carries_the_events_as_an_ics(ny_setup, mailoutbox, django_capture_on_commit_callbacks):
    result = drive(ny_setup, approved, django_capture_on_commit_callbacks)
    row = Notification.objects.get(object_id=result.booking.pk, kind="booking_approved")
    (attachment,) = row.attachments
    assert (attachment["filename"], attachment["mimetype"]) == ("booking.ics", "text/calendar")
    check_ics(attachment["content"], result.booking)
    assert "booking.ics" in row.body_text and "booking.ics" in row.body_html


def test_the_sent_approval_has_the_ics_attached(ny_setup, mailoutbox, django_capture_on_commit_callbacks):
    result = drive(ny_setup, approved, django_capture_on_commit_callbacks)
    email = sent(result.booking, "booking_approved", mailoutbox)
    (attachment,) = email.attachments
    filename, content, mimetype = attachment
    assert (filename, mimetype) == ("booking.ics", "text/calendar")
    check_ics(content, result.booking)


# --- staff's subject and message -------------------------------------------------------------------

STAFF_MESSAGE = (
    '<p onclick="x()">Bring <b>your ID</b> &amp; see <a href="https://example.org/map">the map</a>.'
    "<script>alert(1)</script></p><ul><li>Door B</li></ul>"
)


def decide(kind: str, setup: Setup, spec: NotificationSpec) -> Booking:
    """Reach the transition that sends `kind`, and decide it with staff's notification choice."""
    if kind == "booking_received":
        return booking_create(
            module=setup.module,
            actor=setup.staff,
            title=TITLE,
            events=[setup.event()],
            contact={"name": "Ada Lovelace", "email": BOOKER},
            single_event=True,
            notification=spec,
        ).booking
    booking = setup.submit(title=TITLE).booking
    if kind == "booking_denied":
        booking_deny(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, notification=spec)
        return booking
    booking_approve(
        booking_id=booking.pk,
        actor=setup.staff,
        client_last_updated_at=None,
        notification=spec if kind == "booking_approved" else None,
    )
    if kind == "booking_canceled":
        booking_cancel(booking_id=booking.pk, actor=setup.staff, notification=spec)
    elif kind in ("change_request_approved", "change_request_denied"):
        change_request = change_request_submit(
            booking_id=booking.pk, actor=BOOKER_ACTOR, contact={"phone": "+1 212 555 0100"}
        ).change_request
        decision = change_request_approve if kind == "change_request_approved" else change_request_deny
        decision(change_request_id=change_request.pk, actor=setup.staff, notification=spec)
    return booking


DECIDED_KINDS = [
    "booking_received",
    "booking_approved",
    "booking_denied",
    "booking_canceled",
    "change_request_approved",
    "change_request_denied",
]


@pytest.mark.parametrize("kind", DECIDED_KINDS)
def test_staff_subject_and_message_in_both_bodies(setup, mailoutbox, django_capture_on_commit_callbacks, kind):
    spec = NotificationSpec(subject="See you on Tuesday", message=STAFF_MESSAGE)
    with django_capture_on_commit_callbacks(execute=True):
        booking = decide(kind, setup, spec)
    email = sent(booking, kind, mailoutbox)

    assert email.subject == "See you on Tuesday" and email.to == [BOOKER]
    assert (
        f"Message from {setup.org.name}:\nBring your ID & see the map (https://example.org/map).\n\n- Door B"
    ) in email.text
    assert f"<h2>Message from {setup.org.name}</h2>" in email.html
    assert (
        '<b>your ID</b> &amp; see <a href="https://example.org/map" rel="noopener noreferrer nofollow">'
        "the map</a>." in email.html
    )
    assert "<li>Door B</li>" in email.html
    for bad in ("onclick", "<script", "alert(1)"):
        assert bad not in email.text and bad not in email.html
    assert f'"{TITLE}"' in email.text and escape(TITLE) in email.html  # the email itself is still there


@pytest.mark.parametrize("kind", DECIDED_KINDS)
def test_staff_send_false_sends_nothing(setup, mailoutbox, django_capture_on_commit_callbacks, kind):
    with django_capture_on_commit_callbacks(execute=True):
        booking = decide(kind, setup, NotificationSpec(send=False, subject="Never", message="<p>Never</p>"))
    assert not Notification.objects.filter(object_id=booking.pk, kind=kind).exists()
    assert [m for m in mailoutbox if m.to == [BOOKER] and m.subject == "Never"] == []


def test_no_message_no_message_section(setup, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        booking = decide("booking_denied", setup, NotificationSpec(subject="Sorry"))
    email = sent(booking, "booking_denied", mailoutbox)
    assert "Message from" not in email.text and "Message from" not in email.html


def test_enqueue_keeps_any_subject_on_one_line(setup):
    """Inputs refuse line breaks; the outbox does not rely on every caller having checked."""
    with transaction.atomic():
        row = notification_enqueue(
            organization=setup.org,
            kind="test",
            recipients=[BOOKER],
            subject="Hello\r\nBcc: x@example.com",
            template="notifications/booking_denied.txt",
            context={},
            spec=NotificationSpec(subject="Hi\nthere\r\n"),
        )
    assert row.subject == "Hi there"
    notification_send(notification_id=row.pk)
    row.refresh_from_db()
    assert row.body_html.startswith("<!DOCTYPE html>") and row.body_text


# --- header safety at input ------------------------------------------------------------------------

SUBMIT = "/api/v1/bookings/submit"
BREAKS = ["Board\nmeeting", "Board\r\nBcc: eve@example.com", "Board\rmeeting", "Board\u2028meeting"]


def submit_body(setup: Setup, **changes) -> dict:
    body = {
        "submission": True,
        "orgId": str(setup.org.pk),
        "bookingModuleId": str(setup.module.pk),
        "portalId": str(setup.portal.pk),
        "contact": {"name": "Ada Lovelace", "email": BOOKER},
        "event": setup.event(),
    }
    for key, value in changes.items():
        *path, last = key.split(".")
        target = body
        for part in path:
            target = target[part]
        target[last] = value
    return body


@pytest.mark.parametrize("value", BREAKS)
@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("title", "title"),
        ("event.title", "event.title"),
        ("contact.name", "contact.name"),
    ],
)
def test_a_line_break_in_a_title_or_name_is_refused_at_input(api, setup, key, field, value):
    response = api.public.post(SUBMIT, submit_body(setup, **{key: value}), format="json")
    assert_error(response, 400, "INVALID", field)
    assert not Booking.objects.exists() and not Notification.objects.exists()


def test_a_line_break_in_a_later_event_title_names_that_event(api, setup):
    body = submit_body(setup)
    second = setup.event(future(days=8), title="Evening\nBcc: eve@example.com")
    body.pop("event")
    body["events"] = [setup.event(), second]
    assert_error(api.public.post(SUBMIT, body, format="json"), 400, "INVALID", "events[1].title")


def test_surrounding_whitespace_is_only_trimmed(api, setup):
    body = submit_body(setup, **{"title": "Board meeting\n", "contact.name": " Ada Lovelace\r\n"})
    response = api.public.post(SUBMIT, body, format="json")
    assert response.status_code == 201, response.json()
    booking = Booking.objects.get()
    assert (booking.title, booking.booker_name) == ("Board meeting", "Ada Lovelace")


def test_a_change_request_with_a_line_break_in_a_title_is_refused(setup):
    booking = setup.submit().booking
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    first = booking.requested_times.get()
    with pytest.raises(ValidationFailed) as caught:
        change_request_submit(
            booking_id=booking.pk,
            actor=BOOKER_ACTOR,
            events=[{"bookingEventId": str(first.pk), "title": "New\nBcc: eve@example.com"}],
        )
    # A one-event booking names its event "event", whichever form the change came in.
    assert [(e.field, e.code) for e in caught.value.errors] == [("event.title", "INVALID")]


@pytest.mark.parametrize("subject", ["Hi\nthere", "Hi\r\nBcc: eve@example.com", "Hi\rthere", "Hi\u2028there"])
@pytest.mark.parametrize("action", ["approve", "deny", "cancel"])
def test_a_line_break_in_the_notification_subject_is_refused(api, setup, action, subject):
    booking = setup.submit().booking
    if action == "cancel":
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    booking.refresh_from_db()
    body = {
        "notification": {"subject": subject},
        "eventProcedure": 0,
        "clientBookingLastUpdatedAt": booking.updated_at.isoformat(),
    }
    before = Notification.objects.count()
    response = api.manager.post(f"/api/v1/bookings/{booking.pk}/{action}", body, format="json")
    assert_error(response, 400, "INVALID", "notification.subject")
    assert Booking.objects.get(pk=booking.pk).status == booking.status
    assert Notification.objects.count() == before


def test_a_line_break_in_the_subject_of_a_change_request_decision_is_refused(api, setup):
    booking = setup.submit().booking
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    change_request = change_request_submit(booking_id=booking.pk, actor=BOOKER_ACTOR, cancellation=True).change_request
    for action in ("approve", "deny"):
        response = api.manager.post(
            f"/api/v1/booking-change-requests/{change_request.pk}/{action}",
            {"notification": {"subject": "Hi\nBcc: eve@example.com"}},
            format="json",
        )
        assert_error(response, 400, "INVALID", "notification.subject")
    assert BookingChangeRequest.open.filter(pk=change_request.pk).exists()


def test_a_one_line_subject_still_goes_through(api, setup, mailoutbox, django_capture_on_commit_callbacks):
    booking = setup.submit().booking
    booking.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.manager.post(
            f"/api/v1/bookings/{booking.pk}/deny",
            {
                "notification": {"subject": "  Sorry, we are full  "},
                "clientBookingLastUpdatedAt": booking.updated_at.isoformat(),
            },
            format="json",
        )
    assert response.status_code == 200, response.json()
    assert [m.subject for m in mailoutbox if m.to == [BOOKER]][-1] == "Sorry, we are full"
