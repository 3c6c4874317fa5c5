"""The hook through which the app that owns staff's email templates hears that one failed to render.

Staff's templates belong to booking modules (bookings.models.EmailTemplate), which this app may not know
(docs/architecture.md#apps-and-layers); the worker renders them after commit (notifications.sending). When
one fails, the default body is sent and the worker reports it here, so the admin can show it
(docs/architecture.md#email-templates). The bookings app registers the hook at start-up (bookings.apps);
with nothing registered, the report is only logged.
"""

from __future__ import annotations

import logging
from typing import Protocol

logger = logging.getLogger(__name__)


class TemplateFailureHook(Protocol):
    def failed(self, *, template_id: str, error: str, updated_at: str = "") -> None:
        """Record that staff's template `template_id`, in its version last saved at `updated_at` (ISO; empty:
        an email written before versions were carried), failed to render (`error` says why). Runs in its own
        transaction, after the email's bodies were stored; a template that no longer exists, or was saved
        again since (the failure is the old wording's), is ignored."""


class LogTemplateFailure:
    """The hook when no app registered one: the failure is only logged."""

    def failed(self, *, template_id: str, error: str, updated_at: str = "") -> None:
        logger.warning("email template %s failed to render: %s", template_id, error)


_hook: TemplateFailureHook = LogTemplateFailure()


def register_template_failure_hook(hook: TemplateFailureHook) -> None:
    """Make `hook` the one the worker calls (an AppConfig.ready() calls this once at start-up)."""
    global _hook
    _hook = hook


def template_failed(*, template_id: str, error: str, updated_at: str = "") -> None:
    """Report a failed template to the registered hook. Never raises: the email goes out regardless."""
    try:
        _hook.failed(template_id=template_id, error=error, updated_at=updated_at)
    except Exception:
        logger.exception("could not record the failure of email template %s", template_id)
