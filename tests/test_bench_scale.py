"""The counting of `make bench-scale` (benchmarks/scale.py, benchmarks/mailbox.py), in process and on either
database: its submits are valid public submits, its mailbox counts every message, and its email audit tells
a message sent once from one sent twice, one never sent and one nobody asked for. tests/http/test_scale.py
runs the same code against real servers."""

import shutil
from types import SimpleNamespace

import pytest

from benchmarks import scale
from benchmarks.mailbox import MAILBOX_ENV, read_mailbox
from bookings.models import Booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def audited(client, settings, monkeypatch, tmp_path, django_capture_on_commit_callbacks):
    """Two public submits through the API, their emails sent at once (the immediate task backend) into the
    mailbox; returns (stack stand-in, target, booking ids)."""
    settings.EMAIL_BACKEND = "benchmarks.mailbox.EmailBackend"
    monkeypatch.setenv(MAILBOX_ENV, str(tmp_path))
    target = scale.Target.seed()
    ids = []
    for _ in range(2):
        n = scale.number()
        with django_capture_on_commit_callbacks(execute=True):  # the test's transaction never commits
            response = client.post(scale.SUBMIT, target.body(n), content_type="application/json")
        assert response.status_code == 201, response.content
        ids.append(response.json()["booking"]["id"])
    return SimpleNamespace(mailbox=tmp_path), target, ids


def test_the_submits_are_bookings_and_each_email_is_one_message(audited):
    stack, target, ids = audited

    assert sorted(str(pk) for pk in Booking.objects.values_list("pk", flat=True)) == sorted(ids)
    audit = scale.email_audit(stack, target)
    assert audit["bookings"] == 2
    assert audit["bookings_without_their_emails"] == 0
    assert audit["notifications"] == audit["emails"] == audit["sent_once"] == 4
    assert (audit["never_sent"], audit["sent_more_than_once"], audit["stray_emails"]) == (0, 0, 0)
    assert {m["to"][0] for m in read_mailbox(stack.mailbox)} >= {target.org.user.email}


def test_the_audit_sees_a_message_sent_twice_one_never_sent_and_a_stray_one(audited):
    stack, target, _ = audited
    first, second, third, _ = sorted(stack.mailbox.glob("*.json"))

    shutil.copy(first, stack.mailbox / "again.json")
    second.unlink()
    third.write_text(third.read_text().replace("Scale request", "Other request"))

    audit = scale.email_audit(stack, target)
    assert audit["sent_more_than_once"] == 1
    assert audit["never_sent"] == 2  # the removed one and the one rewritten into a stray
    assert audit["stray_emails"] == 1
    assert audit["sent_once"] == 1
