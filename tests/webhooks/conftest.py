"""Webhook test helpers: a real HTTP server on 127.0.0.1 (a port the OS picks) that records what it is
sent and answers with a chosen status, or too slowly."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import Setup
from tests.factories import WebhookEndpointFactory


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    # The receiver listens on 127.0.0.1, which production refuses (SSRF); the tests that check the refusal
    # switch this off again.
    settings.WEBHOOKS_ALLOW_PRIVATE = True


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler still sleeping on a timed-out request must not hold up the test

    def handle_error(self, request, client_address):
        pass  # the client hung up on a slow answer: expected in the timeout tests


class Receiver:
    """`status` and `delay` decide the next answers; `requests` lists what came in."""

    def __init__(self):
        self.status = 200
        self.delay = 0.0
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                    status, delay = receiver.status, receiver.delay
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, name="webhook-receiver", daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks?source=allot"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def endpoint(setup, receiver):
    """An endpoint of setup's organization, subscribed to everything, pointing at the receiver."""
    return WebhookEndpointFactory(organization=setup.org, url=receiver.url)


@pytest.fixture
def other_setup(db) -> Setup:
    """A second organization, whose endpoints must never hear of setup's events."""
    return Setup()
