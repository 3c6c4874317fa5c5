"""Staff's email templates in the admin (docs/architecture.md#email-templates): adding and changing through
the service with its errors at the fields, who may see and edit, other organizations' templates as 404, the
preview with sample data (and its frame's policy), reset to default with a confirmation, and a failed render
shown on the list and the page."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.utils import timezone

from bookings.models import EmailTemplate
from resources.models import Organization, Role

from ..factories import BookingModuleFactory, EmailTemplateFactory
from ..notifications.test_templating import HOSTILE
from .config_helpers import url

MODEL = "bookings.emailtemplate"
SUBJECT = "Thanks, {{ booker_name }}"
BODY = "Dear {{ booker_name }},\n\nsee you at {{ organization_name }}."


@pytest.fixture
def admin_client(member):
    return member(Role.ADMIN)[1]


@pytest.fixture
def template(setup):
    return EmailTemplateFactory(module=setup.module, subject=SUBJECT, body=BODY)


def add_data(setup, **changes):
    return {
        "module": str(setup.module.pk),
        "kind": "booking_received",
        "language": "en",
        "subject": SUBJECT,
        "body": BODY,
        "_save": "Save",
        **changes,
    }


def test_an_admin_adds_a_template_through_the_service(setup, admin_client):
    before = Organization.objects.get(pk=setup.org.pk).config_version
    response = admin_client.post(url(MODEL, "add"), add_data(setup))
    assert response.status_code == 302, response.context["adminform"].form.errors
    template = EmailTemplate.objects.get()
    assert (template.module, template.kind, template.language, template.subject) == (
        setup.module,
        "booking_received",
        "en",
        SUBJECT,
    )
    assert Organization.objects.get(pk=setup.org.pk).config_version != before  # the service ran


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"body": "{{ booker_name"}, "body", "Line 1:"),
        ({"body": "{% include 'x' %}"}, "body", "is not allowed"),
        ({"subject": "{{ ''.__class__ }}"}, "subject", "not their attributes"),
        ({"body": "Hi {{ booker }}"}, "body", "is not a placeholder"),
        ({"subject": "", "body": ""}, "body", "Give a subject, a body or both"),
    ],
)
def test_bad_templates_are_refused_at_their_field(setup, admin_client, changes, field, message):
    response = admin_client.post(url(MODEL, "add"), add_data(setup, **changes))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert any(message in e for e in errors.get(field, [])), errors
    assert not EmailTemplate.objects.exists()


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_body_is_refused_at_its_field_not_a_server_error(setup, admin_client, body):
    response = admin_client.post(url(MODEL, "add"), add_data(setup, body=body))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors.get("body"), response.context["adminform"].form.errors
    assert not EmailTemplate.objects.exists()


def test_a_second_template_for_the_same_email_is_refused(setup, admin_client, template):
    response = admin_client.post(url(MODEL, "add"), add_data(setup))
    assert response.status_code == 200
    assert "already has a template" in str(response.context["adminform"].form.errors["kind"])
    assert EmailTemplate.objects.count() == 1


def test_an_admin_changes_the_wording_and_the_error_is_cleared(admin_client, template):
    EmailTemplate.objects.filter(pk=template.pk).update(last_error="Body: boom", last_error_at=timezone.now())
    response = admin_client.post(url(MODEL, "change", template), {"subject": "New {{ module_name }}", "body": ""})
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.subject, template.body, template.last_error) == ("New {{ module_name }}", "", "")


def test_the_change_page_lists_placeholders_and_tools_and_shows_a_failed_render(admin_client, template):
    EmailTemplate.objects.filter(pk=template.pk).update(last_error="Body: boom", last_error_at=timezone.now())
    page = admin_client.get(url(MODEL, "change", template)).content.decode()
    assert "{{ booker_name }}" in page and "The booker&#x27;s name." in page
    assert url(MODEL, "preview", template) in page and url(MODEL, "reset", template) in page
    assert "Body: boom" in page and "failed to render last time" in page
    listing = admin_client.get(url(MODEL, "changelist")).content.decode()
    assert "Failed: the default was sent" in listing
    assert admin_client.get(url(MODEL, "changelist") + "?failed=yes").context["cl"].result_count == 1
    assert admin_client.get(url(MODEL, "changelist") + "?failed=no").context["cl"].result_count == 0


def test_the_list_costs_the_same_with_many_templates(setup, admin_client, django_assert_max_num_queries):
    for kind in ("booking_received", "booking_approved", "booking_denied", "booking_canceled"):
        for module in (setup.module, BookingModuleFactory(organization=setup.org)):
            EmailTemplateFactory(module=module, kind=kind)
    with django_assert_max_num_queries(12):
        response = admin_client.get(url(MODEL, "changelist"))
    assert response.context["cl"].result_count == 8


def test_the_preview_renders_sample_data_under_the_strict_policy(admin_client, template):
    response = admin_client.get(url(MODEL, "preview", template))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Thanks, Ada Lovelace" in page
    assert "Dear Ada Lovelace," in page
    assert "- Team offsite: Mon 07 Dec 2026, 10:00–12:00 (Europe/Berlin), Room 1 · Main building" in page
    assert f'src="{url(MODEL, "preview_html", template)}"' in page and "sandbox" in page
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []  # no inline script on the page
    assert re.findall(r"\sstyle=", page) == []


def test_the_preview_frame_allows_its_inline_style_and_nothing_else(admin_client, template):
    response = admin_client.get(url(MODEL, "preview_html", template))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<p>Dear Ada Lovelace,</p>" in html and "<style>" in html
    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "style-src 'sha256-" in policy and "unsafe-inline" not in policy
    assert "script-src" not in policy and "frame-ancestors 'self'" in policy
    assert response["X-Frame-Options"] == "SAMEORIGIN"


def test_a_preview_of_a_failing_template_says_why_and_shows_the_default(admin_client, template):
    EmailTemplate.objects.filter(pk=template.pk).update(body="{{ booking_title|truncate('x') }}")
    page = admin_client.get(url(MODEL, "preview", template)).content.decode()
    assert "fails to render" in page and "Body: TypeError" in page
    assert "We received your request" in page


def test_reset_asks_then_deletes_through_the_service_and_logs_it(setup, admin_client, template):
    reset = url(MODEL, "reset", template)
    confirm = admin_client.get(reset)
    assert confirm.status_code == 200 and b"Reset to default" in confirm.content
    assert EmailTemplate.objects.exists()
    response = admin_client.post(reset)
    assert response.status_code == 302 and response["Location"] == url(MODEL, "changelist")
    assert not EmailTemplate.objects.exists()
    assert LogEntry.objects.filter(object_id=str(template.pk), action_flag=DELETION).count() == 1


def test_another_organizations_template_is_not_found(admin_client, other):
    theirs = EmailTemplateFactory(module=other.module)
    for view in ("change", "preview", "preview_html", "reset"):
        assert admin_client.get(url(MODEL, view, theirs)).status_code == 404, view
    assert admin_client.post(url(MODEL, "reset", theirs)).status_code == 404
    assert EmailTemplate.objects.filter(pk=theirs.pk).exists()
    response = admin_client.post(url(MODEL, "add"), add_data(other))
    assert response.status_code == 200 and "module" in response.context["adminform"].form.errors


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MANAGER])
def test_below_admin_may_look_and_preview_but_not_edit_or_reset(member, template, role):
    _, client = member(role)
    assert client.get(url(MODEL, "change", template)).status_code == 200
    assert client.get(url(MODEL, "preview", template)).status_code == 200
    assert client.post(url(MODEL, "change", template), {"subject": "x", "body": ""}).status_code == 403
    assert client.get(url(MODEL, "reset", template)).status_code == 403
    assert client.post(url(MODEL, "reset", template)).status_code == 403
    assert client.get(url(MODEL, "add")).status_code == 403
    template.refresh_from_db()
    assert template.subject == SUBJECT
