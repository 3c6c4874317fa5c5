"""/api/v1/booking-credits (docs/architecture.md#prices): the exact shape (balance read-only), filters, roles
(admins grant, managers adjust), tenant isolation, a contact or a customer of the organization, fixed fields on
PATCH, DELETE of a used credit refused (409 IN_USE), and adjust: logged, never below a balance of 0, also when
two adjustments race (PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bookings.models import BookingCredit, BookingCreditAdjustment
from core.actor import ActorKind
from core.api.etags import etag_of
from core.time import iso
from resources.models import Role
from tests.api.catalog_helpers import WRITERS, errors, patch, post, queries, url
from tests.api.conftest import Api, assert_error
from tests.conftest import Setup, postgres_only, race
from tests.factories import BookingCreditFactory, ContactFactory, CreditUseFactory, CustomerFactory

D = Decimal
CREDITS = "booking-credits"
ADJUSTERS = {Role.OWNER: True, Role.ADMIN: True, Role.MANAGER: True, Role.VIEWER: False}


@pytest.fixture
def pack(setup) -> BookingCredit:
    contact = ContactFactory(organization=setup.org, name="Ada")
    return BookingCreditFactory(organization=setup.org, contact=contact, amount=D("50"), description="Ten-pack")


def expected(credit: BookingCredit, amount: str, balance: str) -> dict:
    credit.refresh_from_db()
    return {
        "id": str(credit.pk),
        "orgId": str(credit.organization_id),
        "contactId": str(credit.contact_id) if credit.contact_id else None,
        "customerId": str(credit.customer_id) if credit.customer_id else None,
        "description": credit.description,
        "amount": amount,
        "balance": balance,
        "currency": "GBP",
        "validFrom": iso(credit.valid_from),
        "validUntil": iso(credit.valid_until),
        "resourceIds": [str(r.pk) for r in credit.resources.order_by("pk")],
        "createdAt": iso(credit.created_at),
        "lastUpdatedAt": iso(credit.updated_at),
    }


def customer_body(setup, customer, **changes) -> dict:
    return {
        "orgId": str(setup.org.pk),
        "customerId": str(customer.pk),
        "description": "Annual",
        "amount": "200",
        "validFrom": "2030-01-01T00:00:00Z",
        "validUntil": "2031-01-01T00:00:00Z",
        "resourceIds": [str(setup.desks.pk)],
        **changes,
    }


@pytest.mark.django_db
def test_the_list_has_the_exact_shape_and_its_filters(api, setup, other, pack):
    customer = CustomerFactory(organization=setup.org)
    annual = BookingCreditFactory(
        organization=setup.org, customer=customer, amount=D("200"), balance=D("12.5"), resources=[setup.room]
    )
    BookingCreditFactory(organization=other.setup.org)

    assert api.viewer.get(url(CREDITS)).json() == [
        expected(pack, "50.00", "50.00"),
        expected(annual, "200.00", "12.50"),
    ]
    get = api.viewer.get
    assert [c["id"] for c in get(url(CREDITS), {"customerId": str(customer.pk)}).json()] == [str(annual.pk)]
    assert [c["id"] for c in get(url(CREDITS), {"contactId": str(pack.contact_id)}).json()] == [str(pack.pk)]
    assert get(url(CREDITS), {"orgId": str(other.setup.org.pk)}).json() == []


@pytest.mark.django_db
def test_the_list_takes_the_same_queries_for_1_and_for_5_credits(api, setup, pack, django_assert_num_queries):
    few, body = queries(api.viewer, url(CREDITS))
    assert len(body) == 1
    for _ in range(4):
        BookingCreditFactory(organization=setup.org, resources=[setup.room, setup.desks])
    with django_assert_num_queries(few):
        assert len(api.viewer.get(url(CREDITS)).json()) == 5


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
def test_only_admins_grant_change_and_delete(api, setup, pack, role):
    customer = CustomerFactory(organization=setup.org)
    created = post(api[role], url(CREDITS), customer_body(setup, customer))
    changed = patch(api[role], url(CREDITS, pack.pk), {"description": "Pack"})
    deleted = api[role].delete(url(CREDITS, pack.pk))
    if not WRITERS[role]:
        for response in (created, changed, deleted):
            assert_error(response, 403, "PERMISSION_DENIED")
        assert list(BookingCredit.objects.values_list("description", flat=True)) == ["Ten-pack"]
        return
    assert created.status_code == 201, created.json()
    annual = BookingCredit.objects.get(customer=customer)
    assert created.json() == expected(annual, "200.00", "200.00") and created["ETag"] == etag_of(annual)
    assert list(annual.resources.all()) == [setup.desks]
    assert changed.status_code == 200 and changed.json()["description"] == "Pack"
    assert deleted.status_code == 204 and not BookingCredit.objects.filter(pk=pack.pk).exists()


@pytest.mark.django_db
def test_another_organizations_credit_is_not_found_nor_its_contacts(api, setup, other, pack):
    theirs = other[Role.OWNER]
    for response in (
        theirs.get(url(CREDITS, pack.pk)),
        patch(theirs, url(CREDITS, pack.pk), {"description": "Mine"}),
        theirs.delete(url(CREDITS, pack.pk)),
        post(theirs, url(CREDITS, pack.pk, "adjust"), {"delta": "-50", "reason": "Mine"}),
    ):
        assert_error(response, 404, "NOT_FOUND")
    own = {"orgId": str(other.setup.org.pk), "amount": "10"}
    assert errors(post(theirs, url(CREDITS), {**own, "contactId": str(pack.contact_id)})) == [
        ("contactId", "NOT_FOUND")
    ]
    customer = CustomerFactory(organization=setup.org)
    assert errors(post(theirs, url(CREDITS), {**own, "customerId": str(customer.pk)})) == [("customerId", "NOT_FOUND")]
    assert errors(
        post(
            theirs,
            url(CREDITS),
            {
                **own,
                "customerId": None,
                "contactId": str(ContactFactory(organization=other.setup.org).pk),
                "resourceIds": [str(setup.room.pk)],
            },
        )
    ) == [("resourceIds[0]", "NOT_FOUND")]
    assert list(BookingCredit.objects.values_list("pk", "balance")) == [(pack.pk, D("50"))]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, field, code",
    [
        ({"contactId": "CONTACT"}, "customerId", "INVALID"),  # both a contact and a customer
        ({"customerId": None}, "customerId", "INVALID"),  # neither
        ({"amount": "0"}, "amount", "INVALID"),
        ({"amount": "-5"}, "amount", "INVALID"),
        ({"amount": 5}, "amount", "INVALID"),
        ({"validUntil": "2029-01-01T00:00:00Z"}, "validUntil", "END_BEFORE_START"),
        ({"description": "x" * 201}, "description", "MAX_LENGTH"),
        ({"resourceIds": [None]}, "resourceIds[0]", "REQUIRED"),
    ],
)
def test_each_refusal_names_its_field_and_code(api, setup, changes, field, code):
    customer = CustomerFactory(organization=setup.org)
    if changes.get("contactId") == "CONTACT":
        changes["contactId"] = str(ContactFactory(organization=setup.org).pk)
    assert_error(post(api.admin, url(CREDITS), customer_body(setup, customer, **changes)), 400, code, field)
    assert not BookingCredit.objects.exists()


@pytest.mark.django_db
def test_who_holds_a_credit_and_its_amount_are_fixed(api, setup, pack):
    echo = api.viewer.get(url(CREDITS, pack.pk)).json()  # sent back as read: the fixed and read-only fields too
    response = patch(api.admin, url(CREDITS, pack.pk), {**echo, "validUntil": "2040-01-01T00:00:00Z", "balance": "1"})
    assert response.status_code == 200, response.json()
    assert response.json()["validUntil"] == "2040-01-01T00:00:00Z"
    for change, field in (
        ({"amount": "60"}, "amount"),
        ({"contactId": str(ContactFactory(organization=setup.org).pk)}, "contactId"),
        ({"customerId": str(CustomerFactory(organization=setup.org).pk)}, "customerId"),
    ):
        assert_error(patch(api.admin, url(CREDITS, pack.pk), change), 400, "IMMUTABLE_FIELD", field)
    pack.refresh_from_db()
    assert (pack.amount, pack.balance, pack.customer_id) == (D("50"), D("50"), None)


@pytest.mark.django_db
def test_a_used_credit_cannot_be_deleted(api, setup, pack):
    CreditUseFactory(credit=pack)
    assert_error(api.admin.delete(url(CREDITS, pack.pk)), 409, "IN_USE")
    assert BookingCredit.objects.filter(pk=pack.pk).exists()


# --- adjust --------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
def test_managers_adjust_and_each_adjustment_is_logged(api, setup, pack, role, django_assert_max_num_queries):
    BookingCredit.objects.filter(pk=pack.pk).update(balance=D("20"))  # 30 spent
    with django_assert_max_num_queries(12):
        response = post(api[role], url(CREDITS, pack.pk, "adjust"), {"delta": "-5.5", "reason": "Refund <b>asked</b>"})
    if not ADJUSTERS[role]:
        assert_error(response, 403, "PERMISSION_DENIED")
        assert not BookingCreditAdjustment.objects.exists()
        return
    assert response.status_code == 200, response.json()
    assert response.json() == expected(pack, "44.50", "14.50")
    log = BookingCreditAdjustment.objects.get()
    assert (log.credit, log.delta, log.reason, log.balance_after) == (pack, D("-5.5"), "Refund asked", D("14.5"))
    assert (log.actor_kind, log.actor_user) == (ActorKind.TOKEN, api.users[role])
    response = post(api[role], url(CREDITS, pack.pk, "adjust"), {"delta": "100", "reason": "Top-up"})
    assert response.json()["amount"] == "144.50" and response.json()["balance"] == "114.50"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field, code",
    [
        ({"delta": "-20.01", "reason": "Too much"}, "delta", "INSUFFICIENT_BALANCE"),
        ({"delta": "-1", "reason": ""}, "reason", "REQUIRED"),
        ({"delta": "-1"}, "reason", "REQUIRED"),
        ({"delta": -1, "reason": "Number"}, "delta", "INVALID"),
        ({"delta": "--1", "reason": "Twice"}, "delta", "INVALID"),
        ({"delta": "9999999999", "reason": "Too big"}, "delta", "MAX_VALUE"),
        ({"reason": "Nothing"}, "delta", "REQUIRED"),
    ],
)
def test_an_adjustment_is_refused_at_its_field(api, setup, pack, body, field, code):
    BookingCredit.objects.filter(pk=pack.pk).update(balance=D("20"))
    assert_error(post(api.manager, url(CREDITS, pack.pk, "adjust"), body), 400, code, field)
    pack.refresh_from_db()
    assert (pack.amount, pack.balance) == (D("50"), D("20"))
    assert not BookingCreditAdjustment.objects.exists()


@pytest.mark.django_db
def test_all_that_is_left_may_be_taken_back(api, setup, pack):
    response = post(api.manager, url(CREDITS, pack.pk, "adjust"), {"delta": "-50", "reason": "Cancelled pack"})
    assert response.status_code == 200 and (response.json()["amount"], response.json()["balance"]) == ("0.00", "0.00")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_adjustments_that_together_would_overdraw_one_wins():
    """Both read a balance of 30 and take 20: under the row lock the second sees 10 and is refused."""
    api = Api(Setup())
    credit = BookingCreditFactory(organization=api.setup.org, amount=D("30"))
    clients = [api.manager, api[Role.ADMIN]]

    def adjust(i: int):
        return post(clients[i], url(CREDITS, credit.pk, "adjust"), {"delta": "-20", "reason": f"Refund {i}"})

    results = race(2, adjust)

    assert all(kind == "ok" for kind, _ in results), results
    statuses = sorted(response.status_code for _, response in results)
    assert statuses == [200, 400], [r.content for _, r in results]
    refused = next(response for _, response in results if response.status_code == 400)
    assert errors(refused) == [("delta", "INSUFFICIENT_BALANCE")]
    credit.refresh_from_db()
    assert (credit.amount, credit.balance) == (D("10"), D("10"))
    assert BookingCreditAdjustment.objects.get().balance_after == D("10")
