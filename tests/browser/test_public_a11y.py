"""Accessibility of the public pages: axe-core (the npm package, pinned in package-lock.json and installed
by `npm ci` in .ci/run) runs in chromium on every page a booker meets, at desktop width and at 375
pixels, and no violation of impact "serious" or "critical" is allowed.

axe is injected as an inline script, which the pages' Content-Security-Policy forbids (as it should), so
these contexts bypass the CSP; test_public_journey.py runs the same pages under the real policy."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from django.core import mail

from bookings.lifecycle.decide import booking_approve
from bookings.models import Booking
from tests.conftest import future
from tests.public.site import PublicSite, local_input

from .conftest import DEFAULT_TIMEOUT_MS, ROOT, _browser_required, screenshot

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 812}}


def _axe_path() -> Path:
    if AXE.is_file():
        return AXE
    reason = f"axe-core is not installed at {AXE.relative_to(ROOT)}; run `npm ci --no-audit --no-fund`"
    if _browser_required() or os.environ.get("CI"):
        pytest.fail(f"{reason} (ALLOT_REQUIRE_BROWSER=1, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(params=list(WIDTHS), ids=list(WIDTHS))
def axe_page(request, browser, live_server, browser_settings):
    """A page whose context bypasses the CSP, so axe-core can be injected; `page.axe()` runs it."""
    axe = _axe_path()
    context = browser.new_context(base_url=live_server.url, viewport=WIDTHS[request.param], bypass_csp=True)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    page.width = WIDTHS[request.param]["width"]
    page.report = {}

    def run(name: str) -> list[dict]:
        page.add_script_tag(path=str(axe))
        violations = page.evaluate("""async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
            }));
        }""")
        page.report[name] = violations
        return violations

    page.axe = run
    yield page
    context.close()


def test_the_public_pages_have_no_serious_accessibility_violations(axe_page, live_server):
    page = axe_page
    site = PublicSite()
    site.module.allow_repeat_requests = True  # the form's "Repeat" fieldset is checked too
    site.module.save(update_fields=["allow_repeat_requests"])
    approved = site.submit(site.event(start=future(3, 12), resources=[site.hall]), email="zed@example.com").booking
    booking_approve(booking_id=approved.pk, actor=site.staff, client_last_updated_at=None)
    site.submit(site.event(start=future(3, 15)), email="yan@example.com")
    start = future(3, 10)

    page.goto(site.portal_url)
    page.axe("portal")
    page.goto(site.url())
    page.axe("about")
    page.goto(f"{site.url('calendar')}?date={start.date().isoformat()}")
    page.axe("calendar-day")
    page.goto(f"{site.url('calendar')}?view=week&resource={site.hall.pk}&date={start.date().isoformat()}")
    page.axe("calendar-week")
    page.goto(f"{site.url('book')}?resource={site.room.pk}&start={local_input(start)}")
    page.axe("form")
    page.click("button.primary:text-is('Send request')")  # everything missing
    page.wait_for_selector(".error-summary")
    page.axe("form-with-errors")
    screenshot(page, f"public-a11y-form-errors-{page.width}")
    # "Check availability" on a taken time: its reasons and the suggested free times.
    page.fill("#id_events-0-start", local_input(future(3, 15)))
    page.fill("#id_events-0-end", local_input(future(3, 16)))
    page.click("button:text-is('Check availability')")
    page.wait_for_selector(".availability .slots button")
    page.axe("check-availability")
    screenshot(page, f"public-a11y-check-availability-{page.width}")
    page.fill("#id_events-0-start", local_input(start))

    page.fill("#id_contact-name", "Ada Lovelace")
    page.fill("#id_contact-email", "ada@example.com")
    page.fill("#id_events-0-title", "Choir rehearsal")
    page.fill("#id_events-0-end", local_input(future(3, 11)))
    n = site.name_of
    page.fill(f"#id_{n('Organisation')}", "Riverside Choir")
    page.fill(f"#id_{n('Describe the event')}", "Our weekly rehearsal.")
    page.fill(f"#id_{n('Chairs needed')}", "20")
    page.fill(f"#id_{n('Doors open')}", "09:30")
    page.select_option(f"#id_{n('Type of event')}", "Meeting")
    page.check(f"input[name='{n('Equipment')}'][value='Piano']")
    page.check(f"#id_{n('Alcohol will be served')}")
    page.check("#id_terms")
    page.click("button.primary:text-is('Send request')")
    page.wait_for_selector("h1:text-is('Thank you, your request is sent')")
    page.axe("confirmation")

    token = _token_of_last_email("ada@example.com")
    page.goto(f"/b/{token}/")
    page.axe("private")
    page.goto(f"/b/{token}/change/")
    page.axe("change")
    page.fill("#id_events-0-end", "soon")
    page.click("button.primary")
    page.wait_for_selector(".error-summary")
    page.axe("change-with-errors")
    page.goto(f"/b/{token}/cancel/")
    page.axe("cancel")

    site.portal.set_password("open sesame")
    site.portal.save()
    page.context.clear_cookies()
    page.goto(site.url("book"))
    page.axe("password")
    page.fill("#id_password", "wrong")
    page.click("button:text-is('Continue')")
    page.axe("password-wrong")
    page.goto("/p/no-such-portal/")
    page.axe("not-found")
    assert Booking.objects.filter(contact_answers__email="ada@example.com").exists()

    everything = {
        name: [f"{v['impact']}: {v['id']} ({v['help']}) at {v['nodes']}" for v in found]
        for name, found in page.report.items()
        if found
    }
    print(f"\naxe at {page.width}px, every impact: {json.dumps(everything, indent=1) if everything else 'none'}")
    blocking = {
        name: lines for name, lines in everything.items() if any(v["impact"] in BLOCKING for v in page.report[name])
    }
    assert not blocking, json.dumps(blocking, indent=1)


def _token_of_last_email(to: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for message in reversed(mail.outbox):
            if message.to == [to]:
                return re.search(r"/b/([A-Za-z0-9_-]+)/", message.body).group(1)
        time.sleep(0.1)
    raise AssertionError(f"no email to {to}")
