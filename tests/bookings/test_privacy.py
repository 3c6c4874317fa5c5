"""A person's data (docs/architecture.md#personal-data): the export, the erasure everywhere it can be read
again, the refusal while they have approved times to come, and the retention job."""

from __future__ import annotations

import html
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from bookings.lifecycle.decide import booking_approve
from bookings.models import (
    Booking,
    BookingChangeRequest,
    BookingLog,
    BookingLogAction,
    BookingStatus,
    BookingVisitor,
    Contact,
)
from bookings.privacy import ERASED_NAME, contact_erase, contact_personal_data, contacts_erase_expired
from core.actor import Actor
from core.errors import HasFutureBookings, NotFound
from core.models import IdempotencyKey
from core.scrub import ERASED
from events.models import Event
from notifications.models import Notification, NotificationStatus
from tests.conftest import Setup, future
from tests.factories import (
    BookingChangeRequestFactory,
    BookingCreditFactory,
    BookingVisitorFactory,
    ContactFactory,
    IdempotencyKeyFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
)

NAME, EMAIL, PHONE = "Ada Lovelace", "ada.lovelace@example.com", "+44 20 7946 0958"


@pytest.fixture
def other_setup(db) -> Setup:
    return Setup()


def _booked(setup, *, days=7, approve=False, **kwargs) -> Booking:
    """A request for a day `days` from now (made that long before it, when the day is past)."""
    now = timezone.now() + timedelta(days=min(days, 0) - 7)
    result = setup.submit(
        setup.event(start=future(days=days), title=f"Party of {NAME}"),
        email=EMAIL,
        name=NAME,
        request_note=f"Call {NAME} on {PHONE}",
        visitors=[{"name": "Grace Hopper", "email": "grace@example.com"}],
        now=now,
        **kwargs,
    )
    booking = result.booking
    if approve:
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, now=now)
    return Booking.objects.get(pk=booking.pk)


def _contact() -> Contact:
    return Contact.objects.get(email=EMAIL)


def test_the_export_holds_the_contact_their_bookings_and_the_emails_sent_to_them(setup):
    booking = _booked(setup)
    Contact.objects.filter(pk=booking.contact_id).update(phone=PHONE)
    BookingCreditFactory(organization=setup.org, contact=booking.contact, description="Prepaid hours")

    data = contact_personal_data(_contact())

    assert (data["contact"]["name"], data["contact"]["email"], data["contact"]["phone"]) == (NAME, EMAIL, PHONE)
    [exported] = data["bookings"]
    assert exported["id"] == str(booking.pk) and exported["requestNote"] == f"Call {NAME} on {PHONE}"
    assert exported["contactAnswers"]["email"] == EMAIL
    assert [t["title"] for t in exported["requestedTimes"]] == [f"Party of {NAME}"]
    assert exported["visitors"] == [{"name": "Grace Hopper", "email": "grace@example.com"}]
    assert [c["description"] for c in data["credits"]] == ["Prepaid hours"]
    assert [e["kind"] for e in data["emails"]] == ["booking_received"]  # the admin's copy is not theirs
    assert all(EMAIL in e["recipients"] for e in data["emails"])


def test_erasure_takes_the_person_out_of_every_row_of_their_bookings(setup):
    booking = _booked(setup, approve=True, days=-3)  # approved and past: no refusal
    BookingChangeRequestFactory(
        booking=booking, contact_changes={"name": NAME, "phone": PHONE}, request_note=f"{NAME} here"
    )
    endpoint = WebhookEndpointFactory(organization=setup.org)
    WebhookDeliveryFactory(endpoint=endpoint, data={"booking": {"contact": {"email": EMAIL}}})

    erasure = contact_erase(contact_id=booking.contact_id, actor=setup.staff)

    contact = erasure.contact
    assert (contact.name, contact.email, contact.phone) == (ERASED_NAME, "", "")
    assert contact.erased_at is not None and contact.erased_by == setup.staff.label
    booking.refresh_from_db()
    assert booking.contact_answers == {}
    assert booking.title == f"Party of {ERASED}" and booking.request_note == f"Call {ERASED} on {ERASED}"
    assert booking.status == BookingStatus.APPROVED  # the organization's record stays
    assert Event.objects.get(booking_events__booking=booking).title == f"Party of {ERASED}"
    assert BookingChangeRequest.objects.get(booking=booking).contact_changes == {}
    [visitor] = BookingVisitor.objects.filter(booking=booking)
    assert visitor.name == ERASED and visitor.email.endswith("@erased.invalid")
    for row in Notification.objects.filter(organization=setup.org):
        text = f"{row.recipients} {row.subject} {row.snapshot} {row.body_text} {row.body_html}"
        assert EMAIL not in text and NAME not in text
    assert EMAIL not in str(endpoint.deliveries.get().data)
    logged = BookingLog.objects.get(booking=booking, action=BookingLogAction.PERSONAL_DATA_ERASED)
    assert logged.actor_user == setup.manager
    assert not BookingLog.objects.filter(booking=booking, actor_label__icontains=EMAIL).exists()


def test_the_person_named_as_a_visitor_of_someone_elses_booking_is_erased_there_too(setup):
    contact = ContactFactory(organization=setup.org, name=NAME, email=EMAIL)
    theirs = setup.submit(setup.event(), email="host@example.com", name="Host Person").booking
    BookingVisitorFactory(booking=theirs, name=NAME, email=EMAIL.upper())

    contact_erase(contact_id=contact.pk, actor=setup.staff)

    [visitor] = BookingVisitor.objects.filter(booking=theirs)
    assert (visitor.name, visitor.email.endswith("@erased.invalid")) == (ERASED, True)
    assert Booking.objects.get(pk=theirs.pk).contact.name == "Host Person"


@pytest.mark.parametrize(("days", "approve", "refused"), [(7, True, True), (7, False, False), (-3, True, False)])
def test_approved_times_still_to_come_refuse_the_erasure_unless_forced(setup, days, approve, refused):
    booking = _booked(setup, days=days, approve=approve)

    if refused:
        with pytest.raises(HasFutureBookings):
            contact_erase(contact_id=booking.contact_id, actor=setup.staff)
        assert _contact().erased_at is None  # nothing changed
        assert Booking.objects.get(pk=booking.pk).contact_answers["name"] == NAME
    erasure = contact_erase(contact_id=booking.contact_id, actor=setup.staff, force=refused)
    assert erasure.contact.erased_at is not None and erasure.bookings == 1


def test_erasing_twice_changes_nothing_the_second_time(setup):
    booking = _booked(setup)
    first = contact_erase(contact_id=booking.contact_id, actor=setup.staff)
    second = contact_erase(contact_id=booking.contact_id, actor=Actor.system())
    assert (second.rows, second.contact.erased_at) == (0, first.contact.erased_at)
    assert BookingLog.objects.filter(action=BookingLogAction.PERSONAL_DATA_ERASED).count() == 1


def test_an_unknown_contact_is_not_found(setup):
    with pytest.raises(NotFound):
        contact_erase(contact_id="00000000-0000-0000-0000-000000000000", actor=setup.staff)


def test_a_new_request_after_the_erasure_makes_a_new_contact(setup):
    booking = _booked(setup)
    contact_erase(contact_id=booking.contact_id, actor=setup.staff)
    again = setup.submit(setup.event(start=future(days=9)), email=EMAIL, name=NAME).booking
    assert again.contact_id != booking.contact_id and again.contact.email == EMAIL


def test_the_erasure_costs_the_same_queries_for_one_booking_or_three(setup):
    def erase_with(count: int, email: str, first_day: int) -> int:
        for k in range(count):
            setup.submit(setup.event(start=future(days=first_day + k)), email=email, name=f"Person {email}")
        contact = Contact.objects.get(email=email)
        with connection.execute_wrapper(counter := _Counter()):
            contact_erase(contact_id=contact.pk, actor=setup.staff)
        return counter.count

    assert erase_with(1, "one@example.com", 10) == erase_with(3, "three@example.com", 20)


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


# --- retention ---------------------------------------------------------------------------------------


def test_the_retention_job_erases_only_contacts_past_the_period(setup):
    setup.org.personal_data_retention_days = 30
    setup.org.save()
    old = _booked(setup, days=-40)
    recent = setup.submit(
        setup.event(start=future(days=-10)),
        email="recent@example.com",
        name="Recent One",
        now=timezone.now() - timedelta(days=20),
    ).booking
    idle = ContactFactory(organization=setup.org, email="idle@example.com")
    Contact.objects.filter(pk=idle.pk).update(updated_at=timezone.now() - timedelta(days=31))
    elsewhere = ContactFactory(email="kept@example.com")  # an organization without a period
    Contact.objects.filter(pk=elsewhere.pk).update(updated_at=timezone.now() - timedelta(days=400))

    assert contacts_erase_expired() == 2

    erased = set(Contact.objects.filter(erased_at__isnull=False).values_list("pk", flat=True))
    assert erased == {old.contact_id, idle.pk}
    assert recent.contact_id not in erased and elsewhere.pk not in erased
    assert contacts_erase_expired() == 0  # the next day's run finds nobody new


@pytest.mark.parametrize("command", ["erase_expired_contacts", "send_queued_notifications"])
def test_the_retention_job_runs_alone_and_in_the_sweeper(setup, command):
    setup.org.personal_data_retention_days = 1
    setup.org.save()
    idle = ContactFactory(organization=setup.org, email="idle@example.com")
    Contact.objects.filter(pk=idle.pk).update(updated_at=timezone.now() - timedelta(days=2))
    out = StringIO()

    call_command(command, stdout=out)

    assert Contact.objects.get(pk=idle.pk).erased_at is not None
    assert "contacts erased" in out.getvalue()


# --- what an erasure must leave alone, and the edges the review found ----------------------------------


def test_only_whole_words_about_the_person_are_replaced_and_other_organizations_are_untouched(setup, other_setup):
    booking = setup.submit(setup.event(title="Ann's talk in the Annex"), email="ann@example.com", name="Ann").booking
    theirs = other_setup.submit(other_setup.event(title="Ann in the Annex"), email="ann@example.com", name="Ann")
    LogEntry.objects.create(
        user=setup.manager,
        content_type=ContentType.objects.get_for_model(Booking),
        object_id=str(theirs.booking.pk),
        object_repr="Ann in the Annex",
        action_flag=CHANGE,
    )
    IdempotencyKeyFactory(caller="address:10.0.0.1", body='{"name": "Annex room"}', status_code=201)

    contact_erase(contact_id=booking.contact_id, actor=setup.staff)

    assert Booking.objects.get(pk=booking.pk).title == f"{ERASED}'s talk in the Annex"
    assert Booking.objects.get(pk=theirs.booking.pk).title == "Ann in the Annex"
    assert Contact.objects.get(pk=theirs.booking.contact_id).name == "Ann"  # the same person elsewhere: theirs
    assert LogEntry.objects.get(object_id=str(theirs.booking.pk)).object_repr == "Ann in the Annex"
    assert Notification.objects.filter(organization=other_setup.org, recipients__icontains="ann@").count() >= 1
    assert IdempotencyKey.objects.filter(body__contains="Annex room").exists()


def test_a_person_too_briefly_named_still_loses_answers_visitors_and_private_links(setup):
    booking = setup.submit(
        setup.event(), email="jo@x.io", name="Jo", visitors=[{"name": "Bo", "email": "bo@example.com"}]
    ).booking
    assert booking.access_token_hash

    contact_erase(contact_id=booking.contact_id, actor=setup.staff)

    booking.refresh_from_db()
    assert booking.contact_answers == {} and booking.access_token_hash is None
    assert booking.visitors.get().name == ERASED


def test_an_html_escaped_name_in_a_sent_email_is_replaced_too(setup):
    name = "Siobhan O'Brien"
    booking = setup.submit(setup.event(), email="siobhan@example.com", name=name).booking
    row = Notification.objects.get(kind="booking_received")
    row.body_html, row.body_text, row.status = f"<p>Dear {html.escape(name)},</p>", f"Dear {name},", "SENT"
    row.save()

    contact_erase(contact_id=booking.contact_id, actor=setup.staff)

    row.refresh_from_db()
    assert (row.body_html, row.body_text) == (f"<p>Dear {ERASED},</p>", f"Dear {ERASED},")


def test_an_email_being_sent_during_the_erasure_is_failed_so_its_sender_cannot_write_it_back(setup):
    booking = _booked(setup)
    Notification.objects.filter(kind="booking_received").update(status=NotificationStatus.SENDING)

    contact_erase(contact_id=booking.contact_id, actor=setup.staff)

    row = Notification.objects.get(kind="booking_received")
    assert row.status == NotificationStatus.FAILED and row.recipients == []


def test_a_replacement_longer_than_the_name_is_cut_to_the_column(setup):
    booking = setup.submit(setup.event(), email="bob@example.com", name="Bob").booking
    Booking.objects.filter(pk=booking.pk).update(title="Bob " * 75)  # 300 characters, the column's length

    contact_erase(contact_id=booking.contact_id, actor=setup.staff)

    title = Booking.objects.get(pk=booking.pk).title
    assert len(title) == 300 and title.startswith(f"{ERASED} {ERASED}") and "Bob" not in title
