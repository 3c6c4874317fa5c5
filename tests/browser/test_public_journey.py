"""A member of the public books in a real browser, at desktop width and at 375 pixels: portal, About,
the calendar, a free slot, the form (first with mistakes, then with every custom field filled in), the
confirmation, the private link from the email, a change, and a cancellation. The pages run under their
real Content-Security-Policy; any violation the browser reports fails the test.

Screenshots (artifacts/screenshots/): public-calendar-<width>, public-calendar-week-<width>, public-form-<width>,
public-form-errors-<width>, public-confirmation-<width>, public-private-<width>, public-change-<width>,
public-cancel-<width>."""

from __future__ import annotations

import re
import time
from datetime import time as dt_time
from datetime import timedelta

import pytest
from django.core import mail

from bookings.lifecycle.decide import booking_approve
from bookings.models import Booking, BookingStatus
from tests.conftest import future
from tests.factories import BookableHoursFactory, ClosureFactory
from tests.public.site import PublicSite, local_input

from .conftest import DEFAULT_TIMEOUT_MS, _screenshot_path, screenshot

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 812}}


@pytest.fixture(params=list(WIDTHS), ids=list(WIDTHS))
def booker(request, browser, live_server, browser_settings):
    """A fresh browser context at the parametrized width, with the CSP enforced, collecting console
    errors; a full-page screenshot is saved when the test fails."""
    viewport = WIDTHS[request.param]
    context = browser.new_context(
        base_url=live_server.url,
        viewport=viewport,
        is_mobile=viewport["width"] < 500,
        has_touch=viewport["width"] < 500,
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.width = viewport["width"]
    yield page
    failed = any(
        getattr(request.node, f"rep_{when}", None) is not None and getattr(request.node, f"rep_{when}").failed
        for when in ("setup", "call")
    )
    failure_name = f"FAILED-{request.node.nodeid}"
    if failed:
        try:
            print(f"\nscreenshot of the failure: {screenshot(page, failure_name)}")
        except Exception as exc:  # never mask the real failure
            print(f"\nno screenshot of the failure: {exc}")
    else:  # passed now: drop the screenshot of an earlier failure
        _screenshot_path(failure_name).unlink(missing_ok=True)
    context.close()


def shot(page, name: str) -> None:
    """Save the screenshot, and check the page is readable at its width: nothing sticks out sideways (the
    calendar's own box may scroll, the page may not)."""
    screenshot(page, f"{name}-{page.width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width, f"{name} is wider than the screen"


def wait_for_email(to: str, timeout: float = 10.0):
    """The booker's emails are sent by the live server's thread right after its transaction commits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sent = [m for m in mail.outbox if m.to == [to]]
        if sent:
            return sent
        time.sleep(0.1)
    raise AssertionError(f"no email to {to}; outbox: {[(m.to, m.subject) for m in mail.outbox]}")


def fill_custom_fields(page, site: PublicSite) -> None:
    """Answer every custom question with its own kind of input."""
    n = site.name_of
    page.fill(f"#id_{n('Organisation')}", "Riverside Choir")
    page.fill(f"#id_{n('Billing email')}", "treasurer@example.com")
    page.fill(f"#id_{n('Emergency phone')}", "+44 20 7946 0000")
    page.check(f"#id_{n('Send me the newsletter')}")
    page.fill(f"#id_{n('Describe the event')}", "Our weekly rehearsal, about twenty singers.")
    page.fill(f"#id_{n('Chairs needed')}", "20")
    page.fill(f"#id_{n('Date of the rehearsal')}", "2030-01-15")
    page.fill(f"#id_{n('Doors open')}", "18:30")
    page.fill(f"#id_{n('Set-up from')}", "2030-01-15T17:00")
    page.select_option(f"#id_{n('Type of event')}", "Workshop")
    page.check(f"input[name='{n('Equipment')}'][value='Piano']")
    page.check(f"input[name='{n('Equipment')}'][value='Microphone']")
    page.fill(f"#id_{n('Event website')}", "https://choir.example.org/")
    page.check(f"#id_{n('Alcohol will be served')}")


def test_a_booker_books_follows_changes_and_cancels(booker, live_server):
    page = booker
    site = PublicSite()
    start = future(3, 10)
    # Other people's bookings, a closure and opening hours, so the calendar has every kind of slot.
    taken = site.submit(
        site.event(start=future(3, 12), end=future(3, 14), resources=[site.hall], title="Private party"),
        email="zed@example.com",
    ).booking
    booking_approve(booking_id=taken.pk, actor=site.staff, client_last_updated_at=None)
    site.submit(site.event(start=future(3, 15), title="Quiet meeting"), email="yan@example.com")
    ClosureFactory(
        organization=site.org, start=future(3, 17), end=future(3, 19), message="Floor polishing"
    ).resources.add(site.desks)
    BookableHoursFactory(resource=site.room, weekday=start.weekday(), start_time=dt_time(9), end_time=dt_time(20))
    mail.outbox.clear()

    # The portal, then the module's About page.
    page.goto(site.portal_url)
    assert page.locator("h1").inner_text() == "Book our spaces"
    page.click("main h3 a:text-is('Rooms and hall')")
    assert page.locator("h1").inner_text() == "Rooms and hall"
    assert page.locator(".header-module").inner_text() == "Rooms and hall"

    # The calendar: pick the day, then a free slot of the Room.
    page.click("main a.button:has-text('See availability')")
    page.fill("#cal-date", start.date().isoformat())
    page.click(".calendar-controls button:text-is('Show')")
    page.wait_for_selector(f"caption:has-text('{start:%A} {start.day} {start:%B}')")
    slot = page.locator(f"a[data-resource='{site.room.pk}'][data-start='{local_input(start)}']")
    assert slot.inner_text().startswith("Free")
    calendar = page.locator("table.calendar").inner_text()
    assert "Booked" in calendar and "Requested" in calendar and "Closed" in calendar
    assert "Private party" not in calendar and "Quiet meeting" not in calendar
    shot(page, "public-calendar")
    slot.click()

    # The form comes with the space and the times filled in.
    page.wait_for_selector("h1:text-is('Request a booking')")
    assert page.input_value("#id_events-0-start") == local_input(start)
    assert page.input_value("#id_events-0-end") == local_input(start + timedelta(hours=1))
    assert page.is_checked(f"input[name='events-0-resourceIds'][value='{site.room.pk}']")
    shot(page, "public-form")

    # Mistakes first: the errors show at the top and next to their fields, and nothing typed is lost.
    page.fill("#id_contact-name", "Ada Lovelace")
    page.fill("#id_contact-email", "ada-at-example.com")
    page.fill("#id_events-0-title", "Choir rehearsal")
    page.click("button.primary:text-is('Send request')")
    summary = page.locator(".error-summary")
    summary.wait_for()
    assert summary.evaluate("node => node === document.activeElement")  # site.js takes focus there
    assert "Email must be an email address." in summary.inner_text()
    assert page.locator("#id_contact-email-error").inner_text().endswith("Email must be an email address.")
    assert page.input_value("#id_contact-name") == "Ada Lovelace"
    assert page.input_value("#id_events-0-start") == local_input(start)
    shot(page, "public-form-errors")
    page.click(".error-summary a:has-text('Email must be an email address.')")
    assert page.evaluate("document.activeElement.id") == "id_contact-email"

    # Every custom field, the terms, and off it goes.
    page.fill("#id_contact-email", "ada@example.com")
    fill_custom_fields(page, site)
    page.fill("#id_events-0-attendees", "8")
    page.fill("#id_requestNote", "We bring our own music stands.")
    page.check("#id_terms")
    page.click("button.primary:text-is('Send request')")
    page.wait_for_selector("h1:text-is('Thank you, your request is sent')")
    assert "ada@example.com" in page.locator("main").inner_text()
    assert f"{start:%a} {start.day} {start:%b %Y}, 10:00–11:00" in page.locator("main").inner_text()
    shot(page, "public-confirmation")
    booking = Booking.objects.get(contact_answers__email="ada@example.com")
    assert sorted(booking.requested_times.get().answers[str(site.fields["Equipment"].pk)]) == ["Microphone", "Piano"]

    # The private link, from the email.
    [received] = wait_for_email("ada@example.com")
    path = re.search(r"https?://[^/\s]+(/b/[A-Za-z0-9_-]+/)", received.body).group(1)
    page.goto(path)
    assert page.locator("h1").inner_text() == "Choir rehearsal"
    assert "Waiting for approval" in page.locator(".status").inner_text()
    shot(page, "public-private")

    # A change: applied at once while the request is pending.
    page.click("a.button:text-is('Request a change')")
    assert page.input_value(f"#id_{site.name_of('Chairs needed')}") == "20"
    page.fill("#id_events-0-end", local_input(start + timedelta(hours=2)))
    page.fill("#id_requestNote", "We need an extra hour.")
    shot(page, "public-change")
    page.click("button.primary:text-is('Save changes')")
    page.wait_for_selector(".message-success:has-text('Your changes are saved.')")
    assert "10:00–12:00" in page.locator(".event-list").inner_text()
    assert booking.requested_times.get().end == start + timedelta(hours=2)

    # And a cancellation.
    page.click("a.button:text-is('Cancel booking')")
    page.fill("#id_requestNote", "The choir is on holiday.")
    shot(page, "public-cancel")
    page.click("button.danger:text-is('Cancel booking')")
    page.wait_for_selector(".message-success:has-text('Your booking is canceled.')")
    assert "Canceled" in page.locator(".status").inner_text()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELED

    # Nothing on the way broke the Content-Security-Policy (nor anything else the console reports).
    assert page.console_errors == []
    page.goto(f"{site.url('calendar')}?view=week&resource={site.hall.pk}")
    shot(page, "public-calendar-week")


def test_several_dates_in_one_request_without_javascript(browser, live_server, browser_settings):
    """ "Add another date" is a plain form button: it works with JavaScript switched off."""
    site = PublicSite(terms="")
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False, viewport=WIDTHS["phone"])
    page = context.new_page()
    try:
        page.goto(site.url("book"))
        page.fill("#id_contact-name", "Ada Lovelace")
        page.fill("#id_contact-email", "ada@example.com")
        page.fill("#id_events-0-title", "Choir rehearsal")
        page.check(f"input[name='events-0-resourceIds'][value='{site.hall.pk}']")
        page.fill("#id_events-0-start", local_input(future(4, 18)))
        page.fill("#id_events-0-end", local_input(future(4, 20)))
        fill_custom_fields(page, site)
        page.click("button:text-is('Add another date')")
        page.wait_for_selector("h2:text-is('Date 2')")
        assert page.input_value("#id_events-1-title") == "Choir rehearsal"  # copied over
        assert page.input_value("#id_contact-name") == "Ada Lovelace"  # kept
        page.fill("#id_events-1-start", local_input(future(11, 18)))
        page.fill("#id_events-1-end", local_input(future(11, 20)))
        page.press("#id_events-1-end", "Enter")  # Enter sends the request, it does not remove a date
        page.wait_for_selector("h1:text-is('Thank you, your request is sent')")
        booking = Booking.objects.get()
        assert [e.start for e in booking.requested_times.order_by("start")] == [future(4, 18), future(11, 18)]
    finally:
        context.close()
