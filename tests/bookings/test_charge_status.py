"""One writer of a charge's status (docs/architecture.md#charge-statuses): bookings.pricing.charges.
charges_status_set() follows CHARGE_TRANSITIONS, refuses anything else with INVALID_TRANSITION and writes
nothing then; every path that moves a charge goes through it, and no other code writes the status."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from bookings.lifecycle.decide import booking_approve, booking_cancel
from bookings.lifecycle.transitions import EventProcedure
from bookings.models import CHARGE_TRANSITIONS, Booking, BookingStatus, Charge, ChargeStatus
from bookings.pricing import charges as charges_module
from bookings.pricing import fixing
from bookings.pricing.charges import (
    charge_mark_charged,
    charge_mark_invoiced,
    charge_new,
    charge_revert,
    charges_status_set,
)
from core.errors import InvalidTransition
from events.series import WhichEvents
from events.services.occurrences import occurrences_update
from resources.models import Rate, RateUnit
from tests.conftest import future
from tests.factories import BookingFactory
from tests.series import make_booked_series

pytestmark = pytest.mark.django_db
D = Decimal
S = ChargeStatus

# The table written out, so a change to CHARGE_TRANSITIONS shows here too.
ALLOWED = {
    (S.NOT_CHARGED, S.CHARGED),
    (S.NOT_CHARGED, S.INVOICED),
    (S.NOT_CHARGED, S.REVERTED),
    (S.CHARGED, S.INVOICED),
    (S.CHARGED, S.REVERTED),
}
STAMP = {S.CHARGED: "charged_at", S.INVOICED: "invoiced_at", S.REVERTED: "reverted_at"}


def a_charge(setup, status=S.NOT_CHARGED) -> Charge:
    return Charge.objects.create(
        organization=setup.org,
        booking=BookingFactory(module=setup.module),
        amount=D("20.00"),
        currency="GBP",
        status=status,
    )


def test_the_table_is_the_transition_table() -> None:
    assert {(S(a), S(b)) for a, targets in CHARGE_TRANSITIONS.items() for b in targets} == ALLOWED


@pytest.mark.parametrize("target", list(S), ids=lambda s: s.name)
@pytest.mark.parametrize("current", list(S), ids=lambda s: s.name)
def test_a_move_is_allowed_only_by_the_table(setup, current, target) -> None:
    charge = a_charge(setup, current)
    now = timezone.now()
    if (current, target) in ALLOWED:
        charges_status_set([charge], target, now=now)
        assert charge.status == target
        charge.refresh_from_db()
        assert (charge.status, getattr(charge, STAMP[target])) == (target, now)
    else:
        with pytest.raises(InvalidTransition) as caught:
            charges_status_set([charge], target, now=now)
        assert [(e.field, e.code) for e in caught.value.errors] == [("status", "INVALID_TRANSITION")]
        charge.refresh_from_db()
        assert charge.status == current and charge.charged_at is charge.invoiced_at is charge.reverted_at is None


def test_one_refused_move_writes_nothing(setup) -> None:
    movable, final = a_charge(setup), a_charge(setup, S.INVOICED)
    with pytest.raises(InvalidTransition):
        charges_status_set([movable, final], S.REVERTED, now=timezone.now())
    assert sorted(Charge.objects.values_list("status", flat=True)) == [S.NOT_CHARGED, S.INVOICED]


def test_invoicing_a_charged_charge_keeps_when_it_was_charged(setup) -> None:
    charge = a_charge(setup)
    charged_at = timezone.now() - timedelta(days=2)
    charges_status_set([charge], S.CHARGED, now=charged_at)
    later = timezone.now()
    charges_status_set([charge], S.INVOICED, now=later)
    charge.refresh_from_db()
    assert (charge.charged_at, charge.invoiced_at) == (charged_at, later)
    fresh = a_charge(setup)
    charges_status_set([fresh], S.INVOICED, now=later)
    fresh.refresh_from_db()
    assert (fresh.charged_at, fresh.invoiced_at) == (later, later)


@pytest.mark.parametrize("status", [S.REVERTED, 99])
def test_a_new_charge_starts_not_charged_charged_or_invoiced(setup, status) -> None:
    booking = BookingFactory(module=setup.module)
    be = booking.requested_times.create(title="x", start=future(3, 10), end=future(3, 11))
    now = timezone.now()
    assert charge_new(booking=booking, booking_event=be, amount=D("1"), currency="GBP", now=now).status == S.NOT_CHARGED
    invoiced = charge_new(booking=booking, booking_event=be, amount=D("1"), currency="GBP", status=S.INVOICED, now=now)
    assert (invoiced.charged_at, invoiced.invoiced_at) == (now, now)
    with pytest.raises(ValueError):
        charge_new(booking=booking, booking_event=be, amount=D("1"), currency="GBP", status=status, now=now)


# --- every path goes through the writer --------------------------------------------------------------------


@pytest.fixture
def moves(monkeypatch) -> list[tuple[str, str]]:
    """Each call of the writer, as (status before, target) per charge."""
    calls: list[tuple[str, str]] = []
    real = charges_status_set

    def spy(charges, target, *, now):
        calls.extend((S(c.status).name, S(target).name) for c in charges)
        return real(charges, target, now=now)

    monkeypatch.setattr(charges_module, "charges_status_set", spy)
    monkeypatch.setattr(fixing, "charges_status_set", spy)
    return calls


@pytest.fixture
def rate(setup) -> Rate:
    return Rate.objects.create(resource=setup.room, name="Standard", unit=RateUnit.HOUR, price=D("20.00"))


def approved(setup, days=7) -> Charge:
    start = future(days, 10)
    booking = setup.submit(setup.event(start, start + timedelta(hours=1))).booking
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    return Charge.objects.get(booking=booking)


def test_staff_moves_go_through_the_writer(setup, rate, moves) -> None:
    first, second = approved(setup), approved(setup, days=8)
    charge_mark_charged(charge_id=first.pk, actor=setup.staff)
    charge_mark_invoiced(charge_id=first.pk, actor=setup.staff)
    charge_revert(charge_id=second.pk, actor=setup.staff)
    with pytest.raises(InvalidTransition):
        charge_revert(charge_id=first.pk, actor=setup.staff)
    assert moves == [
        ("NOT_CHARGED", "CHARGED"),
        ("CHARGED", "INVOICED"),
        ("NOT_CHARGED", "REVERTED"),
        ("INVOICED", "REVERTED"),
    ]


def test_cancel_reverts_through_the_writer(setup, rate, moves) -> None:
    charge = approved(setup)
    booking_cancel(booking_id=charge.booking_id, actor=setup.staff, event_procedure=EventProcedure.CANCEL)
    assert Booking.objects.get(pk=charge.booking_id).status == BookingStatus.CANCELED
    assert moves == [("NOT_CHARGED", "REVERTED")]


def test_an_override_to_nothing_reverts_through_the_writer(setup, rate, moves) -> None:
    charge = approved(setup)
    occurrences_update(event=charge.booking_event.event, price_override=D("0"), actor=setup.manager)
    charge.refresh_from_db()
    assert charge.status == S.REVERTED and moves == [("NOT_CHARGED", "REVERTED")]


def test_the_series_revert_goes_through_the_writer(setup, rate, moves) -> None:
    booking, _, events = make_booked_series(setup)
    charge_mark_charged(charge_id=Charge.objects.get(booking=booking, event=events[1]).pk, actor=setup.staff)
    moves.clear()
    occurrences_update(event=events[0], which=WhichEvents.REVERT_ALL_CHARGES, actor=setup.manager)
    assert sorted(moves) == [("CHARGED", "REVERTED")] + [("NOT_CHARGED", "REVERTED")] * 9


def test_no_other_code_writes_a_charge_status() -> None:
    """The writer and charge_new are the only places: no `status=ChargeStatus.…` given to a Charge, an update
    or a create, and no `….status =` on a charge, anywhere else in the bookings app."""
    root = Path(__file__).resolve().parents[2] / "bookings"
    allowed = root / "pricing" / "charges.py"
    writes = re.compile(
        r"\b(update|create|Charge)\([^)]*?\bstatus\s*=\s*ChargeStatus\."
        r"|\bcharges?\w*\.status\s*(,[^=\n]*)?=(?!=)"
    )
    found = [
        f"{path.relative_to(root)}: {match.group(0)}"
        for path in root.rglob("*.py")
        if path != allowed and "migrations" not in path.parts
        for match in writes.finditer(path.read_text())
    ]
    assert found == []
    # The check finds what it looks for: the code as it was before the writer.
    assert writes.search("Charge.objects.filter(pk__in=ids).update(\n    status=ChargeStatus.REVERTED)")
    assert writes.search("charge.status, charge.reverted_at = ChargeStatus.REVERTED, now")
