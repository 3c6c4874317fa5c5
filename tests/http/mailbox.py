"""A stand-in email provider for the fault tests' worker processes, configured through the environment
(a worker is a separate process: the environment is the one thing the test hands it):

- ALLOT_TEST_ENTERED: a file; one line is appended when a send starts, before anything is delivered, so
  the test knows the worker is inside the provider call;
- ALLOT_TEST_HOLD: while this file exists, a send waits before delivering (a provider that hangs until
  the test lets it go, or kills the worker);
- ALLOT_TEST_SLEEP: seconds each send takes (a provider that answers, slowly);
- ALLOT_TEST_MAILBOX: a file; each delivered message appends one JSON line `{"to", "subject"}`.

Use it with EMAIL_BACKEND=tests.http.mailbox.EmailBackend.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend

# A worker the test forgot to kill must not hang for ever.
MAX_HOLD_SECONDS = 120


def _append(path: str | None, line: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(line + "\n")
            file.flush()
            os.fsync(file.fileno())  # the test reads it from another process, possibly right after a kill


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        sent = 0
        for message in email_messages:
            record = json.dumps({"to": list(message.to), "subject": message.subject})
            _append(os.environ.get("ALLOT_TEST_ENTERED"), record)
            hold = os.environ.get("ALLOT_TEST_HOLD")
            deadline = time.monotonic() + MAX_HOLD_SECONDS
            while hold and Path(hold).exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(float(os.environ.get("ALLOT_TEST_SLEEP", "0")))
            _append(os.environ.get("ALLOT_TEST_MAILBOX"), record)
            sent += 1
        return sent


def read_lines(path: Path) -> list[dict]:
    """The JSON lines written to `path` so far (none if it does not exist yet)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
