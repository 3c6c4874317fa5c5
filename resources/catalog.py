"""Writes for what a resource offers: its units (desks, seats), rates and products
(docs/architecture.md#every-write-through-a-service, docs/architecture.md#prices, docs/architecture.md#units).
The API's /units, /rates and /products endpoints call these one row at a time; the admin's inline rows on a
resource's page reach them through resources.services.resource_update (`rows`), which calls them row by row.

Every service is keyword-only and atomic, locks what it changes, checks what the database constraints say
before writing (a refusal is a ValidationFailed with one FieldError per problem at the API's camelCase field
name: `price`, `endTime`, `weekdays`), and calls `config_changed`: every submit prices and places bookings
from the cached resources (docs/architecture.md#configuration-cache).

Deleting keeps history: a unit that a reservation or a request names, and a rate or product that a booking
or a price refers to (resources.hooks asks the bookings app), is archived instead (`archived` true, `active`
false), and the service returns it; an unreferenced row is deleted and the service returns None.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import time
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import Model

from core.errors import DomainError, FieldError, ValidationFailed

from .config_cache import config_changed
from .hooks import pricing_hook
from .models import ALL_WEEKDAYS, Product, ProductUnit, Rate, RateUnit, Resource, ResourceUnit, weekday_mask

UNIT_FIELDS = frozenset({"name", "order", "archived"})
RATE_FIELDS = frozenset(
    {"name", "unit", "price", "weekdays", "start_time", "end_time", "min_minutes", "max_minutes", "active"}
)
PRODUCT_FIELDS = frozenset({"name", "unit_price", "unit", "active"})

RowT = TypeVar("RowT", bound=Model)
ActiveT = TypeVar("ActiveT", Rate, Product)


# --- checks (field paths relative to the row) ------------------------------------------------------------


def unit_errors(unit: ResourceUnit) -> list[FieldError]:
    return [] if unit.name else [FieldError("name", "REQUIRED", "A unit needs a name.")]


def _window_errors(start: time | None, end: time | None) -> list[FieldError]:
    if start is None and end is not None:
        return [FieldError("startTime", "INVALID", "Give both ends of the time window, or neither (all day).")]
    if start is not None and end is None:
        return [FieldError("endTime", "INVALID", "Give both ends of the time window, or neither (all day).")]
    if start is not None and end is not None and not (end > start or end == time(0, 0)):
        message = "The window must end after it starts (00:00 means midnight at the day's end)."
        return [FieldError("endTime", "END_BEFORE_START", message)]
    return []


def rate_errors(rate: Rate, weekdays: Sequence[int]) -> list[FieldError]:
    errors = []
    if not rate.name:
        errors.append(FieldError("name", "REQUIRED", "A rate needs a name."))
    if rate.price is None or rate.price < 0:
        errors.append(FieldError("price", "MIN_VALUE", "A price cannot be negative."))
    if not weekdays or any(not 0 <= int(day) <= 6 for day in weekdays):
        errors.append(FieldError("weekdays", "INVALID", "At least one weekday, each 0 (Monday) to 6 (Sunday)."))
    errors += _window_errors(rate.start_time, rate.end_time)
    if rate.min_minutes is not None and rate.max_minutes is not None and rate.min_minutes > rate.max_minutes:
        errors.append(FieldError("maxMinutes", "INVALID", "The longest booking must not be shorter than the shortest."))
    return errors


def product_errors(product: Product) -> list[FieldError]:
    errors = [] if product.name else [FieldError("name", "REQUIRED", "A product needs a name.")]
    if product.unit_price is None or product.unit_price < 0:
        errors.append(FieldError("unitPrice", "MIN_VALUE", "A price cannot be negative."))
    return errors


def _raise(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(errors=errors)


def _only(changes: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"Unknown fields: {', '.join(sorted(unknown))}")


def _lock_resource(resource: Resource) -> Resource:
    """The resource's row, locked as the booking writers lock it (docs/architecture.md#lock-order): what a
    scheduling check reads of its units stays true until the booking commits."""
    return Resource.objects.select_for_update(of=("self",)).select_related("venue").get(pk=resource.pk)


def _lock(model: type[RowT], pk: Any) -> RowT:
    row: RowT = model._default_manager.select_for_update(of=("self",)).select_related("resource__venue").get(pk=pk)
    return row


def _changed(row: Model) -> Model:
    organization_id = row.resource.venue.organization_id  # type: ignore[attr-defined]  # every row has a resource
    config_changed(organization_id=organization_id)
    return row


# --- units ---------------------------------------------------------------------------------------------


def _save_unit(unit: ResourceUnit) -> None:
    """Save; a name another unit of the resource has (a rename, or a concurrent writer) is NOT_UNIQUE."""
    message = "Another unit of this resource has this name."
    taken = ResourceUnit.objects.filter(resource_id=unit.resource_id, name=unit.name).exclude(pk=unit.pk)
    if taken.exists():
        raise ValidationFailed(errors=[FieldError("name", "NOT_UNIQUE", message)])
    try:
        with transaction.atomic():
            unit.save()
    except IntegrityError as exc:
        raise ValidationFailed(errors=[FieldError("name", "NOT_UNIQUE", message)]) from exc


@transaction.atomic
def unit_create(*, resource: Resource, name: str, order: int = 0, archived: bool = False) -> ResourceUnit:
    """A unit of the resource; lowest `order` first when a free one is assigned."""
    locked = _lock_resource(resource)
    unit = ResourceUnit(resource=locked, name=name, order=order, archived=archived)
    _raise(unit_errors(unit))
    _save_unit(unit)
    _changed(unit)
    return unit


@transaction.atomic
def unit_update(*, unit: ResourceUnit, changes: Mapping[str, Any]) -> ResourceUnit:
    """Change the fields given (UNIT_FIELDS). An archived unit takes no new bookings and keeps its past ones."""
    _only(changes, UNIT_FIELDS)
    _lock_resource(unit.resource)
    row = _lock(ResourceUnit, unit.pk)
    for name, value in changes.items():
        setattr(row, name, value)
    _raise(unit_errors(row))
    _save_unit(row)
    _changed(row)
    return row


@transaction.atomic
def unit_delete(*, unit: ResourceUnit) -> ResourceUnit | None:
    """Delete a unit nothing refers to (None); a unit that a reservation or a request names is archived
    instead and returned, so its bookings keep their place."""
    _lock_resource(unit.resource)
    row = _lock(ResourceUnit, unit.pk)
    _changed(row)
    if row.reservations.exists() or row.booking_events.exists():  # type: ignore[attr-defined]  # reverse FKs
        if not row.archived:
            row.archived = True
            row.save(update_fields=["archived", "updated_at"])
        return row
    row.delete()
    return None


# --- rates ---------------------------------------------------------------------------------------------


def _set_rate(rate: Rate, values: Mapping[str, Any]) -> list[int]:
    """Apply model values (RATE_FIELDS, `weekdays` a list of days) to the row; the weekdays given."""
    for name, value in values.items():
        if name != "weekdays":
            setattr(rate, name, value)
    days = [int(day) for day in values.get("weekdays", rate.weekday_list)]
    _raise(rate_errors(rate, days))
    rate.weekdays = weekday_mask(days) or ALL_WEEKDAYS
    return days


@transaction.atomic
def rate_create(
    *,
    resource: Resource,
    name: str,
    price: Decimal,
    unit: int = RateUnit.HOUR,
    weekdays: Sequence[int] = tuple(range(7)),
    start_time: time | None = None,
    end_time: time | None = None,
    min_minutes: int | None = None,
    max_minutes: int | None = None,
    active: bool = True,
    customer_ids: Sequence[Any] | None = None,
) -> Rate:
    """A price of the resource, in the organization's currency per `unit`. `customer_ids` reserves it for
    those customers of the organization (none: for everyone)."""
    rate = Rate(resource=Resource.objects.select_related("venue").get(pk=resource.pk))
    _set_rate(
        rate,
        {
            "name": name,
            "price": price,
            "unit": unit,
            "weekdays": weekdays,
            "start_time": start_time,
            "end_time": end_time,
            "min_minutes": min_minutes,
            "max_minutes": max_minutes,
            "active": active,
        },
    )
    rate.save()
    if customer_ids:
        pricing_hook().rate_customers_set(rate=rate, customer_ids=customer_ids)
    _changed(rate)
    return rate


@transaction.atomic
def rate_update(*, rate: Rate, changes: Mapping[str, Any], customer_ids: Sequence[Any] | None = None) -> Rate:
    """Change the fields given (RATE_FIELDS); `customer_ids` replaces the customers it is reserved for (None
    keeps them). Prices already fixed on approved bookings do not change (docs/architecture.md#prices)."""
    _only(changes, RATE_FIELDS)
    row = _lock(Rate, rate.pk)
    _set_rate(row, changes)
    row.save()
    if customer_ids is not None:
        pricing_hook().rate_customers_set(rate=row, customer_ids=customer_ids)
    _changed(row)
    return row


@transaction.atomic
def rate_delete(*, rate: Rate) -> Rate | None:
    """Delete a rate nothing refers to (None); one a booking named or a price lists is archived instead
    (`active` false) and returned."""
    row = _lock(Rate, rate.pk)
    _changed(row)
    if pricing_hook().rate_referenced(rate=row):
        return _deactivate(row)
    row.delete()
    return None


def _deactivate(row: ActiveT) -> ActiveT:
    if row.active:
        row.active = False
        row.save(update_fields=["active", "updated_at"])
    return row


# --- products ------------------------------------------------------------------------------------------


@transaction.atomic
def product_create(
    *, resource: Resource, name: str, unit_price: Decimal, unit: int = ProductUnit.PER_USE, active: bool = True
) -> Product:
    """Something a booking of the resource may add with a quantity, priced per use or per minute."""
    product = Product(
        resource=Resource.objects.select_related("venue").get(pk=resource.pk),
        name=name,
        unit_price=unit_price,
        unit=unit,
        active=active,
    )
    _raise(product_errors(product))
    product.save()
    _changed(product)
    return product


@transaction.atomic
def product_update(*, product: Product, changes: Mapping[str, Any]) -> Product:
    """Change the fields given (PRODUCT_FIELDS)."""
    _only(changes, PRODUCT_FIELDS)
    row = _lock(Product, product.pk)
    for name, value in changes.items():
        setattr(row, name, value)
    _raise(product_errors(row))
    row.save()
    _changed(row)
    return row


@transaction.atomic
def product_delete(*, product: Product) -> Product | None:
    """Delete a product nothing refers to (None); one a booking asked for or a price lists is archived
    instead (`active` false) and returned."""
    row = _lock(Product, product.pk)
    _changed(row)
    if pricing_hook().product_referenced(product=row):
        return _deactivate(row)
    row.delete()
    return None


# --- the rows of a resource page (the admin's inlines) ---------------------------------------------------
# `id` None is a new row, `delete` removes (or archives) the row with that id. Rows left out stay as they are.


@dataclass(frozen=True)
class UnitSpec:
    name: str
    order: int = 0
    archived: bool = False
    id: UUID | None = None
    delete: bool = False


@dataclass(frozen=True)
class RateSpec:
    name: str
    price: Decimal
    unit: int = RateUnit.HOUR
    weekdays: Sequence[int] = tuple(range(7))
    start_time: time | None = None
    end_time: time | None = None
    min_minutes: int | None = None
    max_minutes: int | None = None
    active: bool = True
    id: UUID | None = None
    delete: bool = False


@dataclass(frozen=True)
class ProductSpec:
    name: str
    unit_price: Decimal
    unit: int = ProductUnit.PER_USE
    active: bool = True
    id: UUID | None = None
    delete: bool = False


@dataclass(frozen=True)
class ResourceRows:
    """The owned rows a resource write also saves; None leaves that kind of row alone."""

    units: Sequence[UnitSpec] | None = None
    rates: Sequence[RateSpec] | None = None
    products: Sequence[ProductSpec] | None = None


NO_ROWS = ResourceRows()


@dataclass(frozen=True)
class _Kind:
    model: type[Model]
    path: str  # the list's field name: units[0].name
    fields: frozenset[str]
    check: Callable[[Any, Any], list[FieldError]]  # (the unsaved row, its spec)
    create: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., Any]
    keyword: str  # the row's keyword argument of update and delete


def _kind(name: str) -> _Kind:
    """How rows of a list are checked and written, with the services as this module has them now."""
    if name == "units":
        return _Kind(
            ResourceUnit,
            name,
            UNIT_FIELDS,
            lambda row, _: unit_errors(row),
            unit_create,
            unit_update,
            unit_delete,
            "unit",
        )
    if name == "rates":
        return _Kind(
            Rate,
            name,
            RATE_FIELDS,
            lambda row, spec: rate_errors(row, spec.weekdays),
            rate_create,
            rate_update,
            rate_delete,
            "rate",
        )
    return _Kind(
        Product,
        name,
        PRODUCT_FIELDS,
        lambda row, _: product_errors(row),
        product_create,
        product_update,
        product_delete,
        "product",
    )


@contextmanager
def _at(where: str) -> Iterator[None]:
    """A row service's field errors, placed at the row of the list (`rates[1].price`)."""
    try:
        yield
    except DomainError as error:
        error.errors = [replace(e, field=f"{where}.{e.field}" if e.field else where) for e in error.errors] or [
            FieldError(where, error.code, error.message)
        ]
        raise


def resource_rows_save(*, resource: Resource, rows: ResourceRows) -> None:
    """Units, rates and products of a resource (resources.services.resource_create/update, in their
    transaction), each row through its service above: every row is checked first, then deletions, then the
    rest (so a new row may take a deleted row's name)."""
    for name in ("units", "rates", "products"):
        specs = getattr(rows, name)
        if specs is not None:
            _save_kind(resource, _kind(name), specs)


def _save_kind(resource: Resource, kind: _Kind, specs: Sequence[Any]) -> None:
    existing = {row.pk: row for row in kind.model._default_manager.filter(resource=resource)}
    errors: list[FieldError] = []
    for index, spec in enumerate(specs):
        where = f"{kind.path}[{index}]"
        if spec.id is not None and spec.id not in existing:
            errors.append(FieldError(f"{where}.id", "NOT_FOUND", "No such row of this resource."))
        elif not spec.delete:
            row = kind.model(resource=resource)
            for field in kind.fields - {"weekdays"}:
                setattr(row, field, getattr(spec, field))
            errors += [replace(e, field=f"{where}.{e.field}") for e in kind.check(row, spec)]
    _raise(errors)
    for index, spec in enumerate(specs):
        if spec.delete and spec.id is not None:
            with _at(f"{kind.path}[{index}]"):
                kind.delete(**{kind.keyword: existing[spec.id]})
    for index, spec in enumerate(specs):
        if spec.delete:
            continue
        values = {field: getattr(spec, field) for field in kind.fields}
        with _at(f"{kind.path}[{index}]"):
            if spec.id is None:
                kind.create(resource=resource, **values)
            else:
                kind.update(**{kind.keyword: existing[spec.id]}, changes=values)
