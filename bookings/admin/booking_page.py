"""The booking page of the staff admin (docs/architecture.md#staff-admin): the booker's answers and
visitors, the requested times with their conflicts, units and prices (docs/architecture.md#prices), what
the request said about paying, the open change request and the log."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from bookings.pricing.estimate import has_price, price_total
from events.models import Event, Reservation
from events.series import series_describe

from ..models import Booking, BookingEvent, BookingLog, BookingStatus, FormField
from ..selectors import bookings_conflicts
from .common import answers_table, booking_tz, field_labels, local_span, safe_note, status_label


class BookingPageMixin:
    """The read-only fields of BookingAdmin's booking page."""

    # --- columns and read-only fields ---
    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Booking) -> str:
        return status_label(obj.status)

    @admin.display(description="Answers")
    def answers(self, obj: Booking) -> str:
        return answers_table(obj.contact_answers, self._labels(obj), skip=("name", "email"))

    @admin.display(description="Request note")
    def request_note_html(self, obj: Booking) -> str:
        return safe_note(obj.request_note)

    @admin.display(description="Received")
    def received(self, obj: Booking) -> str:
        return f"{timezone.localtime(obj.created_at, booking_tz(obj)):%a %d %b %Y %H:%M}"

    @admin.display(description="Decided")
    def decided(self, obj: Booking) -> str:
        if not obj.decided_at:
            return "—"
        who = obj.decided_by.get_username() if obj.decided_by else "—"
        return f"{timezone.localtime(obj.decided_at, booking_tz(obj)):%a %d %b %Y %H:%M} by {who}"

    @admin.display(description="Change request")
    def open_change_request(self, obj: Booking) -> str:
        request_ = obj.change_requests.filter(decision="").first()
        if request_ is None:
            return "—"
        url = reverse("admin:bookings_bookingchangerequest_change", args=[request_.pk])
        kind = "cancellation" if request_.cancellation else "change"
        return format_html(
            '<a href="{}" class="allot-conflict">Open {} request from {:%d %b %H:%M}</a>',
            url,
            kind,
            timezone.localtime(request_.created_at, booking_tz(obj)),
        )

    @admin.display(description="Visitors")
    def visitor_list(self, obj: Booking) -> str:
        visitors = list(obj.visitors.all())
        if not visitors:
            return "—"
        return format_html(
            '<ul class="allot-plain">{}</ul>',
            format_html_join(
                "",
                "<li>{} &lt;{}&gt; · {}</li>",
                ((v.name, v.email, "invited" if v.invited_at else "invited when approved") for v in visitors),
            ),
        )

    @staticmethod
    def _resources_cell(be: BookingEvent, held: dict) -> str:
        """The resources, the unit asked for, and the units the event occupies (docs/architecture.md#units)."""
        names = ", ".join(r.name for r in be.resources.all()) or "—"
        parts = [names]
        if be.unit is not None:
            parts.append(f"asked for {be.unit.name}")
        if held.get(be.event_id):
            parts.append("holds " + ", ".join(held[be.event_id]))
        return " · ".join(parts)

    @admin.display(description="Requested times")
    def requested_events(self, obj: Booking) -> str:
        events = list(obj.requested_times.all())
        if not events:
            return "—"
        held: dict = {}
        for event_id, unit_name in (
            Reservation.objects.filter(
                event_id__in=[be.event_id for be in events if be.event_id], unit__isnull=False, active=True
            )
            .order_by("unit__order", "unit__name")
            .values_list("event_id", "unit__name")
        ):
            held.setdefault(event_id, []).append(unit_name)
        tz = booking_tz(obj, events)
        conflicts = bookings_conflicts([obj.pk]).get(obj.pk, {}) if obj.status == BookingStatus.PENDING else {}
        conflicting = _conflicting_events(conflicts)
        labels = self._labels(obj)
        # The stored quotes (estimate until approval, then the fixed snapshot): no query per row.
        priced = has_price(be.price for be in events)
        currency = obj.organization.currency
        rows: list[tuple[Any, str]] = []
        for be in events:
            event_link = "—"
            if be.event is not None:
                event_url = reverse("admin:events_event_change", args=[be.event_id])
                event_link = format_html('<a href="{}">{}</a>', event_url, be.event.get_status_display())
            problems = format_html_join(
                "",
                '<li class="allot-conflict">{} {}</li>',
                (
                    (e.message, _event_links(e.meta.get("conflictingEventIds", []), conflicting))
                    for e in conflicts.get(be.pk, [])
                ),
            )
            series = be.event.series if be.event is not None and be.event.series_id else None
            rows.append(
                (
                    series,
                    format_html(
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
                        be.title,
                        local_span(be.start, be.end, tz),
                        self._resources_cell(be, held),
                        answers_table({"attendees": be.attendees, **be.answers}, labels)
                        if (be.answers or be.attendees)
                        else "—",
                        event_link,
                        format_html('<ul class="allot-plain">{}</ul>', problems) if problems else "None",
                        format_html("<td>{}</td>", price_cell(be.price if has_price([be.price]) else None, currency))
                        if priced
                        else "",
                    ),
                )
            )
        columns = 7 if priced else 6
        total = price_total((be.price for be in events), currency) if priced else None
        foot = (
            format_html(
                '<tfoot><tr class="allot-price-total"><th colspan="{}">Total</th><td>{}</td></tr></tfoot>',
                columns - 1,
                price_cell(total, currency),
            )
            if total
            else ""
        )
        return format_html(
            '<table class="allot-events"><thead><tr><th>Title</th><th>When ({})</th><th>Resources</th>'
            "<th>Answers</th><th>Calendar event</th><th>Conflicts</th>{}</tr></thead><tbody>{}</tbody>{}</table>",
            tz.key,
            format_html("<th>Price ({})</th>", currency) if priced else "",
            _series_grouped(rows, columns),
            foot,
        )

    @admin.display(description="Paying")
    def paying(self, obj: Booking) -> str:
        """What the request said about paying (bookings.validation.billing.BookingBilling)."""
        lines = []
        if obj.discount_code is not None:
            lines.append(("Discount code", obj.discount_code.code))
        if obj.purchase_order:
            lines.append(("Purchase order", obj.purchase_order))
        if obj.do_not_use_booking_credit:
            lines.append(("Booking credit", "not used (the request declined it)"))
        elif has_price(be.price for be in obj.requested_times.all()):
            lines.append(("Booking credit", "used when available"))
        if obj.invoice_this_contact:
            lines.append(("Charged to", "the contact, not the customer"))
        if not lines:
            return "—"
        return format_html(
            '<table class="allot-answers" data-testid="paying"><tbody>{}</tbody></table>',
            format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', lines),
        )

    @admin.display(description="Log")
    def history(self, obj: Booking) -> str:
        rows = [
            (
                f"{timezone.localtime(log.created_at, booking_tz(obj)):%d %b %Y %H:%M}",
                log.actor_label or log.actor_kind,
                log.action.replace("_", " "),
                ", ".join(sorted(log.after.keys() | log.before.keys())) or "—",
                log.note or "",
            )
            for log in BookingLog.objects.filter(booking=obj).order_by("created_at")
        ]
        return format_html(
            '<table class="allot-log"><thead><tr><th>When</th><th>Who</th><th>What</th><th>Changed</th>'
            "<th>Note</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    def _labels(self, obj: Booking) -> dict[str, str]:
        cached = getattr(obj, "_labels", None)
        if cached is None:
            # Kept on the row for the rest of this request.
            cached = obj._labels = field_labels(  # type: ignore[attr-defined]
                list(FormField.objects.filter(module_id=obj.module_id))
            )
        return cached


def price_cell(price: dict | None, currency: str) -> str:
    """A time's stored quote (or the booking's total, bookings.pricing.estimate.price_total): the price after the
    discount with the currency, whether it is an estimate or fixed, and what changed it."""
    if not price:
        return ""
    currency = price.get("currency") or currency
    details = []
    if price.get("overridePrice") is not None:
        details.append(f"override; computed {price.get('computedAmount') or 'none (no rate)'}")
    discount = price.get("discount")  # a time's: {code, amount, ...}; the total's: the amount
    code, off = (discount.get("code"), discount.get("amount")) if isinstance(discount, dict) else (None, discount)
    if off and Decimal(off):
        details.append(f"discount{f' {code}' if code else ''} {off} off {price.get('subtotal')}")
    if price.get("creditUsed") and Decimal(price["creditUsed"]):
        details.append(f"credit {price['creditUsed']}, to charge {price.get('total')}")
    return format_html(
        '<span class="allot-price" data-testid="price">{} {}</span> <span class="allot-muted">{}</span>{}',
        currency,
        price.get("price"),
        "fixed" if price.get("fixed") else "estimate",
        format_html('<br><span class="allot-muted">{}</span>', "; ".join(details)) if details else "",
    )


def _series_grouped(rows: list[tuple[Any, str]], columns: int = 6) -> str:
    """The requested-time rows with each series' occurrences together under a "Series: weekly, 10
    occurrences" heading linking to them in the Event admin; times outside a series first, in order."""
    groups: dict[Any, tuple[Any, list[str]]] = {}
    for series, row in rows:
        groups.setdefault(series.pk if series is not None else None, (series, []))[1].append(row)
    out = list(groups.pop(None, (None, []))[1])
    for series, members in groups.values():
        out.append(
            format_html(
                '<tr class="allot-series-heading"><th colspan="{}">Series: {} · <a href="{}">its events</a></th></tr>',
                columns,
                series_describe(series.rule, len(members)),
                reverse("admin:events_event_changelist") + f"?series={series.pk}",
            )
        )
        out += members
    return format_html_join("", "{}", ((r,) for r in out))


def _conflicting_events(conflicts: dict) -> dict[str, Event]:
    ids = {i for errors in conflicts.values() for e in errors for i in e.meta.get("conflictingEventIds", [])}
    if not ids:
        return {}
    return {str(e.pk): e for e in Event.objects.filter(pk__in=ids).prefetch_related("booking_events")}


def _event_links(ids: list[str], events: dict[str, Event]) -> str:
    links = []
    for event_id in ids:
        event = events.get(event_id)
        if event is None:
            continue
        booking_events = list(event.booking_events.all())
        url = (
            reverse("admin:bookings_booking_change", args=[booking_events[0].booking_id])
            if booking_events
            else reverse("admin:events_event_change", args=[event.pk])
        )
        links.append((url, event.title))
    return format_html_join(", ", '<a href="{}">{}</a>', links)
