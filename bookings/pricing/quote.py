"""What a requested event costs (docs/architecture.md#prices): pure functions over plain, frozen terms —
no database access.

bookings.pricing.terms loads the terms from the models; bookings.pricing.estimate calls quote_events() on
submit (the estimate) and bookings.pricing.fixing on approval (the price fixed on the Event as
`to_snapshot()`, docs/adr/0004-price-snapshot-fixed-on-approval.md).

The rules, in the order they are applied to one event:

1. **Rates, per resource.** Only the resource's active rates that fit the booking's whole length
   (`min_minutes`/`max_minutes`) and its customer (a rate reserved for customers applies only to them)
   are considered. A resource without any active rate is free (no rate line).
2. **Parts.** The event is cut, in the venue's local time, at every local midnight and at every start and
   end of a rate's time window. A rate applies to a part when the part's local weekday is one of its
   weekdays and the part lies inside its window (no window: all day).
3. **Which rate.** With a named rate (`rateId`) that rate must apply to every part, else
   RATE_NOT_APPLICABLE. Without one, the cheapest of two ways wins: one rate applying to every part for the
   whole event (the cheapest such rate), or each part priced by its cheapest applicable rate — so an event
   from 17:00 to 19:00 with a day rate until 18:00 and an evening rate from 18:00 pays one hour of each.
   A part no rate covers is NO_APPLICABLE_RATE (staff may still set an override price).
4. **Units.** HOUR is pro rata by the minute (90 minutes at 10.00/h is 15.00): coworking spaces sell
   time, and rounding up to started hours would overcharge. DAY counts the local calendar days the event
   touches (09:00–17:00 is one day; Monday 18:00 to Tuesday 10:00 is two; an end at midnight does not
   touch the next day): calendar days are what the booker sees, they do not depend on DST, and they fit
   the parts above (each part lies in one day). BOOKING is the price once, whatever the length. When the
   parts chosen for one rate are merged into one line, a day is counted once and a BOOKING rate charged once.
5. **Override.** Staff's `overridePrice` replaces the rates' amount: a fixed price for the booking
   regardless of the rate (docs/architecture.md#prices). Products are still added and a discount code still applies:
   they are separate items and the booker's own code. The computed amount is kept in the quote, for the log.
6. **Products** are added per event: PER_USE is unit price × quantity, PER_MINUTE unit price × the
   event's minutes × quantity. A product must be an active product of one of the event's resources.
7. **Discount.** A code applies to the lines (rates, override, products) of the resources it names (none
   named: all). A percentage is taken from those lines; a fixed amount is per booking, spent on the
   booking's events in start order. Never more than the lines it applies to, so a price never goes below
   zero. Validity (active, window, uses) is checked at `now`, the moment the code is used.
8. **Credit** pays the price after discount unless the request says `doNotUseBookingCredit`: the credits
   valid for the event's start, those expiring first first, never more than a credit's balance nor the
   price. A credit restricted to resources pays only for events whose resources are all among them.

**Rounding** (docs/adr/0015-money-as-decimal-rounded-per-line.md): money is Decimal, never float, rounded
half up to the currency's minor unit (ISO 4217) once per line — each rate line, each product line, the
discount — so totals are exact sums of what is shown. Credit balances are rounded down when spent, so a
credit never pays more than it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from core.errors import FieldError, InvalidProduct, NoApplicableRate, RateNotApplicable
from resources.models import ProductUnit, RateUnit

from .money import ZERO, floor_money, plain_decimal, round_money
from .terms import CreditTerms, DiscountTerms, EventRequest, RateTerms, ResourceTerms, check_discount

# --- the result ----------------------------------------------------------------------------------------


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class RateLine:
    resource_id: UUID
    resource_name: str
    rate_id: UUID
    rate_name: str
    unit: int
    unit_price: Decimal
    quantity: Decimal  # hours, days or 1 (a booking)
    minutes: int  # of the event priced by this rate
    amount: Decimal

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "resourceId": str(self.resource_id),
            "resourceName": self.resource_name,
            "rateId": str(self.rate_id),
            "rateName": self.rate_name,
            "unit": int(self.unit),
            "unitPrice": _s(self.unit_price),
            "quantity": _s(self.quantity),
            "minutes": self.minutes,
            "amount": _s(self.amount),
        }


@dataclass(frozen=True)
class ProductLine:
    product_id: UUID
    name: str
    resource_id: UUID
    unit: int
    unit_price: Decimal
    quantity: int
    minutes: int | None  # PER_MINUTE: the event's minutes
    amount: Decimal

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "productId": str(self.product_id),
            "name": self.name,
            "resourceId": str(self.resource_id),
            "unit": int(self.unit),
            "unitPrice": _s(self.unit_price),
            "quantity": self.quantity,
            "minutes": self.minutes,
            "amount": _s(self.amount),
        }


@dataclass(frozen=True)
class DiscountLine:
    code_id: UUID
    code: str
    percentage: Decimal | None
    fixed_amount: Decimal | None
    amount: Decimal

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "codeId": str(self.code_id),
            "code": self.code,
            "percentage": _s(self.percentage),
            "fixedAmount": _s(self.fixed_amount),
            "amount": _s(self.amount),
        }


@dataclass(frozen=True)
class CreditLine:
    credit_id: UUID
    amount: Decimal

    def to_snapshot(self) -> dict[str, Any]:
        return {"creditId": str(self.credit_id), "amount": _s(self.amount)}


@dataclass(frozen=True)
class Quote:
    currency: str
    rates: tuple[RateLine, ...]
    computed_amount: Decimal | None  # what the rates give (None: they could not price it, see override)
    override_price: Decimal | None
    amount: Decimal  # the rates' amount, or the override
    products: tuple[ProductLine, ...]
    subtotal: Decimal  # amount + products
    discount: DiscountLine | None
    price: Decimal  # subtotal - discount
    credits: tuple[CreditLine, ...]
    credit_used: Decimal
    total: Decimal  # price - credit used: what is left to charge

    # One rate line is the usual case; these describe it (None when there are none or several).
    @property
    def _single(self) -> RateLine | None:
        return self.rates[0] if len(self.rates) == 1 else None

    @property
    def rate_id(self) -> UUID | None:
        return self._single.rate_id if self._single else None

    @property
    def rate_name(self) -> str | None:
        return self._single.rate_name if self._single else None

    @property
    def unit(self) -> int | None:
        return self._single.unit if self._single else None

    @property
    def quantity(self) -> Decimal | None:
        return self._single.quantity if self._single else None

    @property
    def discount_amount(self) -> Decimal:
        return self.discount.amount if self.discount else ZERO

    def to_snapshot(self) -> dict[str, Any]:
        """JSON-safe (Decimals as strings, ids as strings, enums as integers), for Event.price and the API."""
        return {
            "currency": self.currency,
            "rateId": str(self.rate_id) if self.rate_id else None,
            "rateName": self.rate_name,
            "unit": self.unit,
            "quantity": _s(self.quantity),
            "rates": [line.to_snapshot() for line in self.rates],
            "computedAmount": _s(self.computed_amount),
            "overridePrice": _s(self.override_price),
            "amount": _s(self.amount),
            "products": [line.to_snapshot() for line in self.products],
            "subtotal": _s(self.subtotal),
            "discount": self.discount.to_snapshot() if self.discount else None,
            "price": _s(self.price),
            "credits": [line.to_snapshot() for line in self.credits],
            "creditUsed": _s(self.credit_used),
            "total": _s(self.total),
        }


# --- discount codes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    start: datetime
    end: datetime
    day: date  # local
    weekday: int  # local, Monday = 0
    local_start: time

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    # In UTC: Python compares and subtracts two datetimes that share a tzinfo by their wall-clock times,
    # which is an hour off across a DST change.
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _parts(start: datetime, end: datetime, tz: ZoneInfo, rates: Sequence[RateTerms]) -> list[_Part]:
    """Cut [start, end) (in UTC) at local midnights and at every rate window's start and end."""
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    cuts = {start, end}
    day = first
    while day <= last:
        cuts.add(_local(day, time(0), tz))
        for rate in rates:
            if rate.start_time is not None:
                cuts.add(_local(day, rate.start_time, tz))
            if rate.end_time is not None and rate.end_time != time(0):
                cuts.add(_local(day, rate.end_time, tz))
        day += timedelta(days=1)
    points = sorted(c for c in cuts if start <= c <= end)
    parts = []
    for a, b in zip(points, points[1:], strict=False):
        if b > a:
            local = a.astimezone(tz)
            parts.append(_Part(a, b, local.date(), local.weekday(), local.time()))
    return parts


def _applies_to_part(rate: RateTerms, part: _Part) -> bool:
    if not rate.weekdays & (1 << part.weekday):
        return False
    if rate.start_time is None or rate.end_time is None:  # both or neither (Rate's constraint): all day
        return True
    # Parts are cut at the window's edges, so the part's start tells whether all of it is inside.
    return rate.start_time <= part.local_start and (rate.end_time == time(0) or part.local_start < rate.end_time)


def _fits(rate: RateTerms, minutes: Decimal, customer_id: UUID | None) -> bool:
    if rate.min_minutes is not None and minutes < rate.min_minutes:
        return False
    if rate.max_minutes is not None and minutes > rate.max_minutes:
        return False
    return not rate.customer_ids or customer_id in rate.customer_ids


def _part_order(part: _Part, rate: RateTerms) -> tuple[Decimal, Decimal, str, str]:
    """The order of the rates for one part: the cheapest first, then by RateTerms.sort_key."""
    return (_cost(rate, [part])[1], *rate.sort_key())


def _cost(rate: RateTerms, parts: Sequence[_Part]) -> tuple[Decimal, Decimal]:
    """(quantity, exact amount) of `rate` over `parts`, before rounding."""
    if rate.unit == RateUnit.HOUR:
        hours = Decimal(sum(p.seconds for p in parts)) / 3600
        return hours, rate.price * hours
    if rate.unit == RateUnit.DAY:
        days = Decimal(len({p.day for p in parts}))
        return days, rate.price * days
    return Decimal(1), rate.price


def _describe(parts: Sequence[_Part], tz: ZoneInfo) -> str:
    return ", ".join(f"{p.start.astimezone(tz):%a %d %b %H:%M}–{p.end.astimezone(tz):%H:%M}" for p in parts)


def _rate_lines(
    resource: ResourceTerms,
    start: datetime,
    end: datetime,
    *,
    rate_id: UUID | None,
    customer_id: UUID | None,
    currency: str,
) -> tuple[RateLine, ...]:
    active = [r for r in resource.rates if r.active]
    if not active:
        return ()  # no price list: free
    minutes = Decimal(int((end - start).total_seconds())) / 60  # start and end are in UTC
    fitting = [r for r in active if _fits(r, minutes, customer_id)]
    parts = _parts(start, end, resource.tz, fitting)
    applicable = [[r for r in fitting if _applies_to_part(r, p)] for p in parts]

    if rate_id is not None:
        rate = next((r for r in fitting if r.id == rate_id), None)
        if rate is None or not all(rate in rates for rates in applicable):
            message = f"The chosen rate does not apply to this booking of {resource.name}."
            raise RateNotApplicable(message, [FieldError("rateId", RateNotApplicable.code, message)])
        choice = {rate: parts}
    else:
        uncovered = [p for p, rates in zip(parts, applicable, strict=True) if not rates]
        if uncovered:
            message = f"No rate of {resource.name} applies to {_describe(uncovered, resource.tz)}."
            raise NoApplicableRate(message, [FieldError("event", NoApplicableRate.code, message)])
        # One rate for the whole event: the cheapest of those that apply to every part.
        candidates: list[dict[RateTerms, list[_Part]]] = [
            {r: list(parts)} for r in sorted(fitting, key=RateTerms.sort_key) if all(r in rates for rates in applicable)
        ]
        # Or each part by its own cheapest rate, the parts of one rate then priced together.
        per_part: dict[RateTerms, list[_Part]] = {}
        for part, rates in zip(parts, applicable, strict=True):
            best = min(rates, key=partial(_part_order, part))
            per_part.setdefault(best, []).append(part)
        candidates.append(per_part)
        # min() keeps the first of equals: a single rate is preferred to a split of the same amount.
        choice = min(candidates, key=lambda c: sum(_cost(r, ps)[1] for r, ps in c.items()))

    lines = []
    for rate, rate_parts in sorted(choice.items(), key=lambda item: item[1][0].start):
        quantity, exact = _cost(rate, rate_parts)
        lines.append(
            RateLine(
                resource_id=resource.id,
                resource_name=resource.name,
                rate_id=rate.id,
                rate_name=rate.name,
                unit=rate.unit,
                unit_price=rate.price,
                quantity=plain_decimal(quantity.quantize(Decimal("0.0001"))),
                minutes=sum(p.seconds for p in rate_parts) // 60,
                amount=round_money(exact, currency),
            )
        )
    return tuple(lines)


# --- products ------------------------------------------------------------------------------------------


def _minutes(request: EventRequest) -> Decimal:
    return Decimal(int((request.end.astimezone(UTC) - request.start.astimezone(UTC)).total_seconds())) / 60


def _product_lines(request: EventRequest, *, currency: str) -> tuple[ProductLine, ...]:
    available = {p.id: (p, resource) for resource in request.resources for p in resource.products if p.active}
    lines = []
    minutes = _minutes(request)
    for product_id, quantity in request.products:
        found = available.get(product_id)
        if found is None or not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            message = (
                "Choose a quantity of at least 1."
                if found is not None
                else "Not an available product of the chosen resources."
            )
            raise InvalidProduct(message, [FieldError(f"products.{product_id}", InvalidProduct.code, message)])
        product, resource = found
        per_minute = product.unit == ProductUnit.PER_MINUTE
        exact = product.unit_price * quantity * (minutes if per_minute else 1)
        lines.append(
            ProductLine(
                product_id=product.id,
                name=product.name,
                resource_id=resource.id,
                unit=product.unit,
                unit_price=product.unit_price,
                quantity=quantity,
                minutes=int(minutes) if per_minute else None,
                amount=round_money(exact, currency),
            )
        )
    return tuple(lines)


# --- quotes --------------------------------------------------------------------------------------------


@dataclass
class _Budget:
    """What one booking shares between its events: the fixed discount left, and each credit's balance."""

    discount_left: Decimal | None
    balances: dict[UUID, Decimal] = field(default_factory=dict)


def _rate_amount(
    request: EventRequest, start: datetime, end: datetime, *, currency: str, customer_id: UUID | None
) -> tuple[list[RateLine], Decimal | None]:
    """The rate lines of every resource and their rounded sum (None: no rate covers the event, and the
    override prices it)."""
    if request.rate_id is not None and not any(
        rate.id == request.rate_id for r in request.resources for rate in r.rates
    ):
        message = "The chosen rate is not a rate of the booked resources."
        raise RateNotApplicable(message, [FieldError("rateId", RateNotApplicable.code, message)])
    rate_lines: list[RateLine] = []
    try:
        for resource in request.resources:
            own = request.rate_id if any(rate.id == request.rate_id for rate in resource.rates) else None
            rate_lines += _rate_lines(resource, start, end, rate_id=own, customer_id=customer_id, currency=currency)
    except NoApplicableRate:
        if request.override_price is None:
            raise
        return [], None  # the override prices what the rates cannot
    # Quantized even when there are no lines, so a free event reads 0.00.
    return rate_lines, round_money(sum((line.amount for line in rate_lines), ZERO), currency)


def _discount_line(
    discount: DiscountTerms | None,
    *,
    resource_ids: set[UUID],
    override: Decimal | None,
    rate_lines: Sequence[RateLine],
    products: Sequence[ProductLine],
    currency: str,
    budget: _Budget,
) -> DiscountLine | None:
    if discount is None or (discount.resource_ids and not discount.resource_ids & resource_ids):
        return None
    eligible = discount.resource_ids or resource_ids
    if override is not None:
        base = override
    else:
        base = sum((line.amount for line in rate_lines if line.resource_id in eligible), ZERO)
    base += sum((line.amount for line in products if line.resource_id in eligible), ZERO)
    if discount.percentage is not None:
        off = round_money(base * discount.percentage / 100, currency)
    else:
        off = min(round_money(budget.discount_left or ZERO, currency), base)
        budget.discount_left = (budget.discount_left or ZERO) - off
    return DiscountLine(
        code_id=discount.id,
        code=discount.code,
        percentage=discount.percentage,
        fixed_amount=discount.amount,
        amount=min(off, base),
    )


def _credit_lines(
    price: Decimal,
    *,
    start: datetime,
    resource_ids: set[UUID],
    credits: Sequence[CreditTerms],
    currency: str,
    budget: _Budget,
) -> tuple[list[CreditLine], Decimal]:
    """The credits that pay `price` (those expiring first first) and what is left to pay."""
    credit_lines = []
    left = price
    for credit in sorted(credits, key=CreditTerms.spend_order):
        if left <= 0:
            break
        if credit.valid_from is not None and start < credit.valid_from:
            continue
        if credit.valid_until is not None and start >= credit.valid_until:
            continue
        if credit.resource_ids and not resource_ids <= credit.resource_ids:
            continue
        balance = floor_money(budget.balances.get(credit.id, credit.balance), currency)
        used = min(balance, left)
        if used <= 0:
            continue
        budget.balances[credit.id] = budget.balances.get(credit.id, credit.balance) - used
        left -= used
        credit_lines.append(CreditLine(credit_id=credit.id, amount=used))
    return credit_lines, left


def _quote(
    request: EventRequest,
    *,
    currency: str,
    customer_id: UUID | None,
    discount: DiscountTerms | None,
    credits: Sequence[CreditTerms],
    budget: _Budget,
) -> Quote:
    start, end = request.start.astimezone(UTC), request.end.astimezone(UTC)
    if end <= start:
        raise ValueError("An event must end after it starts.")  # validation rejects it long before
    resource_ids = {r.id for r in request.resources}
    rate_lines, computed = _rate_amount(request, start, end, currency=currency, customer_id=customer_id)

    override = None if request.override_price is None else round_money(request.override_price, currency)
    if override is not None and override < 0:
        raise ValueError("An override price cannot be negative.")  # the API rejects it as input
    amount = override if override is not None else computed
    assert amount is not None
    products = _product_lines(request, currency=currency)
    subtotal = amount + sum((line.amount for line in products), ZERO)

    discount_line = _discount_line(
        discount,
        resource_ids=resource_ids,
        override=override,
        rate_lines=rate_lines,
        products=products,
        currency=currency,
        budget=budget,
    )
    price = subtotal - (discount_line.amount if discount_line else ZERO)
    credit_lines, left = _credit_lines(
        price, start=start, resource_ids=resource_ids, credits=credits, currency=currency, budget=budget
    )
    credit_used = price - left

    return Quote(
        currency=currency,
        rates=tuple(rate_lines),
        computed_amount=computed,
        override_price=override,
        amount=amount,
        products=products,
        subtotal=subtotal,
        discount=discount_line,
        price=price,
        credits=tuple(credit_lines),
        credit_used=credit_used,
        total=left,
    )


def quote_events(
    requests: Sequence[EventRequest],
    *,
    currency: str,
    customer_id: UUID | None = None,
    discount: DiscountTerms | None = None,
    credits: Sequence[CreditTerms] = (),
    use_credit: bool = True,
    now: datetime | None = None,
) -> tuple[Quote, ...]:
    """The quotes of one booking's events, in the order given. Events are priced in start order, because
    a fixed discount and the credits are shared between them: the earliest events use them first.

    A discount must be valid at `now` for at least one of the booking's resources (else
    INVALID_DISCOUNT_CODE); it then applies to each event that has one of its resources."""
    if discount is not None:
        if now is None:
            raise ValueError("`now` is needed to check a discount code.")
        check_discount(discount, now=now, resource_ids={r.id for req in requests for r in req.resources})
    budget = _Budget(discount_left=discount.amount if discount is not None else None)
    order = sorted(range(len(requests)), key=lambda i: (requests[i].start, i))
    quotes: dict[int, Quote] = {}
    for i in order:
        quotes[i] = _quote(
            requests[i],
            currency=currency,
            customer_id=customer_id,
            discount=discount,
            credits=credits if use_credit else (),
            budget=budget,
        )
    return tuple(quotes[i] for i in range(len(requests)))


def quote_event(request: EventRequest, **kwargs: Any) -> Quote:
    """One event alone; the keyword arguments are quote_events'."""
    return quote_events([request], **kwargs)[0]
