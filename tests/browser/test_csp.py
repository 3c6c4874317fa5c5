"""Under the Content-Security-Policy, in Chromium: no page reports a violation (a blocked script, style,
image or connection), and the JavaScript of the admin and of Swagger UI still works -- the inline
formsets' "Add another", the two-box selector, the admin's date filter and Swagger UI's operations.
Screenshots of the admin pages and the API docs go to artifacts/screenshots/csp-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.config.pages import build_pages

from .conftest import screenshot

# Every violation the page's document reports, kept on window (the event fires in the page, not here).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} `
                              + `(${e.sourceFile}:${e.lineNumber}) ${e.sample}`);
});
"""


@pytest.fixture
def watched(page):
    """The page, recording CSP violations (events and console reports) and uncaught JS errors."""
    problems: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text}")
            if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"JS error: {error}"))
    page.problems = problems
    return page


def visit(page, name: str, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    violations = page.evaluate("window.__cspViolations || []")
    problems = violations + page.problems
    assert not problems, f"{name} ({url}): {len(problems)} problems, the first: {problems[:3]}"


def test_no_page_reports_a_violation_and_the_admin_scripts_work(watched, admin_login, live_server):
    page = watched
    pages = build_pages()

    for name, url in pages.public.items():
        visit(page, name, url)

    admin_login(pages.admin.username, "pw-123456")
    for name, url in pages.staff.items():
        visit(page, name, url)
        if name != "browsable API":
            screenshot(page, f"csp-{name.replace(' ', '-')}")

    # The module page: the two-box selector (SelectFilter2.js) was built, and "Add another" adds a row.
    visit(page, "module page", pages.staff["module page"])
    expect(page.locator(".selector-available").first).to_be_visible()
    group = page.locator(".inline-group").filter(has=page.locator(".add-row a")).first
    rows = group.locator("tr.form-row:not(.empty-form)")
    before = rows.count()
    group.locator(".add-row a").click()
    expect(rows).to_have_count(before + 1)
    assert page.evaluate("window.__cspViolations.length") == 0 and not page.problems, page.problems

    # The booking list's date filter narrows the list; filters.js remembers the open <details>.
    visit(page, "booking list", pages.staff["booking list"])
    page.fill("#allot-date-from", "2000-01-01")
    page.fill("#allot-date-to", "2000-01-02")
    with page.expect_navigation():
        page.click(".allot-date-filter button[type=submit]")
    expect(page.locator("#result_list")).to_have_count(0)  # nothing on those days
    expect(page.locator("#changelist")).to_contain_text("0 bookings")
    assert page.evaluate("window.__cspViolations.length") == 0 and not page.problems, page.problems

    # Swagger UI renders the operations from the schema (its init script ran as a file of its own).
    visit(page, "API docs", "/api/docs/")
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 10
    page.locator(".opblock-summary").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    screenshot(page, "csp-API-docs-operation")
    assert page.evaluate("window.__cspViolations.length") == 0 and not page.problems, page.problems
