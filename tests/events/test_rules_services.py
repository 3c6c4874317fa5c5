"""The booking rules (docs/architecture.md#booking-rules, events/rules.py), each at its boundary, in the venue's
local time.

Three layers: `check_rules` on its own (every code, one minute either side of each limit), the DST
changes of Europe/London (docs/architecture.md#time), and the same rules reached through the booking
services, with field paths, staff overrides and the log note that records them. Every call passes an
explicit `now`.

This module: the rules reached through the booking services."""

from datetime import UTC, time, timedelta

import pytest

from bookings.lifecycle.decide import booking_approve
from bookings.lifecycle.submit import booking_create
from bookings.models import Booking, BookingLog, BookingStatus
from core.errors import ValidationFailed

from ..conftest import LONDON
from ..factories import BookableHoursFactory, ClosureFactory
from .rules_helpers import ALL_WEEK, DST_NOW, NOW, TUESDAY, on

# --- through the services ---------------------------------------------------------------------------------

SERVICE_DAY = TUESDAY


def _break(setup, rule: str) -> None:
    """Give setup.room a rule that a Tuesday 10:00-10:30 booking (made at NOW) breaks."""
    room = setup.room
    if rule == "TOO_SHORT":
        room.min_duration_minutes = 60
    elif rule == "TOO_LONG":
        room.max_duration_minutes = 15
    elif rule == "START_TIME_TOO_LATE":
        room.min_notice_minutes = 9 * 24 * 60
    elif rule == "START_TIME_TOO_EARLY":
        room.max_advance_days = 7
    elif rule == "OUTSIDE_BOOKABLE_HOURS":
        BookableHoursFactory(resource=room, weekday=1, start_time=time(11), end_time=time(17))
    elif rule == "RESOURCE_CLOSED":
        ClosureFactory(organization=setup.org, start=on(SERVICE_DAY, "10:15"), end=on(SERVICE_DAY, "12:00"))
    elif rule == "RESOURCE_ARCHIVED":
        room.archived = True
    room.save()


RULE_FIELDS = [
    ("TOO_SHORT", "end"),
    ("TOO_LONG", "end"),
    ("START_TIME_TOO_LATE", "start"),
    ("START_TIME_TOO_EARLY", "start"),
    ("OUTSIDE_BOOKABLE_HOURS", "start"),
    ("RESOURCE_CLOSED", "start"),
    ("RESOURCE_ARCHIVED", "resourceIds"),
]


def _errors(exc_info) -> set[tuple[str, str]]:
    return {(e.field, e.code) for e in exc_info.value.errors}


@pytest.mark.parametrize(("rule", "field"), RULE_FIELDS)
def test_submit_reports_the_broken_rule_at_its_field(setup, rule, field):
    _break(setup, rule)
    start = on(SERVICE_DAY, "10:00")
    with pytest.raises(ValidationFailed) as exc_info:
        setup.submit(setup.event(start, start + timedelta(minutes=30)), now=NOW)
    assert _errors(exc_info) == {(f"event.{field}", rule)}
    assert exc_info.value.errors[0].meta == {"resourceId": str(setup.room.pk)}
    assert not Booking.objects.filter(organization=setup.org).exists()


@pytest.mark.parametrize(
    ("start", "end", "field", "code"),
    [
        (on(SERVICE_DAY, "10:00"), on(SERVICE_DAY, "10:00"), "event.end", "END_BEFORE_START"),
        (on(SERVICE_DAY, "10:00"), on(SERVICE_DAY, "09:00"), "event.end", "END_BEFORE_START"),
        (NOW - timedelta(minutes=1), NOW + timedelta(hours=1), "event.start", "IN_THE_PAST"),
    ],
)
def test_submit_reports_order_and_past(setup, start, end, field, code):
    with pytest.raises(ValidationFailed) as exc_info:
        setup.submit(setup.event(start, end), now=NOW)
    assert _errors(exc_info) == {(field, code)}


@pytest.mark.parametrize(
    ("rule", "field"), [("TOO_SHORT", "end"), ("OUTSIDE_BOOKABLE_HOURS", "start"), ("RESOURCE_ARCHIVED", "resourceIds")]
)
def test_submit_with_two_events_names_the_breaking_one(setup, rule, field):
    _break(setup, rule)
    fine = setup.event(on(SERVICE_DAY, "14:00"), on(SERVICE_DAY, "15:00"), resources=[setup.hall])
    broken = setup.event(on(SERVICE_DAY, "10:00"), on(SERVICE_DAY, "10:30"))
    with pytest.raises(ValidationFailed) as exc_info:
        setup.submit(fine, broken, now=NOW)
    assert _errors(exc_info) == {(f"events[1].{field}", rule)}


def test_submit_with_two_events_reports_each_at_its_own_index(setup):
    setup.room.min_notice_minutes = 24 * 60
    setup.room.save()
    early = setup.event(NOW + timedelta(hours=2), NOW + timedelta(hours=3))
    late_enough = setup.event(NOW + timedelta(days=2), NOW + timedelta(days=2, hours=1))
    too_soon = setup.event(NOW + timedelta(hours=23, minutes=59), NOW + timedelta(days=1, hours=1))
    with pytest.raises(ValidationFailed) as exc_info:
        setup.submit(late_enough, too_soon, early, now=NOW)
    assert _errors(exc_info) == {("events[1].start", "START_TIME_TOO_LATE"), ("events[2].start", "START_TIME_TOO_LATE")}
    setup.submit(late_enough, setup.event(NOW + timedelta(days=1), NOW + timedelta(days=1, hours=1)), now=NOW)


@pytest.mark.parametrize(
    ("start", "end", "ok"),
    [
        ("2027-07-13T09:00:00", "2027-07-13T17:00:00", True),  # naive: London wall clock (BST)
        ("2027-07-13T08:30:00", "2027-07-13T10:00:00", False),
        ("2027-07-13T08:30:00Z", "2027-07-13T10:00:00Z", True),  # 09:30-11:00 BST
        ("2027-07-13T08:00:00+00:00", "2027-07-13T16:00:00+00:00", True),  # 09:00-17:00 BST
        ("2027-07-13T09:00:00+00:00", "2027-07-13T16:30:00+00:00", False),  # ends 17:30 BST
        ("2027-07-13T04:00:00-04:00", "2027-07-13T12:00:00-04:00", True),  # New York offset, 09:00-17:00 BST
    ],
)
def test_submitted_times_are_checked_in_the_venue_timezone(setup, start, end, ok):
    BookableHoursFactory(resource=setup.room, weekday=1, start_time=time(9), end_time=time(17))
    event = {**setup.event(), "start": start, "end": end}
    if ok:
        setup.submit(event, now=NOW)
    else:
        with pytest.raises(ValidationFailed) as exc_info:
            setup.submit(event, now=NOW)
        assert _errors(exc_info) == {("event.start", "OUTSIDE_BOOKABLE_HOURS")}


def test_submit_on_both_sides_of_the_october_change(setup):
    """A module's 09:00-17:00 rule, booked through the service for the Saturday before and the Monday after."""
    for weekday in ALL_WEEK:
        BookableHoursFactory(resource=setup.room, weekday=weekday, start_time=time(9), end_time=time(17))
    results = [
        setup.submit(setup.event(on(day, "09:00"), on(day, "17:00")), now=DST_NOW)
        for day in [(2026, 10, 24), (2026, 10, 26)]
    ]
    starts = [r.events[0].start for r in results]
    assert [s.astimezone(UTC).hour for s in starts] == [8, 9]
    assert [s.astimezone(LONDON).hour for s in starts] == [9, 9]
    with pytest.raises(ValidationFailed) as exc_info:
        setup.submit(setup.event(on((2026, 10, 26), "08:30"), on((2026, 10, 26), "09:30")), now=DST_NOW)
    assert _errors(exc_info) == {("event.start", "OUTSIDE_BOOKABLE_HOURS")}


@pytest.mark.parametrize(("rule", "field"), RULE_FIELDS)
def test_staff_may_override_a_rule_when_approving_and_it_is_logged(setup, rule, field):
    start = on(SERVICE_DAY, "10:00")
    booking = setup.submit(setup.event(start, start + timedelta(minutes=30)), now=NOW).booking
    _break(setup, rule)  # the rule arrives after the request

    with pytest.raises(ValidationFailed) as exc_info:
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=booking.updated_at, now=NOW)
    assert _errors(exc_info) == {(f"event.{field}", rule)}
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING

    result = booking_approve(
        booking_id=booking.pk,
        actor=setup.staff,
        client_last_updated_at=booking.updated_at,
        override_rules=True,
        now=NOW,
    )
    assert result.booking.status == BookingStatus.APPROVED
    assert [e.start for e in result.events] == [start]
    log = BookingLog.objects.get(booking=booking, action="approve")
    assert rule in log.note
    assert f"event.{field} {rule}" in log.note
    assert log.actor_user == setup.manager


def test_override_when_approving_a_staff_edit_that_breaks_a_rule(setup):
    setup.room.min_duration_minutes = 60
    setup.room.save()
    start = on(SERVICE_DAY, "10:00")
    booking = setup.submit(setup.event(start, start + timedelta(hours=1)), now=NOW).booking
    edits = [{"end": (start + timedelta(minutes=20)).isoformat()}]
    with pytest.raises(ValidationFailed) as exc_info:
        booking_approve(
            booking_id=booking.pk,
            actor=setup.staff,
            client_last_updated_at=booking.updated_at,
            event_edits=edits,
            now=NOW,
        )
    assert _errors(exc_info) == {("event.end", "TOO_SHORT")}
    result = booking_approve(
        booking_id=booking.pk,
        actor=setup.staff,
        client_last_updated_at=booking.updated_at,
        event_edits=edits,
        override_rules=True,
        now=NOW,
    )
    assert result.events[0].end == start + timedelta(minutes=20)
    assert "event.end TOO_SHORT" in BookingLog.objects.get(booking=booking, action="approve").note


def test_override_in_the_past_names_the_code_and_an_unneeded_override_logs_nothing(setup):
    start = on(SERVICE_DAY, "10:00")
    first = setup.submit(setup.event(start, start + timedelta(hours=1)), now=NOW).booking
    second = setup.submit(setup.event(start, start + timedelta(hours=1), resources=[setup.hall]), now=NOW).booking
    later = start + timedelta(minutes=5)  # approved once the meeting has begun
    booking_approve(booking_id=first.pk, actor=setup.staff, client_last_updated_at=None, override_rules=True, now=later)
    assert BookingLog.objects.get(booking=first, action="approve").note == "Rules overridden: event.start IN_THE_PAST"
    booking_approve(booking_id=second.pk, actor=setup.staff, client_last_updated_at=None, override_rules=True, now=NOW)
    assert BookingLog.objects.get(booking=second, action="approve").note == ""


@pytest.mark.parametrize(("rule", "field"), [("TOO_SHORT", "end"), ("RESOURCE_CLOSED", "start")])
def test_staff_create_checks_rules_unless_overridden(setup, rule, field):
    _break(setup, rule)
    start = on(SERVICE_DAY, "10:00")
    kwargs = {
        "module": setup.module,
        "actor": setup.staff,
        "status": BookingStatus.APPROVED,
        "contact": {"name": "Ada", "email": "ada@example.com"},
        "events": [setup.event(start, start + timedelta(minutes=30))],
        "single_event": True,
        "now": NOW,
    }
    with pytest.raises(ValidationFailed) as exc_info:
        booking_create(**kwargs)
    assert _errors(exc_info) == {(f"event.{field}", rule)}
    result = booking_create(**kwargs, override_rules=True)
    assert result.booking.status == BookingStatus.APPROVED
    assert f"event.{field} {rule}" in BookingLog.objects.get(booking=result.booking, action="create").note
