"""Reminders (docs/architecture.md#emails): the booker of an approved booking gets one email `reminder_hours` before
each event, exactly once per start however often or concurrently the sweep runs; a moved event is reminded again;
pending, denied, canceled and past events, and modules with reminders off, get none."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from bookings.lifecycle.change_requests import change_request_approve, change_request_submit
from bookings.lifecycle.decide import booking_approve, booking_cancel, booking_deny
from bookings.models import BookingEvent, BookingStatus
from bookings.reminders import reminders_send_due
from core.actor import Actor
from events.models import EventStatus
from events.services.status import events_set_status
from notifications.models import Notification, NotificationStatus
from tests.conftest import postgres_only, race
from tests.factories import BookingModuleFactory

KIND = "booking_reminder"


def soon(hours: float):
    """A start `hours` from now, on a whole minute."""
    return (timezone.now() + timedelta(hours=hours)).replace(second=0, microsecond=0)


def booking_at(setup, *starts, status=BookingStatus.APPROVED, email="ada@example.com", module=None):
    """A booking with one event per start (one hour each, distinct resources' times), in `status`."""
    if module is not None:
        setup.module = module
    events = [setup.event(start=start, title=f"Event {i}") for i, start in enumerate(starts)]
    booking = setup.submit(*events, email=email).booking
    if status in (BookingStatus.APPROVED, BookingStatus.CANCELED):
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    if status == BookingStatus.CANCELED:
        booking_cancel(booking_id=booking.pk, actor=setup.staff)
    if status == BookingStatus.DENIED:
        booking_deny(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    booking.refresh_from_db()
    assert booking.status == status
    return booking


def reminders(booking=None):
    rows = Notification.objects.filter(kind=KIND)
    if booking is not None:
        rows = rows.filter(object_id=booking.pk)
    return list(rows.order_by("created_at"))


def test_a_reminder_is_written_once_for_an_approved_event_within_the_window(setup, django_capture_on_commit_callbacks):
    booking = booking_at(setup, soon(10))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send_due() == 1
    (row,) = reminders(booking)
    assert row.recipients == ["ada@example.com"]
    assert row.related == booking
    assert row.status == NotificationStatus.SENT  # sent by the task after the reminder's commit
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    be = booking.requested_times.get()
    assert be.reminded_for == be.start
    # Again, and later again: nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send_due() == 0
        assert reminders_send_due(now=timezone.now() + timedelta(hours=9)) == 0
    assert len(reminders()) == 1
    assert len(mail.outbox) == 1


def test_the_window_is_the_modules_reminder_hours(setup):
    booking = booking_at(setup, soon(30))
    assert reminders_send_due() == 0  # 30 h away, the module reminds 24 h before
    assert reminders_send_due(now=timezone.now() + timedelta(hours=5)) == 0
    assert reminders_send_due(now=timezone.now() + timedelta(hours=6, minutes=1)) == 1
    assert len(reminders(booking)) == 1


def test_each_module_has_its_own_window(setup):
    setup.module.reminder_hours = 2
    setup.module.save()
    two_hours = booking_at(setup, soon(10))
    other = BookingModuleFactory(
        organization=setup.org, reminder_hours=48, portals=[setup.portal], offered=[setup.room, setup.hall, setup.desks]
    )
    two_days = booking_at(setup, soon(40), module=other)
    assert reminders_send_due() == 1
    assert [r.object_id for r in reminders()] == [two_days.pk]
    assert reminders_send_due(now=timezone.now() + timedelta(hours=8, minutes=1)) == 1
    assert {r.object_id for r in reminders()} == {two_days.pk, two_hours.pk}


@pytest.mark.parametrize("hours", [0, None])
def test_a_module_with_reminders_off_sends_none(setup, hours):
    setup.module.reminder_hours = hours
    setup.module.save()
    booking_at(setup, soon(2))
    assert reminders_send_due() == 0
    assert reminders() == []


@pytest.mark.parametrize("status", [BookingStatus.PENDING, BookingStatus.DENIED, BookingStatus.CANCELED])
def test_no_reminder_unless_approved(setup, status):
    booking_at(setup, soon(10), status=status)
    assert reminders_send_due() == 0
    assert reminders() == []


def test_no_reminder_for_a_canceled_event_of_an_approved_booking(setup):
    booking = booking_at(setup, soon(10), soon(12))
    first, second = booking.requested_times.order_by("start")
    events_set_status(events=[first.event], status=EventStatus.CANCELED)
    assert reminders_send_due() == 1
    assert BookingEvent.objects.get(pk=second.pk).reminded_for == second.start
    assert BookingEvent.objects.get(pk=first.pk).reminded_for is None


def test_no_reminder_for_past_events(setup):
    booking = booking_at(setup, soon(10))
    start = booking.requested_times.get().start
    assert reminders_send_due(now=start) == 0  # starting now: too late
    assert reminders_send_due(now=start + timedelta(hours=1)) == 0
    assert reminders() == []


def test_every_event_of_a_booking_gets_its_own_reminder(setup):
    booking = booking_at(setup, soon(5), soon(20), soon(50))
    assert reminders_send_due() == 2
    assert reminders_send_due(now=timezone.now() + timedelta(hours=27)) == 1
    assert len(reminders(booking)) == 3
    assert set(booking.requested_times.values_list("reminded_for", flat=True)) == set(
        booking.requested_times.values_list("start", flat=True)
    )


def test_a_moved_event_is_reminded_again(setup):
    booking = booking_at(setup, soon(10))
    assert reminders_send_due() == 1
    be = booking.requested_times.get()
    new_start = soon(12)
    request = change_request_submit(
        booking_id=booking.pk,
        actor=Actor.booker("ada@example.com"),
        events=[
            {
                "bookingEventId": str(be.pk),
                "start": new_start.isoformat(),
                "end": (new_start + timedelta(hours=1)).isoformat(),
            }
        ],
    ).change_request
    change_request_approve(change_request_id=request.pk, actor=setup.staff)
    be.refresh_from_db()
    assert be.start == new_start and be.reminded_for != be.start
    assert reminders_send_due() == 1
    assert reminders_send_due() == 0
    assert len(reminders(booking)) == 2
    assert BookingEvent.objects.get(pk=be.pk).reminded_for == new_start


def test_an_event_moved_out_of_the_window_waits_for_its_new_window(setup):
    booking = booking_at(setup, soon(10))
    be = booking.requested_times.get()
    new_start = soon(60)
    request = change_request_submit(
        booking_id=booking.pk,
        actor=Actor.booker("ada@example.com"),
        events=[
            {
                "bookingEventId": str(be.pk),
                "start": new_start.isoformat(),
                "end": (new_start + timedelta(hours=1)).isoformat(),
            }
        ],
    ).change_request
    change_request_approve(change_request_id=request.pk, actor=setup.staff)
    assert reminders_send_due() == 0
    assert reminders_send_due(now=timezone.now() + timedelta(hours=37)) == 1


def test_the_sweeper_command_writes_and_sends_reminders(setup):
    booking_at(setup, soon(3))
    mail.outbox.clear()
    out = StringIO()
    call_command("send_queued_notifications", stdout=out)
    # (the test's transaction never commits, so the send task did not run: the same pass sent it)
    lines = out.getvalue().splitlines()
    assert lines[0] == "reminders: 1"
    assert "sent: " in lines[1]
    assert reminders()[0].status == NotificationStatus.SENT
    assert [m.subject for m in mail.outbox if m.to == ["ada@example.com"]][-1] == reminders()[0].subject
    out = StringIO()
    call_command("send_reminders", stdout=out)
    assert out.getvalue() == ""
    assert len(reminders()) == 1


def test_a_broken_reminder_does_not_stop_the_others(setup, monkeypatch):
    first = booking_at(setup, soon(3), email="first@example.com")
    second = booking_at(setup, soon(5), email="second@example.com")
    import bookings.reminders as module

    real = module.notify_booker

    def flaky(booking, kind, events, **kwargs):
        if booking.pk == first.pk:
            raise RuntimeError("template broke")
        return real(booking, kind, events, **kwargs)

    monkeypatch.setattr(module, "notify_booker", flaky)
    assert reminders_send_due() == 1
    assert [r.object_id for r in reminders()] == [second.pk]
    assert first.requested_times.get().reminded_for is None  # its claim rolled back with the failure
    monkeypatch.setattr(module, "notify_booker", real)
    assert reminders_send_due() == 1
    assert {r.object_id for r in reminders()} == {first.pk, second.pk}


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_write_each_reminder_once(setup):
    bookings = [booking_at(setup, soon(2 + i), email=f"booker{i}@example.com") for i in range(5)]
    outcomes = race(4, lambda i: reminders_send_due())
    assert [kind for kind, _ in outcomes] == ["ok"] * 4, outcomes
    counts = [value for _, value in outcomes]
    assert sum(counts) == 5
    assert sorted(r.object_id for r in reminders()) == sorted(b.pk for b in bookings)
