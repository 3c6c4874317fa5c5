"""Header injection (docs/architecture.md#security-measures): a line break -- CR, LF, CRLF, NEL (U+0085), LINE SEPARATOR
(U+2028), PARAGRAPH SEPARATOR (U+2029) -- in anything that can reach an email header is refused where it is typed: the
API answers 400 with the field and a code, the public form shows the error at the field and keeps what was typed, and no
email goes out.

What can reach a header: the booking's and each event's title (subjects), the booker's name and email
(To: "Name <email>"), staff's notification subject (API and admin decision pages), and a change
request's contact changes. Already covered elsewhere and not repeated here:
- tests/notifications/test_emails.py: \\n, \\r\\n, \\r and U+2028 in title, event title and contact name at
  the API submit, in a later event's title, in a change request's title, and in the notification subject
  of approve/deny/cancel and of change-request decisions; the outbox folding a subject to one line;
- tests/admin/test_bookings_admin.py: "Hi\\r\\nBcc: ..." in the admin deny page's subject field.
This file adds the other separators everywhere, the email address itself, the public HTML form, change
requests' contact changes, the admin approve/cancel pages, and the end-to-end check on what was sent.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from bookings.lifecycle.decide import booking_approve
from bookings.models import Booking, BookingStatus
from notifications.models import Notification
from tests.admin.test_bookings_admin import approve_post
from tests.api.conftest import Api, assert_error
from tests.notifications.test_emails import BOOKER, submit_body
from tests.public.site import PublicSite

SEPARATORS = {"CRLF": "\r\n", "LF": "\n", "CR": "\r", "NEL": "\u0085", "LS": "\u2028", "PS": "\u2029"}
SUBMIT = "/api/v1/bookings/submit"
CHANGE = "/api/v1/bookings/change-requests/submit"
BAD_EMAILS = [
    "ada@example.org\r\nBcc: x@evil.example",
    "ada@example.org\nBcc: x@evil.example",
    "ada@example.org\u2028Bcc: x@evil.example",
    "ada@example.org\u0085Bcc: x@evil.example",
    "ada@example.org%0d%0aBcc: x@evil.example",
    "ada@example.org, x@evil.example",
    "Ada <ada@example.org>",
    "ada@example.org>\r\nBcc: <x@evil.example",
]


@pytest.fixture
def api(setup) -> Api:
    return Api(setup)


def nothing_sent() -> None:
    assert not Notification.objects.exists() and not mail.outbox


@pytest.mark.parametrize("separator", list(SEPARATORS), ids=list(SEPARATORS))
@pytest.mark.parametrize("key", ["title", "event.title", "contact.name"])
def test_every_line_separator_is_refused_at_the_api(api, setup, key, separator):
    value = f"Board{SEPARATORS[separator]}Bcc: x@evil.example"
    response = api.public.post(SUBMIT, submit_body(setup, **{key: value}), format="json")
    assert_error(response, 400, "INVALID", key)
    assert not Booking.objects.exists()
    nothing_sent()


@pytest.mark.parametrize("email", BAD_EMAILS, ids=range(len(BAD_EMAILS)))
def test_an_email_address_with_a_second_line_or_recipient_is_refused(api, setup, email):
    response = api.public.post(SUBMIT, submit_body(setup, **{"contact.email": email}), format="json")
    assert_error(response, 400, "INVALID", "contact.email")
    assert not Booking.objects.exists()
    nothing_sent()


@pytest.mark.parametrize("separator", ["NEL", "PS", "LS"])
@pytest.mark.parametrize("action", ["approve", "deny", "cancel"])
def test_a_notification_subject_with_any_separator_is_refused(api, setup, action, separator):
    booking = setup.submit().booking
    if action == "cancel":
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    booking.refresh_from_db()
    before = Notification.objects.count()
    response = api.manager.post(
        f"/api/v1/bookings/{booking.pk}/{action}",
        {
            "notification": {"subject": f"Hi{SEPARATORS[separator]}Bcc: x@evil.example"},
            "eventProcedure": 0,
            "clientBookingLastUpdatedAt": booking.updated_at.isoformat(),
        },
        format="json",
    )
    assert_error(response, 400, "INVALID", "notification.subject")
    assert Booking.objects.get(pk=booking.pk).status == booking.status
    assert Notification.objects.count() == before


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("name", "Ada\r\nBcc: x@evil.example"),
        ("name", "Ada\u2029Bcc: x@evil.example"),
        ("email", "ada@example.org\r\nBcc: x@evil.example"),
        ("email", "ada@example.org, x@evil.example"),
    ],
)
def test_a_change_requests_contact_change_with_a_second_line_is_refused(api, setup, key, value):
    result = setup.submit(email="ada@example.org")
    booking_approve(booking_id=result.booking.pk, actor=setup.staff, client_last_updated_at=None)
    before = Notification.objects.count()
    response = api.public.post(
        CHANGE,
        {"bookingId": str(result.booking.pk), "accessToken": result.access_token, "contact": {key: value}},
        format="json",
    )
    assert_error(response, 400, "INVALID", f"contact.{key}")
    assert not result.booking.change_requests.exists()
    assert Notification.objects.count() == before


# --- the public form ----------------------------------------------------------------------------------


def field_error(page: str, name: str) -> str:
    match = re.search(rf'<p class="field-error" id="id_{re.escape(name)}-error">(.*?)</p>', page, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def input_value(page: str, name: str) -> str:
    match = re.search(
        rf'<(?:input|textarea)[^>]*name="{re.escape(name)}"[^>]*?(?:value="([^"]*)"[^>]*)?>'
        rf"(?:([^<]*)</textarea>)?",
        page,
        re.S,
    )
    assert match, name
    return match.group(1) if match.group(1) is not None else (match.group(2) or "")


@pytest.fixture
def site(db):
    from django.core.cache import cache

    cache.clear()
    return PublicSite()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("events-0-title", "Choir\r\nBcc: x@evil.example"),
        ("events-0-title", "Choir\u2028Bcc: x@evil.example"),
        ("contact-name", "Ada\r\nBcc: x@evil.example"),
        ("contact-name", "Ada\u0085Bcc: x@evil.example"),
        ("contact-email", "ada@example.org\r\nBcc: x@evil.example"),
        ("contact-email", "ada@example.org, x@evil.example"),
    ],
)
def test_the_public_form_shows_the_error_at_the_field_and_keeps_what_was_typed(site, name, value):
    client = Client()
    data = site.post_data(requestNote="Please keep the piano tuned.", **{name: value})
    response = client.post(site.url("book"), data)
    page = response.content.decode()
    assert response.status_code == 200, response.status_code
    assert field_error(page, name), f"no error shown at {name}"
    assert not Booking.objects.exists()
    nothing_sent()
    # Nothing typed is lost: the other answers come back in their inputs.
    for other in ("contact-name", "events-0-title", "contact-email"):
        if other != name:
            assert input_value(page, other) == data[other], other
    assert "Please keep the piano tuned." in page


# --- the admin's decision pages -----------------------------------------------------------------------


@pytest.mark.parametrize("separator", ["CRLF", "NEL", "LS", "PS"])
def test_the_admin_approve_page_refuses_a_subject_with_a_line_break(setup, separator):
    client = Client()
    client.force_login(setup.manager)
    booking = setup.submit().booking
    booking.refresh_from_db()
    response = client.post(
        f"/admin/bookings/booking/{booking.pk}/approve/",
        approve_post(booking, **{"notification-subject": f"Hi{SEPARATORS[separator]}Bcc: x@evil.example"}),
    )
    assert response.status_code == 200 and response.context["notification"].errors["subject"]
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING
    assert not Notification.objects.filter(kind="booking_approved").exists()


def test_the_admin_cancel_page_refuses_a_subject_with_a_line_break(setup):
    client = Client()
    client.force_login(setup.manager)
    booking = setup.submit().booking
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    response = client.post(
        f"/admin/bookings/booking/{booking.pk}/cancel/",
        {"event_procedure": "0", "notification-send": "on", "notification-subject": "Hi\r\nBcc: x@evil.example"},
    )
    assert response.status_code == 200 and response.context["notification"].errors["subject"]
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.APPROVED


# --- end to end: what is sent -------------------------------------------------------------------------


def test_what_is_sent_has_one_line_headers_and_only_the_intended_recipients(
    api, setup, django_capture_on_commit_callbacks
):
    """Attempts that were refused send nothing; what is accepted goes to the booker and the module admin
    only, with every header on one line."""
    for key, value in [
        ("title", "A\r\nBcc: x@evil.example"),
        ("contact.email", BAD_EMAILS[0]),
        ("contact.name", "Ada\u2028Bcc: x@evil.example"),
    ]:
        with django_capture_on_commit_callbacks(execute=True):
            api.public.post(SUBMIT, submit_body(setup, **{key: value}), format="json")
    assert not mail.outbox
    with django_capture_on_commit_callbacks(execute=True):
        response = api.public.post(
            SUBMIT,
            submit_body(
                setup, **{"title": 'Choir: "<b>x</b>" <x@evil.example>', "contact.name": "Ada, Bcc x@evil.example"}
            ),
            format="json",
        )
    assert response.status_code == 201, response.json()
    assert mail.outbox
    for message in mail.outbox:
        built = message.message()
        recipients = message.recipients()
        assert recipients and all(r in (BOOKER, "admin@example.org") for r in recipients), recipients
        assert "evil.example" not in " ".join(str(built.get(h, "")) for h in ("To", "Cc", "Bcc", "Reply-To"))
        for name, value in built.items():
            assert not re.search(
                r"[\r\n\u0085\u2028\u2029]",
                str(value).replace("\r\n ", "").replace("\n ", "").replace("\r\n\t", "").replace("\n\t", ""),
            ), (name, value)
