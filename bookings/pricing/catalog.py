"""What bookings know of a resource's rates and products (docs/architecture.md#prices): whether a booking refers
to one, and the customers a rate is reserved for. resources.catalog writes rates and products and asks this
through the hook of resources.hooks, which bookings.apps registers at start-up.

A booking refers to a rate when a requested time named it (`rateId`) or a price (the estimate, or the snapshot
fixed on approval, on the requested time or on its Event) lists it; to a product when a requested time asked
for it or a price lists it. Prices are JSON, so the check reads them as text, only those of the resource's
requested times and events (an indexed join), and only when a rate or product is deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast

from core.errors import FieldError, ValidationFailed
from core.ids import as_uuid
from events.models import Event
from resources.models import Product, Rate

from ..models import BookingEvent, Customer, RateCustomer


def _mentions(queryset: QuerySet[Any], fields: Sequence[str], pk: UUID) -> bool:
    """Whether any row's JSON `fields` mention the id (its text form, as every snapshot writes ids)."""
    text = {f"_{name}_text": Cast(name, output_field=TextField()) for name in fields}
    condition = Q()
    for alias in text:
        condition |= Q(**{f"{alias}__contains": str(pk)})
    return bool(queryset.annotate(**text).filter(condition).exists())


def _referenced(resource_id: UUID, pk: UUID, fields: Sequence[str], named: Q | None = None) -> bool:
    """Whether a requested time names the row (`named`), or a requested time or an event of the resource
    mentions it in `fields` (the requested time's) or its fixed price (the event's)."""
    if named is not None and BookingEvent.objects.filter(named).exists():
        return True
    if _mentions(BookingEvent.objects.filter(resources=resource_id), fields, pk):
        return True
    events = Event.objects.filter(reservations__resource_id=resource_id, price__isnull=False)
    return _mentions(events, ["price"], pk)


class BookingPricingHook:
    """The bookings app's answers to resources.hooks.PricingHook."""

    def rate_referenced(self, *, rate: Rate) -> bool:
        return _referenced(rate.resource_id, rate.pk, ["price"], named=Q(rate_id=rate.pk))

    def product_referenced(self, *, product: Product) -> bool:
        return _referenced(product.resource_id, product.pk, ["products", "price"])

    def rate_customers_set(self, *, rate: Rate, customer_ids: Sequence[Any]) -> None:
        """Reserve the rate for exactly these customers of its organization; an id that is none of them is
        NOT_FOUND at `customerIds[i]`, and nothing changes."""
        organization_id = rate.resource.venue.organization_id
        wanted = [as_uuid(value) for value in customer_ids]
        own = set(
            Customer.objects.filter(organization_id=organization_id, pk__in=[w for w in wanted if w]).values_list(
                "pk", flat=True
            )
        )
        errors = [
            FieldError(f"customerIds[{i}]", "NOT_FOUND", "No such customer in the rate's organization.")
            for i, pk in enumerate(wanted)
            if pk not in own
        ]
        if errors:
            raise ValidationFailed(errors=errors)
        keep = list(dict.fromkeys(w for w in wanted if w))
        RateCustomer.objects.filter(rate=rate).exclude(customer_id__in=keep).delete()
        have = set(RateCustomer.objects.filter(rate=rate).values_list("customer_id", flat=True))
        RateCustomer.objects.bulk_create(RateCustomer(rate=rate, customer_id=pk) for pk in keep if pk not in have)
