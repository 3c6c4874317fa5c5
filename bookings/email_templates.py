"""Staff's email templates: saving, resetting to the default, recording a failed render, and the sample data
of the admin's preview (docs/architecture.md#email-templates).

The only writer of EmailTemplate rows (docs/architecture.md#every-write-through-a-service). A template is
checked when it is saved (it parses, uses only what the sandbox allows and only known placeholders:
notifications.templating), and every change bumps the organization's configuration version, because the
submit reads the templates from the cached module (bookings.module_cache).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.actor import Actor
from core.errors import FieldError, NotFound, ValidationFailed
from core.ids import as_uuid
from notifications.rendering import Rendered, notification_render
from notifications.templating import MAX_SOURCE, TemplateProblem, template_check
from resources.config_cache import config_changed

from .models import BookingModule, EmailKind, EmailTemplate
from .notify import SUBJECTS, custom_email

logger = logging.getLogger(__name__)

MAX_SUBJECT = 300
# A subject is an email header: no line break may reach it (docs/architecture.md#security-measures).
_LINE_BREAK = re.compile(r"[\r\n\x85\u2028\u2029]")


def _check(*, kind: str, language: str, subject: str, body: str) -> None:
    errors: list[FieldError] = []
    if kind not in EmailKind.values:
        errors.append(FieldError("kind", "INVALID", _("Not a kind of email: %(kind)s.") % {"kind": kind}))
    if language not in {code for code, _name in settings.LANGUAGES}:
        errors.append(FieldError("language", "INVALID", _("Not a language: %(code)s.") % {"code": language}))
    if not subject.strip() and not body.strip():
        errors.append(FieldError("body", "REQUIRED", _("Give a subject, a body or both (empty keeps the default).")))
    if _LINE_BREAK.search(subject):
        errors.append(FieldError("subject", "INVALID", _("The subject must be one line.")))
    for name, source, limit in (("subject", subject, MAX_SUBJECT), ("body", body, MAX_SOURCE)):
        try:
            template_check(source, max_length=limit)
        except TemplateProblem as problem:
            errors.append(FieldError(name, problem.code, problem.message))
    if errors:
        raise ValidationFailed(errors=errors)


def email_template_save(
    *, module_id: UUID, kind: str, language: str, subject: str, body: str, actor: Actor
) -> EmailTemplate:
    """Staff's subject and body for the module's emails of `kind` in `language`, created or replaced.

    Raises NotFound (no such module), ValidationFailed with field errors: `kind`/`language` INVALID,
    `body` REQUIRED (both empty), `subject` INVALID (a line break), and for `subject` and `body`
    INVALID_TEMPLATE (does not parse, or uses a tag, filter or expression the sandbox refuses) or
    UNKNOWN_PLACEHOLDER. Saving clears the last render error."""
    _check(kind=kind, language=language, subject=subject, body=body)
    module_pk = as_uuid(module_id)
    if module_pk is None:
        raise NotFound(_("Module not found."))
    with transaction.atomic():
        module = BookingModule.objects.select_for_update().filter(pk=module_pk).first()
        if module is None:
            raise NotFound(_("Module not found."))
        template = (
            EmailTemplate.objects.select_for_update().filter(module=module, kind=kind, language=language).first()
        ) or EmailTemplate(module=module, kind=kind, language=language)
        template.subject, template.body = subject.strip(), body.strip()
        template.last_error, template.last_error_at = "", None
        try:
            with transaction.atomic():
                template.save()
        except IntegrityError as exc:  # another writer created it between our read and our insert
            raise ValidationFailed(
                errors=[FieldError("kind", "NOT_UNIQUE", _("This module already has a template for this email."))]
            ) from exc
        config_changed(organization_id=module.organization_id)
    logger.info("%s saved email template %s (%s, %s, %s)", actor.label, template.pk, module.pk, kind, language)
    return template


def email_template_reset(*, template_id: UUID, actor: Actor) -> None:
    """Back to the default subject and body: staff's template is deleted. Raises NotFound."""
    pk = as_uuid(template_id)
    if pk is None:
        raise NotFound(_("Email template not found."))
    with transaction.atomic():
        # Only the template's row is locked (of=self); its module is read for the organization.
        template = EmailTemplate.objects.select_for_update(of=("self",)).select_related("module").filter(pk=pk).first()
        if template is None:
            raise NotFound(_("Email template not found."))
        organization_id = template.module.organization_id
        template.delete()
        config_changed(organization_id=organization_id)
    logger.info("%s reset email template %s to the default", actor.label, template_id)


def email_template_failure_record(*, template_id: str, error: str, updated_at: str = "") -> int:
    """Record that the template failed to render (the default was sent): one UPDATE, no lock, no version
    bump (nothing a submit reads changes). `updated_at` (ISO, from the email's snapshot): the version of the
    template the email was written with; when staff saved it since, the failure is the old wording's and
    the new one is left alone. Empty (an email queued before versions were carried): recorded by id only.
    Returns how many rows changed (0: it no longer exists, or was saved again)."""
    logger.warning("email template %s (version %s) failed to render: %s", template_id, updated_at or "?", error)
    pk = as_uuid(template_id)
    if pk is None:
        return 0
    rows = EmailTemplate.objects.filter(pk=pk)
    if updated_at:
        try:
            version = datetime.fromisoformat(updated_at)
        except ValueError:
            return 0
        rows = rows.filter(updated_at=version)
    # update() leaves updated_at alone (auto_now is save()'s): recording a failure does not make a version.
    return rows.update(last_error=error[:2000], last_error_at=timezone.now())


class EmailTemplateFailureHook:
    """notifications.hooks.TemplateFailureHook: the worker reports a failed template here (bookings.apps)."""

    def failed(self, *, template_id: str, error: str, updated_at: str = "") -> None:
        email_template_failure_record(template_id=template_id, error=error, updated_at=updated_at)


# --- the preview ----------------------------------------------------------------------------------------

SAMPLE_CONTEXT: dict[str, Any] = {
    "booking": {"title": "Team offsite", "booker_name": "Ada Lovelace", "booker_email": "ada@example.com"},
    "events": [
        {
            "title": "Team offsite",
            "when": "Mon 07 Dec 2026, 10:00–12:00",
            "timezone": "Europe/Berlin",
            "resources": "Room 1",
            "venue": "Main building",
        },
        {
            "title": "Team offsite",
            "when": "Tue 08 Dec 2026, 10:00–12:00",
            "timezone": "Europe/Berlin",
            "resources": "Room 1",
            "venue": "Main building",
        },
    ],
    "requested": [],
    "requested_contact": [],
    "link": "",
    "can_manage": False,
    "admin_url": f"{settings.SITE_URL}/admin/",
    "change_request": None,
    "has_calendar_file": False,
}
SAMPLE_NOTE = "<p>We will bring our own projector.</p>"
SAMPLE_LINK = f"{settings.SITE_URL}/b/sample-private-link/"

# What each kind's real emails get besides the booking (bookings.lifecycle, bookings.reminders): the private
# link only in the first email of a booking and in its approval, "where to find the link" while the booking
# is live, the booker's note only in the module admin's emails about a request, a visitor only in an
# invitation, a change request only in the emails about one.
_LINK_KINDS = {EmailKind.BOOKING_RECEIVED, EmailKind.BOOKING_APPROVED}
_LIVE_KINDS = {
    EmailKind.BOOKING_REMINDER,
    EmailKind.CHANGE_REQUEST_RECEIVED,
    EmailKind.CHANGE_REQUEST_APPROVED,
    EmailKind.CHANGE_REQUEST_DENIED,
}
_NOTE_KINDS = {
    EmailKind.ADMIN_NEW_REQUEST,
    EmailKind.ADMIN_NEW_CHANGE_REQUEST,
    EmailKind.ADMIN_BOOKING_AUTO_APPROVED,
}
_CHANGE_REQUEST_KINDS = {
    EmailKind.CHANGE_REQUEST_RECEIVED,
    EmailKind.CHANGE_REQUEST_APPROVED,
    EmailKind.CHANGE_REQUEST_DENIED,
    EmailKind.ADMIN_NEW_CHANGE_REQUEST,
}


def sample_context(kind: str) -> tuple[dict[str, Any], str]:
    """The preview's invented context for an email of `kind`, and the booker's note it carries (HTML)."""
    context: dict[str, Any] = {**SAMPLE_CONTEXT}
    if kind in _LINK_KINDS:
        context["link"] = SAMPLE_LINK
    context["can_manage"] = kind in _LINK_KINDS or kind in _LIVE_KINDS
    if kind in _CHANGE_REQUEST_KINDS:
        context["change_request"] = {"cancellation": False}
    if kind == EmailKind.VISITOR_INVITATION:
        context["visitor"] = {"name": "Grace Hopper"}
    return context, SAMPLE_NOTE if kind in _NOTE_KINDS else ""


def email_template_preview(*, template: EmailTemplate) -> tuple[str, Rendered]:
    """The subject and bodies `template` gives with sample data (the module's own names, invented
    booking, what its kind's real emails get: sample_context), rendered as the worker renders them: a
    failure shows the default and says why in `Rendered.template_error`. Writes nothing."""
    module = template.module
    sample, note = sample_context(template.kind)
    context = {
        **sample,
        "module": {"name": module.name},
        "organization": {"name": module.organization.name},
        "admin_email": getattr(module.admin_user, "email", "") or "",
    }
    subject, custom = custom_email(
        template, context, note=note, default_subject=SUBJECTS[template.kind].format(title="Team offsite")
    )
    snapshot: dict[str, Any] = {
        "template": f"notifications/{template.kind}.txt",
        "html_template": f"notifications/{template.kind}.html",
        "language": template.language,
        "context": context,
        "html": {"note": note},
        "staff_message": "",
    }
    if custom:
        snapshot["custom"] = custom
    return " ".join(subject.split())[:MAX_SUBJECT], notification_render(snapshot, subject=subject)
