"""Reads with logic for bookings, including the wire representation of bookings and their events.

The representation is built from `.values()` rows in a fixed number of queries (bookings, their
events, those events' resources, the Events, their reservations), whatever the number of bookings:
the list endpoint must stay fast at 10,000 bookings, and model instances plus serializers would be
several times slower.
"""

from __future__ import annotations

import hmac
from collections import defaultdict
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery
from django.http import HttpRequest
from django.utils.dateparse import parse_datetime

from core.db import in_values, timestamp_from_text, timestamp_text
from core.errors import FieldError, NotFound
from core.time import iso, local_times
from core.tokens import hash_token
from events.models import Event, EventStatus, Reservation
from events.selectors import events_payload, reservations_overlapping
from events.services.scheduling import EventSpec, conflicts_among
from resources.admin_base import scope
from resources.models import Product, Rate, Resource, ResourceUnit

from .models import (
    Booking,
    BookingChangeRequest,
    BookingEvent,
    BookingModule,
    BookingStatus,
    BookingVisitor,
    FormField,
    ModuleResource,
    Portal,
    PortalStatus,
)
from .pricing.estimate import price_total, public_price, quote_clean
from .validation.billing import BookingBilling
from .validation.submission import assess_submission

BOOKING_VALUES = (
    "id",
    "organization_id",
    "organization__timezone",
    "module_id",
    "portal_id",
    "customer_id",
    "contact_id",
    "status",
    "submission",
    "title",
    "contact_answers",
    "request_note",
    "internal_notes",
    "organization__currency",
    "discount_code__code",
    "do_not_use_booking_credit",
    "invoice_this_contact",
    "purchase_order",
)


BOOKING_EVENT_VALUES = (
    "id",
    "booking_id",
    "title",
    "start",
    "end",
    "attendees",
    "answers",
    "event_id",
    "repeat",
    "occurrence",
    "rate_id",
    "products",
    "override_price",
    "price",
    "unit_id",
)


def booking_by_access_token(token: str) -> Booking:
    """The booking behind a booker's private link; the token is compared by its hash only."""
    if not isinstance(token, str) or not token:
        raise NotFound("This link is not valid.")
    try:
        return Booking.objects.select_related("module", "organization").get(access_token_hash=hash_token(token))
    except Booking.DoesNotExist as exc:
        raise NotFound("This link is not valid.") from exc


def booking_token_matches(booking: Booking, token: Any) -> bool:
    if not isinstance(token, str) or not token or not booking.access_token_hash:
        return False
    return hmac.compare_digest(booking.access_token_hash, hash_token(token))


def bookings_overlapping(
    queryset: QuerySet[Booking], start: datetime | None = None, end: datetime | None = None
) -> QuerySet[Booking]:
    """Bookings with at least one requested time overlapping [start, end) (either bound optional)."""
    if start is None and end is None:
        return queryset
    events = BookingEvent.objects.filter(booking=OuterRef("pk"))
    if start is not None:
        events = events.filter(end__gt=start)
    if end is not None:
        events = events.filter(start__lt=end)
    return queryset.filter(Exists(events))


def _tz(name: str | None, fallback: str) -> ZoneInfo:
    return ZoneInfo(name or fallback)


def bookings_payload(
    bookings: QuerySet[Booking], *, staff: bool, with_events: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Bookings in their wire form (in the queryset's order) and, when asked, their Events."""
    # Timestamps as text (core.db.timestamp_text): Django's own conversion of 80,000 of them would be the
    # slowest part of a 10,000-booking list.
    rows = list(
        bookings.values(
            *BOOKING_VALUES, created_text=timestamp_text("created_at"), updated_text=timestamp_text("updated_at")
        )
    )
    ids = [r["id"] for r in rows]
    be_rows = list(
        BookingEvent.objects.filter(in_values("booking_id", ids))
        .order_by("booking_id", "order", "start")
        .values(
            *(name for name in BOOKING_EVENT_VALUES if name not in ("start", "end")),
            start_text=timestamp_text("start"),
            end_text=timestamp_text("end"),
        )
    )
    for be in be_rows:  # read as text (core.db.timestamp_text), compared and shown as instants
        be["start"], be["end"] = timestamp_from_text(be.pop("start_text")), timestamp_from_text(be.pop("end_text"))
    for r in rows:
        r["created_at"] = timestamp_from_text(r.pop("created_text"))
        r["updated_at"] = timestamp_from_text(r.pop("updated_text"))
    # The units (desks, seats) the events occupy, and the visitors: one query each, only when there is any.
    event_units = _event_units([be["event_id"] for be in be_rows if be["event_id"]])
    visitors: dict[Any, list[dict[str, str]]] = defaultdict(list)
    for booking_id, name, email in (
        BookingVisitor.objects.filter(in_values("booking_id", ids))
        .order_by("created_at", "name")
        .values_list("booking_id", "name", "email")
    ):
        visitors[booking_id].append({"name": name, "email": email})
    be_resources: dict[Any, list[str]] = defaultdict(list)
    be_tz: dict[Any, str] = {}
    for be_id, resource_id, venue_tz, venue_org_tz in (
        BookingEvent.resources.through.objects.filter(in_values("bookingevent_id", [be["id"] for be in be_rows]))
        .order_by("id")
        .values_list(
            "bookingevent_id", "resource_id", "resource__venue__timezone", "resource__venue__organization__timezone"
        )
    ):
        be_resources[be_id].append(str(resource_id))
        be_tz.setdefault(be_id, venue_tz or venue_org_tz)
    out = _wire_bookings(rows, be_rows, be_resources, be_tz, event_units, visitors, staff=staff)
    associated: list[dict[str, Any]] = []
    if with_events:
        booking_of = {be["event_id"]: be["booking_id"] for be in be_rows if be["event_id"]}
        associated = events_payload(
            Event.objects.filter(in_values("id", list(booking_of))).order_by("start", "id"), booking_of
        )
    return out, associated


def booking_written_payload(
    booking: Booking, booking_events: list[BookingEvent], visitors: list[dict[str, str]] | None, *, staff: bool
) -> dict[str, Any]:
    """booking_payload of a booking its service just wrote, from the objects it wrote (the booking, its
    requested times with their resources prefetched, event and price, its visitors in order; None: read
    them) instead of reading them back: what the submit and the approval answer with. Only the units its
    events occupy are read, when a resource has units. Read back when a requested time's resources were
    changed (their prefetched rows are gone)."""
    if not all("resources" in getattr(be, "_prefetched_objects_cache", {}) for be in booking_events):
        return booking_payload(booking, staff=staff)
    if visitors is None:
        visitors = [
            {"name": name, "email": email}
            for name, email in BookingVisitor.objects.filter(booking_id=booking.pk)
            .order_by("created_at", "name")
            .values_list("name", "email")
        ]
    row = {name: _written_value(booking, name) for name in BOOKING_VALUES}
    row["created_at"], row["updated_at"] = booking.created_at, booking.updated_at
    be_rows = [
        {"booking_id": booking.pk, **{name: getattr(be, name) for name in BOOKING_EVENT_VALUES if name != "booking_id"}}
        for be in booking_events
    ]
    be_resources = {be.pk: [str(r.pk) for r in be.resources.all()] for be in booking_events}
    be_tz = {
        be.pk: r.venue.timezone or booking.organization.timezone
        for be in booking_events
        for r in be.resources.all()[:1]
    }
    # The cached resources know whether they have units (archived ones included); any other resource might:
    # then the units its events occupy are read.
    with_units = any(getattr(r, "all_units", True) for be in booking_events for r in be.resources.all())
    event_ids = [be.event_id for be in booking_events if be.event_id] if with_units else []
    rows = _wire_bookings(
        [row], be_rows, be_resources, be_tz, _event_units(event_ids), {booking.pk: visitors}, staff=staff
    )
    return rows[0]


def _written_value(booking: Booking, name: str) -> Any:
    if name == "organization__timezone":
        return booking.organization.timezone
    if name == "organization__currency":
        return booking.organization.currency
    if name == "discount_code__code":
        return booking.discount_code.code if booking.discount_code_id and booking.discount_code else None
    return getattr(booking, name)


def _event_units(event_ids: list[Any]) -> dict[Any, list[dict[str, str]]]:
    event_units: dict[Any, list[dict[str, str]]] = defaultdict(list)
    if event_ids:
        for event_id, resource_id, unit_id, unit_name in (
            Reservation.objects.filter(in_values("event_id", event_ids), unit__isnull=False)
            .order_by("created_at", "pk")
            .values_list("event_id", "resource_id", "unit_id", "unit__name")
        ):
            event_units[event_id].append({"resourceId": str(resource_id), "unitId": str(unit_id), "name": unit_name})
    return event_units


def _wire_bookings(
    rows: list[dict[str, Any]],
    be_rows: list[dict[str, Any]],
    be_resources: dict[Any, list[str]],
    be_tz: dict[Any, str],
    event_units: dict[Any, list[dict[str, str]]],
    visitors: dict[Any, list[dict[str, str]]],
    *,
    staff: bool,
) -> list[dict[str, Any]]:
    """The wire form of booking rows (BOOKING_VALUES) with their requested times (BOOKING_EVENT_VALUES)."""
    org_tz = {r["id"]: r["organization__timezone"] for r in rows}
    events_by_booking: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for be in be_rows:
        tz = _tz(be_tz.get(be["id"]), org_tz[be["booking_id"]])
        start, end = be["start"], be["end"]
        events_by_booking[be["booking_id"]].append(
            {
                "id": str(be["id"]),
                "title": be["title"],
                "start": iso(start),
                "end": iso(end),
                "resourceIds": be_resources.get(be["id"], []),
                "attendees": be["attendees"],
                "answers": be["answers"],
                "eventId": str(be["event_id"]) if be["event_id"] else None,
                # The unit asked for (null: any), and the units its event occupies (assigned when it was written).
                "unitId": str(be["unit_id"]) if be["unit_id"] else None,
                "units": event_units.get(be["event_id"], []) if be["event_id"] else [],
                # The repeat rule this time is an occurrence of (create-only), and its place in the series.
                "repeat": be["repeat"] or None,
                "occurrence": be["occurrence"],
                **local_times(start, end, tz),
                "rateId": str(be["rate_id"]) if be["rate_id"] else None,
                "products": be["products"] or [],
                "overridePrice": None if be["override_price"] is None else str(be["override_price"]),
                # The estimate until approval ("fixed": false), then the price fixed on the Event.
                "price": be["price"] if staff else public_price(be["price"]),
            }
        )
    out = []
    for r in rows:
        events = events_by_booking.get(r["id"], [])
        item = {
            "id": str(r["id"]),
            "orgId": str(r["organization_id"]),
            "bookingModuleId": str(r["module_id"]),
            "portalId": str(r["portal_id"]) if r["portal_id"] else None,
            "customerId": str(r["customer_id"]) if r["customer_id"] else None,
            "contactId": str(r["contact_id"]) if r["contact_id"] else None,
            "status": r["status"],
            "submission": r["submission"],
            "title": r["title"],
            "contact": r["contact_answers"],
            "events": events,
            # The repeat the booking was requested with (its first repeated time's; each time has its own).
            "repeat": next((e["repeat"] for e in events if e["repeat"]), None),
            "requestNote": r["request_note"],
            "discountCode": r["discount_code__code"],
            "doNotUseBookingCredit": r["do_not_use_booking_credit"],
            "invoiceThisContact": r["invoice_this_contact"],
            "purchaseOrder": r["purchase_order"],
            "priceTotal": price_total([e["price"] for e in events], r["organization__currency"], public=not staff),
            "visitors": visitors.get(r["id"], []),
            "createdAt": iso(r["created_at"]),
            "lastUpdatedAt": iso(r["updated_at"]),
        }
        if staff:
            item["internalNotes"] = r["internal_notes"]
        out.append(item)
    return out


def booking_estimate_payload(
    *,
    module: BookingModule,
    events: Any,
    single_event: bool,
    discount_code: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """What a request would cost as the public sees it (no credit), for a request that validated: each
    time's estimate (repeats expanded) and the sums. Raises the pricing errors at their paths."""
    clean, _ = assess_submission(
        module=module,
        contact={},
        events=events,
        single_event=single_event,
        check_rules=False,
        check_contact=False,
        check_answers=False,
        now=now,
    )
    quotes = quote_clean(
        module=module, clean_events=clean.events, billing=BookingBilling(discount_code=discount_code), now=now
    )
    prices = [public_price({**q.to_snapshot(), "fixed": False}) for q in quotes]
    return {"events": prices, "priceTotal": price_total(prices, module.organization.currency, public=True)}


def booking_payload(booking: Booking, *, staff: bool) -> dict[str, Any]:
    return bookings_payload(Booking.objects.filter(pk=booking.pk), staff=staff)[0][0]


def _wire_event_changes(changes: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Requested times as every other datetime on the wire: UTC with a Z (they are stored as isoformat)."""
    out = []
    for change in changes or []:
        item = dict(change)
        for key in ("start", "end"):
            value = item.get(key)
            moment = parse_datetime(value) if isinstance(value, str) else None
            if moment is not None and moment.tzinfo is not None:
                item[key] = iso(moment)
        out.append(item)
    return out


def change_requests_payload(change_requests: QuerySet[BookingChangeRequest]) -> list[dict[str, Any]]:
    return [
        {
            "id": str(cr["id"]),
            "bookingId": str(cr["booking_id"]),
            "cancellation": cr["cancellation"],
            "contact": cr["contact_changes"],
            "events": _wire_event_changes(cr["event_changes"]),
            "requestNote": cr["request_note"],
            "createdAt": iso(cr["created_at"]),
        }
        for cr in change_requests.values(
            "id", "booking_id", "cancellation", "contact_changes", "event_changes", "request_note", "created_at"
        )
    ]


# --- configuration and the public module endpoints --------------------------------------------------


def active_fields_prefetch() -> Prefetch[str, QuerySet[FormField], str]:
    """A module's active form fields in form order, as `module.active_fields` (one query for a list)."""
    return Prefetch(
        "fields",
        queryset=FormField.objects.filter(archived=False).order_by("order", "created_at", "id"),
        to_attr="active_fields",
    )


def active_form_fields(module: BookingModule) -> list[FormField]:
    cached: list[FormField] | None = getattr(module, "active_fields", None)  # set by active_fields_prefetch
    if cached is not None:
        return cached
    return list(module.fields.filter(archived=False).order_by("order", "created_at", "id"))


def booking_modules_for_api() -> QuerySet[BookingModule]:
    """Modules with everything their representation needs: four queries for any number of them."""
    return BookingModule.objects.prefetch_related(
        active_fields_prefetch(),
        Prefetch("portals", queryset=Portal.objects.only("id")),
        Prefetch("resources", queryset=Resource.objects.only("id")),
    )


def portals_for_api() -> QuerySet[Portal]:
    return Portal.objects.prefetch_related(Prefetch("modules", queryset=BookingModule.objects.only("id")))


def _published(queryset: QuerySet[BookingModule]) -> QuerySet[BookingModule]:
    on_live_portal = BookingModule.portals.through.objects.filter(
        bookingmodule_id=OuterRef("pk"), portal__status=PortalStatus.LIVE
    )
    return queryset.filter(Exists(on_live_portal))


def public_booking_module(module_id: Any, *, with_form: bool = True) -> BookingModule:
    """A module the public may see: one on at least one LIVE portal; anything else is "not found".
    With the form: its active fields, its LIVE portals and its bookable resources (with their active units,
    the rates open to everyone and the active products), prefetched."""
    try:
        module_id = UUID(str(module_id))
    except ValueError as exc:
        raise NotFound("No such booking form.") from exc
    queryset = _published(BookingModule.objects.filter(pk=module_id))
    if with_form:
        queryset = queryset.prefetch_related(
            active_fields_prefetch(),
            Prefetch("portals", queryset=Portal.objects.filter(status=PortalStatus.LIVE), to_attr="live_portals"),
            Prefetch(
                "resources",
                to_attr="public_resources",
                queryset=Resource.objects.filter(archived=False)
                .select_related("venue__organization")
                .prefetch_related(
                    Prefetch("units", to_attr="active_units", queryset=ResourceUnit.objects.filter(archived=False)),
                    # What a public request may name: active rates reserved for no customer, active products.
                    Prefetch(
                        "rates",
                        to_attr="public_rates",
                        queryset=Rate.objects.filter(active=True, customer_links__isnull=True).order_by(
                            "price", "name", "id"
                        ),
                    ),
                    Prefetch(
                        "products",
                        to_attr="public_products",
                        queryset=Product.objects.filter(active=True).order_by("name", "id"),
                    ),
                ),
            ),
        )
    module = queryset.first()
    if module is None:
        raise NotFound("No such booking form.")
    return module


def public_busy(module: BookingModule, *, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """When the module's bookable resources are taken in [start, end), in one query: occupied periods
    (buffers included) and whether each is BOOKED or only REQUESTED (a pending request's hold, shown as
    such when the module's calendar says so). Never a title, an event id or a name."""
    return [
        {
            "resourceId": str(resource_id),
            "start": iso(busy_start),
            "end": iso(busy_end),
            "status": "REQUESTED" if requested else "BOOKED",
        }
        for resource_id, busy_start, busy_end, requested in public_busy_periods(module, start=start, end=end)
    ]


def public_busy_periods(
    module: BookingModule, *, start: datetime, end: datetime, resource_ids: Collection[UUID] | None = None
) -> list[tuple[UUID, datetime, datetime, bool]]:
    """public_busy's periods as (resource id, start, end, shown as requested), in one query; `resource_ids`:
    only those of the module's resources (a calendar of one resource reads only its own)."""
    offered = ModuleResource.objects.filter(module_id=module.pk, resource__archived=False)
    if resource_ids is not None:
        offered = offered.filter(resource_id__in=list(resource_ids))
    rows = (
        Reservation.objects.filter(
            resource_id__in=Subquery(offered.values("resource_id")), active=True, start__lt=end, end__gt=start
        )
        .order_by("start", "end", "resource_id")
        # As text (core.db.timestamp_text): a week of a busy module is thousands of timestamps.
        .values_list("resource_id", timestamp_text("start"), timestamp_text("end"), "event__status")
    )
    show_requested = module.calendar_show_requested
    return [
        (
            resource_id,
            timestamp_from_text(busy_start),
            timestamp_from_text(busy_end),
            show_requested and status == EventStatus.TENTATIVE,
        )
        for resource_id, busy_start, busy_end, status in rows
    ]


# --- the staff admin ------------------------------------------------------------------------------


def admin_queue_counts(request: HttpRequest) -> dict[str, int]:
    """Pending bookings and open change requests in the organizations the user can see: two counts."""
    pending = scope(Booking.objects.filter(status=BookingStatus.PENDING), request, org_path="organization")
    open_requests = scope(BookingChangeRequest.open.all(), request, org_path="booking__organization")
    return {"pending": pending.count(), "change_requests": open_requests.count()}


def bookings_conflicts(booking_ids: list[UUID]) -> dict[UUID, dict[UUID, list[FieldError]]]:
    """What each booking's requested times would collide with if it were approved now: booking id →
    booking event id → BOOKING_CONFLICT / CAPACITY_EXCEEDED errors (only bookings with a problem).

    Three queries for any number of bookings: their events, those events' resources, and the active
    reservations in the span they cover, judged by the same code the services use (buffers, capacity).
    A booking's own holds never count against it; other requests' holds do.
    """
    booking_events = list(
        BookingEvent.objects.filter(booking_id__in=booking_ids)
        .select_related("event")
        .prefetch_related(Prefetch("resources", queryset=Resource.objects.all()))
    )
    resources = {r.pk: r for be in booking_events for r in be.resources.all()}
    if not resources:
        return {}
    specs: dict[UUID, list[EventSpec]] = defaultdict(list)
    for be in booking_events:
        specs[be.booking_id].append(
            EventSpec(
                title=be.title,
                start=be.start,
                end=be.end,
                field=str(be.pk),
                resource_ids=[r.pk for r in be.resources.all()],
                event=be.event,
            )
        )
    window_end = max(be.end + timedelta(minutes=r.buffer_minutes) for be in booking_events for r in be.resources.all())
    reservations = list(
        reservations_overlapping(resource_ids=resources, start=min(be.start for be in booking_events), end=window_end)
    )
    out: dict[UUID, dict[UUID, list[FieldError]]] = {}
    for booking_id, booking_specs in specs.items():
        for error in conflicts_among(specs=booking_specs, resources=resources, reservations=reservations):
            out.setdefault(booking_id, {}).setdefault(UUID(error.field.split(".")[0]), []).append(error)
    return out
