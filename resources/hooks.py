"""The hook through which the app that prices bookings answers for a resource's rates and products.

Rates and products belong to resources, but what refers to them does not: bookings name a rate and
products on their requested times, and fix prices that list them; a rate may be reserved for customers,
which live in bookings (docs/architecture.md#apps-and-layers: bookings → events → resources). So the rate
and product services (resources.catalog) ask the one registered PricingHook, which the bookings app
registers at start-up (bookings.apps). Every call runs inside the service's transaction: an error rolls
the whole change back. With nothing registered, a hook that knows of no reference and no customer answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import FieldError, ValidationFailed

if TYPE_CHECKING:
    from .models import Product, Rate


class PricingHook(Protocol):
    """What resources.catalog asks of the app that prices bookings."""

    def rate_referenced(self, *, rate: Rate) -> bool:
        """Whether a booking named the rate or a price (estimated or fixed) lists it: then it is archived,
        never deleted, so that history keeps its meaning."""

    def product_referenced(self, *, product: Product) -> bool:
        """Whether a booking asked for the product or a price lists it (archived then, as a rate)."""

    def rate_customers_set(self, *, rate: Rate, customer_ids: Sequence[Any]) -> None:
        """Reserve the rate for exactly these customers of its organization (none: for everyone);
        ValidationFailed with `customerIds[i]` NOT_FOUND for an id that is no customer of it."""


class NoPricingHook:
    """The hook when no app registered one: nothing refers to rates or products, and there are no customers."""

    def rate_referenced(self, *, rate: Rate) -> bool:
        return False

    def product_referenced(self, *, product: Product) -> bool:
        return False

    def rate_customers_set(self, *, rate: Rate, customer_ids: Sequence[Any]) -> None:
        if customer_ids:
            raise ValidationFailed(
                errors=[
                    FieldError(f"customerIds[{i}]", "NOT_FOUND", "No such customer.") for i in range(len(customer_ids))
                ]
            )


_hook: PricingHook = NoPricingHook()


def register_pricing_hook(hook: PricingHook) -> None:
    """Make `hook` the one resources.catalog calls (an AppConfig.ready() calls this once at start-up); a
    second registration replaces the first."""
    global _hook
    _hook = hook


def pricing_hook() -> PricingHook:
    """The registered hook, or the one that knows of nothing."""
    return _hook
