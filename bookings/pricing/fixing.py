"""Fixing a booking's price and following it afterwards (docs/architecture.md#prices,
docs/adr/0004-price-snapshot-fixed-on-approval.md). The lifecycle services call these inside their
transaction, after the booking was locked (docs/adr/0002-lock-order.md):

* **Approval** (and a staff create that approves) — `booking_price_fix()`: the discount code row is locked
  and its uses counted again (INVALID_DISCOUNT_CODE when a concurrent approval took the last one); the
  credits are locked in id order and spent with a guarded update (the database also refuses a negative
  balance). When less credit is left than the estimate counted on, the approval fails with 409
  CREDIT_UNAVAILABLE unless the request declines credit (`doNotUseBookingCredit`) or accepts what is left
  (`acceptAvailableCredit`): a booker told "paid by your credit" is never charged silently. The quote
  becomes the snapshot on the Event and the BookingEvent (`"fixed": true`): later rate changes do not touch
  it. Each event with something left to pay gets a Charge (against the customer, or the contact with
  `invoiceThisContact` or when there is no customer).
* **Cancel / delete** — `booking_events_release()`: for the events that have not started, credit is given
  back (CreditUse.returned_at, the balance restored under lock) and NOT_CHARGED charges become REVERTED.
  CHARGED and INVOICED charges stay, and the log says so: money taken or invoiced is corrected by staff
  (revert a charged one; a credit note for an invoice). An event that has started keeps its price, credit
  and charge: a late cancellation is still billed.
* **Staff override after approval** — `event_price_override()`: the snapshot gets the new amount (products,
  the discount and the credit already used are kept, within the new price), the NOT_CHARGED charge follows,
  and the log has computed and override amounts. A charged or invoiced charge refuses it (409).

A charge's status is written only by bookings.pricing.charges (docs/architecture.md#charge-statuses).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db.models import F
from django.utils import timezone

from bookings.pricing.money import ZERO, money, round_money
from core.errors import ChargeLocked, CreditUnavailable, FieldError, ValidationFailed
from events.models import Event

from ..models import (
    Booking,
    BookingCredit,
    BookingEvent,
    BookingLogAction,
    Charge,
    ChargeStatus,
    CreditUse,
    DiscountCode,
    DiscountCodeUse,
)
from .charges import charge_new, charges_status_set, pricing_log
from .estimate import Item, event_field, item_of, priced, quote_items
from .quote import Quote
from .terms import DiscountTerms, code_row, credit_owners, credit_terms_of, discount_terms_of

if TYPE_CHECKING:
    from core.actor import Actor


def update_booking_billing(booking: Booking, changes: Mapping[str, Any] | None) -> None:
    """Staff's changes at approval to what the request said about paying: only the keys given change
    (discountCode "" or None removes the code)."""
    if not changes:
        return
    if "discountCode" in changes:
        booking.discount_code = code_row(booking.organization_id, (changes["discountCode"] or "").strip() or None)
    if "doNotUseBookingCredit" in changes:
        booking.do_not_use_booking_credit = bool(changes["doNotUseBookingCredit"])
    if "invoiceThisContact" in changes:
        booking.invoice_this_contact = bool(changes["invoiceThisContact"])
    if "purchaseOrder" in changes:
        booking.purchase_order = (changes["purchaseOrder"] or "").strip()[:200]


# --- approval: the price is fixed, the code counted, the credit spent, the charges made -------------------


def _locked_terms(booking: Booking, items: Sequence[Item]) -> tuple[DiscountTerms | None, list[BookingCredit]]:
    """The booking's discount code and the credits it may spend, locked (no credit when nothing could cost
    money: free resources read none)."""
    discount = None
    if booking.discount_code_id:
        # Locked: a concurrent approval with the same code waits here, then counts the use this one wrote.
        code = (
            DiscountCode.objects.select_for_update(of=("self",))
            .prefetch_related("resources")
            .get(pk=booking.discount_code_id)
        )
        discount = discount_terms_of(code, contact_id=booking.contact_id, booking_id=booking.pk)
    rows: list[BookingCredit] = []
    if not booking.do_not_use_booking_credit and priced(booking, items):
        # In id order, so two approvals sharing credits never wait on each other in a cycle; re-read after
        # the wait, so a balance another approval spent is seen spent.
        rows = list(
            BookingCredit.objects.select_for_update(of=("self",))
            .filter(credit_owners(booking), organization_id=booking.organization_id, balance__gt=0)
            .prefetch_related("resources")
            .order_by("pk")
        )
    return discount, rows


def _check_credit(
    booking: Booking, *, expected: Decimal, used: Decimal, price: Decimal, accept_available_credit: bool
) -> None:
    """CREDIT_UNAVAILABLE when less credit is left than the estimate counted on (see the module)."""
    currency = booking.organization.currency
    wanted = min(expected, price)
    if not booking.do_not_use_booking_credit and not accept_available_credit and used < wanted:
        message = (
            f"This request was estimated to use {round_money(expected, currency)} {currency} of booking "
            f"credit; only {round_money(used, currency)} {currency} is left (another booking used it). "
            "Approve with doNotUseBookingCredit, or with acceptAvailableCredit to use what is left."
        )
        raise CreditUnavailable(
            message,
            [
                FieldError(
                    "acceptAvailableCredit",
                    CreditUnavailable.code,
                    message,
                    {"expected": str(round_money(expected, currency)), "available": str(round_money(used, currency))},
                )
            ],
        )


def _spend(
    booking: Booking,
    booking_events: Sequence[BookingEvent],
    quotes: Sequence[Quote],
    discount: DiscountTerms | None,
    now: datetime,
) -> None:
    """Count the code's use and spend the credit the quotes used."""
    if discount is not None:
        DiscountCodeUse.objects.get_or_create(
            code_id=discount.id, booking=booking, defaults={"contact_id": booking.contact_id}
        )
    spent: dict[UUID, Decimal] = {}
    uses = []
    for be, quote in zip(booking_events, quotes, strict=True):
        for line in quote.credits:
            spent[line.credit_id] = spent.get(line.credit_id, ZERO) + line.amount
            uses.append(
                CreditUse(
                    credit_id=line.credit_id, booking=booking, booking_event=be, event=be.event, amount=line.amount
                )
            )
    for credit_id, amount in sorted(spent.items(), key=lambda kv: str(kv[0])):
        # Guarded: never below zero, whatever happened since the read (the lock makes it the same read).
        if not BookingCredit.objects.filter(pk=credit_id, balance__gte=amount).update(
            balance=F("balance") - amount, updated_at=now
        ):
            raise CreditUnavailable(
                errors=[
                    FieldError(
                        "acceptAvailableCredit",
                        CreditUnavailable.code,
                        "A booking credit was spent by another booking meanwhile.",
                    )
                ]
            )
    CreditUse.objects.bulk_create(uses)


def _fix(
    booking: Booking, booking_events: Sequence[BookingEvent], quotes: Sequence[Quote], *, status: int, now: datetime
) -> tuple[list[Charge], list[str]]:
    """The snapshots on the booking events and their Events, and the charges (with their first status);
    returns the charges and the notes on overrides."""
    count = len(booking_events)
    currency = booking.organization.currency
    charges, events, overrides = [], [], []
    for i, (be, quote) in enumerate(zip(booking_events, quotes, strict=True)):
        snapshot = {**quote.to_snapshot(), "fixed": True}
        be.price = snapshot
        if be.event is not None:
            be.event.price = snapshot
            events.append(be.event)
        if quote.override_price is not None:
            overrides.append(
                f"{event_field(i, count)} override {quote.override_price} replaces computed "
                f"{quote.computed_amount if quote.computed_amount is not None else 'none (no rate)'}"
            )
        if quote.total > 0:
            charges.append(
                charge_new(
                    booking=booking, booking_event=be, amount=quote.total, currency=currency, status=status, now=now
                )
            )
    BookingEvent.objects.bulk_update(booking_events, ["price"])
    if events:
        Event.objects.bulk_update(events, ["price"])
    Charge.objects.bulk_create(charges)
    return charges, overrides


def booking_price_fix(
    *,
    booking: Booking,
    booking_events: Sequence[BookingEvent],
    actor: Actor,
    now: datetime | None = None,
    charge_now: bool = False,
    invoice_now: bool = False,
    accept_available_credit: bool = False,
) -> tuple[Quote, ...]:
    """Fix the price of an approved booking's events (see the module's docstring), inside the caller's
    transaction, after the events were saved and linked and the customer and contact set."""
    if not booking_events:
        return ()
    now = now or timezone.now()
    count = len(booking_events)
    expected = sum(
        (money((be.price or {}).get("creditUsed")) for be in booking_events if be.price and not be.price.get("fixed")),
        ZERO,
    )
    items = [item_of(be, event_field(i, count)) for i, be in enumerate(booking_events)]
    discount, rows = _locked_terms(booking, items)
    quotes = quote_items(booking=booking, items=items, discount=discount, credits=credit_terms_of(rows), now=now)
    used = sum((q.credit_used for q in quotes), ZERO)
    price = sum((q.price for q in quotes), ZERO)
    _check_credit(booking, expected=expected, used=used, price=price, accept_available_credit=accept_available_credit)
    _spend(booking, booking_events, quotes, discount, now)

    status = ChargeStatus.NOT_CHARGED
    if invoice_now:
        status = ChargeStatus.INVOICED
    elif charge_now:
        status = ChargeStatus.CHARGED
    charges, overrides = _fix(booking, booking_events, quotes, status=status, now=now)
    discount_amount = sum((q.discount_amount for q in quotes), ZERO)
    if not (price or discount is not None or used or overrides or charges):
        return quotes  # free (no rates): nothing to say beyond the approval's own log row
    pricing_log(
        booking,
        actor,
        BookingLogAction.PRICE_FIXED,
        {},
        {
            "currency": booking.organization.currency,
            "price": str(price),
            "discount": str(discount_amount),
            "discountCode": discount.code if discount else None,
            "creditUsed": str(used),
            "total": str(sum((q.total for q in quotes), ZERO)),
            "charges": len(charges),
            "chargeStatus": ChargeStatus(status).name,
        },
        note="; ".join(overrides),
    )
    return quotes


# --- cancel and delete: credit given back, charges reverted ----------------------------------------------


def booking_events_release(
    *, booking: Booking, booking_events: Sequence[BookingEvent], actor: Actor, now: datetime | None = None
) -> None:
    """The booking events' events end (canceled or deleted). For those that have not started, the credit
    they used is given back and their NOT_CHARGED charges are REVERTED; charged and invoiced charges stay
    and the log names them. Runs in the caller's transaction, after the booking was locked."""
    now = now or timezone.now()
    ids = [be.pk for be in booking_events if be.start > now]
    if not ids:
        return
    uses = list(CreditUse.objects.filter(booking_event_id__in=ids, returned_at__isnull=True))
    back: dict[UUID, Decimal] = {}
    for use in uses:
        back[use.credit_id] = back.get(use.credit_id, ZERO) + use.amount
    if back:
        list(BookingCredit.objects.select_for_update(of=("self",)).filter(pk__in=list(back)).order_by("pk"))
        for credit_id, amount in sorted(back.items(), key=lambda kv: str(kv[0])):
            BookingCredit.objects.filter(pk=credit_id).update(balance=F("balance") + amount, updated_at=now)
        CreditUse.objects.filter(pk__in=[u.pk for u in uses]).update(returned_at=now, updated_at=now)
    charges = list(
        Charge.objects.select_for_update(of=("self",))
        .filter(booking_event_id__in=ids)
        .exclude(status=ChargeStatus.REVERTED)
        .order_by("pk")
    )
    reverted = [c for c in charges if c.status == ChargeStatus.NOT_CHARGED]
    kept = [c for c in charges if c.status != ChargeStatus.NOT_CHARGED]
    charges_status_set(reverted, ChargeStatus.REVERTED, now=now)
    if not (back or charges):
        return
    note = [f"{len(reverted)} charge{'s' if len(reverted) != 1 else ''} reverted"] if reverted else []
    note += [
        f"charge {c.pk} ({round_money(c.amount, c.currency)} {c.currency}) is {ChargeStatus(c.status).name} "
        "and stays: revert it or issue a credit note"
        for c in kept
    ]
    returned = round_money(sum(back.values(), ZERO), booking.organization.currency)
    pricing_log(
        booking,
        actor,
        BookingLogAction.CHARGES_RELEASED,
        {},
        {
            "creditReturned": str(returned),
            "chargesReverted": [str(c.pk) for c in reverted],
            "chargesKept": [str(c.pk) for c in kept],
        },
        note="; ".join(note),
    )


# --- staff override after approval ------------------------------------------------------------------------


def _current_charge(be: BookingEvent) -> Charge | None:
    return (
        Charge.objects.select_for_update(of=("self",))
        .filter(booking_event=be)
        .exclude(status=ChargeStatus.REVERTED)
        .order_by("-created_at")
        .first()
    )


def event_price_override(
    *, booking: Booking, booking_event: BookingEvent, amount: Decimal, actor: Actor, now: datetime | None = None
) -> dict[str, Any]:
    """Replace the rates' amount in the fixed price of an approved booking's event (the caller holds the
    booking's lock). Products stay; a percentage discount is taken again from the new amount, a fixed one
    is kept within it; credit already used is kept within the new price (the rest given back). The
    NOT_CHARGED charge follows (or one is made); a charged or invoiced one refuses the change (409)."""
    now = now or timezone.now()
    old = booking_event.price
    if not old or not old.get("fixed"):
        raise ValidationFailed(
            errors=[
                FieldError(
                    "overridePrice", "NOT_PRICED", "Only the price of an approved booking's event can be overridden."
                )
            ]
        )
    charge = _current_charge(booking_event)
    if charge is not None and charge.status != ChargeStatus.NOT_CHARGED:
        raise ChargeLocked(
            errors=[
                FieldError(
                    "overridePrice",
                    ChargeLocked.code,
                    f"The event's charge is {ChargeStatus(charge.status).name}: revert it "
                    "first (or correct the invoice with a credit note).",
                )
            ]
        )
    currency = old["currency"]
    override = round_money(amount, currency)
    products = sum((money(p["amount"]) for p in old.get("products") or []), ZERO)
    subtotal = override + products
    discount = dict(old["discount"]) if old.get("discount") else None
    if discount is not None:
        if discount.get("percentage"):
            off = round_money(subtotal * money(discount["percentage"]) / 100, currency)
        else:
            off = money(discount["amount"])
        discount["amount"] = str(min(off, subtotal))
    price = subtotal - (money(discount["amount"]) if discount else ZERO)
    credit_used = money(old.get("creditUsed"))
    if credit_used > price:
        _give_back_credit(booking_event, credit_used - price, now)
        credit_used = price
    total = price - credit_used
    new = {
        **old,
        "overridePrice": str(override),
        "amount": str(override),
        "subtotal": str(subtotal),
        "discount": discount,
        "price": str(price),
        "creditUsed": str(credit_used),
        "total": str(total),
    }
    booking_event.price = new
    booking_event.save(update_fields=["price", "updated_at"])
    if booking_event.event_id:
        Event.objects.filter(pk=booking_event.event_id).update(price=new)
    if charge is not None and total > 0:
        charge.amount, charge.updated_at = total, now
        charge.save(update_fields=["amount", "updated_at"])
    elif charge is not None:
        charges_status_set([charge], ChargeStatus.REVERTED, now=now)
    elif total > 0:
        charge_new(booking=booking, booking_event=booking_event, amount=total, currency=currency, now=now).save()
    pricing_log(
        booking,
        actor,
        BookingLogAction.PRICE_OVERRIDE,
        {"amount": old.get("amount"), "total": old.get("total")},
        {"amount": str(override), "total": str(total)},
        note=f"{booking_event.title}: override {override} {currency} replaces computed "
        f"{old.get('computedAmount') or 'none'} (was {old.get('amount')})",
    )
    return new


def _give_back_credit(be: BookingEvent, amount: Decimal, now: datetime) -> None:
    """Return `amount` of the credit this event used, the latest use first."""
    uses = list(CreditUse.objects.filter(booking_event=be, returned_at__isnull=True).order_by("-created_at", "-pk"))
    ids = [u.credit_id for u in uses]
    list(BookingCredit.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk"))
    left = amount
    for use in uses:
        if left <= 0:
            break
        part = min(use.amount, left)
        BookingCredit.objects.filter(pk=use.credit_id).update(balance=F("balance") + part, updated_at=now)
        if part == use.amount:
            use.returned_at = now
            use.save(update_fields=["returned_at", "updated_at"])
        else:
            use.amount -= part
            use.save(update_fields=["amount", "updated_at"])
        left -= part
