"""Staff's email templates in the admin (docs/architecture.md#email-templates): pick a module, an email and
a language, write a subject and a body with the listed placeholders, preview them with sample data, reset to
the default. Writes go through bookings.email_templates; a template that failed to render shows its error on
the list and the page.

The preview page runs under the admin's strict Content-Security-Policy; the email's HTML (which carries
its own <style>) is shown in a sandboxed frame from its own URL, whose policy allows that style block by its
hash and nothing else: no script, no request anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any, cast

from csp.decorators import csp
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django.views.decorators.clickjacking import xframe_options_sameorigin

from core.actor import Actor
from core.errors import DomainError
from notifications.templating import FILTERS, MAX_SOURCE, PLACEHOLDERS
from resources.admin import ScopedAdmin
from resources.admin_base import ServiceAdminMixin, error_text

from ..email_templates import MAX_SUBJECT, email_template_preview, email_template_reset, email_template_save
from ..models import EmailKind, EmailTemplate
from ..notify import SUBJECTS

# The policy of the frame that shows an email's HTML: its own <style> block (allowed by its hash, added per
# response) and nothing else.
EMAIL_FRAME_POLICY = {
    "default-src": ["'none'"],
    "img-src": ["data:"],
    "base-uri": ["'none'"],
    "form-action": ["'none'"],
    "frame-ancestors": ["'self'"],
}
_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.S)


def _style_hashes(html: str) -> list[str]:
    """The CSP sources of the <style> blocks of our email layout (templates/notifications/_base.html); staff's
    text is escaped into the body, so it cannot add one."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"
        for block in _STYLE_BLOCK.findall(html)
    ]


class EmailTemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = ("module", "kind", "language", "subject", "body")
        widgets = {
            "subject": forms.TextInput(attrs={"size": 80, "maxlength": MAX_SUBJECT}),
            "body": forms.Textarea(attrs={"rows": 14, "cols": 80, "maxlength": MAX_SOURCE}),
        }
        help_texts = {
            "subject": _("One line. Empty keeps the default subject."),
            "body": _(
                "Plain text, shown where the default greeting and sentence are; the requested times, the "
                "private link, staff's message and the footer still follow it. Empty keeps the default body."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "language" in self.fields:
            self.fields["language"] = forms.ChoiceField(
                label=_("language"), choices=settings.LANGUAGES, initial=settings.LANGUAGES[0][0]
            )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        module, kind, language = cleaned.get("module"), cleaned.get("kind"), cleaned.get("language")
        taken = (
            self.instance._state.adding
            and module is not None
            and EmailTemplate.objects.filter(module=module, kind=kind, language=language).exists()
        )
        if taken:
            self.add_error(
                "kind", _("This module already has a template for this email and language: change that one.")
            )
        return cleaned


class FailedFilter(admin.SimpleListFilter):
    title = _("render")
    parameter_name = "failed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Failed")), ("no", _("Fine"))]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == "yes":
            return queryset.exclude(last_error="")
        if self.value() == "no":
            return queryset.filter(last_error="")
        return queryset


@admin.register(EmailTemplate)
class EmailTemplateAdmin(ServiceAdminMixin[EmailTemplate], ScopedAdmin):
    form = EmailTemplateForm
    org_path = "module__organization"
    fixed_after_create = ("module", "kind", "language")
    change_form_template = "admin/bookings/emailtemplate/change_form.html"
    list_display = ("module", "kind", "language", "subject", "render_state", "updated_at")
    list_filter = ("kind", FailedFilter)
    list_select_related = ("module",)
    search_fields = ("module__name", "subject", "body")
    readonly_fields = ("default_subject", "render_error", "placeholder_list")
    fieldsets = (
        (None, {"fields": ("module", "kind", "language")}),
        (_("Your wording"), {"fields": ("default_subject", "subject", "body", "render_error")}),
        (_("Placeholders"), {"fields": ("placeholder_list",)}),
    )

    # --- what the pages show ---
    @admin.display(description=_("render"))
    def render_state(self, template: EmailTemplate) -> str:
        if not template.last_error:
            return _t("Fine")
        return format_html('<span class="allot-conflict">{}</span>', _t("Failed: the default was sent"))

    @admin.display(description=_("last render error"))
    def render_error(self, template: EmailTemplate) -> str:
        if not template.last_error:
            return "—"
        when = template.last_error_at.strftime("%Y-%m-%d %H:%M UTC") if template.last_error_at else ""
        return format_html(
            '<div class="allot-callout allot-callout--error">{}<br>{}<br>{}</div>',
            _t("The last email rendered with this template failed, so the default was sent (%(when)s):")
            % {"when": when},
            template.last_error,
            _t("Saving the template again clears this."),
        )

    @admin.display(description=_("default subject"))
    def default_subject(self, template: EmailTemplate) -> str:
        return SUBJECTS[template.kind].format(title="…") if template.kind in SUBJECTS else "—"

    @admin.display(description=_("placeholders"))
    def placeholder_list(self, template: EmailTemplate | None = None) -> str:
        rows = format_html_join("", "<tr><td><code>{{{{ {} }}}}</code></td><td>{}</td></tr>", PLACEHOLDERS.items())
        return format_html(
            '<table class="allot-answers">{}</table><p class="help">{}</p>',
            rows,
            _t(
                "Write {{ booker_name }} for a value, {{ booker_name|upper }} with a filter (%(filters)s), and "
                "{%% if note %%}…{%% else %%}…{%% endif %%} for a condition. Nothing else is allowed: no "
                "attributes, calls, loops, {%% set %%}, {%% include %%} or {%% import %%}."
            )
            % {"filters": ", ".join(FILTERS)},
        )

    # --- writes, through the services ---
    def service_save(self, request, obj: EmailTemplate, form, formsets, change: bool) -> EmailTemplate:
        data = form.cleaned_data if form is not None else {}
        return email_template_save(
            module_id=obj.module_id,
            kind=obj.kind,
            language=obj.language,
            subject=data.get("subject", obj.subject) or "",
            body=data.get("body", obj.body) or "",
            actor=Actor.staff(request.user),
        )

    def service_delete(self, request, obj: EmailTemplate) -> None:
        email_template_reset(template_id=obj.pk, actor=Actor.staff(request.user))

    # --- the change page's tools, the preview and the reset ---
    def change_view(self, request, object_id, form_url="", extra_context=None):
        template = self.get_object(request, object_id)
        if template is not None and request.method == "GET" and template.last_error:
            messages.warning(request, _t("This template failed to render last time: see “last render error”."))
        tools = []
        if template is not None:
            tools.append(
                {"url": reverse("admin:bookings_emailtemplate_preview", args=[template.pk]), "label": _t("Preview")}
            )
            if self.has_change_permission(request, template):
                tools.append(
                    {
                        "url": reverse("admin:bookings_emailtemplate_reset", args=[template.pk]),
                        "label": _t("Reset to default"),
                    }
                )
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "template_tools": tools})

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/preview/", view(self.preview_view), name="bookings_emailtemplate_preview"),
            path(
                "<path:object_id>/preview/html/",
                view(self.preview_html_view),
                name="bookings_emailtemplate_preview_html",
            ),
            path("<path:object_id>/reset/", view(self.reset_view), name="bookings_emailtemplate_reset"),
        ] + super().get_urls()

    def _template(self, request: HttpRequest, object_id: str, *, change: bool = False) -> EmailTemplate:
        template = self.get_object(request, object_id)  # another organization's: 404
        if template is None:
            raise Http404("No such email template.")
        if change and not self.has_change_permission(request, template):
            raise PermissionDenied
        return cast(EmailTemplate, template)

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        template = self._template(request, object_id)
        subject, rendered = email_template_preview(template=template)
        context = {
            **self.admin_site.each_context(request),
            "title": _t("Preview: %(template)s") % {"template": template},
            "opts": self.model._meta,
            "original": template,
            "back_url": reverse("admin:bookings_emailtemplate_change", args=[template.pk]),
            "html_url": reverse("admin:bookings_emailtemplate_preview_html", args=[template.pk]),
            "subject": subject,
            "rendered": rendered,
            "kind_label": EmailKind(template.kind).label,
        }
        return TemplateResponse(request, "admin/bookings/emailtemplate/preview.html", context)

    def preview_html_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        template = self._template(request, object_id)
        _subject, rendered = email_template_preview(template=template)

        # Its own policy: the email's inline <style> and nothing else; framed by our preview page only.
        @xframe_options_sameorigin
        @csp({**EMAIL_FRAME_POLICY, "style-src": _style_hashes(rendered.body_html) or ["'none'"]})
        def frame(request: HttpRequest) -> HttpResponse:
            return HttpResponse(rendered.body_html, content_type="text/html; charset=utf-8")

        return frame(request)

    def reset_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        template = self._template(request, object_id, change=True)
        back = reverse("admin:bookings_emailtemplate_change", args=[template.pk])
        if request.method == "POST":
            try:
                with transaction.atomic():
                    # Django's history of the object, written with the change (before it: it names the row).
                    self.log_deletions(request, EmailTemplate.objects.filter(pk=template.pk))
                    email_template_reset(template_id=template.pk, actor=Actor.staff(request.user))
            except DomainError as refused:
                messages.error(request, error_text(refused))
                return redirect(back)
            messages.success(request, _t("“%(template)s” is back to the default wording.") % {"template": template})
            return redirect(reverse("admin:bookings_emailtemplate_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _t("Reset to default: %(template)s") % {"template": template},
            "opts": self.model._meta,
            "original": template,
            "back_url": back,
        }
        return TemplateResponse(request, "admin/bookings/emailtemplate/reset.html", context)
