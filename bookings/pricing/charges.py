"""Charges (docs/architecture.md#charge-statuses): what an approved event with a price costs, how its status
moves, and the reads for the list and the CSV export.

* **One writer of a status**: `charge_new()` gives a new charge row its initial status (NOT_CHARGED, or
  CHARGED / INVOICED for a staff create with chargeNow / invoiceNow); `charges_status_set()` is the only
  code that changes an existing charge's status, along CHARGE_TRANSITIONS (409 INVALID_TRANSITION
  otherwise). Every move goes through it: staff's moves, the release on cancel or delete and the staff
  override (bookings.pricing.fixing), the series' revert.
* **Staff's moves** — `charge_mark_charged`, `charge_mark_invoiced`, `charge_revert` lock the charge, move it
  and log the move on the booking; the series values of `whichEventsToUpdate` 4, 7 and 8
  (docs/architecture.md#series) read `charged_event_ids()` and call `events_charges_revert()`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db import transaction
from django.db.models import DateTimeField, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from bookings.pricing.money import currency_exponent, round_money
from core.errors import FieldError, InvalidTransition, NotFound
from core.exports import Cell, Table, csv_cell
from core.ids import as_uuid

from ..models import (
    Booking,
    BookingEvent,
    BookingLog,
    BookingLogAction,
    Charge,
    ChargeStatus,
    charge_transition_allowed,
)
from .terms import booking_customer_id

if TYPE_CHECKING:
    from core.actor import Actor


def pricing_log(
    booking: Booking,
    actor: Actor,
    action: BookingLogAction,
    before: dict[str, Any],
    after: dict[str, Any],
    note: str = "",
) -> None:
    """A row of the booking's log for a price, credit or charge change."""
    BookingLog.objects.create(
        booking=booking,
        actor_kind=actor.kind,
        actor_user=actor.db_user,
        actor_label=actor.label[:200],
        action=action,
        before=before,
        after=after,
        note=note,
    )


# --- a new charge: its initial status ----------------------------------------------------------------------


def _owner(booking: Booking) -> dict[str, Any]:
    """Who a charge is against: the customer, or the contact (invoiceThisContact, or no customer)."""
    customer_id = None if booking.invoice_this_contact else booking_customer_id(booking)
    return {"customer_id": customer_id, "contact_id": None if customer_id else booking.contact_id}


def _describe(be: BookingEvent, tz: Any) -> str:
    return f"{be.title} {be.start.astimezone(tz):%Y-%m-%d %H:%M}"[:300]


def charge_new(
    *,
    booking: Booking,
    booking_event: BookingEvent,
    amount: Decimal,
    currency: str,
    status: int = ChargeStatus.NOT_CHARGED,
    now: datetime,
) -> Charge:
    """An unsaved charge of `booking_event` (the caller saves or bulk-creates it): the one place a charge's
    first status is set, with the moment it implies (a staff create may charge or invoice at once)."""
    stamps: dict[str, datetime] = {}
    if status == ChargeStatus.INVOICED:
        stamps = {"charged_at": now, "invoiced_at": now}
    elif status == ChargeStatus.CHARGED:
        stamps = {"charged_at": now}
    elif status != ChargeStatus.NOT_CHARGED:
        raise ValueError(f"A new charge cannot be {ChargeStatus(status).name}.")
    return Charge(
        organization_id=booking.organization_id,
        booking=booking,
        booking_event=booking_event,
        event_id=booking_event.event_id,
        description=_describe(booking_event, booking.organization.tz),
        amount=amount,
        currency=currency,
        status=status,
        purchase_order=booking.purchase_order,
        **_owner(booking),
        **stamps,
    )


# --- the one writer of an existing charge's status -------------------------------------------------------------

_VERBS = {ChargeStatus.CHARGED: "charged", ChargeStatus.INVOICED: "invoiced", ChargeStatus.REVERTED: "reverted"}
_LOG_ACTIONS = {
    ChargeStatus.CHARGED: BookingLogAction.CHARGE_CHARGED,
    ChargeStatus.INVOICED: BookingLogAction.CHARGE_INVOICED,
    ChargeStatus.REVERTED: BookingLogAction.CHARGE_REVERTED,
}
_STAMPS = {
    ChargeStatus.CHARGED: "charged_at",
    ChargeStatus.INVOICED: "invoiced_at",
    ChargeStatus.REVERTED: "reverted_at",
}


def charges_status_set(charges: Sequence[Charge], target: int, *, now: datetime) -> None:
    """Move each charge (locked by the caller, with its current status) to `target`. Refused with 409
    INVALID_TRANSITION, and nothing written, unless CHARGE_TRANSITIONS allows every move. Stamps the moment
    (charged_at; invoiced_at, and charged_at when not yet set; reverted_at) in the database and on the rows."""
    target = ChargeStatus(target)
    for charge in charges:
        if not charge_transition_allowed(charge.status, target):
            verb = _VERBS.get(target, "set back to not charged")
            message = f"A charge that is {ChargeStatus(charge.status).label.lower()} cannot be {verb}."
            raise InvalidTransition(message, [FieldError("status", InvalidTransition.code, message)])
    if not charges:
        return
    values: dict[str, Any] = {"status": target, _STAMPS[target]: now, "updated_at": now}
    if target == ChargeStatus.INVOICED:
        values["charged_at"] = Coalesce(F("charged_at"), Value(now, output_field=DateTimeField()))
    Charge.objects.filter(pk__in=[c.pk for c in charges]).update(**values)
    for charge in charges:
        charge.status, charge.updated_at = target, now
        setattr(charge, _STAMPS[target], now)
        if target == ChargeStatus.INVOICED:
            charge.charged_at = charge.charged_at or now


# --- staff's moves -------------------------------------------------------------------------------------------


def _charge_move(charge_id: Any, target: int, actor: Actor, now: datetime | None) -> Charge:
    now = now or timezone.now()
    with transaction.atomic():
        pk = as_uuid(charge_id)
        charge = Charge.objects.select_for_update(of=("self",)).filter(pk=pk).first() if pk else None
        if charge is None:
            raise NotFound("Charge not found.")
        before = ChargeStatus(charge.status).name
        charges_status_set([charge], target, now=now)
        pricing_log(
            charge.booking,
            actor,
            _LOG_ACTIONS[ChargeStatus(target)],
            {"status": before},
            {"status": ChargeStatus(target).name},
            note=f"charge {charge.pk}: {round_money(charge.amount, charge.currency)} {charge.currency}",
        )
        return charge


def charge_mark_charged(*, charge_id: Any, actor: Actor, now: datetime | None = None) -> Charge:
    """NOT_CHARGED → CHARGED (the money was taken)."""
    return _charge_move(charge_id, ChargeStatus.CHARGED, actor, now)


def charge_mark_invoiced(*, charge_id: Any, actor: Actor, now: datetime | None = None) -> Charge:
    """NOT_CHARGED or CHARGED → INVOICED (final: an invoice is corrected with a credit note)."""
    return _charge_move(charge_id, ChargeStatus.INVOICED, actor, now)


def charge_revert(*, charge_id: Any, actor: Actor, now: datetime | None = None) -> Charge:
    """NOT_CHARGED or CHARGED → REVERTED (final)."""
    return _charge_move(charge_id, ChargeStatus.REVERTED, actor, now)


# --- series: which occurrences are charged, and reverting all of a series' charges --------------------------


CHARGED_STATUSES = (ChargeStatus.CHARGED, ChargeStatus.INVOICED)


def _of_events(event_ids: Iterable[UUID]) -> Q:
    ids = list(event_ids)
    return Q(event_id__in=ids) | Q(booking_event__event_id__in=ids)


def charged_event_ids(event_ids: Iterable[UUID]) -> set[UUID]:
    """The events among these that are charged: one of their charges is CHARGED or INVOICED. An event
    without a charge, or whose charges are NOT_CHARGED or REVERTED, is not charged."""
    ids = list(event_ids)
    rows = Charge.objects.filter(_of_events(ids), status__in=CHARGED_STATUSES).values_list(
        "event_id", "booking_event__event_id"
    )
    wanted = set(ids)
    return {pk for pair in rows for pk in pair if pk in wanted}


def events_charges_revert(*, event_ids: Iterable[UUID], actor: Actor, now: datetime | None = None) -> list[Charge]:
    """Revert every charge of these events that is not final (NOT_CHARGED and CHARGED; INVOICED stays, as
    an invoice is corrected with a credit note). One log row per booking."""
    now = now or timezone.now()
    charges = list(
        Charge.objects.select_for_update(of=("self",))
        .select_related("booking")
        .filter(_of_events(event_ids), status__in=(ChargeStatus.NOT_CHARGED, ChargeStatus.CHARGED))
        .order_by("pk")
    )
    if not charges:
        return []
    before = {charge.pk: ChargeStatus(charge.status).name for charge in charges}
    charges_status_set(charges, ChargeStatus.REVERTED, now=now)
    by_booking: dict[UUID, list[Charge]] = {}
    for charge in charges:
        by_booking.setdefault(charge.booking_id, []).append(charge)
    for group in by_booking.values():
        pricing_log(
            group[0].booking,
            actor,
            BookingLogAction.CHARGES_REVERTED,
            {"charges": {str(c.pk): before[c.pk] for c in group}},
            {"charges": {str(c.pk): ChargeStatus.REVERTED.name for c in group}},
            note=f"whichEventsToUpdate 8: {len(group)} charge{'s' if len(group) != 1 else ''} of the series reverted",
        )
    return charges


# --- reading charges (the API list, the CSV export) ----------------------------------------------------------


CSV_COLUMNS = (
    "date",
    "organization",
    "customer",
    "contact",
    "booking title",
    "event start",
    "event end",
    "resources",
    "rate",
    "amount",
    "currency",
    "status",
    "purchase order",
    "charge id",
)


def charges_in_period(queryset: QuerySet[Charge], start: datetime | None, end: datetime | None) -> QuerySet[Charge]:
    """Charges whose event starts in [start, end) (a charge whose requested time is gone: by its own date)."""
    if start is not None:
        queryset = queryset.filter(
            Q(booking_event__start__gte=start) | Q(booking_event__isnull=True, created_at__gte=start)
        )
    if end is not None:
        queryset = queryset.filter(Q(booking_event__start__lt=end) | Q(booking_event__isnull=True, created_at__lt=end))
    return queryset


def _rate_names(price: Mapping[str, Any] | None) -> str:
    if not price:
        return ""
    names = list(dict.fromkeys(line.get("rateName", "") for line in price.get("rates") or []))
    if price.get("overridePrice") is not None:
        names.append("override")
    return "; ".join(n for n in names if n)


def charges_rows(queryset: QuerySet[Charge]) -> list[dict[str, Any]]:
    """Charges as plain rows, in three queries whatever their number (charges with their booking, event,
    customer, contact and organization; the requested times' resources)."""
    charges = list(
        queryset.select_related("organization", "booking__contact", "booking_event", "customer", "contact").order_by(
            "created_at", "pk"
        )
    )
    be_ids = [c.booking_event_id for c in charges if c.booking_event_id]
    names: dict[Any, list[str]] = {}
    for be_id, name in (
        BookingEvent.resources.through.objects.filter(bookingevent_id__in=be_ids)
        .order_by("id")
        .values_list("bookingevent_id", "resource__name")
    ):
        names.setdefault(be_id, []).append(name)
    rows = []
    for c in charges:
        be = c.booking_event
        rows.append(
            {
                "charge": c,
                "date": (be.start if be else c.created_at),
                "eventStart": be.start if be else None,
                "eventEnd": be.end if be else None,
                "resources": names.get(c.booking_event_id, []),
                "rate": _rate_names(be.price if be else None),
            }
        )
    return rows


def charges_table(queryset: QuerySet[Charge]) -> Table:
    """The charges for accounting (core.exports writes it as CSV or XLSX): one row per charge, amounts as
    plain decimals with the currency's places, times in the organization's local time."""
    return Table("charges", list(CSV_COLUMNS), (_charge_cells(row) for row in charges_rows(queryset)))


def charges_csv(queryset: QuerySet[Charge]) -> str:
    """charges_table as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows([csv_cell(cell) for cell in row] for row in charges_table(queryset).rows)
    return out.getvalue()


def _charge_cells(row: dict[str, Any]) -> list[Cell]:
    """Typed cells (a spreadsheet sums the amounts and sorts the dates); times in the organization's zone."""
    c = row["charge"]
    tz = c.organization.tz
    places = Decimal(1).scaleb(-currency_exponent(c.currency))
    return [
        row["date"].astimezone(tz).date(),
        _cell(c.organization.name),
        # The contact charged, else the booking's (who to ask about it).
        _cell(c.customer.name if c.customer else ""),
        _cell(str(c.contact or c.booking.contact or "")),
        _cell(c.booking.title),
        _local(row["eventStart"], tz),
        _local(row["eventEnd"], tz),
        _cell("; ".join(row["resources"])),
        _cell(row["rate"]),
        c.amount.quantize(places),
        c.currency,
        ChargeStatus(c.status).name,
        _cell(c.purchase_order),
        str(c.pk),
    ]


def _local(moment: datetime | None, tz: Any) -> datetime | None:
    return moment.astimezone(tz) if moment else None


def _cell(text: str) -> str:
    """Text that a spreadsheet would run as a formula (=, +, -, @ first) is quoted with an apostrophe."""
    return f"'{text}" if text and text[0] in "=+-@\t\r" else text
