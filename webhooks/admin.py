"""The webhooks admin (docs/architecture.md#staff-admin, docs/architecture.md#webhooks): admins and owners
configure their organizations' endpoints, through the services the API calls
(docs/architecture.md#every-write-through-a-service); every member reads the delivery log. The secret
is write-only here too: it is shown once, in the message after it is made, and never in a form or a
list."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from core.errors import DomainError
from resources.admin_base import OrgScopedAdmin, OrgScopedInline, ServiceAdminMixin, form_values

from .models import EVENT_TYPES, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .services import (
    SECRET_HELP,
    SECRET_MAX_LENGTH,
    SECRET_MIN_LENGTH,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
    webhook_secret_new,
    webhook_url_check,
)

ENDPOINT_FIELDS = ("organization", "url", "description", "event_types", "active")


class WebhookEndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="The events sent to this endpoint.",
    )
    new_secret = forms.CharField(
        required=False,
        strip=False,
        min_length=SECRET_MIN_LENGTH,
        max_length=SECRET_MAX_LENGTH,
        widget=forms.PasswordInput(render_value=False),
        label="Set the secret",
        help_text=f"{SECRET_HELP[0].upper()}{SECRET_HELP[1:]}. Leave empty to keep the current secret (a new "
        "endpoint gets a random one, shown once).",
    )
    rotate_secret = forms.BooleanField(required=False, label="Make a new random secret (shown once)")

    class Meta:
        model = WebhookEndpoint
        fields = ("organization", "url", "description", "event_types", "active")

    def clean_url(self) -> str:
        try:
            return webhook_url_check(self.cleaned_data.get("url"))
        except DomainError as exc:
            raise ValidationError([e.message for e in exc.errors] or exc.message) from exc

    def clean(self) -> dict[str, Any]:
        cleaned = cast(dict[str, Any], super().clean())  # ModelForm.clean returns cleaned_data
        if cleaned.get("new_secret") and cleaned.get("rotate_secret"):
            self.add_error("rotate_secret", "Either set a secret or make a new one, not both.")
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ServiceAdminMixin[WebhookEndpoint], OrgScopedAdmin):
    form = WebhookEndpointForm
    service_fields = {"secret": "new_secret"}
    org_path = "organization"
    change_action = "configure"
    list_display = ("url", "organization", "active", "subscribed", "consecutive_failures", "disabled_at")
    list_filter = ("active", ("organization", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("organization",)
    search_fields = ("url", "description")
    readonly_fields = ("secret_state", "consecutive_failures", "disabled_at", "disabled_reason", "delivery_log")
    fieldsets = (
        (None, {"fields": ("organization", "url", "description", "event_types", "active")}),
        ("Signing secret", {"fields": ("secret_state", "new_secret", "rotate_secret")}),
        ("Health", {"fields": ("consecutive_failures", "disabled_at", "disabled_reason", "delivery_log")}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: WebhookEndpoint | None = None):
        if obj is None or self.has_change_permission(request, obj):
            return self.fieldsets
        # Read-only (viewers, managers): no secret inputs.
        return (
            (None, {"fields": ("organization", "url", "description", "event_types", "active")}),
            ("Health", {"fields": ("consecutive_failures", "disabled_at", "disabled_reason", "delivery_log")}),
        )

    @admin.display(description="events")
    def subscribed(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.event_types or [])

    @admin.display(description="secret")
    def secret_state(self, endpoint: WebhookEndpoint) -> str:
        return "Set (never shown again)." if endpoint.secret else "Made when the endpoint is saved."

    @admin.display(description="deliveries")
    def delivery_log(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.pk is None:
            return "-"
        url = reverse("admin:webhooks_webhookdelivery_changelist") + f"?endpoint__id__exact={endpoint.pk}"
        return format_html('<a href="{}">{} deliveries</a>', url, endpoint.deliveries.count())

    def service_save(
        self, request: HttpRequest, obj: WebhookEndpoint, form: forms.ModelForm | None, formsets, change: bool
    ) -> WebhookEndpoint:
        """Switching an endpoint back on gives it a clean slate (webhook_endpoint_update), as in the API."""
        values = form_values(obj, form, ENDPOINT_FIELDS)
        data = form.cleaned_data if form is not None else {}
        secret = shown = None
        if data.get("new_secret"):
            secret = data["new_secret"]
        elif data.get("rotate_secret") or not obj.secret:
            secret = shown = webhook_secret_new()
        values["secret"] = secret or ("" if change else obj.secret)
        if change:
            endpoint = webhook_endpoint_update(endpoint_id=obj.pk, changes=values)
        else:
            endpoint = webhook_endpoint_create(organization=values.pop("organization"), values=values)
        if shown:
            messages.warning(
                request, f"The signing secret of {endpoint.url} is {shown} — copy it now: it is not shown again."
            )
        return endpoint

    def service_delete(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        webhook_endpoint_delete(endpoint_id=obj.pk)


class WebhookAttemptInline(OrgScopedInline, admin.TabularInline):
    model = WebhookAttempt
    parent_org_path = "endpoint__organization"
    org_path = "delivery__endpoint__organization"
    fields = ("number", "attempted_at", "response_status", "error", "duration_ms")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OrgScopedAdmin):
    """Read-only: deliveries are written by the services and the sender only."""

    org_path = "endpoint__organization"
    list_display = ("created_at", "event_type", "endpoint", "status", "attempts", "last_result", "next_attempt_at")
    list_filter = (
        "status",
        "event_type",
        ("endpoint", admin.RelatedOnlyFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    list_select_related = ("endpoint",)
    search_fields = ("event_id",)
    ordering = ("-created_at", "-id")
    fields = (
        "endpoint",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_result",
        "payload",
        "created_at",
    )
    readonly_fields = fields
    inlines = [WebhookAttemptInline]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
