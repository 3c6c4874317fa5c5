"""The charges list's actions: managers mark charges charged or invoiced (or revert them) through the
charge services, viewers only look and export; a move the transition table refuses is reported, not
made; the CSV export is what the API's charges.csv gives for the selected charges."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from bookings.models import BookingLog, Charge, ChargeStatus
from resources.models import Role

from ..conftest import Setup
from ..factories import BookingFactory, ChargeFactory
from .config_helpers import url

pytestmark = pytest.mark.django_db
D = Decimal


def charges(setup: Setup, count: int = 2) -> list[Charge]:
    booking = BookingFactory(module=setup.module, title="Board meeting")
    return [
        ChargeFactory(booking=booking, amount=D("20"), currency="GBP", purchase_order=f"PO-{i}") for i in range(count)
    ]


def act(client, action: str, rows: list[Charge]):
    return client.post(
        url("bookings.charge", "changelist"),
        {"action": action, "_selected_action": [str(c.pk) for c in rows]},
        follow=True,
    )


def test_a_manager_marks_charges_charged_then_invoiced(setup: Setup, member) -> None:
    rows = charges(setup)
    _, client = member(Role.MANAGER)
    page = act(client, "mark_charged", rows)
    assert b"2 charges marked charged." in page.content
    assert set(Charge.objects.values_list("status", flat=True)) == {ChargeStatus.CHARGED}
    page = act(client, "mark_invoiced", rows[:1])
    assert b"1 charge marked invoiced." in page.content
    page = act(client, "revert_selected", rows)
    assert b"1 charge reverted." in page.content and b"Not reverted" in page.content
    assert dict(Charge.objects.values_list("purchase_order", "status")) == {
        "PO-0": ChargeStatus.INVOICED,
        "PO-1": ChargeStatus.REVERTED,
    }
    assert BookingLog.objects.filter(action__startswith="charge_").count() == 4


def test_a_viewer_cannot_move_charges_but_can_export_them(setup: Setup, member) -> None:
    rows = charges(setup)
    _, client = member(Role.VIEWER)
    changelist = client.get(url("bookings.charge", "changelist"))
    actions = [value for value, _ in changelist.context["action_form"].fields["action"].choices]
    assert "mark_charged" not in actions and "export_csv" in actions
    act(client, "mark_charged", rows)
    assert set(Charge.objects.values_list("status", flat=True)) == {ChargeStatus.NOT_CHARGED}
    response = act(client, "export_csv", rows)
    assert response["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert lines[0][:3] == ["date", "organization", "customer"]
    assert sorted((line[4], line[9], line[11], line[12]) for line in lines[1:]) == [
        ("Board meeting", "20.00", "NOT_CHARGED", "PO-0"),
        ("Board meeting", "20.00", "NOT_CHARGED", "PO-1"),
    ]
