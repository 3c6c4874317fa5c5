"""DELETE /events/{id} of a booking's events over HTTP (docs/architecture.md#series): an approved booking left
without a live event is canceled, and the body's `notification` says whether and how its booker is emailed."""

from __future__ import annotations

import pytest
from django.core import mail

from bookings.models import Booking, BookingLog, BookingStatus
from notifications.models import Notification
from tests.api.conftest import assert_error
from tests.series import make_booked_series

URL = "/api/v1/events"


def delete(client, pk, body=None, query: str = ""):
    return client.delete(f"{URL}/{pk}{query}", body, format="json")


@pytest.mark.parametrize(
    ("query", "body", "status", "emails"),
    [
        ("?whichEventsToUpdate=5", None, BookingStatus.CANCELED, ["booking_canceled"]),
        ("", {"whichEventsToUpdate": 5}, BookingStatus.CANCELED, ["booking_canceled"]),
        ("", {"whichEventsToUpdate": 5, "notification": {"send": False}}, BookingStatus.CANCELED, []),
        ("?whichEventsToUpdate=5", {"notification": {"send": True}}, BookingStatus.CANCELED, ["booking_canceled"]),
        ("?whichEventsToUpdate=6", None, BookingStatus.APPROVED, []),  # from the 4th: three are left
        ("", {"notification": {"send": False}}, BookingStatus.APPROVED, []),  # just this one
    ],
    ids=["all-query", "all-body", "all-no-email", "all-email", "this-and-after", "one"],
)
def test_what_the_booking_becomes(api, setup, query, body, status, emails, django_capture_on_commit_callbacks):
    booking, _, events = make_booked_series(setup)
    with django_capture_on_commit_callbacks(execute=True):
        response = delete(api.manager, events[3].pk, body, query)
    assert response.status_code == 204, response.content
    assert Booking.objects.get(pk=booking.pk).status == status
    assert list(Notification.objects.values_list("kind", flat=True)) == emails
    assert [m.to for m in mail.outbox] == [["ada@example.com"]] * len(emails)
    log = BookingLog.objects.filter(booking=booking).order_by("created_at").last()
    assert (log.action, log.actor_kind, log.actor_user) == ("events_deleted", "token", setup.manager)


def test_staffs_subject_and_message_reach_the_booker(api, setup, django_capture_on_commit_callbacks):
    booking, _, events = make_booked_series(setup, count=2)
    body = {"whichEventsToUpdate": 5, "notification": {"subject": "Series off", "message": "<p>Sorry!</p>"}}
    with django_capture_on_commit_callbacks(execute=True):
        assert delete(api.manager, events[0].pk, body).status_code == 204
    [message] = mail.outbox
    assert message.subject == "Series off" and "Sorry!" in message.body


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"notification": "no"}, "notification", "INVALID"),
        ({"notification": {"send": "perhaps"}}, "notification.send", "INVALID"),
        ({"notification": {"subject": "a\nb"}}, "notification.subject", "INVALID"),
    ],
    ids=["not-an-object", "send-not-bool", "subject-two-lines"],
)
def test_a_bad_notification_is_a_400_and_deletes_nothing(api, setup, body, field, code):
    booking, series, events = make_booked_series(setup, count=2)
    assert_error(delete(api.manager, events[0].pk, {"whichEventsToUpdate": 5, **body}), 400, code, field)
    assert series.events.count() == 2 and Booking.objects.get(pk=booking.pk).status == BookingStatus.APPROVED


def test_a_viewer_cannot_and_nothing_changes(api, setup):
    booking, series, events = make_booked_series(setup, count=2)
    assert_error(delete(api.viewer, events[0].pk, {"whichEventsToUpdate": 5}), 403, "PERMISSION_DENIED")
    assert series.events.count() == 2 and Booking.objects.get(pk=booking.pk).status == BookingStatus.APPROVED


def test_another_organizations_event_is_a_404(api, other, setup):
    booking, series, events = make_booked_series(other.setup, count=2)
    assert_error(delete(api.manager, events[0].pk, {"whichEventsToUpdate": 5}), 404)
    assert series.events.count() == 2 and Booking.objects.get(pk=booking.pk).status == BookingStatus.APPROVED


@pytest.mark.parametrize("count", [2, 10])
def test_query_budget_does_not_grow_with_the_occurrences(api, setup, count, django_assert_max_num_queries):
    booking, _, events = make_booked_series(setup, count=count)
    # The cancellation adds a constant (the change requests withdrawn, the email); the requested times are
    # unlinked in one statement.
    with django_assert_max_num_queries(43):
        response = delete(api.manager, events[0].pk, {"whichEventsToUpdate": 5})
    assert response.status_code == 204
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CANCELED
