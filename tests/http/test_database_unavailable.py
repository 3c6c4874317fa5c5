"""The API's answer when the database drops out under a request (core/api/errors.py): 503 in the API's error body
(docs/architecture.md#http-api-conventions) with Retry-After, logged as an error, on every database. test_faults.py
drops a real PostgreSQL connection; this covers the handler alone, SQLite included ("database is locked")."""

import logging

import pytest
from django.db import InterfaceError, OperationalError

from bookings.api import booking_views
from tests.api.booking_helpers import booking_url
from tests.api.conftest import assert_error, bearer_client

from .conftest import approve_body


@pytest.mark.parametrize("error", [OperationalError("database is locked"), InterfaceError("connection already closed")])
def test_a_database_error_answers_503_with_retry_after(setup, monkeypatch, caplog, error):
    booking = setup.submit().booking

    def fail(**kwargs):
        raise error

    monkeypatch.setattr(booking_views, "booking_approve", fail)
    with caplog.at_level(logging.ERROR, logger="core.api.errors"):
        response = bearer_client(setup.manager).post(
            booking_url(booking.pk, "approve"), approve_body(booking), format="json"
        )

    body = assert_error(response, 503, "SERVICE_UNAVAILABLE", "")
    assert "try again" in body["error"].lower()
    assert int(response["Retry-After"]) > 0
    [record] = [r for r in caplog.records if r.name == "core.api.errors"]
    assert record.levelno == logging.ERROR and record.exc_info[1] is error


def test_other_server_errors_are_not_disguised_as_503(setup, monkeypatch):
    booking = setup.submit().booking

    def fail(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(booking_views, "booking_approve", fail)
    client = bearer_client(setup.manager)
    client.raise_request_exception = False

    response = client.post(booking_url(booking.pk, "approve"), approve_body(booking), format="json")

    assert response.status_code == 500
    assert "Retry-After" not in response
