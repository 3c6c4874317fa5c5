"""Configuration in the staff admin (docs/architecture.md#staff-admin): booking modules with their offered
resources and custom form fields edited inline, portals, customers and contacts.

The writes are the API's services (bookings.services, docs/architecture.md#every-write-through-a-service):
the same checks on form fields, fields archived rather than deleted (docs/architecture.md#form-fields),
linked objects from the same organization only, labels as plain text. A service's error shows at the
form's fields (resources.admin_base.ServiceAdminMixin).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from core.html import plain_text
from resources.admin import (
    TABULAR_TEMPLATE,
    PlainTextAdminMixin,
    ScopedAdmin,
    label_resources,
    organization_of,
    strangers,
    user_label,
)
from resources.admin_base import OrgScopedInline, ServiceAdminMixin, ServiceRows, form_values, row_id, scope
from resources.admin_imports import CHANGE_LIST_TEMPLATE, ImportAdminMixin
from resources.models import Membership

from .. import services
from ..models import BookingModule, Customer, FieldType, FormField, ModuleResource, Portal
from ..pricing.config import customer_rates_set
from ..services import CHOICE_TYPES, LENGTH_TYPES, check_form_field
from .imports import CustomerImporter
from .pricing import RateCustomerInline

# The API's limits on a select field's options (bookings.api.config_serializers.FormFieldSerializer).
MAX_OPTIONS = 200
MAX_OPTION_LENGTH = 200

# --- form fields ---------------------------------------------------------------------------------------


class OptionsField(forms.CharField):
    """A select field's choices, one per line, stored as the JSON list the API uses."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 20})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return "\n".join(str(option) for option in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]  # a list made of CharField's text
        text = super().to_python(value) or ""
        lines = (plain_text(line).strip() for line in text.splitlines())
        return list(dict.fromkeys(line for line in lines if line))

    def validate(self, value: list[str]) -> None:
        # Whether options are needed depends on the type: the form's clean asks check_form_field.
        if len(value) > MAX_OPTIONS:
            raise forms.ValidationError(f"At most {MAX_OPTIONS} options.")
        long = [option for option in value if len(option) > MAX_OPTION_LENGTH]
        if long:
            raise forms.ValidationError(f"An option can have at most {MAX_OPTION_LENGTH} characters: {long[0][:40]}…")


def _type_names(types: Iterable[str]) -> str:
    return ", ".join(str(FieldType(t).label).lower() for t in sorted(types))


# The services' type sets decide which types take options and which limits mean lengths.
OPTIONS_HELP = f"{_type_names(CHOICE_TYPES)}: one choice per line."
LIMITS_HELP = f"Number: the value. {_type_names(LENGTH_TYPES)}: the length. Ignored for other types."


def _trim(value: Decimal) -> Decimal:
    """120, not the column's 120.0000 (normalize() alone would give 1.2E+2)."""
    return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()


# check_form_field names its errors with the API's wire names.
_WIRE_TO_FIELD = {"options": "options", "min": "min_value", "max": "max_value"}


class FormFieldForm(forms.ModelForm):
    options = OptionsField(required=False, help_text=OPTIONS_HELP)

    class Meta:
        model = FormField
        fields = ("section", "label", "type", "required", "help_text", "options", "min_value", "max_value", "order")
        # Nine columns: narrower inputs keep the row on one screen.
        widgets = {
            "label": forms.TextInput(attrs={"size": 22}),
            "help_text": forms.TextInput(attrs={"size": 18}),
            # Widths from allot/admin.css: a style="" attribute would be blocked by the CSP.
            "min_value": forms.NumberInput(attrs={"class": "allot-number"}),
            "max_value": forms.NumberInput(attrs={"class": "allot-number"}),
            "order": forms.NumberInput(attrs={"class": "allot-number allot-number--short"}),
        }
        help_texts = {"min_value": f"Smallest. {LIMITS_HELP}", "max_value": f"Largest. {LIMITS_HELP}"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("min_value", "max_value"):
            value = self.initial.get(name)
            if isinstance(value, Decimal):
                self.initial[name] = _trim(value)

    def clean(self) -> dict[str, Any]:
        cleaned = cast(dict[str, Any], super().clean())  # ModelForm.clean returns cleaned_data
        if any(name in self.errors for name in ("type", "options", "min_value", "max_value")):
            return cleaned  # one error per input is enough
        probe = FormField(
            type=cleaned.get("type") or FieldType.TEXT,
            options=cleaned.get("options") or [],
            min_value=cleaned.get("min_value"),
            max_value=cleaned.get("max_value"),
        )
        errors: list = []
        check_form_field(probe, "", errors)
        # Keep what the check normalized (no options on a text field, no limits on a date), as the API does.
        for name in ("options", "min_value", "max_value"):
            if name in cleaned:
                cleaned[name] = getattr(probe, name)
        for error in errors:
            self.add_error(_WIRE_TO_FIELD.get(error.field.rsplit(".", 1)[-1]), error.message)
        return cleaned


class FormFieldInline(PlainTextAdminMixin, OrgScopedInline, admin.TabularInline):
    model = FormField
    form = FormFieldForm  # a deleted row is archived by module_update: answers keep their question
    template = TABULAR_TEMPLATE
    fields = ("section", "label", "type", "required", "help_text", "options", "min_value", "max_value", "order")
    readonly_fields = ("options_list", "min_limit", "max_limit")
    extra = 0
    verbose_name = "custom form field"
    verbose_name_plural = (
        "custom form fields (besides the built-in name, email, phone, title, start, end, resources and attendees)"
    )
    plain_text_fields = ("label", "help_text")
    org_path = "module__organization"
    parent_org_path = "organization"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(archived=False).order_by("section", "order", "created_at")

    # Read-only rows would show the stored JSON list and the column's four decimals.
    read_only_names = {"options": "options_list", "min_value": "min_limit", "max_value": "max_limit"}

    def get_fields(self, request: HttpRequest, obj=None):
        if self.has_change_permission(request, obj):
            return list(self.fields)
        return [self.read_only_names.get(name, name) for name in self.fields]

    @admin.display(description="options")
    def options_list(self, field: FormField) -> str:
        return ", ".join(field.options or [])

    @admin.display(description="min")
    def min_limit(self, field: FormField) -> Decimal | str:
        return _trim(field.min_value) if field.min_value is not None else ""

    @admin.display(description="max")
    def max_limit(self, field: FormField) -> Decimal | str:
        return _trim(field.max_value) if field.max_value is not None else ""


class ModuleResourceFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        org_id = self.instance.organization_id
        if org_id is None:  # the module's own form has an error already
            return
        for form in self.forms:
            resource = form.cleaned_data.get("resource") if form.cleaned_data else None
            # _should_delete_form: Django's own test for a row marked for deletion; private, so not in the stubs.
            if (
                resource is not None
                and not self._should_delete_form(form)  # type: ignore[attr-defined]
                and resource.venue.organization_id != org_id
            ):
                form.add_error("resource", "Choose a resource of the module's organization.")


class ModuleResourceInline(OrgScopedInline, admin.TabularInline):
    model = ModuleResource
    formset = ModuleResourceFormSet
    template = TABULAR_TEMPLATE
    fields = ("resource",)
    extra = 0
    verbose_name = "offered resource"
    org_path = "module__organization"
    parent_org_path = "organization"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("resource__venue")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "resource":
            label_resources(formfield)
        return formfield


# --- booking modules -----------------------------------------------------------------------------------


class BookingModuleForm(forms.ModelForm):
    class Meta:
        model = BookingModule
        fields = (
            "organization",
            "name",
            "slug",
            "admin_user",
            "portals",
            "about_title",
            "about_description",
            "calendar_days_shown",
            "calendar_show_requested",
            "hold_pending_slots",
            "allow_change_requests",
            "allow_cancellation",
            "terms",
            "max_occurrences",
            "allow_repeat_requests",
            "auto_approve",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        days = self.fields.get("calendar_days_shown")
        if days is not None:  # the API's range
            days.validators += [MinValueValidator(1), MaxValueValidator(366)]
            days.widget.attrs.update(min=1, max=366)

    def clean(self) -> dict[str, Any]:
        cleaned = cast(dict[str, Any], super().clean())  # ModelForm.clean returns cleaned_data
        org_id = organization_of(self)
        if org_id is None:
            return cleaned
        slug = cleaned.get("slug")
        taken = BookingModule.objects.filter(organization_id=org_id, slug=slug).exclude(pk=self.instance.pk)
        if slug and taken.exists():
            # Checked here because the unique constraint is skipped while `organization` is read-only.
            self.add_error("slug", "Another booking module of this organization has this slug.")
        admin_user = cleaned.get("admin_user")
        if admin_user is not None and not Membership.objects.filter(organization_id=org_id, user=admin_user).exists():
            self.add_error("admin_user", "The admin user must be a member of the organization.")
        others = strangers(cleaned.get("portals") or [], org_id)
        if others:
            self.add_error("portals", f"Not portals of this organization: {', '.join(others)}.")
        return cleaned


# A module's form sections as bookings.services.module_update lists them; the admin edits both in one inline.
FIELD_ROW_NAMES = {"min": "min_value", "max": "max_value"}
MODULE_ROWS = {
    path: ServiceRows("fields", FIELD_ROW_NAMES, where=("section", section))
    for section, path in services.FORM_SECTIONS.values()
}
OFFERED = ServiceRows("module_resources")


def _form_field_items(formset, rows: ServiceRows) -> list[dict[str, Any]]:
    items = []
    for form in rows.forms(formset):
        item = {name: form.cleaned_data.get(name) for name in services.FORM_FIELD_ATTRIBUTES}
        if item["order"] is None:
            del item["order"]  # the service numbers the rows
        items.append({**item, "id": row_id(form)})
    return items


@admin.register(BookingModule)
class BookingModuleAdmin(ServiceAdminMixin[BookingModule], ScopedAdmin):
    form = BookingModuleForm
    list_display = ("name", "organization", "slug", "admin_user", "portal_names", "field_count")
    list_filter = (("organization", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("organization", "admin_user")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("portals",)
    fieldsets = (
        ("General", {"fields": ("organization", "name", "slug", "admin_user", "portals")}),
        ("About page", {"fields": ("about_title", "about_description")}),
        ("Calendar", {"fields": ("calendar_days_shown", "calendar_show_requested")}),
        (
            "Booking rules",
            {
                "fields": (
                    "hold_pending_slots",
                    "allow_change_requests",
                    "allow_cancellation",
                    "terms",
                    "max_occurrences",
                    "allow_repeat_requests",
                    "auto_approve",
                )
            },
        ),
    )
    inlines = (ModuleResourceInline, FormFieldInline)
    plain_text_fields = ("name", "about_title")
    service_rows = MODULE_ROWS
    service_inlines = ("module_resources", "fields")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # A subquery, not Count() over a join: a GROUP BY would drop the model's default ordering.
        active = (
            FormField.objects.filter(module=OuterRef("pk"), archived=False)
            .order_by()
            .values("module")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .prefetch_related("portals")
            .annotate(active_fields=Coalesce(Subquery(active), 0))
        )

    @admin.display(description="portals")
    def portal_names(self, module: BookingModule) -> str:
        return ", ".join(p.name for p in module.portals.all())

    @admin.display(description="form fields", ordering="active_fields")
    def field_count(self, module: BookingModule) -> int:
        return module.active_fields  # type: ignore[attr-defined]  # annotated by get_queryset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "admin_user" and formfield is not None:
            # Scoped to members of the module's organization by OrgScopedMixin.
            formfield.label_from_instance = user_label
        return formfield

    def service_save(self, request, obj: BookingModule, form, formsets, change: bool) -> BookingModule:
        """The module with its portals, offered resources and form sections: one module_create/update."""
        values = form_values(obj, form, services.MODULE_ATTRIBUTES)
        data: dict[str, Any] = form.cleaned_data if form is not None else {"admin_user": obj.admin_user}
        if "admin_user" in data:
            values["admin_user_id"] = getattr(data["admin_user"], "pk", None)
        if "portals" in data:
            values["portals"] = [portal.pk for portal in data["portals"]]
        if "module_resources" in formsets:
            values["resources"] = [f.cleaned_data["resource"].pk for f in OFFERED.forms(formsets["module_resources"])]
        if "fields" in formsets:
            for key, (_, path) in services.FORM_SECTIONS.items():
                values[key] = _form_field_items(formsets["fields"], MODULE_ROWS[path])
        if change:
            return services.module_update(module_id=obj.pk, changes=values)
        return services.module_create(organization_id=obj.organization_id, values=values)

    def service_delete(self, request, obj: BookingModule) -> None:
        services.module_delete(module_id=obj.pk)


# --- portals -------------------------------------------------------------------------------------------


class PortalForm(forms.ModelForm):
    new_password = forms.CharField(
        required=False,
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(render_value=False),
        help_text="Bookers must type it once per visit. Leave empty to keep the current one.",
    )
    remove_password = forms.BooleanField(required=False, label="Remove the password (open the portal)")
    booking_modules = forms.ModelMultipleChoiceField(
        queryset=BookingModule.objects.none(),
        required=False,
        label="Modules",
        widget=forms.CheckboxSelectMultiple,
        help_text="The booking modules shown on this portal.",
    )
    # Set by PortalAdmin.get_form: the modules the user may link (a new class per request).
    module_choices: QuerySet | None = None

    class Meta:
        model = Portal
        fields = ("organization", "name", "slug", "status", "description")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        modules = self.fields.get("booking_modules")
        if isinstance(modules, forms.ModelMultipleChoiceField):
            if self.module_choices is not None:
                modules.queryset = self.module_choices
            if self.instance.pk:
                self.initial.setdefault("booking_modules", list(self.instance.modules.values_list("pk", flat=True)))

    def clean(self) -> dict[str, Any]:
        cleaned = cast(dict[str, Any], super().clean())  # ModelForm.clean returns cleaned_data
        if cleaned.get("new_password") and cleaned.get("remove_password"):
            self.add_error("remove_password", "Either set a new password or remove it, not both.")
        org_id = organization_of(self)
        others = strangers(cleaned.get("booking_modules") or [], org_id)
        if org_id is not None and others:
            self.add_error("booking_modules", f"Not modules of this organization: {', '.join(others)}.")
        return cleaned


@admin.register(Portal)
class PortalAdmin(ServiceAdminMixin[Portal], ScopedAdmin):
    form = PortalForm
    list_display = ("name", "organization", "slug", "status", "has_password", "module_names")
    list_filter = (("organization", admin.RelatedOnlyFieldListFilter), "status")
    list_select_related = ("organization",)
    search_fields = ("name", "slug")
    readonly_fields = ("password_state",)
    plain_text_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("organization", "name", "slug", "status", "description", "booking_modules")}),
        ("Password", {"fields": ("password_state", "new_password", "remove_password")}),
    )
    service_fields = {"moduleIds": "booking_modules", "password": "new_password"}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("modules")

    def get_fieldsets(self, request: HttpRequest, obj: Portal | None = None):
        if obj is None or self.has_change_permission(request, obj):
            return self.fieldsets
        # Read-only: no password inputs, and the modules as text.
        return (
            (None, {"fields": ("organization", "name", "slug", "status", "description", "module_names")}),
            ("Password", {"fields": ("password_state",)}),
        )

    def get_form(self, request: HttpRequest, obj: Portal | None = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change=change, **kwargs)
        modules = scope(BookingModule.objects.all(), request, org_path="organization", action=self.change_action)
        if obj is not None:
            modules = modules.filter(organization_id=obj.organization_id)
        return type(form.__name__, (form,), {"module_choices": modules})

    @admin.display(description="password", boolean=True)
    def has_password(self, portal: Portal) -> bool:
        return bool(portal.password)

    @admin.display(description="password")
    def password_state(self, portal: Portal) -> str:
        # The hash itself is never shown.
        return "Set: bookers must enter it." if portal.password else "None: the portal is open."

    @admin.display(description="modules")
    def module_names(self, portal: Portal) -> str:
        return ", ".join(m.name for m in portal.modules.all())

    def service_save(self, request, obj: Portal, form: forms.ModelForm | None, formsets, change: bool) -> Portal:
        values = form_values(obj, form, services.PORTAL_ATTRIBUTES)
        data = form.cleaned_data if form is not None else {}
        if data.get("remove_password"):
            values["password"] = None
        elif data.get("new_password"):
            values["password"] = data["new_password"]
        if "booking_modules" in data:
            values["modules"] = [module.pk for module in data["booking_modules"]]
        if change:
            return services.portal_update(portal_id=obj.pk, changes=values)
        return services.portal_create(organization_id=obj.organization_id, values=values)

    def service_delete(self, request, obj: Portal) -> None:
        services.portal_delete(portal_id=obj.pk)


# --- customers and contacts ----------------------------------------------------------------------------


@admin.register(Customer)
class CustomerAdmin(ImportAdminMixin, ServiceAdminMixin[Customer], ScopedAdmin):
    importer = CustomerImporter()  # docs/architecture.md#imports
    change_list_template = CHANGE_LIST_TEMPLATE
    list_display = ("name", "email", "phone", "organization")
    list_filter = (("organization", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("organization",)
    search_fields = ("name", "email")
    fields = ("organization", "name", "email", "phone")
    plain_text_fields = ("name", "phone")
    # As in the API: whoever manages bookings keeps the people they are for up to date.
    change_action = "manage_bookings"
    # Reserving a rate is configuration: the inline asks for the ADMIN role.
    inlines = (RateCustomerInline,)

    def get_inlines(self, request: HttpRequest, obj: Customer | None):
        # Only on an existing customer's page: the add page keeps asking for the customer alone.
        return self.inlines if obj is not None else ()

    # The reserved rates are saved by their own service, and only when the inline changed: a manager sees
    # them read-only, and a read-only inline must not clear them.
    service_inlines = ("rate_links",)
    service_rows = {"rateIds": ServiceRows("rate_links")}

    def service_save(self, request, obj: Customer, form, formsets, change: bool) -> Customer:
        values = form_values(obj, form, services.PEOPLE_ATTRIBUTES)
        if change:
            customer = services.customer_update(customer_id=obj.pk, changes=values)
        else:
            customer = services.customer_create(organization_id=obj.organization_id, values=values)
        rates = formsets.get("rate_links")
        if rates is not None and rates.has_changed():
            rows = ServiceRows("rate_links").forms(rates)
            customer_rates_set(customer=customer, rate_ids=[f.cleaned_data["rate"].pk for f in rows])
        return customer

    def service_delete(self, request, obj: Customer) -> None:
        services.customer_delete(customer_id=obj.pk)
