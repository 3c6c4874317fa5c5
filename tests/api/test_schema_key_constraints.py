"""The keys a request body ties together, as the schema states them (core.api.constraints): each body below is
accepted or refused by the generated component as the server decides it (the server's side: the services' tests
in tests/bookings/test_pricing_config.py and tests/resources/test_catalog.py, and the API tests of discount
codes, credits and rates). The components are converted
the way Schemathesis converts them (`nullable` into a null type) and validated with jsonschema, so a create
constraint that leaked into a PATCH body, or a PATCH body that lost its own, fails here rather than only in
`make schema-check`."""

from __future__ import annotations

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator
from schemathesis.specs.openapi.converter import to_json_schema

COMPONENTS = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
ROOT = {"components": {"schemas": {name: to_json_schema(s, "nullable") for name, s in COMPONENTS.items()}}}
ORG = {"orgId": "5a0c6f1e-2b3d-4c5e-8f90-a1b2c3d4e5f6"}
ID = "6f1c1f0e-8d0a-4b7e-9a55-1d2f3e4a5b6c"


def accepts(component: str, body: dict) -> bool:
    validator = jsonschema.Draft4Validator({**ROOT, "$ref": f"#/components/schemas/{component}"})
    return validator.is_valid(body)


CODE = {**ORG, "code": "SPRING"}
CREDIT = {**ORG, "amount": "50"}
RATE = {"resourceId": ID, "name": "Day", "price": "10"}


@pytest.mark.parametrize(
    ("component", "body", "expected"),
    [
        # a new discount code: exactly one of percentage and amount
        ("DiscountCodeWriteRequest", CODE, False),
        ("DiscountCodeWriteRequest", {**CODE, "percentage": "10"}, True),
        ("DiscountCodeWriteRequest", {**CODE, "amount": "5"}, True),
        ("DiscountCodeWriteRequest", {**CODE, "percentage": "10", "amount": "5"}, False),
        ("DiscountCodeWriteRequest", {**CODE, "percentage": None, "amount": "5"}, True),
        ("DiscountCodeWriteRequest", {**CODE, "percentage": None, "amount": None}, False),
        # its PATCH: never both, never both cleared; one alone switches the code to that kind
        ("PatchedDiscountCodeWriteRequest", {}, True),
        ("PatchedDiscountCodeWriteRequest", {"description": "x"}, True),
        ("PatchedDiscountCodeWriteRequest", {"percentage": "10"}, True),
        ("PatchedDiscountCodeWriteRequest", {"amount": "5"}, True),
        ("PatchedDiscountCodeWriteRequest", {"percentage": None, "amount": "5"}, True),
        ("PatchedDiscountCodeWriteRequest", {"percentage": None}, True),  # the stored code decides (a rule)
        ("PatchedDiscountCodeWriteRequest", {"percentage": "10", "amount": "5"}, False),
        ("PatchedDiscountCodeWriteRequest", {"percentage": None, "amount": None}, False),
        # a new credit: held by exactly one of a contact and a customer; its PATCH says nothing of them
        ("BookingCreditWriteRequest", CREDIT, False),
        ("BookingCreditWriteRequest", {**CREDIT, "contactId": ID}, True),
        ("BookingCreditWriteRequest", {**CREDIT, "customerId": ID}, True),
        ("BookingCreditWriteRequest", {**CREDIT, "contactId": None, "customerId": ID}, True),
        ("BookingCreditWriteRequest", {**CREDIT, "contactId": ID, "customerId": ID}, False),
        ("PatchedBookingCreditWriteRequest", {"description": "x"}, True),
        # a new rate: both ends of its window or neither
        ("RateWriteRequest", RATE, True),
        ("RateWriteRequest", {**RATE, "startTime": "09:00", "endTime": "17:00"}, True),
        ("RateWriteRequest", {**RATE, "startTime": None, "endTime": None}, True),
        ("RateWriteRequest", {**RATE, "startTime": "09:00"}, False),
        ("RateWriteRequest", {**RATE, "endTime": "17:00", "startTime": None}, False),
        # its PATCH: one end alone moves that end of the stored window; both given, both times or both null
        ("PatchedRateWriteRequest", {"name": "x"}, True),
        ("PatchedRateWriteRequest", {"endTime": "18:00"}, True),
        ("PatchedRateWriteRequest", {"startTime": None, "endTime": None}, True),
        ("PatchedRateWriteRequest", {"startTime": "09:00", "endTime": None}, False),
    ],
)
def test_the_schema_ties_the_keys_as_the_server_does(component, body, expected):
    assert accepts(component, body) is expected
