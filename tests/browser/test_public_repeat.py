"""A booker asks "Check availability" for a taken time, picks a suggested free time, makes it weekly, sends
the request and sees every date on the confirmation — in a real browser, under the pages' real
Content-Security-Policy, at desktop width and at 375 pixels.

Screenshots (artifacts/screenshots/): public-repeat-check-<width>, public-repeat-form-<width>,
public-repeat-confirmation-<width>."""

from __future__ import annotations

from datetime import timedelta

from bookings.models import Booking
from events.services.single import event_create
from tests.conftest import future
from tests.public.site import PublicSite, local_input

from .test_public_journey import booker, fill_custom_fields, shot  # noqa: F401 - the fixture is used by name


def test_a_booker_checks_picks_a_suggestion_repeats_weekly_and_sees_the_dates(booker, live_server):  # noqa: F811
    page = booker
    site = PublicSite()
    site.module.allow_repeat_requests = True
    site.module.save(update_fields=["allow_repeat_requests"])
    taken = future(7, 10)
    event_create(
        organization=site.org,
        title="Secret board meeting",
        start=taken,
        end=taken + timedelta(hours=1),
        resource_ids=[site.room.pk],
    )

    # From a link to the form with the taken time, the booker asks whether it is free.
    page.goto(
        f"{site.url('book')}?resource={site.room.pk}&start={local_input(taken)}"
        f"&end={local_input(taken + timedelta(hours=1))}"
    )
    page.fill("#id_contact-name", "Ada Lovelace")
    page.fill("#id_contact-email", "ada@example.com")
    page.fill("#id_events-0-title", "Choir rehearsal")
    page.click("button:text-is('Check availability')")
    panel = page.locator(".availability")
    panel.wait_for()
    assert "One time cannot be booked" in panel.inner_text()
    assert "Room is already booked at that time." in panel.inner_text()
    assert "Secret board meeting" not in page.content()
    assert Booking.objects.count() == 0
    shot(page, "public-repeat-check")

    # The nearest free time of the same length: 11:00–12:00 the same day.
    nearest = taken + timedelta(hours=1)
    page.click(f"button[name='use'][value^='0|{local_input(nearest)}']")
    page.wait_for_selector(".message:has-text('Your time is now')")
    assert page.input_value("#id_events-0-start") == local_input(nearest)
    assert page.input_value("#id_events-0-end") == local_input(nearest + timedelta(hours=1))
    assert page.input_value("#id_contact-name") == "Ada Lovelace"  # nothing typed is lost

    # Weekly, four dates.
    until = (nearest + timedelta(weeks=3)).date()
    page.select_option("#id_events-0-repeats", "2")
    page.fill("#id_events-0-repeatUntil", until.isoformat())
    fill_custom_fields(page, site)
    page.check("#id_terms")
    shot(page, "public-repeat-form")
    page.click("button.primary:text-is('Send request')")
    page.wait_for_selector("h1:text-is('Thank you, your request is sent')")

    dates = page.locator(".event-list").inner_text()
    assert f"Weekly until {until:%a} {until.day} {until:%b %Y}, 4 dates" in dates
    for k in range(4):
        day = nearest + timedelta(weeks=k)
        assert f"{day:%a} {day.day} {day:%b %Y}, 11:00–12:00" in dates
    shot(page, "public-repeat-confirmation")
    assert Booking.objects.get().requested_times.count() == 4
    assert not page.console_errors, page.console_errors
