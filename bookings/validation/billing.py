"""What a request says about paying (docs/architecture.md#prices): each requested time's rateId, products
and overridePrice, and the booking's discount code, credit and invoicing choices. Their shape is checked
here, with the other answers; what they mean (does the rate apply, does the code exist) is checked by the
quote, in bookings.pricing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from core.errors import FieldError, ValidationFailed
from core.ids import as_uuid

from ..models import BookingEvent

EVENT_BILLING_KEYS = ("rateId", "products", "overridePrice")
MAX_PRODUCTS = 50
# A price fits the PRICE_DIGITS columns: 10 digits before the point, 4 after.
MAX_PRICE = Decimal("9999999999.9999")


@dataclass(frozen=True)
class EventBilling:
    """One requested time's pricing choices (wire: rateId, products, overridePrice)."""

    rate_id: UUID | None = None
    products: tuple[tuple[UUID, int], ...] = ()
    override_price: Decimal | None = None

    @classmethod
    def of(cls, be: BookingEvent) -> EventBilling:
        return cls(
            rate_id=be.rate_id,
            products=tuple((UUID(str(p["productId"])), int(p["quantity"])) for p in be.products or []),
            override_price=be.override_price,
        )

    def products_wire(self) -> list[dict[str, Any]]:
        return [{"productId": str(pid), "quantity": qty} for pid, qty in self.products]


@dataclass(frozen=True)
class BookingBilling:
    """A booking's pricing choices (wire: discountCode, doNotUseBookingCredit, invoiceThisContact,
    purchaseOrder; staff create only: chargeNow, invoiceNow)."""

    discount_code: str | None = None
    do_not_use_booking_credit: bool = False
    invoice_this_contact: bool = False
    purchase_order: str = ""
    charge_now: bool = False
    invoice_now: bool = False

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> BookingBilling:
        return cls(
            discount_code=(data.get("discountCode") or "").strip() or None,
            do_not_use_booking_credit=bool(data.get("doNotUseBookingCredit", False)),
            invoice_this_contact=bool(data.get("invoiceThisContact", False)),
            purchase_order=(data.get("purchaseOrder") or "").strip(),
            charge_now=bool(data.get("chargeNow", False)),
            invoice_now=bool(data.get("invoiceNow", False)),
        )


def parse_price(value: Any) -> Decimal | None:
    """A non-negative amount with at most 4 decimals (a JSON number, cut to 4 decimals, or a numeric string);
    None if not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount > MAX_PRICE:
        return None
    if isinstance(value, float):  # a JSON number: cut to 4 decimals, as the schema cannot count them
        amount = amount.quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
    exponent = amount.as_tuple().exponent  # an int for every finite amount
    if not isinstance(exponent, int) or exponent < -4:
        return None
    return amount


def clean_event_billing(raw: Mapping[str, Any], prefix: str, add: Callable[..., None]) -> EventBilling:
    """rateId, products and overridePrice of one requested time, their shape checked (what they mean, the
    quote checks); problems go to `add(path, code, message)` as validation's other field errors."""
    rate_id = None
    if raw.get("rateId") not in (None, ""):
        rate_id = as_uuid(raw["rateId"])
        if rate_id is None:
            add(f"{prefix}.rateId", "INVALID", "rateId must be the id of one of the resource's rates.")
    products = _clean_products(raw.get("products"), prefix, add)
    override = None
    if raw.get("overridePrice") not in (None, ""):
        override = parse_price(raw["overridePrice"])
        if override is None:
            add(
                f"{prefix}.overridePrice",
                "INVALID",
                "overridePrice is an amount of at least 0 with at most 4 decimals.",
            )
    return EventBilling(rate_id=rate_id, products=tuple(products), override_price=override)


def _clean_products(given: Any, prefix: str, add: Callable[..., None]) -> list[tuple[UUID, int]]:
    """`products: [{productId, quantity}]`, each product once."""
    products: list[tuple[UUID, int]] = []
    if given in (None, ""):
        return products
    if not isinstance(given, list):
        add(f"{prefix}.products", "INVALID", "products must be a list of {productId, quantity}.")
        return products
    if len(given) > MAX_PRODUCTS:
        add(f"{prefix}.products", "MAX_LENGTH", f"At most {MAX_PRODUCTS} products per time.")
        return products
    for k, item in enumerate(given):
        where = f"{prefix}.products[{k}]"
        if not isinstance(item, dict):
            add(where, "INVALID", "Each product is an object {productId, quantity}.")
            continue
        product = _clean_product(item, where, products, add)
        if product is not None:
            products.append(product)
    return products


def _clean_product(
    item: Mapping[str, Any], where: str, products: list[tuple[UUID, int]], add: Callable[..., None]
) -> tuple[UUID, int] | None:
    pid = as_uuid(item.get("productId"))
    quantity = item.get("quantity", 1)
    # ASCII digits only: str.isdigit() also passes "²", and a huge run of digits, which int() refuses.
    if isinstance(quantity, str) and re.fullmatch(r"[0-9]{1,6}", quantity.strip()):
        quantity = int(quantity.strip())
    if pid is None:
        add(f"{where}.productId", "INVALID", "productId must be the id of a product of the resource.")
        return None
    if any(pid == seen for seen, _ in products):
        add(f"{where}.productId", "NOT_UNIQUE", "The same product is listed twice; give one quantity.")
        return None
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 10000:
        add(f"{where}.quantity", "INVALID", "The quantity is a whole number from 1 to 10000.")
        return None
    return pid, quantity


def refuse_public_override(events: Any, *, single_event: bool) -> None:
    """A booker (public submit, validate, change request) may choose a rate and products, never a price."""
    if not isinstance(events, list | tuple):
        return
    errors = [
        FieldError(
            f"{'event' if single_event else f'events[{i}]'}.overridePrice",
            "NOT_ALLOWED",
            "Only staff may set the price of a booking.",
        )
        for i, raw in enumerate(events)
        if isinstance(raw, dict) and raw.get("overridePrice") not in (None, "")
    ]
    if errors:
        raise ValidationFailed(errors=errors)


def refuse_billing_changes(events: Any) -> None:
    """A change request changes times and answers; pricing choices are staff's (approve with edits, or the
    events API's overridePrice)."""
    if not isinstance(events, list | tuple):
        return
    errors = [
        FieldError(
            f"{'event' if len(events) == 1 else f'events[{i}]'}.{key}",
            "NOT_ALLOWED",
            f"{key} cannot be changed by a change request.",
        )
        for i, raw in enumerate(events)
        if isinstance(raw, dict)
        for key in EVENT_BILLING_KEYS
        if key in raw
    ]
    if errors:
        raise ValidationFailed(errors=errors)


def check_charge_flags(billing: BookingBilling | None, *, approved: bool) -> None:
    if billing is None:
        return
    errors = []
    if billing.charge_now and billing.invoice_now:
        errors.append(FieldError("invoiceNow", "INVALID", "Send chargeNow or invoiceNow, not both."))
    for name, value in (("chargeNow", billing.charge_now), ("invoiceNow", billing.invoice_now)):
        if value and not approved:
            errors.append(FieldError(name, "INVALID", f"{name} is only for a booking created approved."))
    if errors:
        raise ValidationFailed(errors=errors)
