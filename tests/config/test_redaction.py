"""Tokens never reach a log line or an error report: API tokens (Authorization: Bearer ...), the booker's
private link /b/<token>/ and calendar feed URLs /feeds/<token>.ics (config/redaction.py, config/gunicorn.py)."""

import contextlib
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import Client, RequestFactory
from django.views.debug import technical_500_response
from knox.models import AuthToken

from config.redaction import MASK, RedactTokensFilter, redact
from tests.factories import CalendarFeedFactory

ROOT = Path(__file__).resolve().parents[2]
MISSING = "/api/v1/bookings/00000000-0000-0000-0000-000000000000"


def everything_logged(records) -> str:
    """Every record's message and attributes (the request django.request attaches included), as text."""
    return "\n".join(f"{record.getMessage()} {vars(record)!r}" for record in records)


@pytest.fixture
def api_token(setup):
    _, token = AuthToken.objects.create(setup.manager)
    return token


def test_bearer_tokens_valid_or_not_are_never_logged(setup, api_token, caplog):
    wrong = api_token[:-4] + "beef"
    with caplog.at_level(logging.INFO):
        ok_but_404 = Client().get(MISSING, HTTP_AUTHORIZATION=f"Bearer {api_token}")
        refused = Client().get("/api/v1/bookings", HTTP_AUTHORIZATION=f"Bearer {wrong}")
        malformed = Client().get("/api/v1/bookings", HTTP_AUTHORIZATION="Bearer not-a-token extra")

    assert (ok_but_404.status_code, refused.status_code, malformed.status_code) == (404, 401, 401)
    logged = everything_logged(caplog.records)
    assert "Not Found: /api/v1/bookings/" in logged and "Unauthorized: /api/v1/bookings" in logged  # it did log
    for secret in (api_token, wrong, api_token[6:30], wrong[6:30]):
        assert secret not in logged


def test_private_links_and_feed_urls_are_masked_in_the_request_log(setup, caplog):
    result = setup.submit()
    feed = CalendarFeedFactory(organization=setup.org, name="All rooms")
    unknown_feed, unknown_link = "Zq3xY7_unknownFeedToken_abcdefghijklmnopq", "Nq9zR2_unknownPrivateLink_abcdefghijklmn"
    with caplog.at_level(logging.INFO):
        responses = [
            Client().get(f"/b/{result.access_token}/no-such-page/"),  # a real link, a 404 below it
            Client().get(f"/b/{unknown_link}/"),
            Client().get(f"/feeds/{unknown_feed}.ics"),
            Client().post(f"/feeds/{feed.token}.ics"),  # a real feed, a method it does not allow
        ]

    assert [r.status_code for r in responses] == [404, 404, 404, 405]
    logged = everything_logged(caplog.records)
    assert f"/b/{MASK}/" in logged and f"/feeds/{MASK}.ics" in logged
    for secret in (result.access_token, unknown_link, unknown_feed, feed.token):
        assert secret not in logged


def test_the_development_server_log_is_masked_too():
    # runserver's access log (django.server) does not propagate; its records go through this logger's filter.
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append
    logger = logging.getLogger("django.server")
    logger.addHandler(handler)
    try:
        logger.warning('"%s" %s %s', "GET /b/Secret-private-link-token/ HTTP/1.1", 404, 179)
    finally:
        logger.removeHandler(handler)

    assert seen and seen[0].getMessage() == f'"GET /b/{MASK}/ HTTP/1.1" 404 179'
    assert any(isinstance(f, RedactTokensFilter) for f in logger.filters)


def test_the_debug_error_page_masks_the_path_the_frames_and_the_authorization_header(rf: RequestFactory):
    token, api_token = secrets.token_urlsafe(32), f"allot_{secrets.token_hex(32)}"  # not in this source file
    request = rf.get(f"/b/{token}/cancel/", HTTP_AUTHORIZATION=f"Bearer {api_token}")

    def view(request, token):
        raise RuntimeError("the view failed")

    try:
        view(request, token=token)
    except RuntimeError:
        response = technical_500_response(request, *sys.exc_info())
    page = response.content.decode()

    assert "the view failed" in page and f"/b/{MASK}/cancel/" in page
    assert token not in page and api_token[6:] not in page


def test_redact_leaves_other_text_alone():
    assert redact("GET /p/portal/spaces/book/ 200") == "GET /p/portal/spaces/book/ 200"
    assert redact("/admin/bookings/booking/") == "/admin/bookings/booking/"
    assert redact("GET /b/abc/events.ics") == f"GET /b/{MASK}/events.ics"
    assert redact("next=%2Fb%2Fabc%2Fchange%2F") == f"next=%2Fb%2F{MASK}%2Fchange%2F"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorns_access_log_masks_the_tokens(tmp_path):
    """gunicorn with config/gunicorn.py, as DEPLOYMENT.md runs it; the database is an empty file, so the
    views fail (500) -- what matters is what the access and error logs say about the URLs."""
    port = free_port()
    link, feed = "Pq7s_private_link_token_for_gunicorn_0123456", "Fz9w_feed_token_for_gunicorn_01234567890ab"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "SECRET_KEY": "test-only-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    log = (tmp_path / "gunicorn.log").open("w+")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "config/gunicorn.py",
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "config.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.2)
        for path in (f"/b/{link}/", f"/feeds/{feed}.ics"):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", headers={"Referer": f"http://127.0.0.1/b/{link}/"}
            )
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(request, timeout=10)
    finally:
        server.terminate()
        server.wait(timeout=30)
    log.seek(0)
    output = log.read()

    assert f'"GET /b/{MASK}/ HTTP/1.1"' in output and f'"GET /feeds/{MASK}.ics HTTP/1.1"' in output, output
    assert link not in output and feed not in output
