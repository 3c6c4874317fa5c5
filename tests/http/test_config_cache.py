"""The configuration cache across processes (docs/architecture.md#configuration-cache): the live server (this
process) has the form cached; another process changes it through a service; the very next submit to the live
server follows the change, both ways (stricter, then looser again)."""

from __future__ import annotations

import pytest

from tests.api.booking_helpers import SUBMIT, submit_body
from tests.conftest import Setup, future, postgres_only

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("config_cache_strict")]


def _submit(http, setup: Setup, start, email: str):
    body = submit_body(setup, setup.event(start=start))
    body["contact"]["email"] = email
    return http.post(SUBMIT, body)


def test_a_change_made_by_another_process_is_seen_by_the_next_submit(http, workers):
    setup = Setup()
    assert _submit(http, setup, future(5), "ada@example.com").status == 201  # the live server caches the form

    workers.run(
        "shell",
        "-c",
        "from bookings.services import module_update; "
        f"module_update(module_id='{setup.module.pk}', changes={{'contact_fields': [{{'label': 'Membership number', "
        "'type': 'text', 'required': True}]})",
    )
    refused = _submit(http, setup, future(6), "grace@example.com")
    assert refused.status == 400, refused.body
    assert [e["code"] for e in refused.body["errors"]] == ["REQUIRED"]

    workers.run(
        "shell",
        "-c",
        f"from bookings.services import module_update; module_update(module_id='{setup.module.pk}', "
        "changes={'contact_fields': []})",
    )
    assert _submit(http, setup, future(7), "grace@example.com").status == 201
