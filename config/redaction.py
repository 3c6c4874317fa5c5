"""Secrets that travel in URLs and headers never reach a log line or an error report.

The booker's private link is /b/<token>/ (and /b/<token>/events.ics ...), a calendar feed is
/feeds/<token>.ics, and API tokens come as `Authorization: Bearer allot_<hex>`: each of them is a
credential, and log files are read by more people and kept longer than the database. `redact()` masks
them in any text; the logging filter, the error-report classes and gunicorn's access logger
(config/gunicorn.py) all go through it.
"""

from __future__ import annotations

import logging
import re

from django.http import HttpRequest
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

MASK = "[redacted]"

_PATTERNS = [
    # /b/<token>/..., also inside a full URL or a URL-encoded next= parameter (%2Fb%2F<token>)
    (re.compile(r"(/b/|%2Fb%2F)[^/?#\s\"'<>%]+", re.I), rf"\g<1>{MASK}"),
    (re.compile(r"(/feeds/|%2Ffeeds%2F)[^/?#\s\"'<>%]+?(\.ics)", re.I), rf"\g<1>{MASK}\g<2>"),
    (re.compile(r"(/feeds/|%2Ffeeds%2F)[^/?#\s\"'<>%.]+", re.I), rf"\g<1>{MASK}"),
    # knox tokens wherever they appear (TOKEN_PREFIX "allot_" + hex), and any Bearer credential
    (re.compile(r"\ballot_[0-9a-f]{8,}", re.I), f"allot_{MASK}"),
    (re.compile(r"\b(Bearer)\s+[^\s\"',;]+", re.I), rf"\g<1> {MASK}"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactTokensFilter(logging.Filter):
    """Rewrites a record's message with the tokens masked (it never drops a record).

    Put it on the loggers that write request paths (django.request, django.server) so the record is
    masked where it is made, before any handler sees it, and on the handlers for everything else.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logging module's to report, not ours
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if isinstance(getattr(record, "request", None), HttpRequest):
            # django.request attaches the request; handlers that format it (e.g. mail_admins) see this
            # stand-in, whose path and headers are masked.
            record.request = _MaskedRequest(record.request)  # type: ignore[attr-defined]  # django.request's extra
        return True


class _MaskedRequest(HttpRequest):
    """A copy of a request's identity (method, masked path, masked META) for log handlers."""

    def __init__(self, request: HttpRequest):
        super().__init__()
        self.method = request.method
        self.path = redact(request.path)
        self.path_info = redact(request.path_info)
        self.META = {key: redact(value) if isinstance(value, str) else value for key, value in request.META.items()}
        self.META.pop("HTTP_AUTHORIZATION", None)
        self.META.pop("HTTP_COOKIE", None)
        self.GET = request.GET
        # None without the auth middleware (the stubs know only the middleware's user).
        self.user = getattr(request, "user", None)  # type: ignore[assignment]

    def __repr__(self) -> str:
        return redact(super().__repr__())


class RedactingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter (it already hides META and settings named like AUTH, TOKEN, SECRET ...), plus the
    token-shaped variables of the views' frames (`token`, kwargs) and request paths in any string."""

    def get_safe_request_meta(self, request):
        return {
            key: redact(value) if isinstance(value, str) else value
            for key, value in super().get_safe_request_meta(request).items()
        }

    def get_traceback_frame_variables(self, request, tb_frame):
        cleansed = []
        for name, value in super().get_traceback_frame_variables(request, tb_frame):
            value = self.cleanse_setting(name, value)  # `token`, {"token": ...} -> stars
            if isinstance(value, str):
                value = redact(value)
            elif isinstance(value, HttpRequest):
                value = redact(repr(value))
            cleansed.append((name, value))
        return cleansed


class RedactingExceptionReporter(ExceptionReporter):
    """The DEBUG error page and the error emails, with the tokens masked wherever the page shows them
    (the title and "Request URL" show the path, the frames show arguments)."""

    def get_traceback_html(self):
        return redact(super().get_traceback_html())

    def get_traceback_text(self):
        return redact(super().get_traceback_text())
