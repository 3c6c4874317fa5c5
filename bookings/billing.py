"""Prices, discounts, credit and charges in the booking lifecycle (issue 9).

bookings.pricing computes a price from plain terms; this module reads the terms, keeps the results and
moves the money. The lifecycle services (bookings.services) call it at a few points:

* **Submit / create / a pending booking's change** — `booking_estimate()`: the quote of every requested
  time is stored on its BookingEvent (`price`, `"fixed": false`). It is also the check of what the request
  says about paying: a bad `rateId`, product or code is a 400 at its path (`events[0].rateId`,
  `events[0].products[1]`, `discountCode`), and nothing is written. The estimate uses the credit that is
  available at that moment without reserving it; what the public sees of an estimate leaves credit out
  (bookings.selectors), so a booker cannot learn what credit an email address holds.
* **Approval** (and a staff create that approves) — `booking_price_fix()`, in the approval's transaction:
  the discount code row is locked and its uses counted again (INVALID_DISCOUNT_CODE when a concurrent
  approval took the last one); the credits are locked in id order and spent with a guarded update (the
  database also refuses a negative balance). When less credit is left than the estimate counted on, the
  approval fails with 409 CREDIT_UNAVAILABLE unless the request declines credit (`doNotUseBookingCredit`)
  or accepts what is left (`acceptAvailableCredit`): a booker told "paid by your credit" is never charged
  silently. The quote becomes the snapshot on the Event and the BookingEvent (`"fixed": true`): later rate
  changes do not touch it. Each event with something left to pay gets a Charge (against the customer, or
  the contact with `invoiceThisContact` or when there is no customer).
* **Cancel / delete** — `booking_events_release()`: for the events that have not started, credit is given
  back (CreditUse.returned_at, the balance restored under lock) and NOT_CHARGED charges become REVERTED.
  CHARGED and INVOICED charges stay, and the log says so: money taken or invoiced is corrected by staff
  (revert a charged one; a credit note for an invoice). An event that has started keeps its price, credit
  and charge: a late cancellation is still billed.
* **Staff override after approval** — `event_price_override()`: the snapshot gets the new amount (products,
  the discount and the credit already used are kept, within the new price), the NOT_CHARGED charge follows,
  and the log has computed and override amounts. A charged or invoiced charge refuses it (409).
* **Charges** — `charge_mark_charged`, `charge_mark_invoiced`, `charge_revert` move a charge along
  CHARGE_TRANSITIONS (409 INVALID_TRANSITION otherwise) and log the move on the booking; the series values
  of `whichEventsToUpdate` 4, 7 and 8 read `charged_event_ids()` and call `events_charges_revert()`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from core.errors import (
    ChargeLocked,
    CreditUnavailable,
    DomainError,
    FieldError,
    InvalidDiscountCode,
    InvalidProduct,
    InvalidTransition,
    NoApplicableRate,
    NotFound,
    RateNotApplicable,
    ValidationFailed,
)
from core.ids import as_uuid

from .models import (
    Booking,
    BookingCredit,
    BookingEvent,
    BookingLog,
    Charge,
    ChargeStatus,
    CreditUse,
    DiscountCode,
    DiscountCodeUse,
    charge_transition_allowed,
)
from .pricing import ZERO, CreditTerms, DiscountTerms, EventRequest, Quote, quote_event, quote_events, round_money
from .validation.billing import BookingBilling, EventBilling

if TYPE_CHECKING:
    from core.actor import Actor


# --- what a request says about paying --------------------------------------------------------------------


def apply_booking_billing(booking: Booking, billing: BookingBilling | None) -> None:
    """Copy the request's choices to the (unsaved or locked) booking; the code must exist (its other
    conditions are checked by the quote)."""
    if billing is None:
        return
    booking.discount_code = _code_row(booking.organization_id, billing.discount_code)
    booking.do_not_use_booking_credit = billing.do_not_use_booking_credit
    booking.invoice_this_contact = billing.invoice_this_contact
    booking.purchase_order = billing.purchase_order[:200]


def _code_row(organization_id: Any, code: str | None) -> DiscountCode | None:
    if not code:
        return None
    row = DiscountCode.objects.filter(organization_id=organization_id, code__iexact=code.strip()).first()
    if row is None:
        message = "There is no such discount code."
        raise InvalidDiscountCode(message, [FieldError("discountCode", InvalidDiscountCode.code, message)])
    return row


# --- quotes ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One requested time to price: where its errors are filed, when, on what, with which choices."""

    field: str
    start: datetime
    end: datetime
    resource_ids: tuple[UUID, ...]
    billing: EventBilling


def item_of(be: BookingEvent, field: str) -> Item:
    return Item(field=field, start=be.start, end=be.end, resource_ids=tuple(r.pk for r in be.resources.all()),
                billing=EventBilling.of(be))


def _repath(error: FieldError, item: Item) -> FieldError:
    if error.field == "rateId":
        return replace(error, field=f"{item.field}.rateId")
    if error.field.startswith("products."):
        pid = error.field.split(".", 1)[1]
        index = next((k for k, (p, _) in enumerate(item.billing.products) if str(p) == pid), None)
        where = f"{item.field}.products[{index}]" if index is not None else f"{item.field}.products"
        return replace(error, field=where)
    return replace(error, field=item.field)


def _customer_id(booking: Booking) -> Any:
    if booking.customer_id:
        return booking.customer_id
    contact = booking.contact if booking.contact_id else None
    return contact.customer_id if contact is not None else None


def _discount(code: DiscountCode, *, contact_id: Any, booking_id: Any) -> DiscountTerms:
    uses = code.uses.exclude(booking_id=booking_id) if booking_id else code.uses.all()
    return DiscountTerms(
        id=code.pk, code=code.code, percentage=code.percentage, amount=code.amount, valid_from=code.valid_from,
        valid_until=code.valid_until, max_uses_total=code.max_uses_total,
        max_uses_per_contact=code.max_uses_per_contact, resource_ids=frozenset(r.pk for r in code.resources.all()),
        active=code.active, uses_total=uses.count(),
        uses_by_contact=uses.filter(contact_id=contact_id).count() if contact_id else 0,
    )


def _credit_owners(booking: Booking) -> Q:
    owners = Q(pk__in=[])
    if booking.contact_id:
        owners |= Q(contact_id=booking.contact_id)
    customer_id = _customer_id(booking)
    if customer_id:
        owners |= Q(customer_id=customer_id)
    return owners


def _credit_terms(credits: Iterable[BookingCredit]) -> list[CreditTerms]:
    from .selectors import credit_terms_of  # the selectors import the services, which import this module

    return credit_terms_of(credits)


def quote_items(*, booking: Booking, items: Sequence[Item], discount: DiscountTerms | None,
                credits: Sequence[CreditTerms], now: datetime) -> tuple[Quote, ...]:
    """The booking's quotes, in the order of `items`. Each time is first priced alone so that a rate or
    product problem is filed at its own path; then all together (a fixed discount and the credits are
    shared, the earliest times first)."""
    from .selectors import pricing_resources  # the selectors import the services, which import this module

    resources = pricing_resources({rid for item in items for rid in item.resource_ids})
    currency = booking.organization.currency
    customer_id = _customer_id(booking)
    requests = []
    for item in items:
        request = EventRequest(start=item.start, end=item.end,
                               resources=tuple(resources[rid] for rid in item.resource_ids if rid in resources),
                               rate_id=item.billing.rate_id, products=item.billing.products,
                               override_price=item.billing.override_price)
        try:
            quote_event(request, currency=currency, customer_id=customer_id)
        except (RateNotApplicable, NoApplicableRate, InvalidProduct) as exc:
            exc.errors = [_repath(e, item) for e in exc.errors]
            raise
        requests.append(request)
    return quote_events(requests, currency=currency, customer_id=customer_id, discount=discount, credits=credits,
                        use_credit=not booking.do_not_use_booking_credit, now=now)


def _field(index: int, count: int) -> str:
    return "event" if count == 1 else f"events[{index}]"


def booking_estimate(*, booking: Booking, booking_events: Sequence[BookingEvent], now: datetime | None = None,
                     fields: Sequence[str] | None = None) -> tuple[Quote, ...]:
    """Price the booking's requested times as they are now and store each quote on its BookingEvent
    (`"fixed": false`). Nothing is consumed. `fields`: where each time's errors are filed."""
    if not booking_events:
        return ()
    now = now or timezone.now()
    count = len(booking_events)
    items = [item_of(be, fields[i] if fields else _field(i, count)) for i, be in enumerate(booking_events)]
    discount = None
    if booking.discount_code_id:
        code = DiscountCode.objects.prefetch_related("resources").get(pk=booking.discount_code_id)
        discount = _discount(code, contact_id=booking.contact_id, booking_id=booking.pk)
    credits: list[CreditTerms] = []
    if not booking.do_not_use_booking_credit:
        credits = _credit_terms(BookingCredit.objects.filter(
            _credit_owners(booking), organization_id=booking.organization_id, balance__gt=0,
        ).prefetch_related("resources"))
    quotes = quote_items(booking=booking, items=items, discount=discount, credits=credits, now=now)
    stamp = timezone.now()
    for be, quote in zip(booking_events, quotes, strict=True):
        be.price = {**quote.to_snapshot(), "fixed": False}
        be.updated_at = stamp
    BookingEvent.objects.bulk_update(booking_events, ["price", "updated_at"])
    return quotes


def quote_clean(*, module: Any, clean_events: Sequence[Any], billing: BookingBilling | None,
                now: datetime | None = None) -> tuple[Quote, ...]:
    """The estimate of a request that is not stored (POST /bookings/validate, the public form's check):
    no contact is known, so no credit and no per-contact count of the code."""
    booking = Booking(organization=module.organization, organization_id=module.organization_id)
    apply_booking_billing(booking, billing)
    discount = None
    if booking.discount_code is not None:
        discount = _discount(booking.discount_code, contact_id=None, booking_id=None)
    booking.do_not_use_booking_credit = True
    items = [Item(field=ce.field, start=ce.start, end=ce.end, resource_ids=tuple(ce.resource_ids),
                  billing=getattr(ce, "billing", None) or EventBilling()) for ce in clean_events]
    return quote_items(booking=booking, items=items, discount=discount, credits=(), now=now or timezone.now())


def _money(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


def price_total(prices: Iterable[Mapping[str, Any] | None], currency: str, *, public: bool = False) -> dict | None:
    """The booking's sums of its times' prices (None when none is priced). `public` leaves credit out."""
    known = [p for p in prices if p]
    if not known:
        return None
    total = {key: round_money(sum((_money(p.get(key)) for p in known), ZERO), currency)
             for key in ("subtotal", "price", "creditUsed", "total")}
    discount = round_money(sum((_money((p.get("discount") or {}).get("amount")) for p in known), ZERO), currency)
    out = {"currency": currency, "subtotal": str(total["subtotal"]), "discount": str(discount),
           "price": str(total["price"]), "creditUsed": str(total["creditUsed"]), "total": str(total["total"]),
           "fixed": all(p.get("fixed") for p in known)}
    if public:
        out["creditUsed"], out["total"] = None, out["price"]
    return out


def public_price(price: Mapping[str, Any] | None) -> dict | None:
    """What a booker sees of a time's price: no credit. Anyone may submit a request with any email address;
    the credit an estimate (or an approval) used would tell them what credit that address holds."""
    if not price:
        return None
    return {**price, "credits": [], "creditUsed": None, "total": price.get("price")}


def has_price(prices: Iterable[Mapping[str, Any] | None]) -> bool:
    """Whether any of the times is priced at all (a rate, a product or an override): free resources have
    no price line on the public pages."""
    return any(p and (p.get("rates") or p.get("products") or p.get("overridePrice") is not None) for p in prices)


# --- approval: the price is fixed, the code counted, the credit spent, the charges made -------------------


def _log(booking: Booking, actor: Actor, action: str, before: dict, after: dict, note: str = "") -> None:
    BookingLog.objects.create(booking=booking, actor_kind=actor.kind, actor_user=actor.db_user,
                              actor_label=actor.label[:200], action=action, before=before, after=after, note=note)


def _owner(booking: Booking) -> dict[str, Any]:
    """Who a charge is against: the customer, or the contact (invoiceThisContact, or no customer)."""
    customer_id = None if booking.invoice_this_contact else _customer_id(booking)
    return {"customer_id": customer_id, "contact_id": None if customer_id else booking.contact_id}


def _describe(be: BookingEvent, tz: Any) -> str:
    return f"{be.title} {be.start.astimezone(tz):%Y-%m-%d %H:%M}"[:300]


def booking_price_fix(*, booking: Booking, booking_events: Sequence[BookingEvent], actor: Actor,
                      now: datetime | None = None, charge_now: bool = False, invoice_now: bool = False,
                      accept_available_credit: bool = False) -> tuple[Quote, ...]:
    """Fix the price of an approved booking's events (see the module's docstring), inside the caller's
    transaction, after the events were saved and linked and the customer and contact set."""
    if not booking_events:
        return ()
    now = now or timezone.now()
    count = len(booking_events)
    expected = sum((_money((be.price or {}).get("creditUsed")) for be in booking_events
                    if be.price and not be.price.get("fixed")), ZERO)
    discount = None
    if booking.discount_code_id:
        # Locked: a concurrent approval with the same code waits here, then counts the use this one wrote.
        code = (DiscountCode.objects.select_for_update(of=("self",)).prefetch_related("resources")
                .get(pk=booking.discount_code_id))
        discount = _discount(code, contact_id=booking.contact_id, booking_id=booking.pk)
    rows: list[BookingCredit] = []
    if not booking.do_not_use_booking_credit:
        # In id order, so two approvals sharing credits never wait on each other in a cycle; re-read after
        # the wait, so a balance another approval spent is seen spent.
        rows = list(BookingCredit.objects.select_for_update(of=("self",))
                    .filter(_credit_owners(booking), organization_id=booking.organization_id, balance__gt=0)
                    .prefetch_related("resources").order_by("pk"))
    items = [item_of(be, _field(i, count)) for i, be in enumerate(booking_events)]
    quotes = quote_items(booking=booking, items=items, discount=discount, credits=_credit_terms(rows), now=now)
    currency = booking.organization.currency
    used = sum((q.credit_used for q in quotes), ZERO)
    price = sum((q.price for q in quotes), ZERO)
    wanted = min(expected, price)
    if not booking.do_not_use_booking_credit and not accept_available_credit and used < wanted:
        message = (f"This request was estimated to use {round_money(expected, currency)} {currency} of booking "
                   f"credit; only {round_money(used, currency)} {currency} is left (another booking used it). "
                   "Approve with doNotUseBookingCredit, or with acceptAvailableCredit to use what is left.")
        raise CreditUnavailable(message, [FieldError("acceptAvailableCredit", CreditUnavailable.code, message,
                                                     {"expected": str(round_money(expected, currency)),
                                                      "available": str(round_money(used, currency))})])

    if discount is not None:
        DiscountCodeUse.objects.get_or_create(code_id=discount.id, booking=booking,
                                              defaults={"contact_id": booking.contact_id})
    spent: dict[UUID, Decimal] = {}
    uses = []
    for be, quote in zip(booking_events, quotes, strict=True):
        for line in quote.credits:
            spent[line.credit_id] = spent.get(line.credit_id, ZERO) + line.amount
            uses.append(CreditUse(credit_id=line.credit_id, booking=booking, booking_event=be, event=be.event,
                                  amount=line.amount))
    for credit_id, amount in sorted(spent.items(), key=lambda kv: str(kv[0])):
        # Guarded: never below zero, whatever happened since the read (the lock makes it the same read).
        if not BookingCredit.objects.filter(pk=credit_id, balance__gte=amount).update(
                balance=F("balance") - amount, updated_at=now):
            raise CreditUnavailable(errors=[FieldError("acceptAvailableCredit", CreditUnavailable.code,
                                                       "A booking credit was spent by another booking meanwhile.")])
    CreditUse.objects.bulk_create(uses)

    status, stamps = ChargeStatus.NOT_CHARGED, {}
    if invoice_now:
        status, stamps = ChargeStatus.INVOICED, {"charged_at": now, "invoiced_at": now}
    elif charge_now:
        status, stamps = ChargeStatus.CHARGED, {"charged_at": now}
    owner = _owner(booking)
    tz = booking.organization.tz
    charges, events, overrides = [], [], []
    for i, (be, quote) in enumerate(zip(booking_events, quotes, strict=True)):
        snapshot = {**quote.to_snapshot(), "fixed": True}
        be.price = snapshot
        if be.event is not None:
            be.event.price = snapshot
            events.append(be.event)
        if quote.override_price is not None:
            overrides.append(f"{_field(i, count)} override {quote.override_price} replaces computed "
                             f"{quote.computed_amount if quote.computed_amount is not None else 'none (no rate)'}")
        if quote.total > 0:
            charges.append(Charge(organization_id=booking.organization_id, booking=booking, booking_event=be,
                                  event=be.event, description=_describe(be, tz), amount=quote.total,
                                  currency=currency, status=status, purchase_order=booking.purchase_order,
                                  **owner, **stamps))
    BookingEvent.objects.bulk_update(booking_events, ["price"])
    if events:
        from events.models import Event

        Event.objects.bulk_update(events, ["price"])
    Charge.objects.bulk_create(charges)
    discount_amount = sum((q.discount_amount for q in quotes), ZERO)
    if not (price or discount is not None or used or overrides or charges):
        return quotes  # free (no rates): nothing to say beyond the approval's own log row
    _log(booking, actor, "price_fixed", {}, {
        "currency": currency, "price": str(price), "discount": str(discount_amount),
        "discountCode": discount.code if discount else None, "creditUsed": str(used),
        "total": str(sum((q.total for q in quotes), ZERO)), "charges": len(charges),
        "chargeStatus": ChargeStatus(status).name,
    }, note="; ".join(overrides))
    return quotes


# --- cancel and delete: credit given back, charges reverted ----------------------------------------------


def booking_events_release(*, booking: Booking, booking_events: Sequence[BookingEvent], actor: Actor,
                           now: datetime | None = None) -> None:
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
    charges = list(Charge.objects.select_for_update(of=("self",)).filter(booking_event_id__in=ids)
                   .exclude(status=ChargeStatus.REVERTED).order_by("pk"))
    reverted = [c for c in charges if c.status == ChargeStatus.NOT_CHARGED]
    kept = [c for c in charges if c.status != ChargeStatus.NOT_CHARGED]
    if reverted:
        Charge.objects.filter(pk__in=[c.pk for c in reverted]).update(
            status=ChargeStatus.REVERTED, reverted_at=now, updated_at=now)
    if not (back or charges):
        return
    note = [f"{len(reverted)} charge{'s' if len(reverted) != 1 else ''} reverted"] if reverted else []
    note += [f"charge {c.pk} ({round_money(c.amount, c.currency)} {c.currency}) is {ChargeStatus(c.status).name} "
             "and stays: revert it or issue a credit note" for c in kept]
    returned = round_money(sum(back.values(), ZERO), booking.organization.currency)
    _log(booking, actor, "charges_released", {}, {
        "creditReturned": str(returned), "chargesReverted": [str(c.pk) for c in reverted],
        "chargesKept": [str(c.pk) for c in kept]}, note="; ".join(note))


# --- staff override after approval ------------------------------------------------------------------------


def _current_charge(be: BookingEvent) -> Charge | None:
    return (Charge.objects.select_for_update(of=("self",)).filter(booking_event=be)
            .exclude(status=ChargeStatus.REVERTED).order_by("-created_at").first())


def event_price_override(*, booking: Booking, booking_event: BookingEvent, amount: Decimal, actor: Actor,
                         now: datetime | None = None) -> dict[str, Any]:
    """Replace the rates' amount in the fixed price of an approved booking's event (the caller holds the
    booking's lock). Products stay; a percentage discount is taken again from the new amount, a fixed one
    is kept within it; credit already used is kept within the new price (the rest given back). The
    NOT_CHARGED charge follows (or one is made); a charged or invoiced one refuses the change (409)."""
    now = now or timezone.now()
    old = booking_event.price
    if not old or not old.get("fixed"):
        raise ValidationFailed(errors=[FieldError("overridePrice", "NOT_PRICED",
                                                  "Only the price of an approved booking's event can be overridden.")])
    charge = _current_charge(booking_event)
    if charge is not None and charge.status != ChargeStatus.NOT_CHARGED:
        raise ChargeLocked(errors=[FieldError("overridePrice", ChargeLocked.code,
                                              f"The event's charge is {ChargeStatus(charge.status).name}: revert it "
                                              "first (or correct the invoice with a credit note).")])
    currency = old["currency"]
    override = round_money(amount, currency)
    products = sum((_money(p["amount"]) for p in old.get("products") or []), ZERO)
    subtotal = override + products
    discount = dict(old["discount"]) if old.get("discount") else None
    if discount is not None:
        if discount.get("percentage"):
            off = round_money(subtotal * _money(discount["percentage"]) / 100, currency)
        else:
            off = _money(discount["amount"])
        discount["amount"] = str(min(off, subtotal))
    price = subtotal - (_money(discount["amount"]) if discount else ZERO)
    credit_used = _money(old.get("creditUsed"))
    if credit_used > price:
        _give_back_credit(booking_event, credit_used - price, now)
        credit_used = price
    total = price - credit_used
    new = {**old, "overridePrice": str(override), "amount": str(override), "subtotal": str(subtotal),
           "discount": discount, "price": str(price), "creditUsed": str(credit_used), "total": str(total)}
    booking_event.price = new
    booking_event.save(update_fields=["price", "updated_at"])
    if booking_event.event_id:
        from events.models import Event

        Event.objects.filter(pk=booking_event.event_id).update(price=new)
    if charge is not None and total > 0:
        charge.amount, charge.updated_at = total, now
        charge.save(update_fields=["amount", "updated_at"])
    elif charge is not None:
        charge.status, charge.reverted_at = ChargeStatus.REVERTED, now
        charge.save(update_fields=["status", "reverted_at", "updated_at"])
    elif total > 0:
        Charge.objects.create(organization_id=booking.organization_id, booking=booking, booking_event=booking_event,
                              event_id=booking_event.event_id, amount=total, currency=currency,
                              description=_describe(booking_event, booking.organization.tz),
                              purchase_order=booking.purchase_order, **_owner(booking))
    _log(booking, actor, "price_override", {"amount": old.get("amount"), "total": old.get("total")},
         {"amount": str(override), "total": str(total)},
         note=f"{booking_event.title}: override {override} {currency} replaces computed "
              f"{old.get('computedAmount') or 'none'} (was {old.get('amount')})")
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


# --- charges -------------------------------------------------------------------------------------------------

_VERBS = {ChargeStatus.CHARGED: "charged", ChargeStatus.INVOICED: "invoiced", ChargeStatus.REVERTED: "reverted"}


def _charge_move(charge_id: Any, target: int, actor: Actor, now: datetime | None) -> Charge:
    now = now or timezone.now()
    with transaction.atomic():
        pk = as_uuid(charge_id)
        charge = Charge.objects.select_for_update(of=("self",)).filter(pk=pk).first() if pk else None
        if charge is None:
            raise NotFound("Charge not found.")
        if not charge_transition_allowed(charge.status, target):
            message = (f"A charge that is {ChargeStatus(charge.status).label.lower()} cannot be "
                       f"{_VERBS[ChargeStatus(target)]}.")
            raise InvalidTransition(message, [FieldError("status", InvalidTransition.code, message)])
        before = ChargeStatus(charge.status).name
        charge.status = target
        if target == ChargeStatus.CHARGED:
            charge.charged_at = now
        elif target == ChargeStatus.INVOICED:
            charge.invoiced_at = now
            charge.charged_at = charge.charged_at or now
        else:
            charge.reverted_at = now
        charge.save()
        _log(charge.booking, actor, f"charge_{_VERBS[ChargeStatus(target)]}", {"status": before},
             {"status": ChargeStatus(target).name},
             note=f"charge {charge.pk}: {round_money(charge.amount, charge.currency)} {charge.currency}")
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
        "event_id", "booking_event__event_id")
    wanted = set(ids)
    return {pk for pair in rows for pk in pair if pk in wanted}


def events_charges_revert(*, event_ids: Iterable[UUID], actor: Actor, now: datetime | None = None) -> list[Charge]:
    """Revert every charge of these events that is not final (NOT_CHARGED and CHARGED; INVOICED stays, as
    an invoice is corrected with a credit note). One log row per booking."""
    now = now or timezone.now()
    charges = list(Charge.objects.select_for_update(of=("self",)).select_related("booking")
                   .filter(_of_events(event_ids),
                           status__in=(ChargeStatus.NOT_CHARGED, ChargeStatus.CHARGED)).order_by("pk"))
    if not charges:
        return []
    Charge.objects.filter(pk__in=[c.pk for c in charges]).update(status=ChargeStatus.REVERTED, reverted_at=now,
                                                                  updated_at=now)
    by_booking: dict[UUID, list[Charge]] = {}
    for charge in charges:
        by_booking.setdefault(charge.booking_id, []).append(charge)
    for group in by_booking.values():
        _log(group[0].booking, actor, "charges_reverted",
             {"charges": {str(c.pk): ChargeStatus(c.status).name for c in group}},
             {"charges": {str(c.pk): ChargeStatus.REVERTED.name for c in group}},
             note=f"whichEventsToUpdate 8: {len(group)} charge{'s' if len(group) != 1 else ''} of the series reverted")
    return charges


# --- reading charges (the API list, the CSV export) ----------------------------------------------------------

CSV_COLUMNS = ("date", "organization", "customer", "contact", "booking title", "event start", "event end",
               "resources", "rate", "amount", "currency", "status", "purchase order", "charge id")


def charges_in_period(queryset: QuerySet[Charge], start: datetime | None, end: datetime | None) -> QuerySet[Charge]:
    """Charges whose event starts in [start, end) (a charge whose requested time is gone: by its own date)."""
    if start is not None:
        queryset = queryset.filter(Q(booking_event__start__gte=start)
                                   | Q(booking_event__isnull=True, created_at__gte=start))
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
    charges = list(queryset.select_related("organization", "booking__contact", "booking_event", "customer", "contact")
                   .order_by("created_at", "pk"))
    be_ids = [c.booking_event_id for c in charges if c.booking_event_id]
    names: dict[Any, list[str]] = {}
    for be_id, name in (BookingEvent.resources.through.objects.filter(bookingevent_id__in=be_ids)
                        .order_by("id").values_list("bookingevent_id", "resource__name")):
        names.setdefault(be_id, []).append(name)
    rows = []
    for c in charges:
        be = c.booking_event
        rows.append({
            "charge": c, "date": (be.start if be else c.created_at), "eventStart": be.start if be else None,
            "eventEnd": be.end if be else None, "resources": names.get(c.booking_event_id, []),
            "rate": _rate_names(be.price if be else None),
        })
    return rows


def charges_csv(queryset: QuerySet[Charge]) -> str:
    """The CSV for accounting: one line per charge, amounts as plain decimals with the currency's places."""
    from .pricing import currency_exponent

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in charges_rows(queryset):
        c = row["charge"]
        tz = c.organization.tz
        places = Decimal(1).scaleb(-currency_exponent(c.currency))
        writer.writerow([
            row["date"].astimezone(tz).date().isoformat(), _cell(c.organization.name),
            # The contact charged, else the booking's (who to ask about it).
            _cell(c.customer.name if c.customer else ""), _cell(str(c.contact or c.booking.contact or "")),
            _cell(c.booking.title), _local(row["eventStart"], tz), _local(row["eventEnd"], tz),
            _cell("; ".join(row["resources"])), _cell(row["rate"]), str(c.amount.quantize(places)), c.currency,
            ChargeStatus(c.status).name, _cell(c.purchase_order), str(c.pk),
        ])
    return out.getvalue()


def _local(moment: datetime | None, tz: Any) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""


def _cell(text: str) -> str:
    """Text that a spreadsheet would run as a formula (=, +, -, @ first) is quoted with an apostrophe."""
    return f"'{text}" if text and text[0] in "=+-@\t\r" else text


__all__ = [
    "DomainError", "booking_estimate", "booking_events_release", "booking_price_fix",
    "charge_mark_charged", "charge_mark_invoiced", "charge_revert", "charged_event_ids", "charges_csv",
    "event_price_override", "events_charges_revert",
]


def update_booking_billing(booking: Booking, changes: Mapping[str, Any] | None) -> None:
    """Staff's changes at approval to what the request said about paying: only the keys given change
    (discountCode "" or None removes the code)."""
    if not changes:
        return
    if "discountCode" in changes:
        booking.discount_code = _code_row(booking.organization_id, (changes["discountCode"] or "").strip() or None)
    if "doNotUseBookingCredit" in changes:
        booking.do_not_use_booking_credit = bool(changes["doNotUseBookingCredit"])
    if "invoiceThisContact" in changes:
        booking.invoice_this_contact = bool(changes["invoiceThisContact"])
    if "purchaseOrder" in changes:
        booking.purchase_order = (changes["purchaseOrder"] or "").strip()[:200]
