"""Races and faults over real HTTP: requests from many threads against pytest-django's `live_server` (a
threaded server in this process, on the test database), and worker processes started as subprocesses of
the test on the same database.

Everything here needs PostgreSQL (row locks under real concurrency, pg_terminate_backend, a database
that other processes can open); the tests are marked `postgres_only` and skip on SQLite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.conf import settings as django_settings
from django.core import mail
from django.core.cache import cache
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection
from knox.models import AuthToken

from bookings.models import Booking
from core.throttles import PublicSubmitThrottle
from core.time import iso

ROOT = Path(__file__).resolve().parents[2]
HTTP_TIMEOUT = 60
# Every database session a worker subprocess opens carries this name, so the test can wait for them to end.
WORKER_APP_NAME = "allot-test-worker"

# Django's development server (which live_server runs) listens with a backlog of 10 connections: 50
# clients connecting at once overflow it and some are reset before a byte of their request is read,
# which says nothing about the application (gunicorn's backlog is 2048). Set here, at collection, because
# pytest-django's live_server is session-wide and may be started before any fixture of this directory.
ThreadedWSGIServer.request_queue_size = 128


@pytest.fixture(autouse=True)
def _http_settings(monkeypatch):
    # Throttling counts live in the (in-process, local memory) cache: each test starts from zero.
    cache.clear()
    # Every request here comes from 127.0.0.1, and the races send 50 at once: above PUBLIC_SUBMIT_RATE
    # (30/minute) the losers would get 429 THROTTLED instead of the BOOKING_CONFLICT under test. The
    # `settings` fixture cannot raise it: DRF binds THROTTLE_RATES to the throttle class when it is
    # imported, so the class's own `rate` is what the live server thread (this process) reads.
    monkeypatch.setattr(PublicSubmitThrottle, "rate", "100000/minute", raising=False)
    yield
    cache.clear()


APPROVED_SUBJECT = "Your booking is confirmed: "


def approve_body(booking) -> dict:
    """What a client that just read the booking sends (its lastUpdatedAt), with no edits."""
    return {"clientBookingLastUpdatedAt": iso(Booking.objects.get(pk=booking.pk).updated_at)}


def approval_emails() -> list:
    """The approval emails the live server sent (anymail's test backend, tests/conftest.py)."""
    return [m for m in mail.outbox if m.subject.startswith(APPROVED_SUBJECT)]


def bearer(user) -> dict[str, str]:
    """The Authorization header of a fresh personal token of `user`."""
    _, token = AuthToken.objects.create(user=user, expiry=None)
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Reply:
    status: int
    body: dict | None
    headers: dict[str, str]
    seconds: float

    # The shape tests.api.conftest.assert_error expects.
    @property
    def status_code(self) -> int:
        return self.status

    def json(self) -> dict | None:
        return self.body


class Http:
    """POSTs JSON to the live server and keeps status, body, headers and the client-side duration."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def post(self, path: str, body: dict, headers: dict | None = None) -> Reply:
        started = time.perf_counter()
        response = requests.post(self.base_url + path, json=body, headers=headers or {}, timeout=HTTP_TIMEOUT)
        seconds = time.perf_counter() - started
        try:
            data = response.json()
        except ValueError:
            data = None  # e.g. Django's HTML 500 page; the test reports the status
        return Reply(response.status_code, data, dict(response.headers), seconds)

    def race(self, requests_: list[tuple[str, dict, dict | None]]) -> list[Reply | BaseException]:
        """Send every (path, body, headers) from its own thread, all released together by a barrier."""
        count = len(requests_)
        barrier = threading.Barrier(count)
        results: list[Reply | BaseException | None] = [None] * count

        def run(i: int) -> None:
            path, body, headers = requests_[i]
            try:
                barrier.wait(timeout=30)
                results[i] = self.post(path, body, headers)
            except BaseException as exc:  # noqa: BLE001 - reported to the test, which fails on it
                results[i] = exc

        threads = [threading.Thread(target=run, args=(i,), name=f"http-race-{i}") for i in range(count)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + HTTP_TIMEOUT + 30
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in threads if t.is_alive()]
        assert not stuck, f"requests still running (deadlock?): {stuck}"
        failed = [r for r in results if isinstance(r, BaseException)]
        assert not failed, f"{len(failed)} requests raised, e.g. {failed[0]!r}"
        return results  # type: ignore[return-value]


@pytest.fixture
def http(live_server) -> Http:
    return Http(live_server.url)


# --- worker processes ------------------------------------------------------------------------------


def worker_database_url() -> str:
    """DATABASE_URL of the test database (pytest-django's test_<name>), for processes started by the test."""
    db = django_settings.DATABASES["default"]
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}?application_name={WORKER_APP_NAME}"


class Workers:
    """manage.py commands run as real processes on the test database; whatever is still running when the
    test ends is killed, and the test waits until their database sessions are gone (the test database is
    flushed after each test and dropped at the end)."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = {**os.environ, "DATABASE_URL": worker_database_url(), "PYTHONUNBUFFERED": "1", **extra}
        env.pop("SQLITE_TEST_NAME", None)
        return env

    def _log(self, name: str) -> Path:
        return self.tmp_path / f"{name}-{len(self.processes)}.log"

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        log = self._log(args[0])
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "manage.py", *args],
                cwd=ROOT,
                env=self.env(**env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        process.log = log  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    def run(self, *args: str, timeout: float = 60, **env: str) -> str:
        """Run a command to its end; its output, or a failure that shows it."""
        process = self.start(*args, **env)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"manage.py {' '.join(args)} still running after {timeout}s:\n{self.output(process)}")
        output = self.output(process)
        assert code == 0, f"manage.py {' '.join(args)} exited with {code}:\n{output}"
        return output

    @staticmethod
    def output(process: subprocess.Popen) -> str:
        return process.log.read_text(errors="replace")  # type: ignore[attr-defined]

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL: the process gets no chance to clean up (a crash, the OOM killer, a lost machine)."""
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            self.kill(process)
        deadline = time.monotonic() + 10
        while self.sessions() and time.monotonic() < deadline:
            time.sleep(0.05)

    @staticmethod
    def sessions() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
                [WORKER_APP_NAME],
            )
            return cursor.fetchone()[0]


@pytest.fixture
def workers(tmp_path):
    pool = Workers(tmp_path)
    yield pool
    pool.stop_all()


def wait_for(condition, timeout: float, what: str, interval: float = 0.02):
    """Poll `condition()` until it returns something truthy (returned); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
