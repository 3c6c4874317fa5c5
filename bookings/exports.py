"""Bookings and contacts as tables (docs/architecture.md#exports), for core.exports to write as CSV
or XLSX. Rows are read in chunks (`iterator`), so an export of any size holds one chunk in memory.

A booking is one row per requested time, in the venue's local time (the time zone is a column), with one
column per custom field of the bookings' modules; answers to fields that no longer exist are kept in
"Other answers" as JSON. Charges have their accounting table (bookings.pricing.charges.charges_table)."""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from django.db.models import QuerySet

from core.exports import Cell, Table, forget_prefetched

from .models import Booking, BookingEvent, BookingStatus, Contact, FormField, FormSection

CHUNK = 250  # rows read at a time: an export holds at most two chunks, whatever its size
CONTACT_KEYS = ("name", "email", "phone")


def bookings_table(bookings: QuerySet[Booking], name: str = "bookings") -> Table:
    fields = list(
        FormField.objects.filter(module__in=bookings.values("module_id"))
        .select_related("module")
        .order_by("module__name", "module_id", "section", "order", "pk")
    )
    columns = [
        *("Booking id", "Status", "Title", "Module", "Contact", "Email", "Phone", "Customer", "Requested at"),
        *("Requested time", "Start", "End", "Time zone", "Resources", "Internal notes"),
        *_field_labels(fields),
        "Other answers",
    ]
    rows = (
        bookings.select_related("module", "contact", "customer", "organization")
        .prefetch_related("requested_times__resources")
        .order_by("created_at", "pk")
        .iterator(chunk_size=CHUNK)
    )
    return Table(name, columns, _booking_rows(rows, fields))


def _field_labels(fields: Sequence[FormField]) -> list[str]:
    """A field's label, with its module's name where two modules have a field of that label, and the start of
    its id where one module has two (every column is told apart by its header)."""
    count: dict[Any, int] = {}
    for f in fields:
        count[f.label] = count.get(f.label, 0) + 1
        count[f.label, f.module_id] = count.get((f.label, f.module_id), 0) + 1
    labels = []
    for f in fields:
        label = f"{f.label} ({f.module.name})" if count[f.label] > 1 else f.label
        labels.append(f"{label} [{str(f.pk)[:8]}]" if count[f.label, f.module_id] > 1 else label)
    return labels


def _booking_rows(bookings: Iterator[Booking], fields: list[FormField]) -> Iterator[list[Cell]]:
    known = {str(f.pk) for f in fields} | set(CONTACT_KEYS)
    while chunk := list(islice(bookings, CHUNK)):
        zones = _first_zones([be.pk for booking in chunk for be in booking.requested_times.all()])
        for booking in chunk:
            times: list[BookingEvent | None] = list(booking.requested_times.all()) or [None]
            for be in times:
                zone = zones.get(be.pk) if be is not None else None
                tz = zoneinfo.ZoneInfo(zone) if zone else booking.organization.tz
                yield _booking_row(booking, be, fields, known, tz)
            forget_prefetched(booking, *(be for be in times if be is not None))


def _first_zones(booking_event_ids: list[Any]) -> dict[Any, str]:
    """Each requested time's zone as the API gives it: its first resource's venue's, else the organization's
    (one query a chunk)."""
    zones: dict[Any, str] = {}
    for be_id, venue_tz, org_tz in (
        BookingEvent.resources.through.objects.filter(bookingevent_id__in=booking_event_ids)
        .order_by("id")
        .values_list("bookingevent_id", "resource__venue__timezone", "resource__venue__organization__timezone")
    ):
        zones.setdefault(be_id, venue_tz or org_tz)
    return zones


def _booking_row(
    booking: Booking, be: BookingEvent | None, fields: list[FormField], known: set[str], local: zoneinfo.ZoneInfo
) -> list[Cell]:
    """One requested time's row; every time in it (the request's too) in `local`, the zone its column names."""
    contact = booking.contact_answers or {}
    answers = (be.answers or {}) if be is not None else {}
    resources = sorted(be.resources.all(), key=lambda r: r.name) if be is not None else []
    other = {k: v for k, v in {**contact, **answers}.items() if k not in known}
    return [
        str(booking.pk),
        BookingStatus(booking.status).label,
        booking.title,
        booking.module.name,
        booking.contact.name if booking.contact else contact.get("name", ""),
        booking.contact.email if booking.contact else contact.get("email", ""),
        booking.contact.phone if booking.contact else contact.get("phone", ""),
        booking.customer.name if booking.customer else "",
        booking.created_at.astimezone(local),
        be.title if be is not None else "",
        be.start.astimezone(local) if be is not None else None,
        be.end.astimezone(local) if be is not None else None,
        str(local),
        ", ".join(r.name for r in resources),
        booking.internal_notes,
        *(_answer((contact if f.section == FormSection.CONTACT else answers).get(str(f.pk))) for f in fields),
        json.dumps(other, ensure_ascii=False) if other else "",
    ]


def _answer(value: Any) -> Cell:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or isinstance(value, int | float | str):
        return value
    return json.dumps(value, ensure_ascii=False)


def contacts_table(contacts: QuerySet[Contact], name: str = "contacts") -> Table:
    contacts = contacts.select_related("customer", "organization").order_by("name", "pk")
    return Table(
        name,
        ["Contact id", "Name", "Email", "Phone", "Customer", "Created at"],
        _contact_rows(contacts.iterator(CHUNK)),
    )


def _contact_rows(contacts: Iterator[Contact]) -> Iterator[list[Cell]]:
    for c in contacts:
        customer = c.customer.name if c.customer else ""
        tz = c.organization.tz
        yield [str(c.pk), c.name, c.email, c.phone, customer, c.created_at.astimezone(tz), str(tz)]
