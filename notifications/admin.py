"""The notifications admin (docs/architecture.md#emails): every email, its sending status and attempts, and what the
provider's tracking webhook said about its delivery.

Read-only: a row is what was (or will be) sent. The one thing staff may do is "Send again", through
`notifications_requeue`, which needs the role that decides bookings in the row's organization.

Bodies are shown as text, escaped; the HTML body is shown as escaped source and in a sandboxed frame
(no scripts, no forms, no same-origin access), never inserted into the page as HTML. Private links are
redacted on display even for rows still waiting to be sent: the link is the booker's bearer secret,
and every member who can see this list does not need it. A row the worker has not rendered yet (its
bodies are rendered from the snapshot when it is sent) is rendered for the page, and not stored.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join

from resources.admin_base import OrgScopedAdmin
from resources.permissions import request_org_ids

from .models import Notification
from .rendering import Rendered, notification_bodies
from .sending import redact_private_links
from .services import notifications_requeue

_PRE = '<pre style="white-space: pre-wrap; margin: 0; max-width: 60em">{}</pre>'


@admin.register(Notification)
class NotificationAdmin(OrgScopedAdmin):
    org_path = "organization"
    change_action = "manage_bookings"
    list_display = (
        "subject",
        "kind",
        "recipient_list",
        "status",
        "attempts",
        "delivery_status",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "kind", "delivery_status")
    search_fields = ("subject", "recipients")
    ordering = ("-created_at",)
    actions = ("send_again",)
    fields = (
        "organization",
        "kind",
        "recipient_list",
        "subject",
        "related_link",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_until",
        "last_error",
        "sent_at",
        "provider_message_id",
        "delivery_status",
        "delivery_updated_at",
        "text_body",
        "html_source",
        "html_preview",
        "attachment_list",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    # --- read-only: see the module docstring ---
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_resend_permission(self, request) -> bool:
        org_ids = request_org_ids(request, self.change_action)
        return org_ids is None or bool(org_ids)

    # --- columns and fields ---
    @admin.display(description="recipients")
    def recipient_list(self, obj: Notification) -> str:
        return ", ".join(obj.recipients or [])

    @admin.display(description="about")
    def related_link(self, obj: Notification) -> str:
        if obj.object_id is None or obj.content_type is None:
            return "-"
        model = obj.content_type.model_class()
        if model is None:
            return "-"
        try:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.object_id])
        except NoReverseMatch:
            return f"{model._meta.verbose_name} {obj.object_id}"
        return format_html('<a href="{}">{} {}</a>', url, model._meta.verbose_name, obj.object_id)

    @staticmethod
    def _bodies(obj: Notification) -> Rendered:
        # A row the worker has not rendered yet is rendered for the page (once for the three fields).
        cached = getattr(obj, "_admin_bodies", None)
        if cached is None:
            try:
                cached = notification_bodies(obj)
            except Exception as exc:  # a snapshot that cannot render (the worker failed the row for it): say so
                cached = Rendered(
                    body_text=f"(cannot be rendered: {exc.__class__.__name__})", body_html="", attachments=[]
                )
            obj._admin_bodies = cached  # type: ignore[attr-defined]
        return cached

    @admin.display(description="text body")
    def text_body(self, obj: Notification) -> str:
        return format_html(_PRE, redact_private_links(self._bodies(obj).body_text))

    @admin.display(description="HTML body (source)")
    def html_source(self, obj: Notification) -> str:
        body_html = self._bodies(obj).body_html
        return format_html(_PRE, redact_private_links(body_html)) if body_html else "-"

    @admin.display(description="HTML body (preview)")
    def html_preview(self, obj: Notification) -> str:
        body_html = self._bodies(obj).body_html
        if not body_html:
            return "-"
        # srcdoc is an attribute: format_html escapes the HTML into it, and the empty sandbox runs it
        # as an opaque origin without scripts, forms, popups or top navigation.
        return format_html(
            '<iframe sandbox="" referrerpolicy="no-referrer" srcdoc="{}" title="HTML body" '
            'style="width: 100%; max-width: 60em; height: 30em; border: 1px solid #ccc"></iframe>',
            redact_private_links(body_html),
        )

    @admin.display(description="attachments")
    def attachment_list(self, obj: Notification) -> str:
        attachments = self._bodies(obj).attachments
        if not attachments:
            return "-"
        return format_html_join(
            "",
            "<p>{} ({})</p>" + _PRE,
            (
                (a.get("filename", ""), a.get("mimetype", ""), redact_private_links(str(a.get("content", ""))))
                for a in attachments
            ),
        )

    # --- actions ---
    @admin.action(description="Send again", permissions=["resend"])
    def send_again(self, request, queryset):
        selected = list(queryset.values_list("pk", flat=True))
        requeued = notifications_requeue(notification_ids=selected, actor=request.user)
        if requeued:
            messages.success(
                request, f"Queued {len(requeued)} email{'s' if len(requeued) != 1 else ''} to be sent again."
            )
        left = len(selected) - len(requeued)
        if left:
            messages.warning(
                request,
                f"Not queued: {left} (only sent or failed emails are sent again, and "
                "only in organizations where your role decides bookings).",
            )
