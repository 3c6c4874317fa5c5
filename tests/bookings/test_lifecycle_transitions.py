"""The booking lifecycle services (docs/architecture.md#booking-lifecycle): every row of the table, every refused
transition, staleness, rollback, the audit log and the booker's permissions.

Bookings are driven through the real services only (submit, approve, deny, ...), so each test sees the
same rows the admin, the API and the public pages would.

This module: refused transitions, staleness, rollback, the log (one row per transition) and the booker's
permissions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

import pytest

from bookings.lifecycle.change_requests import (
    booking_cancel_by_booker,
    change_request_approve,
    change_request_deny,
    change_request_submit,
)
from bookings.lifecycle.decide import booking_approve, booking_cancel, booking_deny, booking_update
from bookings.lifecycle.submit import booking_create
from bookings.lifecycle.transitions import BookingResult, EventProcedure
from bookings.models import Booking, BookingChangeRequest, BookingEvent, BookingLog, BookingStatus
from core.actor import Actor, ActorKind
from core.errors import BookingConflict, InvalidTransition, PermissionDenied, StaleBooking, ValidationFailed
from events.models import EventStatus, Reservation
from tests.bookings.lifecycle_helpers import (
    ALL_STATUSES,
    APPROVED,
    BOOKER,
    CANCELED,
    DENIED,
    PENDING,
    Watch,
    assert_refused,
    booker,
    fresh,
    make_booking,
    only_event,
    request_move,
    staff_create,
)
from tests.conftest import Setup, future
from tests.factories import CustomerFactory

# --- refused transitions -----------------------------------------------------------------------------


def _approve(s, b):
    return booking_approve(booking_id=b.pk, actor=s.staff, client_last_updated_at=fresh(b))


def _deny(s, b):
    return booking_deny(booking_id=b.pk, actor=s.staff, client_last_updated_at=fresh(b))


def _cancel(s, b):
    return booking_cancel(booking_id=b.pk, actor=s.staff, event_procedure=EventProcedure.CANCEL)


def _change(s, b):
    return change_request_submit(booking_id=b.pk, actor=booker(b), events=[{"title": "Renamed"}])


def _booker_cancel(s, b):
    return booking_cancel_by_booker(booking_id=b.pk, actor=booker(b))


def _update(s, b):
    return booking_update(booking_id=b.pk, actor=s.staff, changes={"customerId": ""})


ACTIONS: dict[str, Callable] = {
    "approve": _approve,
    "deny": _deny,
    "cancel": _cancel,
    "change_request_submit": _change,
    "booker_cancel": _booker_cancel,
    "update": _update,
}

# docs/architecture.md#transition-table, written out by hand (not read from the code): (action, from) -> to. Everything
# else is refused.
ALLOWED = {
    ("approve", PENDING): APPROVED,
    ("deny", PENDING): DENIED,
    ("cancel", APPROVED): CANCELED,
    ("change_request_submit", PENDING): PENDING,
    ("change_request_submit", APPROVED): APPROVED,
    ("booker_cancel", PENDING): CANCELED,
    ("booker_cancel", APPROVED): APPROVED,  # a cancellation change request
    **{("update", s): s for s in ALL_STATUSES},
}
MATRIX = [(action, status) for action in ACTIONS for status in ALL_STATUSES]
REFUSED = [pair for pair in MATRIX if pair not in ALLOWED]


def _status_id(value):
    return BookingStatus(value).name if isinstance(value, int) else value


def test_the_tables_cover_every_refusal_named_in_the_design():
    assert ("approve", DENIED) in REFUSED and ("cancel", PENDING) in REFUSED
    assert len(REFUSED) == 4 * 6 - len(ALLOWED) == 13


@pytest.mark.parametrize(("action", "status"), sorted(ALLOWED), ids=_status_id)
def test_allowed_transition(setup, action, status):
    booking = make_booking(setup, status)
    watch = Watch()
    ACTIONS[action](setup, booking)
    assert Booking.objects.get(pk=booking.pk).status == ALLOWED[(action, status)]
    assert watch.delta()["BookingLog"] == 1


@pytest.mark.parametrize(("action", "status"), REFUSED, ids=_status_id)
def test_refused_transition(setup, action, status):
    booking = make_booking(setup, status)
    read_at = fresh(booking)
    watch = Watch()

    with pytest.raises(InvalidTransition) as exc_info:
        ACTIONS[action](setup, booking)

    assert_refused(exc_info, "INVALID_TRANSITION", 409)
    assert exc_info.value.as_dict()["status"] == 409
    assert watch.delta() == {}
    assert (Booking.objects.get(pk=booking.pk).status, fresh(booking)) == (status, read_at)


def _decide_approve(s, request):
    return change_request_approve(change_request_id=request.pk, actor=s.staff)


def _decide_deny(s, request):
    return change_request_deny(change_request_id=request.pk, actor=s.staff)


def _close_by_booking_cancel(s, request):
    return booking_cancel(booking_id=request.booking_id, actor=s.staff)


def _close_by_newer_request(s, request):
    return request_move(request.booking, 9, 16)


FIRST = {
    "approved": _decide_approve,
    "denied": _decide_deny,
    "booking-canceled": _close_by_booking_cancel,
    "superseded": _close_by_newer_request,
}
SECOND = {"approve": _decide_approve, "deny": _decide_deny}


@pytest.mark.parametrize("cancellation", [False, True], ids=["change", "cancellation"])
@pytest.mark.parametrize("second", SECOND)
@pytest.mark.parametrize("first", FIRST)
def test_deciding_a_change_request_twice_is_refused(setup, first, second, cancellation):
    booking = make_booking(setup, APPROVED, days=7, hour=10)
    if cancellation:
        request = booking_cancel_by_booker(booking_id=booking.pk, actor=booker()).change_request
    else:
        request = request_move(booking, 8, 14)
    FIRST[first](setup, request)
    request.refresh_from_db()
    assert request.decision != ""
    status_after_first = Booking.objects.get(pk=booking.pk).status
    watch = Watch()

    with pytest.raises(InvalidTransition) as exc_info:
        SECOND[second](setup, request)

    assert_refused(exc_info, "INVALID_TRANSITION", 409)
    assert watch.delta() == {}
    assert Booking.objects.get(pk=booking.pk).status == status_after_first


# --- staleness ---------------------------------------------------------------------------------------


BOOKER_CHANGES = {
    "event-time": lambda: {"events": [{"start": future(7, 14).isoformat(), "end": future(7, 15).isoformat()}]},
    "title": lambda: {"events": [{"title": "Renamed by the booker"}]},
    "contact": lambda: {"contact": {"phone": "+44 20 7946 0000"}},
}
DECIDE = {"approve": (booking_approve, APPROVED), "deny": (booking_deny, DENIED)}


@pytest.mark.parametrize("change", BOOKER_CHANGES)
@pytest.mark.parametrize("decision", DECIDE)
def test_deciding_on_an_old_read_of_a_changed_booking_is_stale(setup, decision, change):
    service, decided_status = DECIDE[decision]
    booking = make_booking(setup, days=7, hour=10)
    read_at = fresh(booking)  # staff open the booking ...
    change_request_submit(booking_id=booking.pk, actor=booker(), **BOOKER_CHANGES[change]())  # ... the booker edits
    watch = Watch()

    with pytest.raises(StaleBooking) as exc_info:
        service(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=read_at)

    assert_refused(exc_info, "STALE_BOOKING", 409)
    assert exc_info.value.errors[0].field == "clientBookingLastUpdatedAt"
    assert exc_info.value.errors[0].code == "STALE_BOOKING"
    assert watch.delta() == {}
    assert Booking.objects.get(pk=booking.pk).status == PENDING

    # Re-reading gives the fresh value, which passes.
    service(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking))
    assert Booking.objects.get(pk=booking.pk).status == decided_status


@pytest.mark.parametrize("decision", DECIDE)
def test_an_unchanged_booking_is_not_stale(setup, decision):
    service, decided_status = DECIDE[decision]
    booking = make_booking(setup)
    service(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking))
    assert Booking.objects.get(pk=booking.pk).status == decided_status


# --- rollback ----------------------------------------------------------------------------------------


def test_a_conflicting_approval_rolls_back_everything(setup_no_hold, django_capture_on_commit_callbacks, mailoutbox):
    s = setup_no_hold
    winner = make_booking(s, days=7, hour=10)
    # Two pending requests can overlap when the module does not hold slots; the second also asks for a
    # free time, which must not be created alone.
    loser = s.submit(
        s.event(start=future(7, 10, 30), title="Loser"), s.event(start=future(9, 10)), email="bob@example.com"
    ).booking
    (winning_event,) = booking_approve(booking_id=winner.pk, actor=s.staff, client_last_updated_at=fresh(winner)).events
    read_at = fresh(loser)
    watch = Watch()
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(BookingConflict) as exc_info:
        booking_approve(booking_id=loser.pk, actor=s.staff, client_last_updated_at=read_at)

    assert_refused(exc_info, "BOOKING_CONFLICT", 409)
    (error,) = exc_info.value.errors
    assert (error.code, error.field) == ("BOOKING_CONFLICT", "events[0].resourceIds")
    assert error.meta["conflictingEventIds"] == [str(winning_event.pk)]
    assert watch.delta() == {}  # no Notification, no BookingLog, no Event, no Reservation
    assert callbacks == [] and mailoutbox == []
    loser.refresh_from_db()
    assert (loser.status, loser.updated_at, loser.decided_by, loser.decided_at) == (PENDING, read_at, None, None)
    assert list(BookingEvent.objects.filter(booking=loser).values_list("event_id", flat=True)) == [None, None]


def test_a_conflicting_edit_at_approval_leaves_the_hold_where_it_was(setup):
    taken = make_booking(setup, APPROVED, days=7, hour=14, email="bob@example.com")
    booking = make_booking(setup, days=7, hour=10)
    held = only_event(booking).event
    watch = Watch()

    with pytest.raises(BookingConflict) as exc_info:
        booking_approve(
            booking_id=booking.pk,
            actor=setup.staff,
            client_last_updated_at=fresh(booking),
            event_edits=[{"title": "Moved", "start": future(7, 14).isoformat(), "end": future(7, 15).isoformat()}],
        )

    assert exc_info.value.errors[0].meta["conflictingEventIds"] == [str(only_event(taken).event_id)]
    assert watch.delta() == {}
    held.refresh_from_db()
    assert (held.title, held.start, held.status) == ("Team meeting", future(7, 10), EventStatus.TENTATIVE)
    assert Reservation.objects.get(event=held).start == future(7, 10)
    be = only_event(booking)
    assert (be.title, be.start, be.event_id) == ("Team meeting", future(7, 10), held.pk)
    assert Booking.objects.get(pk=booking.pk).status == PENDING


# --- the log: one row per transition -----------------------------------------------------------------


@dataclass
class LogCase:
    action: str
    actor: str  # "staff" or "booker"
    changed: set[str]
    prepare: Callable[[Setup], Callable[[], BookingResult]]  # returns the transition to run


def _prepared(status: int, run: Callable[[Setup, Booking], BookingResult]):
    def prepare(s: Setup):
        booking = make_booking(s, status, days=7, hour=10)
        return lambda: run(s, booking)

    return prepare


def _with_request(run: Callable[[Setup, BookingChangeRequest], BookingResult], *, cancellation: bool = False):
    def prepare(s: Setup):
        booking = make_booking(s, APPROVED, days=7, hour=10)
        if cancellation:
            request = booking_cancel_by_booker(booking_id=booking.pk, actor=booker()).change_request
        else:
            request = request_move(booking, 8, 14)
        return lambda: run(s, request)

    return prepare


def _create(status):
    return lambda s: lambda: staff_create(s, status)


def _approve_linking(s, b):
    return booking_approve(
        booking_id=b.pk,
        actor=s.staff,
        client_last_updated_at=fresh(b),
        customer_id=str(CustomerFactory(organization=s.org).pk),
    )


def _approve_editing(s, b):
    return booking_approve(
        booking_id=b.pk, actor=s.staff, client_last_updated_at=fresh(b), event_edits=[{"title": "Edited"}]
    )


def _move(s, b):
    return change_request_submit(
        booking_id=b.pk,
        actor=booker(b),
        events=[{"start": future(7, 14).isoformat(), "end": future(7, 15).isoformat()}],
    )


def _update_customer(s, b):
    return booking_update(
        booking_id=b.pk, actor=s.staff, changes={"customerId": str(CustomerFactory(organization=s.org).pk)}
    )


SUBMITTED = {"status", "title", "contactId", "contact", "events"}
LOG_CASES = {
    "submit": LogCase("submit", "booker", SUBMITTED, lambda s: lambda: s.submit()),
    **{
        f"create-{BookingStatus(st).name.lower()}": LogCase("create", "staff", SUBMITTED, _create(st))
        for st in ALL_STATUSES
    },
    "approve": LogCase("approve", "staff", {"status"}, _prepared(PENDING, _approve)),
    "approve-link-customer": LogCase(
        "approve", "staff", {"status", "customerId"}, _prepared(PENDING, _approve_linking)
    ),
    "approve-with-edits": LogCase("approve", "staff", {"status", "events"}, _prepared(PENDING, _approve_editing)),
    "deny": LogCase("deny", "staff", {"status", "events"}, _prepared(PENDING, _deny)),
    "cancel-0": LogCase("cancel", "staff", {"status"}, _prepared(APPROVED, _cancel)),
    "cancel-1": LogCase(
        "cancel",
        "staff",
        {"status", "events"},
        _prepared(
            APPROVED, lambda s, b: booking_cancel(booking_id=b.pk, actor=s.staff, event_procedure=EventProcedure.DELETE)
        ),
    ),
    "booker-cancel-pending": LogCase(
        "booker_cancel", "booker", {"status", "events"}, _prepared(PENDING, _booker_cancel)
    ),
    "booker-cancel-approved": LogCase(
        "change_requested", "booker", {"changeRequestId", "cancellation"}, _prepared(APPROVED, _booker_cancel)
    ),
    "update": LogCase("update", "staff", {"customerId"}, _prepared(APPROVED, _update_customer)),
    "change-pending": LogCase("change_applied", "booker", {"events"}, _prepared(PENDING, _move)),
    "change-approved": LogCase(
        "change_requested", "booker", {"changeRequestId", "cancellation"}, _prepared(APPROVED, _move)
    ),
    "change-request-approve": LogCase("change_request_approve", "staff", {"events"}, _with_request(_decide_approve)),
    "change-request-approve-cancellation": LogCase(
        "change_request_approve", "staff", {"status"}, _with_request(_decide_approve, cancellation=True)
    ),
    "change-request-deny": LogCase("change_request_deny", "staff", {"changeRequestId"}, _with_request(_decide_deny)),
}


@pytest.mark.parametrize("case", LOG_CASES)
def test_every_transition_writes_exactly_one_log_row(setup, case):
    spec = LOG_CASES[case]
    run = spec.prepare(setup)
    watch = Watch()

    result = run()

    (log,) = watch.logs()
    booking = Booking.objects.get(pk=result.booking.pk)
    assert log.booking_id == booking.pk
    assert log.action == spec.action
    if spec.actor == "staff":
        assert (log.actor_kind, log.actor_user, log.actor_label) == (
            ActorKind.USER,
            setup.manager,
            setup.manager.username,
        )
    else:
        assert (log.actor_kind, log.actor_user, log.actor_label) == (ActorKind.BOOKER, None, BOOKER)
    # before/after hold exactly what changed, each with its old and new value.
    assert set(log.before) == set(log.after) == spec.changed
    assert all(log.before[k] != log.after[k] for k in spec.changed)
    if "status" in spec.changed:
        assert log.after["status"] == booking.status
    if "changeRequestId" in spec.changed and result.change_request is not None:
        assert str(result.change_request.pk) in (log.before["changeRequestId"], log.after["changeRequestId"])


def test_log_of_a_change_request_approval_has_old_and_new_times(setup):
    booking = make_booking(setup, APPROVED, days=7, hour=10)
    request = request_move(booking, 8, 14)
    watch = Watch()
    change_request_approve(change_request_id=request.pk, actor=setup.staff)

    (log,) = watch.logs()
    (old,), (new,) = log.before["events"], log.after["events"]
    assert (old["start"], new["start"]) == (
        future(7, 10).astimezone(UTC).isoformat(),
        future(8, 14).astimezone(UTC).isoformat(),
    )
    assert old["eventId"] == new["eventId"] == str(only_event(booking).event_id)


def test_staff_actor_through_an_api_token_is_logged_as_token(setup):
    booking = make_booking(setup)
    booking_deny(
        booking_id=booking.pk, actor=Actor.staff(setup.manager, via_token=True), client_last_updated_at=fresh(booking)
    )
    log = BookingLog.objects.filter(booking=booking).latest("created_at")
    assert (log.action, log.actor_kind, log.actor_user) == ("deny", ActorKind.TOKEN, setup.manager)


# --- booker permissions ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [PENDING, APPROVED])
def test_booker_cannot_cancel_when_the_module_forbids_it_but_staff_can(setup, status):
    setup.module.allow_cancellation = False
    setup.module.save()
    booking = make_booking(setup, status)
    watch = Watch()

    with pytest.raises(PermissionDenied) as exc_info:
        booking_cancel_by_booker(booking_id=booking.pk, actor=booker())

    assert_refused(exc_info, "PERMISSION_DENIED", 403)
    assert watch.delta() == {}
    assert Booking.objects.get(pk=booking.pk).status == status

    result = booking_cancel_by_booker(booking_id=booking.pk, actor=setup.staff)
    if status == PENDING:
        assert Booking.objects.get(pk=booking.pk).status == CANCELED
    else:
        assert result.change_request is not None and result.change_request.cancellation is True
    # Changes are still allowed to bookers: the two switches are independent.
    if status == APPROVED:
        assert _change(setup, booking).change_request is not None


@pytest.mark.parametrize("status", [PENDING, APPROVED])
def test_booker_cannot_request_changes_when_the_module_forbids_it_but_staff_can(setup, status):
    setup.module.allow_change_requests = False
    setup.module.save()
    booking = make_booking(setup, status)
    watch = Watch()

    with pytest.raises(PermissionDenied) as exc_info:
        _change(setup, booking)

    assert_refused(exc_info, "PERMISSION_DENIED", 403)
    assert watch.delta() == {}
    assert only_event(booking).title == "Team meeting"

    result = change_request_submit(booking_id=booking.pk, actor=setup.staff, events=[{"title": "Renamed"}])
    if status == PENDING:
        assert result.applied is True and only_event(booking).title == "Renamed"
    else:
        assert result.change_request is not None
    # Cancelling is still allowed to bookers.
    booking_cancel_by_booker(booking_id=booking.pk, actor=booker())


def test_staff_create_refuses_an_event_that_already_belongs_to_a_booking(setup):
    held = setup.submit().events[0]  # another booker's tentative hold
    watch = Watch()
    with pytest.raises(ValidationFailed) as exc:
        booking_create(
            module=setup.module,
            actor=setup.staff,
            status=APPROVED,
            event_id=held.pk,
            contact={"name": "Ada Lovelace", "email": BOOKER},
        )
    assert [(e.field, e.code) for e in exc.value.errors] == [("eventId", "EVENT_ALREADY_BOOKED")]
    held.refresh_from_db()
    assert held.status == EventStatus.TENTATIVE
    assert watch.delta() == {}
