"""The business rules of `make schema-check` (tests/schema_check/rules.py): a refused schema-valid request is
let through only when every error of a 4xx answer is a named rule at a field it may stand at."""

import pytest

from tests.schema_check.rules import BUSINESS_RULES, is_business_rule


@pytest.mark.parametrize(
    ("status", "errors", "expected"),
    [
        (400, [("customerId", "NOT_FOUND")], True),
        (412, [("If-Match", "PRECONDITION_FAILED")], True),
        (400, [("event.start", "IN_THE_PAST"), ("event.end", "TOO_LONG")], True),
        (400, [("events[3].unitId", "INVALID_UNIT")], True),
        (400, [("cursor", "INVALID")], True),
        # a rule's code at another field is no rule
        (400, [("title", "INVALID")], False),
        (400, [("unitId", "INVALID_UNIT")], False),
        (400, [("bookingForm.eventFields[0].x", "UNKNOWN_FIELD")], False),
        (400, [("contact.8f1c", "UNKNOWN_FIELD")], True),
        # every error must be one
        (400, [("customerId", "NOT_FOUND"), ("limit", "MIN_VALUE")], False),
        (400, [], False),
        # only 4xx
        (500, [("customerId", "NOT_FOUND")], False),
        # request schemas declare every key (additionalProperties: false): no key of a booking is "immutable"
        (400, [("a\nb", "IMMUTABLE_FIELD")], False),
        (400, [("customerId", "IMMUTABLE_FIELD")], False),
    ],
)
def test_is_business_rule(status, errors, expected):
    assert is_business_rule(status, errors, "PATCH /api/v1/bookings/{id}") is expected


@pytest.mark.parametrize(
    ("operation", "errors", "expected"),
    [
        # a field fixed once created, with another value than the stored one: a rule of the catalog's PATCH only
        ("PATCH /api/v1/booking-credits/{id}", [("customerId", "IMMUTABLE_FIELD")], True),
        ("PATCH /api/v1/rates/{id}", [("resourceId", "IMMUTABLE_FIELD")], True),
        ("POST /api/v1/booking-credits", [("customerId", "IMMUTABLE_FIELD")], False),
        # one end of a window: the stored rate has the other (PATCH); a new rate's schema asks for both
        ("PATCH /api/v1/rates/{id}", [("startTime", "INVALID")], True),
        ("POST /api/v1/rates", [("startTime", "INVALID")], False),
        ("PATCH /api/v1/discount-codes/{id}", [("amount", "INVALID")], True),
        ("POST /api/v1/discount-codes", [("amount", "INVALID")], False),
        # an adjustment that would lift the stored amount past the column: state, and only the adjust's
        ("POST /api/v1/booking-credits/{id}/adjust", [("delta", "MAX_VALUE")], True),
        ("POST /api/v1/booking-credits", [("amount", "MAX_VALUE")], False),
        ("POST /api/v1/booking-credits/{id}/adjust", [("reason", "MAX_VALUE")], False),
        # every generated key is made unique (hooks.py): a reused key would be a real failure
        ("POST /api/v1/rates", [("Idempotency-Key", "IDEMPOTENCY_KEY_REUSED")], False),
    ],
)
def test_a_rule_may_be_for_some_operations_only(operation, errors, expected):
    assert is_business_rule(400, errors, operation) is expected


def test_every_rule_says_why():
    assert all(rule.code.isupper() and len(rule.reason) > 20 for rule in BUSINESS_RULES)
