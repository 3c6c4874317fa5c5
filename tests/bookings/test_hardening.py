"""Regressions for the review of the foundation: bad input reaches a domain error (never a crash),
tenant isolation inside events_save, changes to bookings whose form or clock has moved on, and a
query count that does not grow with the number of requested times."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.lifecycle.change_requests import change_request_approve, change_request_submit
from bookings.lifecycle.decide import booking_approve, booking_update
from bookings.lifecycle.submit import booking_create
from bookings.models import BookingChangeRequest, BookingEvent, BookingStatus, FieldType, FormSection
from core.actor import Actor
from core.errors import InvalidTransition, NotFound, StaleBooking, ValidationFailed
from events.models import Event, EventStatus
from events.services.saving import events_save
from events.services.scheduling import EventSpec
from events.services.status import events_set_status
from notifications.models import Notification, NotificationStatus
from tests.conftest import Setup, future
from tests.factories import FormFieldFactory

pytestmark = pytest.mark.django_db


def codes(exc_info) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in exc_info.value.errors]


def number_field(setup: Setup):
    return FormFieldFactory(module=setup.module, section=FormSection.EVENT, type=FieldType.NUMBER, label="Chairs")


@pytest.mark.parametrize("value", ["1e400000", "9" * 400 + ".5", "1e16", "-1e999999999", "NaN", "Infinity"])
def test_huge_or_odd_numbers_are_refused_quickly(setup, value):
    field = number_field(setup)
    started = time.perf_counter()
    with pytest.raises(ValidationFailed) as exc:
        setup.submit(setup.event(**{str(field.pk): value}))
    assert (f"event.{field.pk}", "INVALID") in codes(exc)
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize("moment", ["9999-12-31T20:00:00-05:00", "0001-01-01T00:00:00Z", "2400-01-01T00:00:00Z"])
def test_dates_near_the_limits_are_invalid_not_overflows(setup, moment):
    with pytest.raises(ValidationFailed) as exc:
        setup.submit(setup.event(start=future(), end=future()) | {"start": moment})
    assert ("event.start", "INVALID") in codes(exc)


@pytest.mark.parametrize("title", ["Line\nbreak", "Tab\tand\r\nreturn"])
def test_line_breaks_in_one_line_fields_cannot_break_the_email(setup, title):
    # A title becomes the email subject: a line break is refused at input, not folded away unseen.
    with pytest.raises(ValidationFailed) as exc:
        setup.submit(setup.event(title=title))
    assert codes(exc) == [("event.title", "INVALID")]
    assert not Notification.objects.exists()


def test_other_whitespace_in_a_title_folds_into_spaces(setup, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = setup.submit(setup.event(title=" Tab\tand  spaces "))
    assert result.booking.title == "Tab and spaces"
    rows = Notification.objects.filter(object_id=result.booking.pk)
    assert rows.count() == 2 and all(n.status == NotificationStatus.SENT for n in rows)
    assert all(m.subject.endswith(": Tab and spaces") for m in mail.outbox)


def test_control_characters_are_refused(setup):
    with pytest.raises(ValidationFailed) as exc:
        setup.submit(setup.event(title="nul\x00byte"))
    assert ("event.title", "INVALID") in codes(exc)


@pytest.mark.parametrize(
    "call",
    [
        lambda s: booking_approve(booking_id="nope", actor=s.staff, client_last_updated_at=None),
        lambda s: booking_approve(booking_id={"a": 1}, actor=s.staff, client_last_updated_at=None),
        lambda s: change_request_approve(change_request_id=[1], actor=s.staff),
        lambda s: change_request_submit(booking_id=None, actor=s.staff, contact={"phone": "123456"}),
    ],
)
def test_ids_that_are_not_uuids_are_not_found(setup, call):
    with pytest.raises(NotFound):
        call(setup)


@pytest.mark.parametrize("changes", [{"customerId": "nope"}, {"contactId": {"x": 1}}, {"customerId": 5}])
def test_update_with_a_garbage_id_is_a_field_error(setup, changes):
    booking = setup.submit().booking
    with pytest.raises(ValidationFailed) as exc:
        booking_update(booking_id=booking.pk, actor=setup.staff, changes=changes)
    assert codes(exc)[0][1] == "NOT_FOUND"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"event_id": {"x": 1}, "status": BookingStatus.APPROVED}, "eventId"),
        ({"title": {"x": 1}}, "title"),
        ({"request_note": 5}, "requestNote"),
        ({"status": True}, "bookingStatus"),
    ],
)
def test_staff_create_rejects_wrong_types_with_a_field(setup, kwargs, field):
    kwargs = {"status": BookingStatus.PENDING, **kwargs}
    with pytest.raises(ValidationFailed) as exc:
        booking_create(
            module=setup.module,
            actor=setup.staff,
            contact={"name": "A", "email": "a@example.com"},
            events=[setup.event()],
            **kwargs,
        )
    assert field in [f for f, _ in codes(exc)]


def test_staleness_is_exact(setup):
    booking = setup.submit().booking
    with pytest.raises(StaleBooking):  # a value from the future is no proof of having read the booking
        booking_approve(
            booking_id=booking.pk, actor=setup.staff, client_last_updated_at=booking.updated_at + timedelta(days=1)
        )
    with pytest.raises(ValidationFailed):
        booking_approve(
            booking_id=booking.pk, actor=setup.staff, client_last_updated_at=booking.updated_at.replace(tzinfo=None)
        )
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=booking.updated_at)


def test_cancellation_must_be_a_real_boolean(setup):
    booking = setup.submit().booking
    with pytest.raises(ValidationFailed):
        change_request_submit(booking_id=booking.pk, actor=Actor.booker(), cancellation="false")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING


def test_events_save_refuses_another_organizations_resource_and_event(setup):
    other = Setup()
    with pytest.raises(ValidationFailed) as exc:
        events_save(
            organization=setup.org,
            specs=[EventSpec(title="x", start=future(3), end=future(3, 11), resource_ids=[other.room.pk])],
        )
    assert codes(exc) == [("event.resourceIds", "NOT_FOUND")]
    (theirs,) = events_save(
        organization=other.org,
        specs=[EventSpec(title="theirs", start=future(4), end=future(4, 11), resource_ids=[other.room.pk])],
    )
    with pytest.raises(ValidationFailed):
        events_save(
            organization=setup.org,
            specs=[
                EventSpec(
                    title="renamed", start=future(5), end=future(5, 11), resource_ids=[setup.room.pk], event=theirs
                )
            ],
        )
    theirs.refresh_from_db()
    assert theirs.title == "theirs"


def test_events_save_respects_the_event_transitions(setup):
    (event,) = events_save(
        organization=setup.org,
        specs=[EventSpec(title="x", start=future(3), end=future(3, 11), resource_ids=[setup.room.pk])],
    )
    events_set_status(events=[event], status=EventStatus.CANCELED)
    with pytest.raises(InvalidTransition):
        events_save(
            organization=setup.org,
            status=EventStatus.CONFIRMED,
            specs=[EventSpec(title="x", start=future(3), end=future(3, 11), resource_ids=[setup.room.pk], event=event)],
        )


def test_an_approved_booking_with_a_past_time_can_still_change_its_phone(setup):
    past = datetime.now(UTC) - timedelta(days=2)
    created = booking_create(
        module=setup.module,
        actor=setup.staff,
        status=BookingStatus.APPROVED,
        override_rules=True,
        contact={"name": "Ada", "email": "ada@example.com"},
        events=[setup.event(start=past, end=past + timedelta(hours=1)), setup.event(start=future(9))],
    )
    result = change_request_submit(booking_id=created.booking.pk, actor=Actor.booker(), contact={"phone": "+44 1234"})
    assert result.change_request.contact_changes == {"phone": "+44 1234"}
    approved = change_request_approve(change_request_id=result.change_request.pk, actor=setup.staff)
    assert approved.booking.contact_answers["phone"] == "+44 1234"


def test_a_field_added_later_does_not_block_approval_and_archived_answers_survive(setup):
    old = FormFieldFactory(module=setup.module, section=FormSection.EVENT, label="Old question")
    booking = setup.submit(setup.event(**{str(old.pk): "kept"})).booking
    old.archived = True
    old.save()
    FormFieldFactory(module=setup.module, section=FormSection.CONTACT, label="New", required=True)
    FormFieldFactory(module=setup.module, section=FormSection.EVENT, label="New too", required=True)
    booking.refresh_from_db()
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=booking.updated_at)
    assert BookingEvent.objects.get(booking=booking).answers == {str(old.pk): "kept"}


def test_pending_edit_after_the_module_stopped_holding_moves_its_own_hold(setup):
    result = setup.submit()
    setup.module.hold_pending_slots = False
    setup.module.save()
    change_request_submit(booking_id=result.booking.pk, actor=Actor.booker(), events=[{"title": "Renamed"}])
    event = Event.objects.get(pk=result.events[0].pk)
    assert event.title == "Renamed" and event.status == EventStatus.TENTATIVE


def test_a_second_change_request_keeps_the_first_ones_changes(setup):
    booking = setup.submit().booking
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=booking.updated_at)
    change_request_submit(booking_id=booking.pk, actor=Actor.booker(), events=[{"title": "New title"}])
    change_request_submit(booking_id=booking.pk, actor=Actor.booker(), contact={"phone": "+44 5555"})
    (open_request,) = BookingChangeRequest.open.filter(booking=booking)
    assert open_request.contact_changes == {"phone": "+44 5555"}
    assert [c["title"] for c in open_request.event_changes] == ["New title"]


def _submit_queries(setup: Setup, n: int) -> int:
    events = [setup.event(start=future(3 + i + 20 * (n > 1)), title=f"Time {i}") for i in range(n)]
    with CaptureQueriesContext(connection) as ctx:
        setup.submit(*events, email=f"q{n}@example.com")
    return len(ctx.captured_queries)


def test_submit_queries_do_not_grow_with_the_number_of_times(setup):
    setup.submit(setup.event(start=future(90)), email="warm@example.com")  # the configuration cache is warm
    one = _submit_queries(setup, 1)
    assert _submit_queries(setup, 12) == one


@pytest.mark.parametrize("token", [None, "", 5, "not-a-token"])
def test_a_bad_private_link_token_is_not_found(setup, token):
    from bookings.selectors import booking_by_access_token

    setup.submit()
    with pytest.raises(NotFound):
        booking_by_access_token(token)


def test_the_private_link_token_finds_its_booking(setup):
    from bookings.selectors import booking_by_access_token

    result = setup.submit()
    assert booking_by_access_token(result.access_token).pk == result.booking.pk
