"""/api/v1/discount-codes (docs/architecture.md#prices): the exact shape with the uses counted, filters, roles,
tenant isolation, a code unique per organization whatever its case (NOT_UNIQUE), either a percentage or an
amount, and DELETE that archives a code bookings used."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bookings.models import DiscountCode
from core.api.etags import etag_of
from core.time import iso
from resources.models import Role
from tests.api.catalog_helpers import WRITERS, errors, patch, post, queries, url
from tests.api.conftest import assert_error
from tests.factories import BookingFactory, DiscountCodeFactory, DiscountCodeUseFactory

pytestmark = pytest.mark.django_db
D = Decimal
CODES = "discount-codes"


@pytest.fixture
def spring(setup) -> DiscountCode:
    return DiscountCodeFactory(organization=setup.org, code="SPRING", percentage=D("12.5"), resources=[setup.room])


def expected(code: DiscountCode, *, percentage=None, amount=None, uses=0) -> dict:
    code.refresh_from_db()
    return {
        "id": str(code.pk),
        "orgId": str(code.organization_id),
        "code": code.code,
        "description": code.description,
        "percentage": percentage,
        "amount": amount,
        "currency": "GBP",
        "validFrom": iso(code.valid_from),
        "validUntil": iso(code.valid_until),
        "maxUsesTotal": code.max_uses_total,
        "maxUsesPerContact": code.max_uses_per_contact,
        "resourceIds": [str(r.pk) for r in code.resources.order_by("pk")],
        "active": code.active,
        "usesCount": uses,
        "createdAt": iso(code.created_at),
        "lastUpdatedAt": iso(code.updated_at),
    }


def full_body(setup, **changes) -> dict:
    return {
        "orgId": str(setup.org.pk),
        "code": "Summer",
        "description": "Summer <i>sale</i>",
        "amount": "5",
        "validFrom": "2030-06-01T00:00:00+02:00",
        "validUntil": "2030-09-01T00:00:00",
        "maxUsesTotal": 100,
        "maxUsesPerContact": 1,
        "resourceIds": [str(setup.room.pk), str(setup.hall.pk)],
        **changes,
    }


def test_the_list_has_the_exact_shape_with_its_uses_and_filters(api, setup, other, spring):
    DiscountCodeUseFactory(code=spring)
    DiscountCodeUseFactory(code=spring)
    old = DiscountCodeFactory(organization=setup.org, code="OLD", amount=D("7.5"), active=False)
    DiscountCodeFactory(organization=other.setup.org, code="THEIRS")

    body = api.viewer.get(url(CODES)).json()

    assert body == [expected(old, amount="7.50"), expected(spring, percentage="12.50", uses=2)]
    assert [c["code"] for c in api.viewer.get(url(CODES), {"active": "true"}).json()] == ["SPRING"]
    assert api.viewer.get(url(CODES), {"orgId": str(other.setup.org.pk)}).json() == []
    assert_error(api.viewer.get(url(CODES), {"active": "no"}), 400, "INVALID", "active")


def test_the_list_takes_the_same_queries_for_1_and_for_5_codes(api, setup, spring, django_assert_num_queries):
    DiscountCodeUseFactory(code=spring)
    few, body = queries(api.viewer, url(CODES))
    assert len(body) == 1
    for _ in range(4):
        code = DiscountCodeFactory(organization=setup.org, resources=[setup.room, setup.hall])
        DiscountCodeUseFactory(code=code)
    with django_assert_num_queries(few):
        assert len(api.viewer.get(url(CODES)).json()) == 5


@pytest.mark.parametrize("role", list(Role))
def test_only_admins_write(api, setup, spring, role):
    created = post(api[role], url(CODES), full_body(setup))
    changed = patch(api[role], url(CODES, spring.pk), {"description": "Spring"})
    deleted = api[role].delete(url(CODES, spring.pk))
    if not WRITERS[role]:
        for response in (created, changed, deleted):
            assert_error(response, 403, "PERMISSION_DENIED")
        assert list(DiscountCode.objects.values_list("code", "description")) == [("SPRING", "")]
        return
    assert created.status_code == 201, created.json()
    summer = DiscountCode.objects.get(code="Summer")
    assert created.json() == expected(summer, amount="5.00") and created["ETag"] == etag_of(summer)
    assert (summer.description, summer.valid_from, summer.valid_until) == (
        "Summer sale",
        datetime(2030, 5, 31, 22, tzinfo=UTC),
        datetime(2030, 9, 1, tzinfo=UTC),  # without an offset: UTC
    )
    assert set(summer.resources.all()) == {setup.room, setup.hall}
    assert changed.status_code == 200 and changed.json()["description"] == "Spring"
    assert deleted.status_code == 204


def test_another_organizations_code_is_not_found_nor_its_resources(api, setup, other, spring):
    theirs = other[Role.OWNER]
    assert_error(theirs.get(url(CODES, spring.pk)), 404, "NOT_FOUND")
    assert_error(patch(theirs, url(CODES, spring.pk), {"active": False}), 404, "NOT_FOUND")
    assert_error(theirs.delete(url(CODES, spring.pk)), 404, "NOT_FOUND")
    assert_error(post(theirs, url(CODES), full_body(setup)), 404, "NOT_FOUND")  # setup's organization
    mine = full_body(other.setup, resourceIds=[str(other.setup.room.pk), str(setup.room.pk)])
    assert errors(post(theirs, url(CODES), mine)) == [("resourceIds[1]", "NOT_FOUND")]
    assert DiscountCode.objects.count() == 1


@pytest.mark.parametrize(
    "changes, field, code",
    [
        ({"code": "spring"}, "code", "NOT_UNIQUE"),  # SPRING exists: letter case does not matter
        ({"code": " SPRING "}, "code", "NOT_UNIQUE"),
        ({"percentage": "10"}, "amount", "INVALID"),  # both
        ({"amount": None}, "amount", "INVALID"),  # neither
        ({"amount": "0"}, "amount", "INVALID"),
        ({"amount": "-1"}, "amount", "INVALID"),
        ({"amount": None, "percentage": "100.01"}, "percentage", "INVALID"),
        ({"amount": None, "percentage": "0"}, "percentage", "INVALID"),
        ({"amount": None, "percentage": 10}, "percentage", "INVALID"),
        ({"validUntil": "2030-05-01T00:00:00Z"}, "validUntil", "END_BEFORE_START"),
        ({"validFrom": "1800-01-01T00:00:00Z"}, "validFrom", "OUT_OF_RANGE"),
        ({"maxUsesTotal": 0}, "maxUsesTotal", "MIN_VALUE"),
        ({"maxUsesPerContact": 0}, "maxUsesPerContact", "MIN_VALUE"),
        ({"code": ""}, "code", "REQUIRED"),
        ({"code": "x" * 41}, "code", "MAX_LENGTH"),
        ({"resourceIds": ["5a0c6f1e-2b3d-4c5e-8f90-a1b2c3d4e5f6"]}, "resourceIds[0]", "NOT_FOUND"),
        ({"resourceIds": "all"}, "resourceIds", "INVALID"),
        ({"orgId": None}, "orgId", "REQUIRED"),
    ],
)
def test_each_refusal_names_its_field_and_code(api, setup, spring, changes, field, code):
    assert_error(post(api.admin, url(CODES), full_body(setup, **changes)), 400, code, field)
    assert DiscountCode.objects.count() == 1


def test_patch_with_one_kind_alone_switches_to_it(api, spring):
    response = patch(api.admin, url(CODES, spring.pk), {"amount": "4"})
    assert response.status_code == 200, response.json()
    assert (response.json()["percentage"], response.json()["amount"]) == (None, "4.00")
    response = patch(api.admin, url(CODES, spring.pk), {"percentage": "15"})
    assert (response.json()["percentage"], response.json()["amount"]) == ("15.00", None)
    assert_error(patch(api.admin, url(CODES, spring.pk), {"percentage": None}), 400, "INVALID", "amount")


def test_patch_switches_to_an_amount_and_keeps_the_organization(api, setup, spring):
    response = patch(api.admin, url(CODES, spring.pk), {"percentage": None, "amount": "3.5", "resourceIds": []})
    assert response.status_code == 200, response.json()
    assert response.json() == expected(spring, amount="3.50")
    both = {"code": "Other", "percentage": "5", "amount": "2"}
    assert_error(patch(api.admin, url(CODES, spring.pk), both), 400, "INVALID", "amount")
    other_org = {"orgId": "5a0c6f1e-2b3d-4c5e-8f90-a1b2c3d4e5f6"}
    assert_error(patch(api.admin, url(CODES, spring.pk), other_org), 400, "IMMUTABLE_FIELD", "orgId")
    assert patch(api.admin, url(CODES, spring.pk), {"orgId": str(setup.org.pk)}).status_code == 200
    spring.refresh_from_db()
    assert (spring.code, spring.percentage, spring.amount) == ("SPRING", None, D("3.5"))


def test_delete_archives_a_code_bookings_carry_or_used(api, setup, spring):
    carried = DiscountCodeFactory(organization=setup.org, code="CARRIED")
    BookingFactory(module=setup.module, discount_code=carried)
    DiscountCodeUseFactory(code=spring)
    unused = DiscountCodeFactory(organization=setup.org, code="UNUSED")

    assert api.admin.delete(url(CODES, unused.pk)).status_code == 204
    for code, uses in ((spring, 1), (carried, 0)):
        response = api.admin.delete(url(CODES, code.pk))
        assert response.status_code == 200
        assert response.json()["active"] is False and response.json()["usesCount"] == uses
    assert list(DiscountCode.objects.order_by("code").values_list("code", "active")) == [
        ("CARRIED", False),
        ("SPRING", False),
    ]
