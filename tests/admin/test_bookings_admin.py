"""The booking queue in the admin: list, booking page, Approve / Deny / Cancel pages, bulk actions,
change requests, scoping and roles. Everything through Django's test client."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.lifecycle.change_requests import change_request_submit
from bookings.lifecycle.decide import booking_approve, booking_cancel, booking_deny
from bookings.models import Booking, BookingChangeRequest, BookingLog, BookingStatus, FieldType
from core.actor import Actor
from events.models import Event, EventStatus
from resources.models import Role

from ..conftest import LONDON, Setup, future
from ..factories import CustomerFactory, FormFieldFactory

S = BookingStatus
BOOKER = Actor.booker("ada@example.com")


def url(name: str, *args) -> str:
    return reverse(f"admin:bookings_{name}", args=args)


def with_status(setup: Setup, status: int, **kwargs) -> Booking:
    """A booking in `status`, made through the services."""
    booking = setup.submit(**kwargs).booking
    if status == S.APPROVED:
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    elif status == S.DENIED:
        booking_deny(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    elif status == S.CANCELED:
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
        booking_cancel(booking_id=booking.pk, actor=setup.staff)
    booking.refresh_from_db()
    return booking


def local_input(moment) -> str:
    return moment.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


def approve_post(booking: Booking, **overrides) -> dict:
    """The approve form as the page fills it in, with `overrides`."""
    events = list(booking.requested_times.prefetch_related("resources"))
    data = {
        "events-TOTAL_FORMS": str(len(events)),
        "events-INITIAL_FORMS": str(len(events)),
        "client_last_updated_at": booking.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%f%z"),
        "notification-send": "on",
        "notification-subject": f"Your booking is confirmed: {booking.title}",
        "notification-message": "",
    }
    for i, be in enumerate(events):
        data.update(
            {
                f"events-{i}-booking_event_id": str(be.pk),
                f"events-{i}-title": be.title,
                f"events-{i}-start": local_input(be.start),
                f"events-{i}-end": local_input(be.end),
                f"events-{i}-resources": [str(r.pk) for r in be.resources.all()],
            }
        )
    data.update(overrides)
    return data


def stamp(booking: Booking) -> str:
    return booking.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%f%z")


# --- the list --------------------------------------------------------------------------------------


def test_list_shows_the_queue_pending_first_with_labels_times_and_conflicts(setup, manager_client):
    # An unheld request, and then another request for its slot that was approved: the first collides now.
    setup.module.hold_pending_slots = False
    setup.module.save()
    setup.submit(name="Clash Person", email="clash@example.com")
    approved = with_status(setup, S.APPROVED, email="old@example.com")
    pending = setup.submit(setup.event(start=future(9)), name="Grace Hopper", email="grace@example.com").booking

    response = manager_client.get(url("booking_changelist"))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'allot-status--pending">Pending' in html and 'allot-status--approved">Approved' in html
    assert html.index(pending.title) < html.index("old@example.com")  # pending first
    assert "Grace Hopper" in html and "grace@example.com" in html
    start = future(9).astimezone(LONDON)
    assert f"{start:%a %d %b %Y, %H:%M}" in html  # venue-local time
    rows = [row for row in html.split("<tr") if "clash@example.com" in row]
    assert len(rows) == 1 and "⚠ Conflict" in rows[0]
    assert "⚠ Conflict" not in [row for row in html.split("<tr") if "grace@example.com" in row][0]
    assert approved.pk


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"status__exact": "0"}, {"Pending one"}),
        ({"q": "grace@example"}, {"Pending one"}),
        ({"q": "Hopper"}, {"Pending one"}),
        ({"q": "Approved one"}, {"Approved one"}),
    ],
)
def test_list_filters_and_search(setup, manager_client, params, expected):
    setup.submit(setup.event(title="Pending one", start=future(8)), name="Grace Hopper", email="grace@example.com")
    booking = setup.submit(setup.event(title="Approved one", start=future(9))).booking
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)

    response = manager_client.get(url("booking_changelist"), params)

    shown = {b.title for b in response.context["cl"].result_list}
    assert shown == expected


def test_list_filters_by_resource_module_and_dates(setup, manager_client):
    in_room = setup.submit(setup.event(title="Room booking", start=future(3))).booking
    in_hall = setup.submit(setup.event(title="Hall booking", start=future(20), resources=[setup.hall])).booking

    def shown(params):
        response = manager_client.get(url("booking_changelist"), params)
        assert response.status_code == 200
        return {b.pk for b in response.context["cl"].result_list}

    assert shown({"resource": str(setup.hall.pk)}) == {in_hall.pk}
    assert shown({"module__id__exact": str(setup.module.pk)}) == {in_room.pk, in_hall.pk}
    day = future(3).date()
    assert shown({"date_from": day.isoformat(), "date_to": day.isoformat()}) == {in_room.pk}
    assert shown({"date_from": (day + timedelta(days=5)).isoformat()}) == {in_hall.pk}


def test_list_uses_a_constant_number_of_queries(setup, manager_client, django_assert_num_queries):
    def count_for_page() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert manager_client.get(url("booking_changelist")).status_code == 200
        return len(ctx.captured_queries)

    for i in range(10):
        setup.submit(setup.event(start=future(3, 8) + timedelta(days=i), resources=[setup.desks]))
    few = count_for_page()
    for i in range(290):
        setup.submit(setup.event(start=future(3, 8) + timedelta(days=i % 60, minutes=i), resources=[setup.desks]))
    with django_assert_num_queries(few):
        manager_client.get(url("booking_changelist"))


def test_the_index_counts_pending_bookings_and_open_change_requests(setup, manager_client):
    setup.submit(setup.event(start=future(3)))
    approved = with_status(setup, S.APPROVED)
    change_request_submit(booking_id=approved.pk, actor=BOOKER, events=[{"title": "New title"}])

    response = manager_client.get(reverse("admin:index"))

    assert response.context["queue"] == {"pending": 1, "change_requests": 1}
    assert b'data-testid="pending-count">1<' in response.content


# --- the booking page ------------------------------------------------------------------------------


def test_booking_page_shows_answers_under_labels_events_conflicts_note_and_log(setup, manager_client):
    question = FormFieldFactory(module=setup.module, section="contact", label="Your organisation", type=FieldType.TEXT)
    setup.module.hold_pending_slots = False
    setup.module.save()
    booking = setup.submit(
        email="second@example.com", request_note="<p>Please <b>bring</b> chairs</p><script>alert(1)</script>"
    ).booking
    other = with_status(setup, S.APPROVED, email="first@example.com")
    booking.contact_answers[str(question.pk)] = "Analytical Engines Ltd"
    Booking.objects.filter(pk=booking.pk).update(contact_answers=booking.contact_answers)

    response = manager_client.get(url("booking_change", booking.pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Your organisation" in html and "Analytical Engines Ltd" in html
    assert str(question.pk) not in html.split('id="content-main"')[1].split("Requested times")[0]
    assert "<b>bring</b>" in html and "<script>alert(1)</script>" not in html
    assert "Room is already booked" in html
    assert url("booking_change", other.pk) in html  # the conflicting booking is linked
    assert "submit" in html  # the log row
    assert url("booking_approve", booking.pk) in html and url("booking_deny", booking.pk) in html
    assert url("booking_cancel", booking.pk) not in html


@pytest.mark.parametrize(
    "status, buttons",
    [
        (S.PENDING, {"approve", "deny"}),
        (S.APPROVED, {"cancel"}),
        (S.DENIED, set()),
        (S.CANCELED, set()),
    ],
)
def test_the_page_offers_the_buttons_the_status_allows(setup, manager_client, status, buttons):
    booking = with_status(setup, status)
    html = manager_client.get(url("booking_change", booking.pk)).content.decode()
    shown = {action for action in ("approve", "deny", "cancel") if url(f"booking_{action}", booking.pk) in html}
    assert shown == buttons


def test_saving_the_booking_page_changes_only_customer_contact_and_notes_through_the_service(setup, manager_client):
    booking = setup.submit().booking
    customer = CustomerFactory(organization=setup.org)

    response = manager_client.post(
        url("booking_change", booking.pk),
        {
            "customer": str(customer.pk),
            "contact": str(booking.contact_id),
            "internal_notes": "Regular; invoice monthly",
            "status": str(S.APPROVED),
            "title": "Hacked",
            "contact_answers": "{}",
        },
    )

    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.customer == customer and booking.internal_notes == "Regular; invoice monthly"
    assert booking.status == S.PENDING and booking.title != "Hacked" and booking.contact_answers["name"]
    log = BookingLog.objects.filter(booking=booking, action="update").get()
    assert log.after == {"customerId": str(customer.pk), "internalNotes": "Regular; invoice monthly"}
    assert log.before == {"customerId": None, "internalNotes": None} and log.note == "internal notes edited"


def test_the_customer_choices_are_the_bookings_organization_only(setup, manager_client):
    booking = setup.submit().booking
    mine = CustomerFactory(organization=setup.org, name="Mine")
    theirs = CustomerFactory(name="Theirs")

    form = manager_client.get(url("booking_change", booking.pk)).context["adminform"].form
    choices = form.fields["customer"].queryset

    assert mine in choices and theirs not in choices


# --- approve ---------------------------------------------------------------------------------------


def test_approve_page_prefills_each_event(setup, manager_client):
    booking = setup.submit(setup.event(start=future(5, 10), title="Choir")).booking

    response = manager_client.get(url("booking_approve", booking.pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="Choir"' in html
    assert f'value="{local_input(future(5, 10))}"' in html
    assert f'value="{stamp(booking)}"' in html  # the hidden clientBookingLastUpdatedAt
    assert "Your booking is confirmed: Choir" in html


def test_approve_with_a_changed_end_and_a_message(
    setup, manager_client, mailoutbox, django_capture_on_commit_callbacks
):
    booking = setup.submit(setup.event(start=future(5, 10))).booking
    mailoutbox.clear()
    new_end = future(5, 12, 30)

    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            url("booking_approve", booking.pk),
            approve_post(
                booking,
                **{"events-0-end": local_input(new_end), "notification-message": "<p>Keys at <b>reception</b></p>"},
            ),
        )

    assert response.status_code == 302, response.content.decode()[:2000]
    booking.refresh_from_db()
    assert booking.status == S.APPROVED
    event = booking.requested_times.get().event
    assert event.status == EventStatus.CONFIRMED and event.end == new_end
    sent = [m for m in mailoutbox if m.to == ["ada@example.com"]]
    assert len(sent) == 1 and "Keys at" in sent[0].body and "reception" in sent[0].body


def test_approve_without_email(setup, manager_client, mailoutbox, django_capture_on_commit_callbacks):
    booking = setup.submit().booking
    mailoutbox.clear()
    data = approve_post(booking)
    del data["notification-send"]
    with django_capture_on_commit_callbacks(execute=True):
        assert manager_client.post(url("booking_approve", booking.pk), data).status_code == 302
    assert mailoutbox == []


def test_approve_into_a_conflict_shows_it_at_the_event_and_changes_nothing(setup, manager_client):
    first = with_status(setup, S.APPROVED)
    booking = setup.submit(setup.event(start=future(7, 14))).booking
    data = approve_post(
        booking, **{"events-0-start": local_input(future(7, 10)), "events-0-end": local_input(future(7, 11))}
    )  # first's time

    response = manager_client.post(url("booking_approve", booking.pk), data)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Not approved: a resource is taken." in html
    assert "Room is already booked" in response.context["event_forms"].forms[0].errors["resources"][0]
    assert f'value="{local_input(future(7, 10))}"' in html  # what staff typed is kept
    booking.refresh_from_db()
    assert booking.status == S.PENDING and first.status == S.APPROVED


def test_approve_refuses_an_end_before_the_start_at_the_field(setup, manager_client):
    booking = setup.submit().booking
    data = approve_post(booking, **{"events-0-end": local_input(future(7, 9))})

    response = manager_client.post(url("booking_approve", booking.pk), data)

    assert response.status_code == 200
    form = response.context["event_forms"].forms[0]
    assert form.errors  # shown at the event
    booking.refresh_from_db()
    assert booking.status == S.PENDING


def test_a_booker_change_after_the_page_was_opened_is_shown_and_asked_again(setup, manager_client):
    booking = setup.submit().booking
    data = approve_post(booking)
    change_request_submit(booking_id=booking.pk, actor=BOOKER, events=[{"title": "Changed by the booker"}])

    response = manager_client.post(url("booking_approve", booking.pk), data)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="stale"' in html and "change applied by ada@example.com" in html
    assert 'value="Changed by the booker"' in html  # the page shows the booking as it is now
    booking.refresh_from_db()
    assert booking.status == S.PENDING
    assert f'value="{stamp(booking)}"' in html  # and asks again with the new stamp
    assert manager_client.post(url("booking_approve", booking.pk), approve_post(booking)).status_code == 302
    booking.refresh_from_db()
    assert booking.status == S.APPROVED


def test_deny_on_a_stale_page_asks_again(setup, manager_client):
    booking = setup.submit().booking
    opened = stamp(booking)
    change_request_submit(booking_id=booking.pk, actor=BOOKER, contact={"phone": "+44 20 7946 0000"})

    response = manager_client.post(
        url("booking_deny", booking.pk), {"client_last_updated_at": opened, "notification-send": "on"}
    )

    assert response.status_code == 200 and 'data-testid="stale"' in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == S.PENDING
    assert f'value="{stamp(booking)}"' in response.content.decode()


def test_a_booker_cancellation_while_deciding_sends_staff_back_with_the_reason(setup, manager_client):
    booking = setup.submit().booking
    data = approve_post(booking)
    change_request_submit(booking_id=booking.pk, actor=BOOKER, cancellation=True)

    response = manager_client.post(url("booking_approve", booking.pk), data, follow=True)

    assert "This booking is canceled: it cannot be approved." in response.content.decode()


@pytest.mark.parametrize("action", ["approve", "deny", "cancel"])
@pytest.mark.parametrize("status", [S.PENDING, S.APPROVED, S.DENIED, S.CANCELED])
def test_each_decision_page_on_each_status(setup, manager_client, action, status):
    booking = with_status(setup, status)
    allowed = {("approve", S.PENDING), ("deny", S.PENDING), ("cancel", S.APPROVED)}

    page = manager_client.get(url(f"booking_{action}", booking.pk))
    if (action, status) not in allowed:
        assert page.status_code == 302
        assert "cannot be" in manager_client.get(page.url).content.decode()
        return
    assert page.status_code == 200
    data = (
        approve_post(booking)
        if action == "approve"
        else {"client_last_updated_at": stamp(booking), "notification-send": "on", "event_procedure": "0"}
    )
    response = manager_client.post(url(f"booking_{action}", booking.pk), data)
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == {"approve": S.APPROVED, "deny": S.DENIED, "cancel": S.CANCELED}[action]


def test_deny_with_a_custom_subject(setup, manager_client, mailoutbox, django_capture_on_commit_callbacks):
    booking = setup.submit().booking
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(
            url("booking_deny", booking.pk),
            {
                "client_last_updated_at": stamp(booking),
                "notification-send": "on",
                "notification-subject": "Sorry, we are full",
                "notification-message": "Try next week.",
            },
        )
    booking.refresh_from_db()
    assert booking.status == S.DENIED
    assert [m.subject for m in mailoutbox] == ["Sorry, we are full"] and "Try next week." in mailoutbox[0].body


def test_a_subject_with_a_line_break_is_refused_at_the_field(setup, manager_client):
    booking = setup.submit().booking
    response = manager_client.post(
        url("booking_deny", booking.pk),
        {
            "client_last_updated_at": stamp(booking),
            "notification-send": "on",
            "notification-subject": "Hi\r\nBcc: victim@example.com",
        },
    )
    assert response.status_code == 200 and response.context["notification"].errors["subject"]
    booking.refresh_from_db()
    assert booking.status == S.PENDING


@pytest.mark.parametrize("procedure, event_exists", [("0", True), ("1", False)])
def test_cancel_cancels_or_deletes_the_events(setup, manager_client, procedure, event_exists):
    booking = with_status(setup, S.APPROVED)
    event_id = booking.requested_times.get().event_id

    response = manager_client.post(
        url("booking_cancel", booking.pk), {"event_procedure": procedure, "notification-send": "on"}
    )

    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == S.CANCELED
    assert Event.objects.filter(pk=event_id).exists() is event_exists
    if event_exists:
        assert Event.objects.get(pk=event_id).status == EventStatus.CANCELED


# --- bulk actions ----------------------------------------------------------------------------------


def test_bulk_approve_approves_the_free_ones_and_reports_the_others(setup_no_hold, django_capture_on_commit_callbacks):
    setup = setup_no_hold
    from ..admin.conftest import admin_client_for

    client = admin_client_for(setup.manager)
    free = setup.submit(setup.event(title="Free slot", start=future(4))).booking
    first = setup.submit(setup.event(title="First come", start=future(6))).booking
    second = setup.submit(setup.event(title="Second come", start=future(6))).booking
    denied = with_status(setup, S.DENIED)

    response = client.post(
        url("booking_changelist"),
        {"action": "approve_selected", "_selected_action": [str(b.pk) for b in (free, first, second, denied)]},
        follow=True,
    )

    statuses = dict(Booking.objects.values_list("title", "status"))
    assert statuses["Free slot"] == S.APPROVED and statuses["First come"] == S.APPROVED
    assert statuses["Second come"] == S.PENDING
    text = response.content.decode()
    assert "Approved 2 bookings" in text
    assert "“Second come”: Room is already booked by First come" in text
    assert f"“{denied.title}”: A denied booking cannot be approved." in text


def test_bulk_deny(setup, manager_client):
    one, two = setup.submit(setup.event(start=future(3))).booking, setup.submit(setup.event(start=future(4))).booking
    approved = with_status(setup, S.APPROVED)

    response = manager_client.post(
        url("booking_changelist"),
        {"action": "deny_selected", "_selected_action": [str(one.pk), str(two.pk), str(approved.pk)]},
        follow=True,
    )

    assert set(Booking.objects.filter(status=S.DENIED).values_list("pk", flat=True)) == {one.pk, two.pk}
    assert "An approved booking cannot be denied." in response.content.decode()


# --- change requests -------------------------------------------------------------------------------


def a_change_request(setup: Setup, **changes) -> BookingChangeRequest:
    booking = with_status(setup, S.APPROVED)
    changes = changes or {
        "events": [{"start": future(8, 15).isoformat(), "end": future(8, 16).isoformat()}],
        "contact": {"phone": "+44 20 7946 0000"},
    }
    return change_request_submit(booking_id=booking.pk, actor=BOOKER, **changes).change_request


def test_change_request_page_shows_current_and_requested_side_by_side(setup, manager_client):
    change_request = a_change_request(setup)

    response = manager_client.get(url("bookingchangerequest_change", change_request.pk))

    html = response.content.decode()
    assert response.status_code == 200
    start, new_start = future(7, 10), future(8, 15)
    assert f"{start.astimezone(LONDON):%a %d %b %Y, %H:%M}" in html
    assert f'class="allot-changed">{new_start.astimezone(LONDON):%a %d %b %Y, %H:%M}' in html
    assert "+44 20 7946 0000" in html and "Phone" in html
    assert url("bookingchangerequest_approve", change_request.pk) in html


def test_change_request_list_shows_open_ones_by_default(setup, manager_client):
    open_one = a_change_request(setup)
    response = manager_client.get(url("bookingchangerequest_changelist"))
    assert [cr.pk for cr in response.context["cl"].result_list] == [open_one.pk]


def test_approving_a_change_request_applies_it(setup, manager_client, mailoutbox, django_capture_on_commit_callbacks):
    change_request = a_change_request(setup)
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            url("bookingchangerequest_approve", change_request.pk),
            {"notification-send": "on", "notification-message": "See you then"},
        )
    assert response.status_code == 302
    change_request.refresh_from_db()
    assert change_request.decision == "APPROVED"
    event = change_request.booking.requested_times.get().event
    assert event.start == future(8, 15)
    assert any("See you then" in m.body for m in mailoutbox)


@pytest.mark.parametrize("procedure, event_exists", [("0", True), ("1", False)])
def test_approving_a_cancellation_request_follows_the_procedure(setup, manager_client, procedure, event_exists):
    change_request = a_change_request(setup, cancellation=True)
    event_id = change_request.booking.requested_times.get().event_id

    page = manager_client.get(url("bookingchangerequest_approve", change_request.pk))
    assert "Delete them" in page.content.decode()
    response = manager_client.post(
        url("bookingchangerequest_approve", change_request.pk),
        {"event_procedure": procedure, "notification-send": "on"},
    )

    assert response.status_code == 302
    change_request.booking.refresh_from_db()
    assert change_request.booking.status == S.CANCELED
    assert Event.objects.filter(pk=event_id).exists() is event_exists


def test_denying_a_change_request_and_deciding_twice(setup, manager_client):
    change_request = a_change_request(setup)
    assert (
        manager_client.post(
            url("bookingchangerequest_deny", change_request.pk), {"notification-send": "on"}
        ).status_code
        == 302
    )
    change_request.refresh_from_db()
    assert change_request.decision == "DENIED"

    again = manager_client.post(url("bookingchangerequest_approve", change_request.pk), {}, follow=True)
    assert "already decided" in again.content.decode()


def test_approving_a_change_request_into_a_conflict_says_so(setup, manager_client):
    change_request = a_change_request(setup)
    setup.submit(setup.event(start=future(8, 15)))  # holds the requested slot
    response = manager_client.post(url("bookingchangerequest_approve", change_request.pk), {"notification-send": "on"})
    assert response.status_code == 200 and "Room is already booked" in response.content.decode()
    change_request.refresh_from_db()
    assert change_request.decision == ""


# --- scoping and roles -----------------------------------------------------------------------------


def booking_pages(booking: Booking, change_request: BookingChangeRequest) -> list[str]:
    return [
        url("booking_change", booking.pk),
        url("booking_approve", booking.pk),
        url("booking_deny", booking.pk),
        url("booking_cancel", booking.pk),
        url("bookingchangerequest_change", change_request.pk),
        url("bookingchangerequest_approve", change_request.pk),
        url("bookingchangerequest_deny", change_request.pk),
    ]


def test_a_manager_of_another_organization_gets_404_and_sees_no_rows(setup, db):
    change_request = a_change_request(setup)
    pending = setup.submit(setup.event(start=future(3))).booking
    other = Setup()
    other.submit()
    from .conftest import admin_client_for

    client = admin_client_for(other.manager)

    for page in booking_pages(pending, change_request):
        assert client.get(page).status_code == 404, page
        assert client.post(page, {"notification-send": "on"}).status_code == 404, page
    listed = client.get(url("booking_changelist")).context["cl"].result_list
    assert {b.organization_id for b in listed} == {other.org.pk}
    assert list(client.get(url("bookingchangerequest_changelist")).context["cl"].result_list) == []
    assert client.get(reverse("admin:index")).context["queue"] == {"pending": 1, "change_requests": 0}
    # and a bulk action cannot reach across
    client.post(url("booking_changelist"), {"action": "deny_selected", "_selected_action": [str(pending.pk)]})
    pending.refresh_from_db()
    assert pending.status == S.PENDING


def test_a_viewer_can_look_but_gets_no_buttons_and_403_on_actions(setup, member):
    _, client = member(Role.VIEWER)
    change_request = a_change_request(setup)
    pending = setup.submit(setup.event(start=future(3))).booking

    page = client.get(url("booking_change", pending.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert url("booking_approve", pending.pk) not in html and 'name="_save"' not in html
    cr_page = client.get(url("bookingchangerequest_change", change_request.pk)).content.decode()
    assert url("bookingchangerequest_approve", change_request.pk) not in cr_page
    for action_url in booking_pages(pending, change_request)[1:4] + booking_pages(pending, change_request)[5:]:
        assert client.get(action_url).status_code == 403, action_url
        assert client.post(action_url, {"notification-send": "on"}).status_code == 403, action_url
    response = client.post(
        url("booking_changelist"), {"action": "approve_selected", "_selected_action": [str(pending.pk)]}
    )
    assert response.status_code in (200, 302)
    pending.refresh_from_db()
    assert pending.status == S.PENDING
    assert client.post(url("booking_change", pending.pk), {"internal_notes": "x"}).status_code == 403


def test_a_member_without_is_staff_can_sign_in(setup, client):
    from ..factories import MembershipFactory, UserFactory

    user = UserFactory(is_staff=False)
    MembershipFactory(user=user, organization=setup.org, role=Role.VIEWER)
    response = client.post(
        reverse("admin:login"), {"username": user.username, "password": "pw-123456", "next": reverse("admin:index")}
    )
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200

    stranger = UserFactory(is_staff=False)
    response = client.post(reverse("admin:login"), {"username": stranger.username, "password": "pw-123456"})
    assert response.status_code == 200  # refused: not staff, not a member


def test_decided_at_is_shown_in_venue_time(setup, manager_client):
    booking = with_status(setup, S.APPROVED)
    html = manager_client.get(url("booking_change", booking.pk)).content.decode()
    assert f"{timezone.localtime(booking.decided_at, LONDON):%a %d %b %Y %H:%M} by {setup.manager.username}" in html
