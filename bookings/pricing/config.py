"""Discount codes and booking credits as staff configure them (docs/architecture.md#every-write-through-a-service,
docs/architecture.md#prices): the only code that writes them outside the approval (which counts a code's
uses and spends credit, bookings.pricing.fixing).

Every service is keyword-only and atomic, locks the row it changes, and checks what the database
constraints say before writing, so a refusal is a ValidationFailed with one FieldError per problem at the
wire name of the field (`code`, `amount`, `validUntil`, `resourceIds`, `contactId`, ...): the admin shows
each at its form's field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from core.actor import Actor
from core.errors import FieldError, InUse, ValidationFailed
from resources.config_cache import config_changed
from resources.models import Organization, Rate, Resource

from ..models import BookingCredit, BookingCreditAdjustment, Contact, Customer, DiscountCode, RateCustomer

CODE_FIELDS = frozenset(
    {
        "code",
        "description",
        "percentage",
        "amount",
        "valid_from",
        "valid_until",
        "max_uses_total",
        "max_uses_per_contact",
        "active",
        "resources",
    }
)
CREDIT_FIELDS = frozenset({"description", "valid_from", "valid_until", "resources"})
DUPLICATE = "Another discount code of this organization is the same (letter case aside)."


def _only(changes: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"Unknown fields: {', '.join(sorted(unknown))}")


def _window_errors(valid_from: datetime | None, valid_until: datetime | None) -> list[FieldError]:
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        return [FieldError("validUntil", "END_BEFORE_START", "The end of the validity must be after its start.")]
    return []


def _resource_errors(resources: Iterable[Resource], organization_id: Any) -> list[FieldError]:
    others = [str(r) for r in resources if r.venue.organization_id != organization_id]
    if others:
        return [FieldError("resourceIds", "NOT_FOUND", f"Not resources of this organization: {', '.join(others)}.")]
    return []


def _raise(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(errors=errors)


# --- discount codes ------------------------------------------------------------------------------------


def _amount_errors(percentage: Decimal | None, amount: Decimal | None) -> list[FieldError]:
    errors = []
    if (percentage is None) == (amount is None):
        errors.append(FieldError("amount", "INVALID", "Give either a percentage or a fixed amount, not both."))
    if percentage is not None and not 0 < percentage <= 100:
        errors.append(FieldError("percentage", "INVALID", "The percentage is more than 0 and at most 100."))
    if amount is not None and amount <= 0:
        errors.append(FieldError("amount", "MIN_VALUE", "The amount must be more than 0."))
    return errors


def discount_code_check(
    *,
    organization_id: Any,
    code: str,
    percentage: Decimal | None,
    amount: Decimal | None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    max_uses_total: int | None = None,
    max_uses_per_contact: int | None = None,
    resources: Iterable[Resource] = (),
    pk: Any = None,
    **_: Any,
) -> None:
    """ValidationFailed unless these are a valid code of the organization (`pk`: the code being changed).
    The services run it; a form may run it first to show the problems before it posts."""
    errors = [FieldError("code", "REQUIRED", "Give the code bookers type.")] if not code else []
    errors += _amount_errors(percentage, amount) + _window_errors(valid_from, valid_until)
    for wire, limit in (("maxUsesTotal", max_uses_total), ("maxUsesPerContact", max_uses_per_contact)):
        if limit is not None and limit < 1:
            errors.append(FieldError(wire, "MIN_VALUE", "Empty for no limit, else at least 1."))
    if code and DiscountCode.objects.filter(organization_id=organization_id, code__iexact=code).exclude(pk=pk).exists():
        errors.append(FieldError("code", "NOT_UNIQUE", DUPLICATE))
    _raise(errors + _resource_errors(resources, organization_id))


def _check_code(code: DiscountCode, resources: list[Resource]) -> None:
    code.code = (code.code or "").strip()
    discount_code_check(
        organization_id=code.organization_id,
        code=code.code,
        percentage=code.percentage,
        amount=code.amount,
        valid_from=code.valid_from,
        valid_until=code.valid_until,
        max_uses_total=code.max_uses_total,
        max_uses_per_contact=code.max_uses_per_contact,
        resources=resources,
        pk=code.pk,
    )


def _save_code(code: DiscountCode, resources: list[Resource] | None) -> DiscountCode:
    try:
        with transaction.atomic():
            code.save()
    except IntegrityError as exc:  # the same code written meanwhile (the constraint is on Lower(code))
        raise ValidationFailed(errors=[FieldError("code", "NOT_UNIQUE", DUPLICATE)]) from exc
    if resources is not None:
        code.resources.set(resources)
    return code


@transaction.atomic
def discount_code_create(
    *,
    organization: Organization,
    code: str,
    percentage: Decimal | None = None,
    amount: Decimal | None = None,
    description: str = "",
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    max_uses_total: int | None = None,
    max_uses_per_contact: int | None = None,
    resources: Iterable[Resource] = (),
    active: bool = True,
) -> DiscountCode:
    """A code of `organization`: either a percentage or a fixed amount off one booking."""
    row = DiscountCode(
        organization=organization,
        code=code,
        percentage=percentage,
        amount=amount,
        description=description,
        valid_from=valid_from,
        valid_until=valid_until,
        max_uses_total=max_uses_total,
        max_uses_per_contact=max_uses_per_contact,
        active=active,
    )
    chosen = list(resources)
    _check_code(row, chosen)
    return _save_code(row, chosen)


def _switch_kind(changes: Mapping[str, Any]) -> Mapping[str, Any]:
    for given, other in (("percentage", "amount"), ("amount", "percentage")):
        if changes.get(given) is not None and other not in changes:
            return {**changes, other: None}
    return changes


@transaction.atomic
def discount_code_update(*, discount_code: DiscountCode, changes: Mapping[str, Any]) -> DiscountCode:
    """Change the fields given (CODE_FIELDS; `resources` replaces the set). Uses already counted stay. A new
    percentage without an amount (or an amount without a percentage) turns the code into that kind: the other
    one is cleared rather than refused as "both"."""
    _only(changes, CODE_FIELDS)
    row = DiscountCode.objects.select_for_update(of=("self",)).get(pk=discount_code.pk)
    changes = _switch_kind(changes)
    for name, value in changes.items():
        if name != "resources":
            setattr(row, name, value)
    chosen = list(changes["resources"]) if "resources" in changes else None
    _check_code(row, chosen if chosen is not None else list(row.resources.select_related("venue")))
    return _save_code(row, chosen)


@transaction.atomic
def discount_code_archive(*, discount_code: DiscountCode) -> DiscountCode:
    """Bookers can no longer use the code; bookings that carry it keep it (and their counted uses)."""
    row = DiscountCode.objects.select_for_update(of=("self",)).get(pk=discount_code.pk)
    if row.active:
        row.active = False
        row.save(update_fields=["active", "updated_at"])
    return row


@transaction.atomic
def discount_code_delete(*, discount_code: DiscountCode) -> DiscountCode | None:
    """Delete a code no booking carries and none used (None); otherwise archive it and return it: its counted
    uses are the history of what bookings were given."""
    row = DiscountCode.objects.select_for_update(of=("self",)).get(pk=discount_code.pk)
    if row.uses.exists() or row.bookings.exists():
        return discount_code_archive(discount_code=row)
    row.delete()
    return None


# --- booking credits -----------------------------------------------------------------------------------


def _owner_errors(organization_id: Any, contact: Contact | None, customer: Customer | None) -> list[FieldError]:
    if (contact is None) == (customer is None):
        return [FieldError("customerId", "INVALID", "Give the credit to either a contact or a customer.")]
    errors = []
    for wire, name, owner in (("contactId", "contact", contact), ("customerId", "customer", customer)):
        if owner is not None and owner.organization_id != organization_id:
            errors.append(FieldError(wire, "NOT_FOUND", f"Choose a {name} of the credit's organization."))
    return errors


def booking_credit_check(
    *,
    organization_id: Any,
    amount: Decimal | None,
    contact: Contact | None = None,
    customer: Customer | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    resources: Iterable[Resource] = (),
    **_: Any,
) -> None:
    """ValidationFailed unless these make a valid new credit of the organization (the services run it; a
    form may run it first)."""
    errors = _owner_errors(organization_id, contact, customer)
    if amount is None or amount <= 0:
        errors.append(FieldError("amount", "MIN_VALUE", "The amount must be more than 0."))
    _raise(errors + _window_errors(valid_from, valid_until) + _resource_errors(resources, organization_id))


@transaction.atomic
def booking_credit_create(
    *,
    organization: Organization,
    amount: Decimal,
    contact: Contact | None = None,
    customer: Customer | None = None,
    description: str = "",
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    resources: Iterable[Resource] = (),
) -> BookingCredit:
    """Credit for a contact or a customer (one of the two); all of it is left."""
    chosen = list(resources)
    booking_credit_check(
        organization_id=organization.pk,
        amount=amount,
        contact=contact,
        customer=customer,
        valid_from=valid_from,
        valid_until=valid_until,
        resources=chosen,
    )
    credit = BookingCredit.objects.create(
        organization=organization,
        contact=contact,
        customer=customer,
        description=description,
        amount=amount,
        balance=amount,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    credit.resources.set(chosen)
    return credit


@transaction.atomic
def booking_credit_update(*, credit: BookingCredit, changes: Mapping[str, Any]) -> BookingCredit:
    """Change the description, the validity or the resources (CREDIT_FIELDS). Who holds the credit is fixed;
    what was granted changes only with booking_credit_adjust()."""
    _only(changes, CREDIT_FIELDS)
    row = BookingCredit.objects.select_for_update(of=("self",)).get(pk=credit.pk)
    for name, value in changes.items():
        if name != "resources":
            setattr(row, name, value)
    chosen = list(changes["resources"]) if "resources" in changes else None
    _raise(_window_errors(row.valid_from, row.valid_until) + _resource_errors(chosen or [], row.organization_id))
    row.save()
    if chosen is not None:
        row.resources.set(chosen)
    return row


# What the amount and balance columns hold (PRICE_DIGITS: 10 whole digits).
MAX_CREDIT = Decimal("9999999999.9999")


@transaction.atomic
def booking_credit_adjust(*, credit: BookingCredit, delta: Decimal, reason: str, actor: Actor) -> BookingCredit:
    """Grant more (`delta` > 0) or take back unspent credit (`delta` < 0): the amount and the balance move
    together, under the credit's row lock, and a BookingCreditAdjustment row logs who did it and why. The
    balance never goes below 0: INSUFFICIENT_BALANCE at `delta`, and nothing changes."""
    row = BookingCredit.objects.select_for_update(of=("self",)).get(pk=credit.pk)
    if row.balance + delta < 0:
        _raise([FieldError("delta", "INSUFFICIENT_BALANCE", f"Only {row.balance} is left to take back.")])
    if row.amount + delta > MAX_CREDIT:
        _raise([FieldError("delta", "MAX_VALUE", f"A credit holds at most {MAX_CREDIT}.")])
    row.amount, row.balance = row.amount + delta, row.balance + delta
    row.save(update_fields=["amount", "balance", "updated_at"])
    BookingCreditAdjustment.objects.create(
        credit=row,
        delta=delta,
        reason=reason,
        balance_after=row.balance,
        actor_kind=actor.kind,
        actor_user=actor.db_user,
        actor_label=actor.label,
    )
    return row


@transaction.atomic
def booking_credit_delete(*, credit: BookingCredit) -> None:
    """Delete a credit nothing was spent from; otherwise IN_USE (its uses are what bookings were charged)."""
    row = BookingCredit.objects.select_for_update(of=("self",)).get(pk=credit.pk)
    if row.uses.exists():
        message = "Bookings already used this credit; it cannot be deleted."
        raise InUse(message, errors=[FieldError("", "IN_USE", message)])
    row.delete()


# --- rates reserved for a customer -----------------------------------------------------------------------


@transaction.atomic
def customer_rates_set(*, customer: Customer, rate_ids: Sequence[Any]) -> None:
    """Reserve exactly these rates for the customer (a rate with reservations applies only to its
    customers): each must be a rate of the customer's organization; reservations left out are removed."""
    row = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    wanted = list(dict.fromkeys(rate_ids))
    own = set(
        Rate.objects.filter(pk__in=wanted, resource__venue__organization_id=row.organization_id).values_list(
            "pk", flat=True
        )
    )
    errors = [
        FieldError(f"rateIds[{i}]", "NOT_FOUND", "Choose a rate of the customer's organization.")
        for i, rate_id in enumerate(wanted)
        if rate_id not in own
    ]
    _raise(errors)
    RateCustomer.objects.filter(customer=row).exclude(rate_id__in=wanted).delete()
    have = set(RateCustomer.objects.filter(customer=row).values_list("rate_id", flat=True))
    RateCustomer.objects.bulk_create(RateCustomer(customer=row, rate_id=r) for r in wanted if r not in have)
    config_changed(organization_id=row.organization_id)  # the cached rates carry their customers
