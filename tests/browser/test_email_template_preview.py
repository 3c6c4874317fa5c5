"""An admin writes their own wording for the "request received" email and previews it in a real browser:
the page and the email's frame report no Content-Security-Policy violation, the frame shows the body in the
email layout, and reset to default asks first. Screenshot: artifacts/screenshots/email-template-preview.png."""

from __future__ import annotations

from playwright.sync_api import expect

from bookings.models import EmailTemplate
from resources.models import Role

from ..conftest import Setup
from ..factories import MembershipFactory, UserFactory
from .conftest import screenshot
from .test_csp import RECORD_VIOLATIONS

BODY = "Dear {{ booker_name }},\n\nthank you for booking {{ booking_title }} ({{ when }}).\nWe will confirm soon."


def test_an_admin_writes_previews_and_resets_a_template(page, admin_login, live_server):
    setup = Setup()
    admin = UserFactory()
    MembershipFactory(user=admin, organization=setup.org, role=Role.ADMIN)
    page.add_init_script(RECORD_VIOLATIONS)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda error: problems.append(f"JS error: {error}"))

    admin_login(admin.username, "pw-123456")
    page.goto("/admin/bookings/emailtemplate/add/")
    page.select_option("#id_module", str(setup.module.pk))
    page.select_option("#id_kind", "booking_received")
    page.fill("#id_subject", "Thanks, {{ booker_name }}: {{ booking_title }}")
    page.fill("#id_body", "Hello {{ booker }}")
    page.click("input[name=_continue]")
    expect(page.locator(".errorlist")).to_contain_text("is not a placeholder")  # refused at its field

    page.fill("#id_body", BODY)
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    template = EmailTemplate.objects.get()

    page.click(".object-tools a:text-is('Preview')")
    expect(page.locator(".allot-preview-subject")).to_have_text("Thanks, Ada Lovelace: Team offsite")
    expect(page.locator(".allot-preview-text")).to_contain_text("thank you for booking Team offsite")
    frame = page.frame_locator("iframe.allot-preview-html")
    expect(frame.locator("main p").nth(1)).to_have_text("Dear Ada Lovelace,")
    expect(frame.locator("a.button")).to_have_text("Manage your booking")
    page.wait_for_load_state("networkidle")
    screenshot(page, "email-template-preview")
    violations = page.evaluate("window.__cspViolations || []")
    assert not violations + problems, violations + problems

    page.goto(f"/admin/bookings/emailtemplate/{template.pk}/change/")
    page.click(".object-tools a:text-is('Reset to default')")
    expect(page.locator("#content-main")).to_contain_text("cannot be undone")
    page.click("input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("back to the default wording")
    assert not EmailTemplate.objects.exists()
