"""The estimate of a booking's price (docs/architecture.md#prices): what a request would cost as it is now,
stored on each requested time (`"fixed": false`) and nothing consumed, and the sums the pages show.

* **Submit / create / a pending booking's change** — `booking_estimate()`: the quote of every requested
  time is stored on its BookingEvent (`price`, `"fixed": false`). It is also the check of what the request
  says about paying: a bad `rateId`, product or code is a 400 at its path (`events[0].rateId`,
  `events[0].products[1]`, `discountCode`), and nothing is written. The estimate uses the credit that is
  available at that moment without reserving it; what the public sees of an estimate leaves credit out
  (`public_price`, `price_total(public=True)`), so a booker cannot learn what credit an email address holds.
* **A request that is not stored** (POST /bookings/validate, the public form's check) — `quote_clean()`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from django.utils import timezone

from bookings.pricing.money import ZERO, money, round_money
from bookings.validation.billing import BookingBilling, EventBilling
from core.errors import FieldError, InvalidProduct, NoApplicableRate, RateNotApplicable

from ..models import Booking, BookingCredit, BookingEvent, DiscountCode
from .quote import Quote, quote_event, quote_events
from .terms import (
    CreditTerms,
    DiscountTerms,
    EventRequest,
    booking_customer_id,
    code_row,
    credit_owners,
    credit_terms_of,
    discount_terms_of,
    pricing_resources,
)


def apply_booking_billing(booking: Booking, billing: BookingBilling | None) -> None:
    """Copy the request's choices to the (unsaved or locked) booking; the code must exist (its other
    conditions are checked by the quote)."""
    if billing is None:
        return
    booking.discount_code = code_row(booking.organization_id, billing.discount_code)
    booking.do_not_use_booking_credit = billing.do_not_use_booking_credit
    booking.invoice_this_contact = billing.invoice_this_contact
    booking.purchase_order = billing.purchase_order[:200]


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
    return Item(
        field=field,
        start=be.start,
        end=be.end,
        resource_ids=tuple(r.pk for r in be.resources.all()),
        billing=EventBilling.of(be),
    )


def _repath(error: FieldError, item: Item) -> FieldError:
    if error.field == "rateId":
        return replace(error, field=f"{item.field}.rateId")
    if error.field.startswith("products."):
        pid = error.field.split(".", 1)[1]
        index = next((k for k, (p, _) in enumerate(item.billing.products) if str(p) == pid), None)
        where = f"{item.field}.products[{index}]" if index is not None else f"{item.field}.products"
        return replace(error, field=where)
    return replace(error, field=item.field)


def quote_items(
    *,
    booking: Booking,
    items: Sequence[Item],
    discount: DiscountTerms | None,
    credits: Sequence[CreditTerms],
    now: datetime,
) -> tuple[Quote, ...]:
    """The booking's quotes, in the order of `items`. Each time is first priced alone so that a rate or
    product problem is filed at its own path; then all together (a fixed discount and the credits are
    shared, the earliest times first)."""
    resources = pricing_resources({rid for item in items for rid in item.resource_ids}, booking.organization_id)
    currency = booking.organization.currency
    customer_id = booking_customer_id(booking)
    requests = []
    for item in items:
        request = EventRequest(
            start=item.start,
            end=item.end,
            resources=tuple(resources[rid] for rid in item.resource_ids if rid in resources),
            rate_id=item.billing.rate_id,
            products=item.billing.products,
            override_price=item.billing.override_price,
        )
        try:
            quote_event(request, currency=currency, customer_id=customer_id)
        except (RateNotApplicable, NoApplicableRate, InvalidProduct) as exc:
            exc.errors = [_repath(e, item) for e in exc.errors]
            raise
        requests.append(request)
    return quote_events(
        requests,
        currency=currency,
        customer_id=customer_id,
        discount=discount,
        credits=credits,
        use_credit=not booking.do_not_use_booking_credit,
        now=now,
    )


def event_field(index: int, count: int) -> str:
    return "event" if count == 1 else f"events[{index}]"


def booking_estimate(
    *,
    booking: Booking,
    booking_events: Sequence[BookingEvent],
    now: datetime | None = None,
    fields: Sequence[str] | None = None,
) -> tuple[Quote, ...]:
    """Price the booking's requested times as they are now and store each quote on its BookingEvent
    (`"fixed": false`). Nothing is consumed. `fields`: where each time's errors are filed."""
    if not booking_events:
        return ()
    now = now or timezone.now()
    count = len(booking_events)
    items = [item_of(be, fields[i] if fields else event_field(i, count)) for i, be in enumerate(booking_events)]
    discount = None
    if booking.discount_code_id:
        code = DiscountCode.objects.prefetch_related("resources").get(pk=booking.discount_code_id)
        discount = discount_terms_of(code, contact_id=booking.contact_id, booking_id=booking.pk)
    credits: list[CreditTerms] = []
    if not booking.do_not_use_booking_credit and priced(booking, items):
        credits = credit_terms_of(
            BookingCredit.objects.filter(
                credit_owners(booking),
                organization_id=booking.organization_id,
                balance__gt=0,
            ).prefetch_related("resources")
        )
    quotes = quote_items(booking=booking, items=items, discount=discount, credits=credits, now=now)
    stamp = timezone.now()
    for be, quote in zip(booking_events, quotes, strict=True):
        be.price = {**quote.to_snapshot(), "fixed": False}
        be.updated_at = stamp
    saved = [be for be in booking_events if not be._state.adding]  # the others carry it into their insert
    if saved:
        BookingEvent.objects.bulk_update(saved, ["price", "updated_at"])
    return quotes


def priced(booking: Booking, items: Sequence[Item]) -> bool:
    """Whether anything could cost money (a rate or product of a resource, a price set by staff): credit is
    only looked up then (free resources, the common case, read none)."""
    if any(item.billing.override_price is not None or item.billing.products for item in items):
        return True
    terms = pricing_resources({rid for item in items for rid in item.resource_ids}, booking.organization_id)
    return any(t.rates or t.products for t in terms.values())


def quote_clean(
    *, module: Any, clean_events: Sequence[Any], billing: BookingBilling | None, now: datetime | None = None
) -> tuple[Quote, ...]:
    """The estimate of a request that is not stored (POST /bookings/validate, the public form's check):
    no contact is known, so no credit and no per-contact count of the code."""
    booking = Booking(organization=module.organization, organization_id=module.organization_id)
    apply_booking_billing(booking, billing)
    discount = None
    if booking.discount_code is not None:
        discount = discount_terms_of(booking.discount_code, contact_id=None, booking_id=None)
    booking.do_not_use_booking_credit = True
    items = [
        Item(
            field=ce.field,
            start=ce.start,
            end=ce.end,
            resource_ids=tuple(ce.resource_ids),
            billing=getattr(ce, "billing", None) or EventBilling(),
        )
        for ce in clean_events
    ]
    return quote_items(booking=booking, items=items, discount=discount, credits=(), now=now or timezone.now())


# --- what the pages show -----------------------------------------------------------------------------------


def price_total(
    prices: Iterable[Mapping[str, Any] | None], currency: str, *, public: bool = False
) -> dict[str, Any] | None:
    """The booking's sums of its times' prices (None when none is priced). `public` leaves credit out."""
    known = [p for p in prices if p]
    if not known:
        return None
    total = {
        key: round_money(sum((money(p.get(key)) for p in known), ZERO), currency)
        for key in ("subtotal", "price", "creditUsed", "total")
    }
    discount = round_money(sum((money((p.get("discount") or {}).get("amount")) for p in known), ZERO), currency)
    out = {
        "currency": currency,
        "subtotal": str(total["subtotal"]),
        "discount": str(discount),
        "price": str(total["price"]),
        "creditUsed": str(total["creditUsed"]),
        "total": str(total["total"]),
        "fixed": all(p.get("fixed") for p in known),
    }
    if public:
        out["creditUsed"], out["total"] = None, out["price"]
    return out


def public_price(price: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What a booker sees of a time's price: no credit. Anyone may submit a request with any email address;
    the credit an estimate (or an approval) used would tell them what credit that address holds."""
    if not price:
        return None
    return {**price, "credits": [], "creditUsed": None, "total": price.get("price")}


def has_price(prices: Iterable[Mapping[str, Any] | None]) -> bool:
    """Whether any of the times is priced at all (a rate, a product or an override): free resources have
    no price line on the public pages."""
    return any(p and (p.get("rates") or p.get("products") or p.get("overridePrice") is not None) for p in prices)
