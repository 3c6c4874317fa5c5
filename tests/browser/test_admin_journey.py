"""A manager's morning in the admin, in a real browser: approve a request with a later end and a note
for the booker, deny another, cancel an approved booking with its events deleted, approve a change
request, and look at the week. Screenshots of the booking page and the calendar go to
artifacts/screenshots/."""

from django.core import mail

from bookings.lifecycle.change_requests import change_request_submit
from bookings.lifecycle.decide import booking_approve
from bookings.models import Booking, BookingChangeRequest, BookingStatus
from core.actor import Actor
from events.models import Event

from ..conftest import LONDON, Setup, future
from .conftest import screenshot


def local_input(moment) -> str:
    return moment.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


def open_booking(page, title: str) -> None:
    page.goto("/admin/bookings/booking/")
    page.click(f"#result_list a:text-is('{title}')")
    page.wait_for_selector(f"h2:has-text('{title}'), .readonly:has-text('{title}')")


def test_a_manager_works_through_the_queue(page, admin_login, live_server):
    setup = Setup()
    choir = setup.submit(
        setup.event(title="Choir practice", start=future(5, 10)), name="Maria Lopez", email="maria@example.com"
    ).booking
    party = setup.submit(setup.event(title="Loud party", start=future(6, 20)), email="party@example.com").booking
    board = setup.submit(setup.event(title="Board meeting", start=future(8, 9))).booking
    booking_approve(booking_id=board.pk, actor=setup.staff, client_last_updated_at=None)
    club = setup.submit(setup.event(title="Book club", start=future(9, 18)), email="club@example.com").booking
    booking_approve(booking_id=club.pk, actor=setup.staff, client_last_updated_at=None)
    change_request_submit(
        booking_id=club.pk,
        actor=Actor.booker("club@example.com"),
        events=[{"start": future(9, 19).isoformat(), "end": future(9, 20).isoformat()}],
    )
    mail.outbox.clear()

    admin_login(setup.manager.username, "pw-123456")
    assert page.locator("[data-testid=pending-count]").inner_text() == "2"
    page.goto("/admin/bookings/booking/")
    screenshot(page, "admin-booking-list")

    # Approve with a later end and a message for the booker.
    open_booking(page, "Choir practice")
    screenshot(page, "admin-booking-page")
    page.click(".object-tools a:text-is('Approve')")
    page.fill("#id_events-0-end", local_input(future(5, 12, 30)))
    page.fill("#id_notification-message", "The keys are at reception.")
    screenshot(page, "admin-approve-page")
    page.click("input[type=submit][value=Approve]")
    page.wait_for_selector(".messagelist .success")
    choir.refresh_from_db()
    assert choir.status == BookingStatus.APPROVED
    assert choir.requested_times.get().event.end == future(5, 12, 30)
    sent = [m for m in mail.outbox if m.to == ["maria@example.com"]]
    assert len(sent) == 1 and "The keys are at reception." in sent[0].body

    # Deny another.
    open_booking(page, "Loud party")
    page.click(".object-tools a:text-is('Deny')")
    page.click("input[type=submit][value=Deny]")
    page.wait_for_selector(".messagelist .success")
    party.refresh_from_db()
    assert party.status == BookingStatus.DENIED

    # Cancel an approved one and delete its events.
    event_id = board.requested_times.get().event_id
    open_booking(page, "Board meeting")
    page.click(".object-tools a:text-is('Cancel booking')")
    page.check("input[name=event_procedure][value='1']")
    page.click("input[type=submit][value='Cancel booking']")
    page.wait_for_selector(".messagelist .success")
    board.refresh_from_db()
    assert board.status == BookingStatus.CANCELED and not Event.objects.filter(pk=event_id).exists()

    # Approve the change request.
    page.goto("/admin/bookings/bookingchangerequest/")
    page.click("#result_list a:text-is('Book club')")
    page.wait_for_selector("table.allot-compare")
    assert page.locator("td.allot-changed").count() == 1
    page.click(".object-tools a:text-is('Approve')")
    page.click("input[type=submit][value=Approve]")
    page.wait_for_selector(".messagelist .success")
    assert BookingChangeRequest.objects.get(booking=club).decision == "APPROVED"
    assert Booking.objects.get(pk=club.pk).requested_times.get().event.start == future(9, 19)

    # The week of the approved choir practice.
    page.goto(f"/admin/events/event/calendar/?venue={setup.venue.pk}&week={future(5).date().isoformat()}")
    page.wait_for_selector("text=Choir practice")
    screenshot(page, "admin-calendar")
