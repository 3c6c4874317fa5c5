"""Staff's email templates (docs/architecture.md#email-templates): the services that save and reset them,
the emails that use them from submit to the worker's send, the fallback to the default when one fails (and
the failure recorded for the admin). The warm submit's budget with templates present is in
tests/api/test_write_path.py."""

from __future__ import annotations

import pytest
from django.core import mail
from django.template.loader import get_template

from bookings.email_templates import (
    email_template_failure_record,
    email_template_preview,
    email_template_reset,
    email_template_save,
)
from bookings.lifecycle.decide import booking_deny
from bookings.models import BookingStatus, EmailKind, EmailTemplate
from bookings.notify import SUBJECTS
from core.actor import Actor
from core.errors import NotFound, ValidationFailed
from notifications.models import Notification
from notifications.sending import notification_send
from notifications.services import NotificationSpec
from resources.config_cache import config_cache_clear
from resources.models import Organization
from tests.factories import BookingModuleFactory, EmailTemplateFactory
from tests.notifications.test_templating import HOSTILE

SUBJECT = "Thanks, {{ booker_name }}: {{ booking_title }}"
BODY = "Dear {{ booker_name }},\n\nThank you for booking {{ booking_title }} with {{ organization_name }}."


def save(setup, **changes):
    values = {"kind": "booking_received", "language": "en", "subject": SUBJECT, "body": BODY, **changes}
    return email_template_save(module_id=setup.module.pk, actor=setup.staff, **values)


def version(setup) -> int:
    return Organization.objects.get(pk=setup.org.pk).config_version


# --- saving and resetting ------------------------------------------------------------------------------


def test_save_creates_then_replaces_and_bumps_the_configuration_version(setup):
    before = version(setup)
    created = save(setup)
    assert (created.subject, created.body) == (SUBJECT, BODY)
    assert version(setup) != before

    EmailTemplate.objects.filter(pk=created.pk).update(last_error="boom")
    replaced = save(setup, subject="", body="Hello {{ booker_name }}")
    assert replaced.pk == created.pk
    assert (replaced.subject, replaced.body, replaced.last_error, replaced.last_error_at) == (
        "",
        "Hello {{ booker_name }}",
        "",
        None,
    )
    assert EmailTemplate.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"kind": "webhook_endpoint_disabled"}, "kind", "INVALID"),
        ({"language": "xx"}, "language", "INVALID"),
        ({"subject": "", "body": "  "}, "body", "REQUIRED"),
        ({"subject": "Two\nlines"}, "subject", "INVALID"),
        ({"subject": "{{ booker_name"}, "subject", "INVALID_TEMPLATE"),
        ({"subject": "x" * 301}, "subject", "INVALID_TEMPLATE"),
        ({"body": "{% for i in range(10) %}{% endfor %}"}, "body", "INVALID_TEMPLATE"),
        ({"body": "{{ ''.__class__ }}"}, "body", "INVALID_TEMPLATE"),
        ({"body": "{{ note|safe }}"}, "body", "INVALID_TEMPLATE"),
        ({"body": "x" * 10_001}, "body", "INVALID_TEMPLATE"),
        ({"body": "Hello {{ booker }}"}, "body", "UNKNOWN_PLACEHOLDER"),
        ({"subject": "{{ link }}"}, "subject", "UNKNOWN_PLACEHOLDER"),
    ],
)
def test_save_refuses_bad_input_with_a_field_error(setup, changes, field, code):
    before = version(setup)
    with pytest.raises(ValidationFailed) as refused:
        save(setup, **changes)
    assert [(e.field, e.code) for e in refused.value.errors] == [(field, code)]
    assert refused.value.errors[0].message
    assert not EmailTemplate.objects.exists()
    assert version(setup) == before


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_save_refuses_a_hostile_body_instead_of_crashing(setup, body):
    with pytest.raises(ValidationFailed) as refused:
        save(setup, body=body)
    assert [(e.field, e.code) for e in refused.value.errors] == [("body", "INVALID_TEMPLATE")]
    assert not EmailTemplate.objects.exists()


def test_save_refuses_a_hostile_subject_instead_of_crashing(setup):
    with pytest.raises(ValidationFailed) as refused:
        save(setup, subject=HOSTILE["a subject nested 140 deep"])
    assert [(e.field, e.code) for e in refused.value.errors] == [("subject", "INVALID_TEMPLATE")]


def test_save_of_an_unknown_module_is_not_found(setup):
    with pytest.raises(NotFound):
        email_template_save(
            module_id="not-an-id", kind="booking_received", language="en", subject="x", body="", actor=setup.staff
        )


def test_reset_deletes_the_template_and_bumps_the_version(setup):
    template = save(setup)
    before = version(setup)
    email_template_reset(template_id=template.pk, actor=setup.staff)
    assert not EmailTemplate.objects.exists()
    assert version(setup) != before
    with pytest.raises(NotFound):
        email_template_reset(template_id=template.pk, actor=setup.staff)


def test_failure_record_writes_the_error_and_ignores_a_missing_template(setup):
    template = EmailTemplateFactory(module=setup.module)
    assert email_template_failure_record(template_id=str(template.pk), error="Body: boom") == 1
    template.refresh_from_db()
    assert template.last_error == "Body: boom"
    assert template.last_error_at is not None
    assert email_template_failure_record(template_id="", error="x") == 0
    assert email_template_failure_record(template_id="3f2c1d9e-0000-4000-8000-000000000000", error="x") == 0


# --- the emails -------------------------------------------------------------------------------------------


def received(outbox) -> mail.EmailMessage:
    return next(m for m in outbox if m.to == ["ada@example.com"])


def test_a_submit_sends_the_custom_subject_and_body_inside_the_layout(setup, django_capture_on_commit_callbacks):
    save(setup)
    save(setup, kind="admin_new_request", subject="New: {{ booking_title }} from {{ booker_email }}", body="")
    with django_capture_on_commit_callbacks(execute=True):
        setup.submit(setup.event(title="Board meeting"), title="Board meeting")
    booker = received(mail.outbox)
    assert booker.subject == "Thanks, Ada Lovelace: Board meeting"
    assert booker.body.startswith(f"Dear Ada Lovelace,\n\nThank you for booking Board meeting with {setup.org.name}.\n")
    assert "- Board meeting: " in booker.body  # the layout still lists the requested times ...
    assert "/b/" in booker.body  # ... and the private link
    html = booker.alternatives[0][0]
    assert f"<p>Dear Ada Lovelace,</p>\n<p>Thank you for booking Board meeting with {setup.org.name}.</p>" in html
    assert "We received your request" not in html  # the default body is gone, the layout stays
    assert 'class="button"' in html
    admin = next(m for m in mail.outbox if m.to == ["admin@example.org"])
    assert admin.subject == "New: Board meeting from ada@example.com"
    assert 'requested "Board meeting" through' in admin.body  # an empty body keeps the default
    assert not EmailTemplate.objects.exclude(last_error="").exists()


def test_the_snapshot_holds_the_body_as_it_was_at_commit(setup):
    template = save(setup)
    setup.submit()
    row = Notification.objects.get(kind="booking_received")
    assert row.snapshot["custom"] == {
        "template": str(template.pk),
        "body": BODY,
        "updated_at": template.updated_at.isoformat(),  # the version, for a failure to be pinned on it
    }
    assert row.subject.startswith("Thanks, Ada Lovelace: ")


def test_another_language_or_kind_or_module_leaves_the_default(setup, settings, django_capture_on_commit_callbacks):
    settings.LANGUAGES = [("en", "English"), ("de", "Deutsch")]
    save(setup, language="de")
    save(setup, kind="booking_denied")
    EmailTemplateFactory(module=BookingModuleFactory(organization=setup.org))
    with django_capture_on_commit_callbacks(execute=True):
        setup.submit()
    booker = received(mail.outbox)
    assert booker.subject.startswith("We received your booking request: ")
    assert booker.body.startswith("Hello Ada Lovelace,")


@pytest.mark.parametrize(
    ("subject", "body", "subject_sent", "error"),
    [
        # A filter given a wrong argument passes the save's check and fails when rendered.
        (SUBJECT, "{{ booking_title|truncate('x') }}", "Thanks, Ada Lovelace: Team meeting", "Body: TypeError"),
        ("{{ booking_title|truncate('x') }}", BODY, "We received your booking request: Team meeting", "Subject: "),
        # Saved before a rule tightened (written behind the service's back): refused when rendered.
        (SUBJECT, "{{ ''.__class__.__mro__ }}", "Thanks, Ada Lovelace: Team meeting", "Body: Only the placeholders"),
        (SUBJECT, "{% for i in range(10**9) %}x{% endfor %}", "Thanks, Ada Lovelace: Team meeting", "Body: The tag"),
        # Written behind the service's back, and used to crash the submit (RecursionError) or the worker
        # (ValueError) instead of falling back.
        (HOSTILE["a subject nested 140 deep"], BODY, "We received your booking request: Team meeting", "Subject: "),
        (SUBJECT, HOSTILE["a number too long to read"], "Thanks, Ada Lovelace: Team meeting", "Body: "),
        (SUBJECT, HOSTILE["120 nested ifs"], "Thanks, Ada Lovelace: Team meeting", "Body: "),
    ],
)
def test_a_template_that_fails_falls_back_to_the_default_and_is_recorded(
    setup, django_capture_on_commit_callbacks, subject, body, subject_sent, error
):
    template = EmailTemplateFactory(module=setup.module, subject=subject, body=body)
    config_cache_clear()
    with django_capture_on_commit_callbacks(execute=True):
        booking = setup.submit().booking
    assert booking.status == BookingStatus.PENDING  # never blocks the booking
    booker = received(mail.outbox)
    assert booker.subject == subject_sent
    if error.startswith("Body"):
        assert booker.body.startswith("Hello Ada Lovelace,\n\nWe received your request")  # the default body
    template.refresh_from_db()
    assert template.last_error.startswith(error), template.last_error
    assert template.last_error_at is not None
    assert Notification.objects.get(kind="booking_received").status == "SENT"


def test_the_preview_renders_sample_data_and_writes_nothing(setup, django_assert_num_queries):
    template = save(setup, kind="visitor_invitation", body="Hi {{ visitor_name }}, {{ when }}.{{ note }}")
    template = EmailTemplate.objects.select_related("module__organization", "module__admin_user").get(pk=template.pk)
    with django_assert_num_queries(0):
        subject, rendered = email_template_preview(template=template)
    assert subject == "Thanks, Ada Lovelace: Team offsite"
    # A visitor's invitation carries no note (only the module admin's emails about a request do).
    assert rendered.body_text.startswith("Hi Grace Hopper, Mon 07 Dec 2026, 10:00–12:00 (Europe/Berlin).\n")
    assert rendered.template_error == ""
    assert "<p>Hi Grace Hopper, Mon 07 Dec 2026" in rendered.body_html


LINK = "Follow your request, ask for a change or cancel at your private link"
WHERE_LINK = "use the private link from our first email"


@pytest.mark.parametrize(
    ("kind", "shown", "not_shown"),
    [
        ("booking_received", ["[Ada Lovelace][]", LINK], [WHERE_LINK, "projector"]),
        ("booking_approved", ["[Ada Lovelace][]", LINK], [WHERE_LINK]),
        ("booking_denied", ["[Ada Lovelace][]"], [LINK, WHERE_LINK]),
        ("booking_canceled", ["[Ada Lovelace][]"], [LINK, WHERE_LINK]),
        ("change_request_received", ["[Ada Lovelace][]", WHERE_LINK], [LINK]),
        ("booking_reminder", [WHERE_LINK], [LINK]),
        ("visitor_invitation", ["[Ada Lovelace][Grace Hopper]"], [LINK, WHERE_LINK, "projector"]),
        ("admin_new_request", ["[Ada Lovelace][We will bring our own projector.]"], [LINK, WHERE_LINK]),
        ("admin_booker_canceled", ["[Ada Lovelace][]"], ["projector", LINK]),
    ],
)
def test_the_preview_gives_each_kind_what_its_real_emails_get(setup, kind, shown, not_shown):
    template = save(setup, kind=kind, body="[{{ booker_name }}][{{ visitor_name }}{{ note }}]")
    _subject, rendered = email_template_preview(template=template)
    assert rendered.template_error == ""
    for text in shown:
        assert text in rendered.body_text, (kind, text, rendered.body_text)
    for text in not_shown:
        assert text not in rendered.body_text, (kind, text, rendered.body_text)


def test_a_decision_uses_the_template_of_its_kind(setup, django_capture_on_commit_callbacks):
    save(setup, kind="booking_denied", subject="Sorry {{ booker_name }}", body="{{ booking_title|upper }}: no.")
    booking = setup.submit().booking
    with django_capture_on_commit_callbacks(execute=True):
        booking_deny(booking_id=booking.pk, actor=Actor.staff(setup.manager), client_last_updated_at=None)
    denied = next(m for m in mail.outbox if m.subject == "Sorry Ada Lovelace")
    assert denied.body.startswith("TEAM MEETING: no.\n")


def test_every_kind_staff_may_word_is_an_email_the_module_sends():
    assert set(EmailKind.values) == set(SUBJECTS)
    for kind in EmailKind.values:
        get_template(f"notifications/{kind}.txt")
        get_template(f"notifications/{kind}.html")


def test_a_subject_staff_type_for_one_decision_wins_over_the_template(setup, django_capture_on_commit_callbacks):
    save(setup, kind="booking_denied", subject="Sorry {{ booker_name }}", body="No, {{ booker_name }}.")
    booking = setup.submit().booking
    with django_capture_on_commit_callbacks(execute=True):
        booking_deny(
            booking_id=booking.pk,
            actor=setup.staff,
            client_last_updated_at=None,
            notification=NotificationSpec(subject="About your request", message="<p>Try Tuesday.</p>"),
        )
    denied = next(m for m in mail.outbox if m.subject == "About your request")
    assert denied.body.startswith("No, Ada Lovelace.\n")
    assert "Try Tuesday." in denied.body


# --- the last wall, versions, empty bodies, staff's own subject -------------------------------------------


def test_a_crash_in_rendering_falls_back_to_the_default_and_is_recorded(
    setup, monkeypatch, django_capture_on_commit_callbacks
):
    template = EmailTemplateFactory(module=setup.module, subject=SUBJECT, body=BODY)
    config_cache_clear()

    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    # Whatever gets past template_render's own net (a bug in it, in the values, ...): subject and body.
    monkeypatch.setattr("bookings.notify.placeholder_values", crash)
    monkeypatch.setattr("notifications.rendering.placeholder_values", crash)
    with django_capture_on_commit_callbacks(execute=True):
        booking = setup.submit().booking
    assert booking.status == BookingStatus.PENDING
    booker = received(mail.outbox)
    assert booker.subject == "We received your booking request: Team meeting"
    assert booker.body.startswith("Hello Ada Lovelace,\n\nWe received your request")
    template.refresh_from_db()
    assert template.last_error == "Subject: RuntimeError: boom Body: RuntimeError: boom"
    assert Notification.objects.get(kind="booking_received").status == "SENT"


def test_a_failure_is_not_pinned_on_a_version_saved_after_the_email_was_written(setup):
    broken = EmailTemplateFactory(module=setup.module, subject="", body="{{ booking_title|truncate('x') }}")
    config_cache_clear()
    setup.submit()  # written with the broken wording, not sent yet
    fixed = save(setup, subject="", body=BODY)  # staff fix it before the worker runs
    assert fixed.pk == broken.pk and fixed.updated_at != broken.updated_at
    row = Notification.objects.get(kind="booking_received")
    assert notification_send(notification_id=row.pk) == "sent"
    assert received(mail.outbox).body.startswith("Hello Ada Lovelace,\n\nWe received your request")
    fixed.refresh_from_db()
    assert (fixed.last_error, fixed.last_error_at) == ("", None)  # the fixed wording is not marked failed


def test_failure_record_is_for_the_version_given(setup):
    template = EmailTemplateFactory(module=setup.module)
    old = "2020-01-01T00:00:00+00:00"
    assert email_template_failure_record(template_id=str(template.pk), error="x", updated_at=old) == 0
    assert email_template_failure_record(template_id=str(template.pk), error="x", updated_at="not a time") == 0
    current = template.updated_at.isoformat()
    assert email_template_failure_record(template_id=str(template.pk), error="Body: x", updated_at=current) == 1
    template.refresh_from_db()
    assert template.last_error == "Body: x"
    assert template.updated_at.isoformat() == current  # recording a failure makes no new version


def test_failure_record_logs_a_warning(setup, caplog):
    template = EmailTemplateFactory(module=setup.module)
    with caplog.at_level("WARNING", logger="bookings.email_templates"):
        email_template_failure_record(template_id=str(template.pk), error="Body: boom")
    assert any(r.levelname == "WARNING" and "Body: boom" in r.getMessage() for r in caplog.records)


def test_a_body_that_renders_to_nothing_sends_the_default_body(setup, django_capture_on_commit_callbacks):
    save(setup, body="{% if note %}  You wrote: {{ note }}{% endif %}\n  ")
    with django_capture_on_commit_callbacks(execute=True):
        setup.submit()
    booker = received(mail.outbox)
    assert booker.subject == "Thanks, Ada Lovelace: Team meeting"
    assert booker.body.startswith("Hello Ada Lovelace,\n\nWe received your request")
    assert "We received your request" in booker.alternatives[0][0]
    assert not EmailTemplate.objects.exclude(last_error="").exists()  # not a failure: it said nothing


def test_the_template_subject_is_not_rendered_when_staff_type_theirs(setup, django_capture_on_commit_callbacks):
    template = EmailTemplateFactory(
        module=setup.module, kind="booking_denied", subject="{{ booking_title|truncate('x') }}", body="No."
    )
    config_cache_clear()
    booking = setup.submit().booking
    with django_capture_on_commit_callbacks(execute=True):
        booking_deny(
            booking_id=booking.pk,
            actor=setup.staff,
            client_last_updated_at=None,
            notification=NotificationSpec(subject="About your request"),
        )
    denied = next(m for m in mail.outbox if m.subject == "About your request")
    assert denied.body.startswith("No.\n")
    assert "subject_error" not in Notification.objects.get(kind="booking_denied").snapshot["custom"]
    template.refresh_from_db()
    assert template.last_error == ""  # staff's subject was sent: the template's could not fail
