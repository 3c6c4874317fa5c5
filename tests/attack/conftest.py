"""The browser fixtures of tests/browser/ (one chromium, a page per test on the live server, admin_login,
screenshots), reused here: importing them into this conftest registers them for tests/attack/ too. The
report hook comes along so the `page` fixture still saves a screenshot of a failure."""

from tests.browser.conftest import (  # noqa: F401 - fixtures and a hook, registered by being imported
    admin_login,
    browser,
    browser_settings,
    page,
    pytest_runtest_makereport,
)
