"""Prices in the staff admin: rates and products on the resource's page, rates reserved for a customer,
discount codes, booking credit and the (read-only) charges list — who may do what, scoping, and another
organization's object answering 404."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest
from django.test import Client

from bookings.models import BookingCredit, Charge, ChargeStatus, DiscountCode, RateCustomer
from bookings.pricing.config import booking_credit_adjust
from resources.models import ProductUnit, Rate, RateUnit, Role, weekday_mask

from ..conftest import Setup
from ..factories import (
    BookingCreditFactory,
    BookingFactory,
    ChargeFactory,
    ContactFactory,
    CreditUseFactory,
    CustomerFactory,
    DiscountCodeFactory,
    DiscountCodeUseFactory,
    OrganizationFactory,
    ProductFactory,
    RateCustomerFactory,
    RateFactory,
)
from .config_helpers import add_rows, form_data, inline_rows, url

D = Decimal


@pytest.fixture
def other(db) -> Setup:
    return Setup()


def make_code(setup: Setup, **kwargs) -> DiscountCode:
    return DiscountCodeFactory(organization=setup.org, code=kwargs.pop("code", "SPRING"), **kwargs)  # 10% off


def make_credit(setup: Setup, **kwargs) -> BookingCredit:
    # A new contact's credit.
    return BookingCreditFactory(organization=setup.org, amount=D("50"), balance=D("50"), **kwargs)


def make_charge(setup: Setup) -> Charge:
    return ChargeFactory(
        booking=BookingFactory(module=setup.module), amount=D("20"), currency="GBP", purchase_order="PO-7"
    )


OBJECTS = {
    "bookings.discountcode": make_code,
    "bookings.bookingcredit": make_credit,
    "bookings.charge": make_charge,
}


# --- scoping -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", OBJECTS)
def test_another_organizations_object_is_not_found(setup: Setup, member, model: str) -> None:
    obj = OBJECTS[model](setup)
    _, client = member(Role.OWNER, organization=OrganizationFactory())
    assert client.get(url(model, "change", obj)).status_code == 404
    assert client.post(url(model, "change", obj), {"code": "STOLEN"}).status_code == 404
    assert client.post(url(model, "delete", obj), {"post": "yes"}).status_code in (403, 404)
    assert client.get(url(model, "changelist")).context["cl"].result_count == 0
    assert type(obj).objects.filter(pk=obj.pk).exists()
    _, own = member(Role.VIEWER)
    assert own.get(url(model, "change", obj)).status_code == 200
    assert own.get(url(model, "changelist")).context["cl"].result_count == 1


@pytest.mark.parametrize(("role", "may_edit"), [(Role.VIEWER, False), (Role.MANAGER, False), (Role.ADMIN, True)])
def test_discount_codes_and_credit_are_configured_by_admins(setup: Setup, member, role: str, may_edit: bool) -> None:
    code, credit = make_code(setup), make_credit(setup)
    _, client = member(role)
    for model, obj in (("bookings.discountcode", code), ("bookings.bookingcredit", credit)):
        assert client.get(url(model, "add")).status_code == (200 if may_edit else 403)
        assert (b'name="_save"' in client.get(url(model, "change", obj)).content) is may_edit


def test_charges_are_read_only_for_everyone(setup: Setup, member) -> None:
    charge = make_charge(setup)
    _, client = member(Role.OWNER)
    changelist = client.get(url("bookings.charge", "changelist"))
    assert changelist.status_code == 200
    assert b"PO-7" in changelist.content
    assert client.get(url("bookings.charge", "add")).status_code == 403
    page = client.get(url("bookings.charge", "change", charge))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.post(url("bookings.charge", "change", charge), {"amount": "0"}).status_code == 403
    charge.refresh_from_db()
    assert (charge.amount, charge.status) == (D("20"), ChargeStatus.NOT_CHARGED)


# --- rates and products on the resource's page ----------------------------------------------------------


def test_admin_adds_rates_and_products_to_a_resource(setup: Setup, admin_client: Client) -> None:
    change = url("resources.resource", "change", setup.room)
    data = form_data(admin_client.get(change))
    add_rows(
        data,
        "rates",
        [
            {
                "name": "Evening <b>",
                "unit": str(RateUnit.HOUR),
                "price": "15.50",
                "days": None,
                "start_time": "18:00",
                "end_time": "23:00",
                "active": True,
            },
            {
                "name": "Weekend day",
                "unit": str(RateUnit.DAY),
                "price": "80",
                "start_time": "",
                "end_time": "",
                "active": True,
            },
        ],
    )
    data["rates-0-days"] = ["0", "1", "2", "3", "4"]
    data["rates-1-days"] = ["5", "6"]
    add_rows(
        data,
        "products",
        [{"name": "Projector", "unit_price": "0.10", "unit": str(ProductUnit.PER_MINUTE), "active": True}],
    )
    response = admin_client.post(change, data)
    assert response.status_code == 302, response.context and [
        inline.formset.errors for inline in response.context["inline_admin_formsets"]
    ]
    evening, weekend = setup.room.rates.order_by("price")
    assert (evening.name, evening.weekdays, evening.start_time, evening.end_time) == (
        "Evening",
        weekday_mask(range(5)),
        time(18),
        time(23),
    )
    assert (weekend.unit, weekend.weekday_list, weekend.start_time) == (RateUnit.DAY, [5, 6], None)
    assert setup.room.products.get().unit == ProductUnit.PER_MINUTE

    # The stored weekdays come back as the checked boxes.
    page = admin_client.get(change)
    assert inline_rows(page, "rates")[0].initial["days"] in ([0, 1, 2, 3, 4], [5, 6])


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"start_time": "18:00", "end_time": ""}, "end_time"),
        ({"start_time": "18:00", "end_time": "09:00"}, "end_time"),
        ({"min_minutes": "120", "max_minutes": "60"}, "max_minutes"),
        ({"price": "-1"}, "price"),
    ],
)
def test_rate_rows_are_checked(setup: Setup, admin_client: Client, row: dict, field: str) -> None:
    change = url("resources.resource", "change", setup.room)
    data = add_rows(
        form_data(admin_client.get(change)),
        "rates",
        [{"name": "Bad", "unit": "0", "price": "10", "days": "0", "active": True, **row}],
    )
    response = admin_client.post(change, data)
    assert response.status_code == 200
    assert field in inline_rows(response, "rates")[0].errors
    assert not Rate.objects.exists()


def test_a_viewer_sees_rates_without_inputs(setup: Setup, member) -> None:
    RateFactory(resource=setup.room, name="Hourly", price=D("10"))
    ProductFactory(resource=setup.room, name="Coffee", unit_price=D("2.5"))
    _, client = member(Role.VIEWER)
    page = client.get(url("resources.resource", "change", setup.room))
    assert page.status_code == 200
    assert b"Hourly" in page.content and b"Coffee" in page.content
    assert b'name="rates-0-price"' not in page.content


# --- rates reserved for a customer ----------------------------------------------------------------------


def test_a_rate_is_reserved_for_a_customer_of_the_same_organization(setup: Setup, other: Setup, member) -> None:
    customer = CustomerFactory(organization=setup.org)
    own_rate = RateFactory(resource=setup.room, name="Members", price=D("6"))
    foreign = RateFactory(resource=other.room, name="Theirs", price=D("1"))
    _, client = member(Role.ADMIN)
    change = url("bookings.customer", "change", customer)
    page = client.get(change)
    formset = next(i.formset for i in page.context["inline_admin_formsets"] if i.formset.prefix == "rate_links")
    assert list(formset.empty_form.fields["rate"].queryset) == [own_rate]
    data = add_rows(form_data(page), "rate_links", [{"rate": str(foreign.pk)}])
    response = client.post(change, data)
    assert response.status_code == 200  # another organization's rate is not a choice
    assert not RateCustomer.objects.exists()

    data = add_rows(form_data(page), "rate_links", [{"rate": str(own_rate.pk)}])
    assert client.post(change, data).status_code == 302
    assert RateCustomer.objects.get().rate == own_rate


def test_reserved_rates_are_not_on_the_customer_add_page(setup: Setup, member) -> None:
    _, client = member(Role.ADMIN)
    prefixes = [i.formset.prefix for i in client.get(url("bookings.customer", "add")).context["inline_admin_formsets"]]
    assert prefixes == []


def test_a_manager_edits_a_customer_but_not_its_reserved_rates(setup: Setup, member) -> None:
    customer = CustomerFactory(organization=setup.org)
    rate = RateFactory(resource=setup.room, name="Members", price=D("6"))
    RateCustomerFactory(rate=rate, customer=customer)
    _, client = member(Role.MANAGER)
    change = url("bookings.customer", "change", customer)
    page = client.get(change)
    assert b"Members" in page.content
    data = form_data(page)
    data["name"] = "Renamed"
    assert client.post(change, data).status_code == 302
    customer.refresh_from_db()
    assert customer.name == "Renamed"
    assert RateCustomer.objects.filter(customer=customer).count() == 1


# --- discount codes ------------------------------------------------------------------------------------


def code_post(setup: Setup, **fields) -> dict:
    data = {"organization": str(setup.org.pk), "code": "SUMMER", "percentage": "", "amount": "", "active": "on"}
    data.update(fields)
    return data


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"percentage": "10", "amount": "5"}, "amount"),
        ({}, "amount"),
        ({"percentage": "101"}, "percentage"),
        ({"amount": "0"}, "amount"),
        ({"percentage": "10", "code": "spring"}, "code"),  # SPRING exists: letter case does not matter
        (
            {
                "percentage": "10",
                "valid_from_0": "2030-01-02",
                "valid_from_1": "00:00",
                "valid_until_0": "2030-01-01",
                "valid_until_1": "00:00",
            },
            "valid_until",
        ),
    ],
)
def test_discount_code_form_errors(setup: Setup, admin_client: Client, fields: dict, field: str) -> None:
    make_code(setup, code="SPRING")
    response = admin_client.post(url("bookings.discountcode", "add"), code_post(setup, **fields))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert DiscountCode.objects.count() == 1


def test_discount_code_resources_are_of_its_organization(setup: Setup, other: Setup, admin_client: Client) -> None:
    data = code_post(setup, percentage="10", resources=[str(other.room.pk)])
    response = admin_client.post(url("bookings.discountcode", "add"), data)
    assert "resources" in response.context["adminform"].form.errors
    data["resources"] = [str(setup.room.pk)]
    assert admin_client.post(url("bookings.discountcode", "add"), data).status_code == 302
    created = DiscountCode.objects.get(code="SUMMER")
    assert (created.percentage, list(created.resources.all())) == (D("10"), [setup.room])


def test_discount_code_list_shows_uses(setup: Setup, member) -> None:
    code = make_code(setup, max_uses_total=5)
    for _ in range(2):
        DiscountCodeUseFactory(code=code, booking=BookingFactory(module=setup.module))
    make_code(setup, code="FIVE", percentage=None, amount=D("5"))
    _, client = member(Role.VIEWER)
    rows = {c.code: c for c in client.get(url("bookings.discountcode", "changelist")).context["cl"].result_list}
    assert (rows["SPRING"].use_count, rows["FIVE"].use_count) == (2, 0)


# --- credit --------------------------------------------------------------------------------------------


def test_a_new_credit_starts_with_its_whole_amount(setup: Setup, member) -> None:
    contact = ContactFactory(organization=setup.org)
    _, client = member(Role.ADMIN)
    data = {
        "organization": str(setup.org.pk),
        "contact": str(contact.pk),
        "amount": "120.50",
        "description": "Ten-pack",
    }
    response = client.post(url("bookings.bookingcredit", "add"), data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    credit = BookingCredit.objects.get()
    assert (credit.amount, credit.balance, credit.contact) == (D("120.50"), D("120.50"), contact)

    # Afterwards the amount, owner and balance are read-only; a forged POST changes none of them.
    page = client.get(url("bookings.bookingcredit", "change", credit))
    data = form_data(page)
    data.update(amount="9999", balance="9999", description="Renamed")
    assert client.post(url("bookings.bookingcredit", "change", credit), data).status_code == 302
    credit.refresh_from_db()
    assert (credit.amount, credit.balance, credit.description) == (D("120.50"), D("120.50"), "Renamed")


def test_the_credit_page_shows_its_adjustments_read_only(setup: Setup, member) -> None:
    credit = make_credit(setup)
    booking_credit_adjust(credit=credit, delta=D("-7.5"), reason="Refunded a session", actor=setup.staff)
    for role in (Role.VIEWER, Role.ADMIN):
        _, client = member(role)
        page = client.get(url("bookings.bookingcredit", "change", credit))
        assert page.status_code == 200
        assert b"Refunded a session" in page.content and b"-7.5" in page.content
        assert b'name="adjustments-0-reason"' not in page.content
    data = form_data(page)
    data["description"] = "Renamed"
    assert client.post(url("bookings.bookingcredit", "change", credit), data).status_code == 302
    assert credit.adjustments.count() == 1


@pytest.mark.parametrize("case", ["nobody", "both", "another organization's contact"])
def test_credit_owner_errors(setup: Setup, other: Setup, admin_client: Client, case: str) -> None:
    own_contact, own_customer = ContactFactory(organization=setup.org), CustomerFactory(organization=setup.org)
    owner = {
        "nobody": {},
        "both": {"contact": str(own_contact.pk), "customer": str(own_customer.pk)},
        "another organization's contact": {"contact": str(ContactFactory(organization=other.org).pk)},
    }[case]
    data = {"organization": str(setup.org.pk), "amount": "10", **owner}
    response = admin_client.post(url("bookings.bookingcredit", "add"), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not BookingCredit.objects.exists()


# --- the services' refusals at the form's fields --------------------------------------------------------


def racing_writes(monkeypatch, setup: Setup) -> None:
    """Another request writes the code SUMMER after the form was checked, just before the service locks and
    checks again: only the service sees the problem."""
    from bookings.admin import pricing as admin_pricing

    for name in ("discount_code_create", "discount_code_update"):
        real = getattr(admin_pricing, name)

        def racing(*, _real=real, **kwargs):
            make_code(setup, code="SUMMER")
            return _real(**kwargs)

        monkeypatch.setattr(admin_pricing, name, racing)


@pytest.fixture
def race(monkeypatch, setup: Setup) -> None:
    racing_writes(monkeypatch, setup)


NOT_UNIQUE = ["Another discount code of this organization is the same (letter case aside)."]


def test_a_refusal_of_the_service_shows_at_its_field_on_add(setup: Setup, admin_client: Client, race) -> None:
    response = admin_client.post(url("bookings.discountcode", "add"), code_post(setup, code="summer", percentage="5"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"code": NOT_UNIQUE}
    assert not DiscountCode.objects.exists()  # the admin's transaction, and the racing write, rolled back


def test_a_refusal_of_the_service_shows_at_its_field_on_change(setup: Setup, admin_client: Client) -> None:
    code = make_code(setup, code="AUTUMN")
    data = form_data(admin_client.get(url("bookings.discountcode", "change", code)))
    data.update(code="Summer", percentage="15")
    with pytest.MonkeyPatch.context() as patch:
        racing_writes(patch, setup)
        response = admin_client.post(url("bookings.discountcode", "change", code), data)
    assert response.context["adminform"].form.errors == {"code": NOT_UNIQUE}
    code.refresh_from_db()
    assert (code.code, code.percentage) == ("AUTUMN", D("10"))
    assert admin_client.post(url("bookings.discountcode", "change", code), data).status_code == 302
    code.refresh_from_db()
    assert (code.code, code.percentage) == ("Summer", D("15"))


# --- deleting goes through the services: what bookings used stays --------------------------------------


def used_code(setup: Setup) -> DiscountCode:
    code = make_code(setup, code="USED")
    DiscountCodeUseFactory(code=code)
    return code


def used_credit(setup: Setup) -> BookingCredit:
    credit = make_credit(setup)
    CreditUseFactory(credit=credit)
    return credit


@pytest.mark.parametrize(
    "model, make, used, message",
    [
        # A used code is archived, as DELETE /discount-codes/{id} does: its counted uses stay.
        ("bookings.discountcode", make_code, used_code, "is still referred to, so it was archived instead of deleted"),
        ("bookings.bookingcredit", make_credit, used_credit, "Bookings already used this credit"),
    ],
)
def test_delete_removes_an_unused_row_and_keeps_a_used_one(
    setup: Setup, admin_client: Client, model, make, used, message
) -> None:
    unused = make(setup)
    assert admin_client.post(url(model, "delete", unused), {"post": "yes"}).status_code == 302
    assert not type(unused).objects.filter(pk=unused.pk).exists()

    kept = used(setup)
    response = admin_client.post(url(model, "delete", kept), {"post": "yes"}, follow=True)
    assert type(kept).objects.filter(pk=kept.pk).exists()
    assert kept.uses.count() == 1
    assert any(message in str(m) for m in response.context["messages"])
    if isinstance(kept, DiscountCode):
        kept.refresh_from_db()
        assert kept.active is False
