"""Staff's own subject and body for one kind of email of a module, in one language
(docs/architecture.md#email-templates). Written only by bookings.email_templates."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from resources.base import BaseModel

from .booking import BookingModule


class EmailKind(models.TextChoices):
    """The module's emails staff may word themselves (the templates under templates/notifications/)."""

    BOOKING_RECEIVED = "booking_received", _("Booker: request received")
    BOOKING_APPROVED = "booking_approved", _("Booker: booking confirmed")
    BOOKING_DENIED = "booking_denied", _("Booker: request declined")
    BOOKING_CANCELED = "booking_canceled", _("Booker: booking canceled")
    BOOKING_REMINDER = "booking_reminder", _("Booker: reminder")
    CHANGE_REQUEST_RECEIVED = "change_request_received", _("Booker: change request received")
    CHANGE_REQUEST_APPROVED = "change_request_approved", _("Booker: change request approved")
    CHANGE_REQUEST_DENIED = "change_request_denied", _("Booker: change request declined")
    VISITOR_INVITATION = "visitor_invitation", _("Visitor: invitation")
    ADMIN_NEW_REQUEST = "admin_new_request", _("Module admin: new request")
    ADMIN_BOOKING_CHANGED = "admin_booking_changed", _("Module admin: pending request changed")
    ADMIN_NEW_CHANGE_REQUEST = "admin_new_change_request", _("Module admin: new change request")
    ADMIN_BOOKER_CANCELED = "admin_booker_canceled", _("Module admin: booker canceled")
    ADMIN_BOOKING_AUTO_APPROVED = "admin_booking_auto_approved", _("Module admin: approved automatically")


class EmailTemplate(BaseModel):
    """An empty subject or body keeps the default one. `last_error`: why the last render of this template
    failed, when it did (the default was sent instead); cleared by the next save."""

    module = models.ForeignKey(
        BookingModule, on_delete=models.CASCADE, related_name="email_templates", verbose_name=_("module")
    )
    kind = models.CharField(_("email"), max_length=40, choices=EmailKind.choices)
    language = models.CharField(_("language"), max_length=10)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("body"), blank=True)
    last_error = models.TextField(_("last render error"), blank=True, default="")
    last_error_at = models.DateTimeField(_("last render error at"), null=True, blank=True)

    admin_org_path = "module__organization"

    class Meta:
        verbose_name = _("email template")
        verbose_name_plural = _("email templates")
        ordering = ["module__name", "kind", "language"]
        constraints = [
            models.UniqueConstraint(fields=["module", "kind", "language"], name="email_template_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.module.name} · {self.get_kind_display()} ({self.language})"
