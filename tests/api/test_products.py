"""/api/v1/products (docs/architecture.md#prices): the exact shape, filters, roles, tenant isolation, each
validation code, PATCH, and DELETE that archives a product a booking asked for."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from core.api.etags import etag_of
from core.time import iso
from resources.models import Product, ProductUnit, Role
from tests.api.catalog_helpers import WRITERS, errors, patch, post, queries, url, version
from tests.api.conftest import assert_error
from tests.conftest import future
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db
D = Decimal
PRODUCTS = "products"


@pytest.fixture
def coffee(setup) -> Product:
    return ProductFactory(resource=setup.room, name="Coffee", unit_price=D("2.5"))


def expected(product: Product, unit_price: str) -> dict:
    product.refresh_from_db()
    return {
        "id": str(product.pk),
        "resourceId": str(product.resource_id),
        "name": product.name,
        "unitPrice": unit_price,
        "unit": product.unit,
        "currency": "GBP",
        "active": product.active,
        "createdAt": iso(product.created_at),
        "lastUpdatedAt": iso(product.updated_at),
    }


def test_the_list_has_the_exact_shape_and_its_filters(api, setup, other, coffee):
    projector = ProductFactory(
        resource=setup.hall, name="Projector", unit_price=D("0.0125"), unit=ProductUnit.PER_MINUTE
    )
    gone = ProductFactory(resource=setup.room, name="Gone", unit_price=D("3"), active=False)
    ProductFactory(resource=other.setup.room)

    body = api.viewer.get(url(PRODUCTS)).json()

    assert body == [expected(projector, "0.0125"), expected(coffee, "2.50"), expected(gone, "3.00")]
    get = api.viewer.get
    assert [p["name"] for p in get(url(PRODUCTS), {"resourceId": str(setup.room.pk)}).json()] == ["Coffee", "Gone"]
    assert [p["name"] for p in get(url(PRODUCTS), {"active": "false"}).json()] == ["Gone"]
    assert get(url(PRODUCTS), {"orgId": str(other.setup.org.pk)}).json() == []
    assert_error(get(url(PRODUCTS), {"orgId": "1"}), 400, "INVALID", "orgId")


def test_the_list_takes_the_same_queries_for_1_and_for_5_products(api, setup, coffee, django_assert_num_queries):
    few, body = queries(api.viewer, url(PRODUCTS))
    assert len(body) == 1
    for resource in (setup.room, setup.hall, setup.desks, setup.hall):
        ProductFactory(resource=resource)
    with django_assert_num_queries(few):
        assert len(api.viewer.get(url(PRODUCTS)).json()) == 5


@pytest.mark.parametrize("role", list(Role))
def test_only_admins_write(api, setup, coffee, role, django_assert_max_num_queries):
    body = {"resourceId": str(setup.room.pk), "name": "Cleaning", "unitPrice": "15", "unit": 0}
    with django_assert_max_num_queries(10):
        created = post(api[role], url(PRODUCTS), body)
    changed = patch(api[role], url(PRODUCTS, coffee.pk), {"unitPrice": "3"})
    deleted = api[role].delete(url(PRODUCTS, coffee.pk))
    assert api[role].get(url(PRODUCTS, coffee.pk)).status_code == (404 if WRITERS[role] else 200)
    if not WRITERS[role]:
        for response in (created, changed, deleted):
            assert_error(response, 403, "PERMISSION_DENIED")
        assert Product.objects.count() == 1
        return
    assert created.status_code == 201, created.json()
    cleaning = Product.objects.get(name="Cleaning")
    assert created.json() == expected(cleaning, "15.00") and created["ETag"] == etag_of(cleaning)
    assert changed.status_code == 200 and changed.json()["unitPrice"] == "3.00"
    assert deleted.status_code == 204


def test_another_organizations_product_is_not_found(api, setup, other, coffee):
    theirs = other[Role.OWNER]
    assert_error(theirs.get(url(PRODUCTS, coffee.pk)), 404, "NOT_FOUND")
    assert_error(patch(theirs, url(PRODUCTS, coffee.pk), {"name": "Mine"}), 404, "NOT_FOUND")
    assert_error(theirs.delete(url(PRODUCTS, coffee.pk)), 404, "NOT_FOUND")
    body = {"resourceId": str(setup.room.pk), "name": "Mine", "unitPrice": "1"}
    assert errors(post(theirs, url(PRODUCTS), body)) == [("resourceId", "NOT_FOUND")]
    assert Product.objects.get().name == "Coffee"


@pytest.mark.parametrize(
    "changes, field, code",
    [
        ({"unitPrice": "-0.5"}, "unitPrice", "INVALID"),
        ({"unitPrice": 2}, "unitPrice", "INVALID"),
        ({"unitPrice": "0.00001"}, "unitPrice", "INVALID"),
        ({"unitPrice": "12345678901"}, "unitPrice", "INVALID"),
        ({"unit": 2}, "unit", "INVALID_CHOICE"),
        ({"unit": True}, "unit", "INVALID_CHOICE"),
        ({"name": ""}, "name", "REQUIRED"),
        ({"name": "x" * 201}, "name", "MAX_LENGTH"),
        ({"active": 1}, "active", "INVALID"),
        ({"resourceId": 12}, "resourceId", "INVALID"),
    ],
)
def test_each_refusal_names_its_field_and_code(api, setup, changes, field, code):
    body = {"resourceId": str(setup.room.pk), "name": "Cleaning", "unitPrice": "15", **changes}
    assert_error(post(api.admin, url(PRODUCTS), body), 400, code, field)
    assert not Product.objects.exists()


def test_patch_keeps_the_resource_and_honours_if_match(api, setup, coffee):
    stale = etag_of(coffee)
    before = version(setup.org)
    response = patch(api.admin, url(PRODUCTS, coffee.pk), {"unit": 1, "resourceId": str(setup.room.pk)})
    assert response.status_code == 200 and response.json()["unit"] == 1
    assert version(setup.org) != before
    assert_error(patch(api.admin, url(PRODUCTS, coffee.pk), {"resourceId": str(setup.hall.pk)}), 400, "IMMUTABLE_FIELD")
    assert_error(patch(api.admin, url(PRODUCTS, coffee.pk), {"name": "Tea"}, HTTP_IF_MATCH=stale), 412)
    coffee.refresh_from_db()
    assert (coffee.resource, coffee.name, coffee.unit) == (setup.room, "Coffee", ProductUnit.PER_MINUTE)


def test_delete_archives_a_product_a_booking_asked_for(api, setup, coffee):
    start = future(7, 10)
    setup.submit(
        setup.event(start, start + timedelta(hours=1), products=[{"productId": str(coffee.pk), "quantity": 1}])
    )
    unused = ProductFactory(resource=setup.room, name="Unused")

    assert api.admin.delete(url(PRODUCTS, unused.pk)).status_code == 204
    response = api.admin.delete(url(PRODUCTS, coffee.pk))

    assert response.status_code == 200 and response.json() == expected(coffee, "2.50")
    assert response.json()["active"] is False
    assert not Product.objects.filter(pk=unused.pk).exists()
    assert api.viewer.get(url("resources", setup.room.pk)).json()["products"] == []
