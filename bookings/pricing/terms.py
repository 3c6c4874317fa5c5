"""The terms a quote is computed from (docs/architecture.md#prices): plain, frozen values, and the reads
that turn the models' rows into them (three queries for the resources, whatever the number of rates).

bookings.pricing.quote computes from these without touching the database; the estimate and the fixing
of a price (bookings.pricing.estimate, bookings.pricing.fixing) load them here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, Q, QuerySet

from core.errors import FieldError, InvalidDiscountCode
from core.ids import as_uuid
from resources.config_cache import cached
from resources.models import ALL_WEEKDAYS, Product, Rate, Resource

from ..models import Booking, BookingCredit, DiscountCode

# --- the terms: what the models say, as plain values ---------------------------------------------------


@dataclass(frozen=True)
class RateTerms:
    id: UUID
    name: str
    unit: int  # RateUnit
    price: Decimal
    weekdays: int = ALL_WEEKDAYS  # bitmask, Monday = bit 0
    start_time: time | None = None
    end_time: time | None = None  # 00:00 = midnight at the day's end
    min_minutes: int | None = None
    max_minutes: int | None = None
    customer_ids: frozenset[UUID] = frozenset()  # empty: everyone
    active: bool = True

    @classmethod
    def from_model(cls, rate: Any, customer_ids: Iterable[UUID] = ()) -> RateTerms:
        return cls(
            id=rate.pk,
            name=rate.name,
            unit=rate.unit,
            price=rate.price,
            weekdays=rate.weekdays,
            start_time=rate.start_time,
            end_time=rate.end_time,
            min_minutes=rate.min_minutes,
            max_minutes=rate.max_minutes,
            customer_ids=frozenset(customer_ids),
            active=rate.active,
        )

    def sort_key(self) -> tuple[Decimal, str, str]:
        return (self.price, self.name, str(self.id))


@dataclass(frozen=True)
class ProductTerms:
    id: UUID
    name: str
    unit: int  # ProductUnit
    unit_price: Decimal
    active: bool = True

    @classmethod
    def from_model(cls, product: Any) -> ProductTerms:
        return cls(
            id=product.pk, name=product.name, unit=product.unit, unit_price=product.unit_price, active=product.active
        )


@dataclass(frozen=True)
class ResourceTerms:
    id: UUID
    name: str
    tz: ZoneInfo  # the venue's
    rates: tuple[RateTerms, ...] = ()
    products: tuple[ProductTerms, ...] = ()


@dataclass(frozen=True)
class DiscountTerms:
    id: UUID
    code: str
    percentage: Decimal | None = None
    amount: Decimal | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    max_uses_total: int | None = None
    max_uses_per_contact: int | None = None
    resource_ids: frozenset[UUID] = frozenset()  # empty: every resource
    active: bool = True
    # Uses by other bookings (a booking re-quoted after approval must not count its own use).
    uses_total: int = 0
    uses_by_contact: int = 0


@dataclass(frozen=True)
class CreditTerms:
    id: UUID
    balance: Decimal
    valid_from: datetime | None = None  # for events starting in [valid_from, valid_until)
    valid_until: datetime | None = None
    resource_ids: frozenset[UUID] = frozenset()  # empty: every resource
    created_at: datetime | None = None

    def spend_order(self) -> tuple[bool, float, float, str]:
        # Those that expire first are spent first; never-expiring ones last; then the oldest.
        return (
            self.valid_until is None,
            self.valid_until.timestamp() if self.valid_until else 0.0,
            self.created_at.timestamp() if self.created_at else 0.0,
            str(self.id),
        )


@dataclass(frozen=True)
class EventRequest:
    start: datetime
    end: datetime
    resources: tuple[ResourceTerms, ...]
    rate_id: UUID | None = None
    products: tuple[tuple[UUID, int], ...] = ()  # (product id, quantity)
    override_price: Decimal | None = None


# --- reading the terms from the models ------------------------------------------------------------------


def pricing_resources(resource_ids: Iterable[Any], organization_id: UUID | None = None) -> dict[UUID, ResourceTerms]:
    """The resources' active rates (with the customers a rate is reserved for) and active products. With
    `organization_id`, from the configuration cache (no query when warm; another organization's resources
    are left out)."""
    if organization_id is None:
        return _resource_terms(Resource.objects.filter(pk__in=list(resource_ids)))
    every = cached(
        organization_id,
        "pricing_resources",
        lambda: _resource_terms(Resource.objects.filter(venue__organization_id=organization_id)),
    )
    wanted = {as_uuid(rid) for rid in resource_ids}
    return {pk: terms for pk, terms in every.items() if pk in wanted}


def _resource_terms(resources: QuerySet[Resource]) -> dict[UUID, ResourceTerms]:
    rates = Rate.objects.filter(active=True).prefetch_related("customer_links")
    resources = resources.select_related("venue__organization").prefetch_related(
        Prefetch("rates", queryset=rates), Prefetch("products", queryset=Product.objects.filter(active=True))
    )
    return {
        resource.pk: ResourceTerms(
            id=resource.pk,
            name=resource.name,
            tz=resource.venue.tz,
            rates=tuple(
                RateTerms.from_model(rate, [link.customer_id for link in rate.customer_links.all()])
                for rate in resource.rates.all()
            ),
            products=tuple(ProductTerms.from_model(product) for product in resource.products.all()),
        )
        for resource in resources
    }


def discount_terms(
    *, organization_id: Any, code: str, contact_id: Any = None, exclude_booking_id: Any = None
) -> DiscountTerms | None:
    """The organization's code as typed (any letter case), with its uses by other bookings; None when
    there is no such code (check_discount below turns that into INVALID_DISCOUNT_CODE)."""
    found = (
        DiscountCode.objects.filter(organization_id=organization_id, code__iexact=(code or "").strip())
        .prefetch_related("resources")
        .first()
    )
    if found is None:
        return None
    uses = found.uses.all()
    if exclude_booking_id is not None:
        uses = uses.exclude(booking_id=exclude_booking_id)
    return DiscountTerms(
        id=found.pk,
        code=found.code,
        percentage=found.percentage,
        amount=found.amount,
        valid_from=found.valid_from,
        valid_until=found.valid_until,
        max_uses_total=found.max_uses_total,
        max_uses_per_contact=found.max_uses_per_contact,
        resource_ids=frozenset(r.pk for r in found.resources.all()),
        active=found.active,
        uses_total=uses.count(),
        uses_by_contact=uses.filter(contact_id=contact_id).count() if contact_id else 0,
    )


def discount_terms_of(code: DiscountCode, *, contact_id: Any, booking_id: Any) -> DiscountTerms:
    """A code row (its resources prefetched) with its uses by other bookings than `booking_id`."""
    uses = code.uses.exclude(booking_id=booking_id) if booking_id else code.uses.all()
    return DiscountTerms(
        id=code.pk,
        code=code.code,
        percentage=code.percentage,
        amount=code.amount,
        valid_from=code.valid_from,
        valid_until=code.valid_until,
        max_uses_total=code.max_uses_total,
        max_uses_per_contact=code.max_uses_per_contact,
        resource_ids=frozenset(r.pk for r in code.resources.all()),
        active=code.active,
        uses_total=uses.count(),
        uses_by_contact=uses.filter(contact_id=contact_id).count() if contact_id else 0,
    )


def code_row(organization_id: Any, code: str | None) -> DiscountCode | None:
    """The organization's code as typed (any letter case); INVALID_DISCOUNT_CODE when there is none."""
    if not code:
        return None
    row = DiscountCode.objects.filter(organization_id=organization_id, code__iexact=code.strip()).first()
    if row is None:
        message = "There is no such discount code."
        raise InvalidDiscountCode(message, [FieldError("discountCode", InvalidDiscountCode.code, message)])
    return row


def credit_terms(*, organization_id: Any, contact_id: Any = None, customer_id: Any = None) -> list[CreditTerms]:
    """Credits with a balance left that belong to the contact or to the customer (the booking's, or else
    the contact's). Validity for the event's start is bookings.pricing.quote's to decide."""
    owners = Q(pk__in=[])
    if contact_id is not None:
        owners |= Q(contact_id=contact_id)
    if customer_id is not None:
        owners |= Q(customer_id=customer_id)
    credits = BookingCredit.objects.filter(owners, organization_id=organization_id, balance__gt=0).prefetch_related(
        "resources"
    )
    return credit_terms_of(credits)


def credit_terms_of(credits: Iterable[BookingCredit]) -> list[CreditTerms]:
    """Credit rows (their resources prefetched) as bookings.pricing.quote reads them."""
    return [
        CreditTerms(
            id=c.pk,
            balance=c.balance,
            valid_from=c.valid_from,
            valid_until=c.valid_until,
            resource_ids=frozenset(r.pk for r in c.resources.all()),
            created_at=c.created_at,
        )
        for c in credits
    ]


def booking_customer_id(booking: Booking) -> Any:
    """The booking's customer, else its contact's."""
    if booking.customer_id:
        return booking.customer_id
    contact = booking.contact if booking.contact_id else None
    return contact.customer_id if contact is not None else None


def credit_owners(booking: Booking) -> Q:
    """The credits a booking may spend: its contact's and its customer's."""
    owners = Q(pk__in=[])
    if booking.contact_id:
        owners |= Q(contact_id=booking.contact_id)
    customer_id = booking_customer_id(booking)
    if customer_id:
        owners |= Q(customer_id=customer_id)
    return owners


# --- whether a discount code applies at a time, to these resources --------------------------------------


def _invalid_code(message: str) -> InvalidDiscountCode:
    return InvalidDiscountCode(message, [FieldError("discountCode", InvalidDiscountCode.code, message)])


def check_discount(discount: DiscountTerms | None, *, now: datetime, resource_ids: Iterable[UUID]) -> None:
    """Raise INVALID_DISCOUNT_CODE unless the code may be used now for a booking of these resources.
    `None` is a code that does not exist in the organization."""
    if discount is None:
        raise _invalid_code("There is no such discount code.")
    if not discount.active:
        raise _invalid_code("This discount code is no longer active.")
    if discount.valid_from is not None and now < discount.valid_from:
        raise _invalid_code("This discount code is not valid yet.")
    if discount.valid_until is not None and now >= discount.valid_until:
        raise _invalid_code("This discount code has expired.")
    if discount.max_uses_total is not None and discount.uses_total >= discount.max_uses_total:
        raise _invalid_code("This discount code has been used up.")
    if discount.max_uses_per_contact is not None and discount.uses_by_contact >= discount.max_uses_per_contact:
        raise _invalid_code("You have already used this discount code as often as it allows.")
    if discount.resource_ids and not discount.resource_ids & set(resource_ids):
        raise _invalid_code("This discount code is not valid for the chosen resources.")


# --- time: parts of an event ---------------------------------------------------------------------------
