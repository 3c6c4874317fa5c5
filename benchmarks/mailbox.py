"""The email provider of `make bench-scale` (benchmarks/scale.py): every message is a file, so sends can be
counted exactly across processes (two db_workers, and whatever else sends).

EMAIL_BACKEND=benchmarks.mailbox.EmailBackend with ALLOT_MAILBOX_DIR=<a directory>. Each delivered message
becomes one JSON file `{"to": [...], "subject": "..."}` (no body: the booker's private link stays out of
it), written under a temporary name and renamed into place, so a reader never sees half a message and a
worker killed mid-write leaves no file that counts. The count is what the provider was asked to deliver:
a message sent twice is two files.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend

MAILBOX_ENV = "ALLOT_MAILBOX_DIR"


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        folder = Path(os.environ[MAILBOX_ENV])
        for message in email_messages:
            name = f"{os.getpid()}-{uuid.uuid4().hex}"
            partial = folder / f".{name}.tmp"
            partial.write_text(json.dumps({"to": list(message.to), "subject": message.subject}), encoding="utf-8")
            partial.rename(folder / f"{name}.json")
        return len(email_messages)


def read_mailbox(folder: Path) -> list[dict]:
    """Every message delivered to `folder` so far."""
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]
