"""Browser tests: Playwright's Python package driving Debian's chromium against pytest-django's
`live_server` (a real HTTP server in a thread of the test process, on the test database).

Fixtures:
- `browser`: one headless chromium for all browser tests (skips when chromium is missing, fails instead
  when ALLOT_REQUIRE_BROWSER=1, as CI sets it);
- `page`: a fresh context and page per test, `base_url` set to the live server, so `page.goto("/admin/")`
  works; on failure it saves a full-page screenshot to artifacts/screenshots/;
- `admin_login`: `admin_login(username, password)` signs in through /admin/login/.
`screenshot(page, name)` saves artifacts/screenshots/<name>.png.

Every test in this directory is marked `browser` (deselect with `-m "not browser"`) and, through
live_server, runs with `transactional_db`: the server thread only sees committed rows.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
HERE = Path(__file__).resolve().parent

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage"]
DEFAULT_TIMEOUT_MS = 10_000
VIEWPORT = {"width": 1280, "height": 900}


def _browser_required() -> bool:
    return os.environ.get("ALLOT_REQUIRE_BROWSER", "").lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> NoReturn:
    """Skip locally; fail when ALLOT_REQUIRE_BROWSER=1 so CI cannot silently skip the browser tests."""
    if _browser_required():
        pytest.fail(f"{reason} (ALLOT_REQUIRE_BROWSER=1, so this fails instead of skipping)", pytrace=False)
    pytest.skip(f"{reason}; install it (apt-get install -y chromium) or point ALLOT_CHROMIUM at a chromium binary")


def _chromium_path() -> str | None:
    candidate = os.environ.get("ALLOT_CHROMIUM") or "/usr/bin/chromium"
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    return None if os.environ.get("ALLOT_CHROMIUM") else shutil.which("chromium")


def pytest_collection_modifyitems(config, items):
    # Mark everything under tests/browser/, so a new test module cannot forget the marker.
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item, so the `page` fixture can tell at teardown whether the test failed.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="package")
def browser():
    """One headless chromium for every test of this package.

    Package scope (the whole of tests/browser/, i.e. every browser test of a run) rather than session:
    while Playwright's sync API is started, its asyncio loop counts as *running* in the main thread,
    and the browser is closed right after the last browser test, so the tests that run after these
    (tests/events/, tests/resources/, ...) see no running loop and keep Django's async-safety check.
    """
    executable = _chromium_path()
    if executable is None:
        wanted = os.environ.get("ALLOT_CHROMIUM")
        _unavailable(f"chromium not found at {wanted or '/usr/bin/chromium nor on PATH'}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (make install installs the dev extra)")

    # Playwright's sync API runs an asyncio event loop in this (the test) thread. Django sees a running
    # loop and refuses every ORM call made from this thread -- factories in the test, transactional_db's
    # flush -- with SynchronousOnlyOperation, because it assumes it is inside async code. Nothing here is
    # async: the loop only talks to the browser, and the ORM calls are ordinary blocking calls outside
    # it, so the check is a false alarm. DJANGO_ALLOW_ASYNC_UNSAFE switches it off; it is set only while
    # Playwright runs and restored afterwards (the live server thread has no loop and is unaffected).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        # A chromium that is there but does not start is an error, not a skip: it would hide a broken set-up.
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_settings(settings):
    # live_server speaks plain HTTP; with DEBUG off the settings mark the session and CSRF cookies Secure.
    # Chromium accepts Secure cookies from http://localhost and 127.0.0.1 (checked), but not from other
    # plain-HTTP hosts (--liveserver on a container name), so the tests do not depend on that exception.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    return settings


@pytest.fixture
def page(request, browser, live_server, browser_settings):
    """A new browser context (own cookies) and page per test, pointed at the live server."""
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    yield page
    reports = [getattr(request.node, f"rep_{when}", None) for when in ("setup", "call")]
    failure_name = f"FAILED-{request.node.nodeid}"
    if any(report is not None and report.failed for report in reports):
        try:
            path = screenshot(page, failure_name)
            print(f"\nscreenshot of the failure: {path}")
        except Exception as exc:  # the page may be gone; never mask the real failure
            print(f"\nno screenshot of the failure: {exc}")
    else:  # passed now: drop the screenshot of an earlier failure, so artifacts/ shows the last run
        _screenshot_path(failure_name).unlink(missing_ok=True)
    context.close()


def _screenshot_path(name: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "screenshot"
    return SCREENSHOTS / f"{safe}.png"


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot to artifacts/screenshots/<name>.png (name made filesystem-safe)."""
    path = _screenshot_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def admin_login(page, live_server):
    """admin_login(username, password) → the page, after submitting the admin login form.

    It does not assert success: check the page (e.g. the wrong-password message) in the test.
    """

    def login(username: str, password: str, next_url: str = "/admin/"):
        page.goto(f"/admin/login/?next={next_url}")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        with page.expect_navigation():
            page.click("input[type=submit], button[type=submit]")
        return page

    return login
