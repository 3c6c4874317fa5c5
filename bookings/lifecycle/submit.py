"""New bookings: a booker's request (booking_submit, with instant confirmation) and staff's create in
any status (booking_create), with their requested times, holds or events, visitors, estimate, log row,
emails and webhook (docs/architecture.md#booking-lifecycle, docs/architecture.md#instant-confirmation,
docs/architecture.md#visitors)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from django.db import transaction
from django.utils import timezone

from bookings.pricing.estimate import apply_booking_billing, booking_estimate
from bookings.pricing.fixing import booking_price_fix
from bookings.validation.billing import BookingBilling, check_charge_flags, refuse_public_override
from bookings.validation.events import CleanEvent, clean_visitors
from bookings.validation.fields import clean_note, clean_title, validate_contact
from bookings.validation.submission import CleanSubmission, check_repeat_allowed, validate_submission
from core.actor import Actor
from core.errors import DomainError, FieldError, NotFound, ValidationFailed
from core.ids import as_uuid
from core.tokens import new_token
from events.models import Event, EventStatus
from events.services.scheduling import ConflictAtInsert
from events.services.status import events_set_status
from notifications.services import NotificationSpec
from resources.config_cache import StaleConfiguration, config_check
from resources.models import Organization, Resource

from ..models import (
    Booking,
    BookingEvent,
    BookingLogAction,
    BookingModule,
    BookingStatus,
    BookingVisitor,
    Contact,
    Customer,
    Portal,
    PortalStatus,
)
from ..notify import admin_email, booker_email, notify, notify_admin, notify_booker, notify_visitors
from .audit import booking_emit, log_write, rules_override_note, skipped_note, snapshot
from .decide import booking_approve, resolve
from .requested_times import (
    build_booking_events,
    describe_conflict,
    hold_or_check,
    insert_booking_events,
    link_events,
    load_booking_events,
    save_events,
    with_resources,
)
from .transitions import CREATE, DECIDED_STATUSES, BookingResult, S, transition_apply

# The webhook of a booking staff create: the status it starts in.
CREATED_EVENT_TYPES = {
    S.PENDING: "booking.submitted",
    S.APPROVED: "booking.approved",
    S.DENIED: "booking.denied",
    S.CANCELED: "booking.canceled",
}


# One statement whether the contact exists or not, and safe when two submits bring a new email at once:
# the unique index on (lower(email), organization) decides, and the no-op update makes the existing row come
# back through RETURNING (PostgreSQL and SQLite alike).
_CONTACT_UPSERT = """
INSERT INTO bookings_contact (id, created_at, updated_at, organization_id, customer_id, name, email, phone)
VALUES (%s, %s, %s, %s, NULL, %s, %s, %s)
ON CONFLICT (lower(email), organization_id) WHERE NOT (email = '') DO UPDATE SET email = bookings_contact.email
RETURNING id, created_at, updated_at, organization_id, customer_id, name, email, phone,
    (SELECT config_version FROM resources_organization WHERE id = bookings_contact.organization_id) AS config_version
"""


def _contact_record(booking_org: Organization, answers: dict[str, Any], config_version: int | None) -> Contact | None:
    """The organization's contact with this email (any letter case), created on first sight. The same
    statement reads the organization's configuration version: StaleConfiguration when `config_version` (the
    one the submit read its form at, unchecked) is not current."""
    email = answers.get("email")
    if not email:
        config_check(booking_org.pk, config_version)
        return None
    connection = transaction.get_connection()
    pk_field = Contact._meta.pk
    assert pk_field is not None
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    params = [
        pk_field.get_db_prep_value(uuid4(), connection),
        stamp,
        stamp,
        pk_field.get_db_prep_value(booking_org.pk, connection),
        answers.get("name", ""),
        email,
        answers.get("phone") or "",
    ]
    contact = next(iter(Contact.objects.raw(_CONTACT_UPSERT, params)))
    if config_version is not None and getattr(contact, "config_version", None) != config_version:
        raise StaleConfiguration
    return contact


def _new_booking(
    *,
    module: BookingModule,
    portal: Portal | None,
    status: int,
    submission: bool,
    clean: CleanSubmission,
    title: str | None,
    request_note: str,
    customer: Customer | None,
    contact: Contact | None,
    billing_choices: BookingBilling | None = None,
    insert_events: bool = True,
    config_version: int | None = None,
    internal_notes: str = "",
) -> tuple[Booking, str, list[BookingEvent]]:
    """The booking row and its requested times (`insert_events` False: built, for the caller to insert once
    their event and estimate are known, saving an update of each)."""
    token, token_hash = new_token()
    title = clean_title(title)
    booking = Booking(
        organization=module.organization,
        module=module,
        portal=portal,
        customer=customer,
        contact=contact or _contact_record(module.organization, clean.contact, config_version),
        status=status,
        submission=submission,
        title=title or (clean.events[0].title if clean.events else "Booking"),
        contact_answers=clean.contact,
        request_note=clean_note(request_note),
        internal_notes=internal_notes,
        access_token_hash=token_hash,
    )
    apply_booking_billing(booking, billing_choices)
    booking.save(force_insert=True)
    booking_events = build_booking_events(booking, clean.events)
    if insert_events:
        insert_booking_events(booking_events, clean.events)
    return booking, token, with_resources(booking_events, clean.events)


def booking_submit(
    *,
    module: BookingModule,
    portal: Portal,
    contact: Any,
    events: Any,
    single_event: bool = False,
    title: str | None = None,
    request_note: str = "",
    visitors: Any = None,
    actor: Actor | None = None,
    now: datetime | None = None,
    billing_choices: BookingBilling | None = None,
    config_version: int | None = None,
) -> BookingResult:
    """A booker's request: validated against the module's form and the resources' rules, PENDING, and
    (when the module holds pending slots) holding its times with TENTATIVE events. `repeat` only when the
    module allows repeat requests. Errors keep their detail (conflicting events); what shows them to the
    public passes them through validation.public_errors.

    `visitors` ([{name, email}], see validation.clean_visitors) are invited when the booking is approved.
    Instant confirmation (see _auto_approves): the request is then approved in the same transaction by
    booking_approve itself (actor: the system), and the booker gets the approval email with the private
    link instead of "received"; the module admin a notice instead of "new request".

    `config_version`: the module and portal were read from the configuration cache at that version without
    a check (bookings.module_cache.submit_config); the first write checks it, and so does a refusal before
    any write: StaleConfiguration when the form changed since, and nothing is written."""
    actor = actor or Actor.booker((contact or {}).get("email", "") if isinstance(contact, dict) else "")
    try:
        _check_published(module, portal)
        check_repeat_allowed(module=module, events=events, single_event=single_event)
        refuse_public_override(events, single_event=single_event)
        check_charge_flags(billing_choices, approved=False)
        clean = validate_submission(module=module, contact=contact, events=events, single_event=single_event, now=now)
    except DomainError:
        config_check(module.organization_id, config_version)  # never a refusal read from an older form
        raise
    try:
        return _submit_write(
            module=module,
            portal=portal,
            clean=clean,
            title=title,
            request_note=request_note,
            visitors=visitors,
            actor=actor,
            now=now,
            billing_choices=billing_choices,
            config_version=config_version,
        )
    except ConflictAtInsert as error:
        raise describe_conflict(clean, error) from error


def _check_published(module: BookingModule, portal: Portal) -> None:
    if (
        portal.organization_id != module.organization_id
        or portal.status != PortalStatus.LIVE
        or portal.pk not in {p.pk for p in module.portals.all()}  # prefetched by the configuration cache
    ):
        raise NotFound("This booking form is not published.")


def _submit_write(
    *,
    module: BookingModule,
    portal: Portal,
    clean: CleanSubmission,
    title: str | None,
    request_note: str,
    visitors: Any,
    actor: Actor,
    now: datetime | None,
    billing_choices: BookingBilling | None,
    config_version: int | None,
) -> BookingResult:
    """booking_submit's transaction: each row written once (the requested times are inserted with their hold
    and estimate), the holds checked by the database's constraint where it can (events_save's `optimistic`)."""
    with transaction.atomic():
        guests = clean_visitors(visitors, _resources_of(clean))
        booking, token, booking_events = _new_booking(
            module=module,
            portal=portal,
            status=BookingStatus.PENDING,
            submission=True,
            clean=clean,
            title=title,
            request_note=request_note,
            customer=None,
            contact=None,
            billing_choices=billing_choices,
            insert_events=False,
            config_version=config_version,
        )
        _add_visitors(booking, guests)
        held, booking_events = hold_or_check(module, booking_events, clean, optimistic=True)
        booking_estimate(
            booking=booking, booking_events=booking_events, now=now, fields=[ce.field for ce in clean.events]
        )
        insert_booking_events(booking_events, clean.events)
        log_write(booking, actor, BookingLogAction.SUBMIT, {}, snapshot(booking, booking_events))
        if _auto_approves(module, clean):
            booking_emit(booking, "booking.submitted")
            approved = booking_approve(
                booking_id=booking.pk,
                actor=Actor.system(),
                client_last_updated_at=None,
                now=now,
                access_token=token,
                note=AUTO_APPROVED_NOTE,
            )
            notify_admin(
                approved.booking,
                "admin_booking_auto_approved",
                approved.booking_events or load_booking_events(approved.booking),  # as the approval left them
                note=approved.booking.request_note,
            )
            return BookingResult(booking=approved.booking, events=approved.events, access_token=token)
        notify(
            booker_email(booking, "booking_received", booking_events, access_token=token),
            admin_email(booking, "admin_new_request", booking_events, note=booking.request_note),
        )
        booking_emit(booking, "booking.submitted")
    return BookingResult(
        booking=booking,
        events=held,
        access_token=token,
        booking_events=booking_events,
        visitors=[{"name": v["name"], "email": v["email"]} for v in guests],
    )


AUTO_APPROVED_NOTE = "Approved automatically: the module approves at once, and no resource requires approval."


def _auto_approves(module: BookingModule, clean: CleanSubmission) -> bool:
    """Instant confirmation (docs/architecture.md#instant-confirmation): the module says so and no resource
    of any requested time requires approval. Rules and conflicts were checked by the submit already and are
    checked again by the approval; a request mixing resources that require approval with ones that do not
    stays pending as a whole."""
    return (
        module.auto_approve
        and bool(clean.events)
        and all(not r.requires_approval for ce in clean.events for r in ce.resources)
    )


def _resources_of(clean: CleanSubmission) -> list[Resource]:
    return list({r.pk: r for ce in clean.events for r in ce.resources}.values())


def _add_visitors(booking: Booking, visitors: Sequence[dict[str, str]]) -> None:
    if visitors:
        BookingVisitor.objects.bulk_create(
            [BookingVisitor(booking=booking, name=v["name"], email=v["email"]) for v in visitors]
        )


def booking_create(
    *,
    module: BookingModule,
    actor: Actor,
    status: int = BookingStatus.PENDING,
    contact: Any = None,
    events: Any = None,
    single_event: bool = False,
    portal: Portal | None = None,
    title: str | None = None,
    request_note: str = "",
    event_id: UUID | str | None = None,
    customer_id: Any = None,
    contact_id: Any = None,
    notification: NotificationSpec | None = None,
    override_rules: bool = False,
    skip_conflicts: bool = False,
    visitors: Any = None,
    now: datetime | None = None,
    billing_choices: BookingBilling | None = None,
    submission: bool = False,
    internal_notes: str = "",
) -> BookingResult:
    """Staff create a booking in any status. APPROVED links an existing event (`event_id`) or creates
    CONFIRMED events; PENDING behaves like a submission; DENIED and CANCELED only record the request.
    An email goes out only when `notification` asks for one.

    `submission` true records a request on the booker's behalf: PENDING (any other `status` is 400 INVALID
    at bookingStatus), stored as a submission, and the booker gets the "received" email with the private
    link and the module admin "new request", as after a public submit (`notification` does not apply).
    `internal_notes`: staff's notes, never shown to the booker.

    With `skip_conflicts`, occurrences of a repeated request that break a rule or conflict are left out
    and the rest booked; the result's `skipped` lists them (one error each, with its date) and the log's
    note names them. A repeated request with no free occurrence is still refused."""
    if isinstance(status, bool) or status not in BookingStatus.values:
        raise ValidationFailed(errors=[FieldError("bookingStatus", "INVALID", "bookingStatus is 0, 1, 2 or 3.")])
    if submission and status != BookingStatus.PENDING:
        raise ValidationFailed(
            errors=[
                FieldError(
                    "bookingStatus",
                    "INVALID",
                    "A request recorded on the booker's behalf (submission true) is pending: send bookingStatus 0 "
                    "or leave it out.",
                )
            ]
        )
    org = module.organization
    if portal is not None and portal.organization_id != org.pk:
        raise ValidationFailed(errors=[FieldError("portalId", "NOT_FOUND", "No such portal.")])
    check_charge_flags(billing_choices, approved=status == BookingStatus.APPROVED)
    with transaction.atomic():
        customer = resolve(Customer, org, customer_id, "customerId")
        contact_obj = resolve(Contact, org, contact_id, "contactId")
        linked = _linked_event(org, event_id, status) if event_id else None
        if linked is not None:
            clean = _linked_clean(module, contact, linked)
        else:
            check = not override_rules and status in (BookingStatus.PENDING, BookingStatus.APPROVED)
            clean = validate_submission(
                module=module,
                contact=contact,
                events=events,
                single_event=single_event,
                check_rules=check,
                now=now,
                skip_failing=skip_conflicts,
            )
        guests = clean_visitors(visitors, _resources_of(clean))
        booking, token, booking_events = _new_booking(
            module=module,
            portal=portal,
            status=status,
            submission=submission,
            clean=clean,
            title=title,
            request_note=request_note,
            customer=customer,
            contact=contact_obj,
            billing_choices=billing_choices,
            internal_notes=internal_notes,
        )
        _add_visitors(booking, guests)
        result_events, booking_events = _created_events(
            module, booking_events, clean, linked, status, skip=skip_conflicts
        )
        _created_price(
            booking,
            booking_events,
            clean,
            actor,
            status,
            now=now,
            linked=linked is not None,
            billing_choices=billing_choices,
        )
        if status in DECIDED_STATUSES:
            transition_apply(booking, CREATE, actor)
        note = rules_override_note(clean.events, org, now) if override_rules and not linked else ""
        note = "; ".join(filter(None, [ON_BEHALF_NOTE if submission else "", note, skipped_note(clean.skipped)]))
        log_write(booking, actor, BookingLogAction.CREATE, {}, snapshot(booking, booking_events), note=note)
        if submission:  # as after a public submit: the booker needs the private link
            notify(
                booker_email(booking, "booking_received", booking_events, access_token=token),
                admin_email(booking, "admin_new_request", booking_events, note=booking.request_note),
            )
        elif notification is not None:
            _notify_created(booking, booking_events, status, notification, token)
        booking_emit(booking, CREATED_EVENT_TYPES[BookingStatus(status)])
    return BookingResult(booking=booking, events=result_events, access_token=token, skipped=clean.skipped)


ON_BEHALF_NOTE = "Recorded by staff on the booker's behalf"


def _linked_event(organization: Organization, event_id: Any, status: int) -> Event:
    """The existing event a staff create is based on (`eventId`), locked; only an approved booking may be."""
    if status != BookingStatus.APPROVED:
        raise ValidationFailed(
            errors=[FieldError("eventId", "INVALID", "Only an approved booking can be based on an event.")]
        )
    pk = as_uuid(event_id)
    event = (
        Event.objects.select_for_update(of=("self",)).filter(organization=organization, pk=pk).first() if pk else None
    )
    if event is None:
        raise ValidationFailed(errors=[FieldError("eventId", "NOT_FOUND", "No such event.")])
    if event.status == EventStatus.CANCELED:
        raise ValidationFailed(errors=[FieldError("eventId", "INVALID", "That event is canceled.")])
    if BookingEvent.objects.filter(event=event).exists():
        # Confirming another booking's hold (or sharing an approved event) would tie two bookings'
        # lifecycles to one calendar entry.
        raise ValidationFailed(
            errors=[FieldError("eventId", "EVENT_ALREADY_BOOKED", "That event already belongs to another booking.")]
        )
    return event


def _linked_clean(module: BookingModule, contact: Any, linked: Event) -> CleanSubmission:
    """The times come from the event; only the contact answers are checked."""
    contact_clean = validate_contact(module=module, contact=contact)
    resources = list(linked.resources.select_related("venue__organization"))
    return CleanSubmission(
        contact=contact_clean,
        events=[CleanEvent(title=linked.title, start=linked.start, end=linked.end, resources=resources)],
    )


def _created_events(
    module: BookingModule,
    booking_events: list[BookingEvent],
    clean: CleanSubmission,
    linked: Event | None,
    status: int,
    *,
    skip: bool,
) -> tuple[list[Event], list[BookingEvent]]:
    """The events of a staff create: the linked event (a hold confirmed), holds of a pending booking (or
    only the conflict check), CONFIRMED events of an approved one, none for a denied or canceled one."""
    if linked is not None:
        if linked.status == EventStatus.TENTATIVE:
            events_set_status(events=[linked], status=EventStatus.CONFIRMED)
        link_events(booking_events, [linked])
        return [linked], booking_events
    if status == BookingStatus.PENDING:
        return hold_or_check(module, booking_events, clean, skip=skip)
    if status == BookingStatus.APPROVED:
        events, booking_events = save_events(
            module.organization, clean, booking_events, status=EventStatus.CONFIRMED, skip=skip
        )
        link_events(booking_events, events)
        return events, booking_events
    return [], booking_events


def _created_price(
    booking: Booking,
    booking_events: list[BookingEvent],
    clean: CleanSubmission,
    actor: Actor,
    status: int,
    *,
    now: datetime | None,
    linked: bool,
    billing_choices: BookingBilling | None,
) -> None:
    """A pending or approved create is estimated; an approved one has its price fixed."""
    if status in (BookingStatus.PENDING, BookingStatus.APPROVED):
        booking_estimate(
            booking=booking,
            booking_events=booking_events,
            now=now,
            fields=[ce.field for ce in clean.events] if not linked else None,
        )
    if status == BookingStatus.APPROVED:
        choices = billing_choices or BookingBilling()
        booking_price_fix(
            booking=booking,
            booking_events=booking_events,
            actor=actor,
            now=now,
            charge_now=choices.charge_now,
            invoice_now=choices.invoice_now,
        )


def _notify_created(
    booking: Booking, booking_events: list[BookingEvent], status: int, notification: NotificationSpec, token: str
) -> None:
    """The email staff asked for with a create: the one of the status it starts in (visitors are invited
    to an approved booking); the private link only while the booking is live."""
    kind = {
        S.PENDING: "booking_received",
        S.APPROVED: "booking_approved",
        S.DENIED: "booking_denied",
        S.CANCELED: "booking_canceled",
    }[BookingStatus(status)]
    notify_booker(
        booking,
        kind,
        booking_events,
        spec=notification,
        access_token=token if status in (S.PENDING, S.APPROVED) else None,
    )
    if status == BookingStatus.APPROVED:
        notify_visitors(booking, booking_events, spec=notification)
