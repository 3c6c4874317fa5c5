"""The staff admin for organizations, their members, venues, resources (with booking rules, weekly
bookable hours, units, rates and products) and closures (docs/architecture.md#staff-admin). Venues,
resources and closures are written by resources.services, as the API writes them
(docs/architecture.md#every-write-through-a-service).

Also the pieces the other configuration admins share (bookings.admin.config imports them): plain-text
form fields, the "not found" answer for other organizations' objects, and choice labels.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import time
from functools import cache
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from . import services
from .admin_base import (
    OrgScopedAdmin,
    OrgScopedInline,
    OrgScopedMixin,
    PlainTextFormField,
    ServiceAdminMixin,
    ServiceRows,
    form_values,
    row_id,
)
from .admin_imports import CHANGE_LIST_TEMPLATE, ImportAdminMixin
from .admin_resource_import import ResourceImporter
from .catalog import ProductSpec, RateSpec, ResourceRows, UnitSpec
from .models import (
    ALL_WEEKDAYS,
    BookableHours,
    Closure,
    Membership,
    Organization,
    Product,
    Rate,
    Resource,
    ResourceUnit,
    Role,
    Venue,
    Weekday,
    weekday_mask,
    weekdays_of,
)
from .services import HoursSpec

# --- shared pieces ------------------------------------------------------------------------------------


class PlainTextAdminMixin:
    """`plain_text_fields` of the model are edited with PlainTextFormField (works for inlines too)."""

    plain_text_fields: tuple[str, ...] = ()

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in self.plain_text_fields:
            kwargs.setdefault("form_class", PlainTextFormField)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class ScopedAdmin(PlainTextAdminMixin, OrgScopedAdmin):
    """OrgScopedAdmin (another organization's object is a 404), plus plain-text names and an organization
    that is fixed once the object exists."""

    # Moving an object to another organization would leave its bookings, portals and resources behind.
    fixed_after_create: tuple[str, ...] = ("organization",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly + self.fixed_after_create if obj is not None else readonly


# Tabular inlines without the object's name above each saved row (see the template).
TABULAR_TEMPLATE = "admin/resources/tabular_inline.html"


def user_label(user) -> str:
    return f"{user.get_username()} ({user.email})" if user.email else user.get_username()


def resource_label(resource: Resource) -> str:
    return f"{resource.venue.name} · {resource.name}"


def label_resources(formfield: forms.ModelChoiceField | None) -> None:
    """Two venues may both have a "Room 1": choices say which venue (one query, not one per option)."""
    if formfield is not None:
        assert formfield.queryset is not None  # a model's foreign-key field always has one
        formfield.queryset = formfield.queryset.select_related("venue")
        # One field's labels, set on that field (Django calls it per field); the stubs see a method.
        formfield.label_from_instance = resource_label  # type: ignore[method-assign,assignment]


def organization_of(form: forms.ModelForm, path: str = "organization") -> Any:
    """The organization id a form's object belongs to: the chosen one on an add page, else the
    instance's (the field is read-only after creation)."""
    chosen = form.cleaned_data.get(path) if path in form.fields else None
    if chosen is not None:
        return chosen.pk
    return getattr(form.instance, f"{path}_id", None)


def strangers(objects: Iterable[Any], org_id: Any, org_of=lambda o: o.organization_id) -> list[str]:
    """Names of the chosen objects that belong to another organization than org_id."""
    return [str(o) for o in objects if org_of(o) != org_id]


@cache
def _timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


def timezone_formfield(db_field, **kwargs) -> forms.Field:
    """A list of IANA names instead of free text; typos are the usual mistake here."""
    choices = _timezone_choices()
    if not choices:  # no tz database to list: the model's validator still checks the typed name
        return db_field.formfield(**kwargs)
    blank = [("", "— the organization's —")] if db_field.blank else []
    return forms.ChoiceField(
        choices=blank + choices,
        required=not db_field.blank,
        label=db_field.verbose_name.capitalize(),
        help_text=db_field.help_text,
        initial=db_field.default if db_field.has_default() else "",
    )


# --- organizations and members ------------------------------------------------------------------------


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return user_label(obj)


class MembershipFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors) or self.instance._state.adding:
            return
        # _should_delete_form: Django's own test for a row marked for deletion; private, so not in the stubs.
        owners = [
            form
            for form in self.forms
            if form.cleaned_data
            and not self._should_delete_form(form)  # type: ignore[attr-defined]
            and form.cleaned_data.get("role") == Role.OWNER
        ]
        had_owner = Membership.objects.filter(organization=self.instance, role=Role.OWNER).exists()
        if had_owner and not owners:
            # Nobody could manage the members any more; only a superuser could repair it.
            raise ValidationError("An organization needs at least one owner.")


class MembershipInline(OrgScopedInline, admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    template = TABULAR_TEMPLATE
    fields = ("user", "role")
    extra = 0
    org_path = "organization"
    parent_org_path = ""
    change_action = "own"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("user")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            # Any active user may be invited (owners know who they add); the label says who is who.
            kwargs["queryset"] = get_user_model().objects.filter(is_active=True).order_by("username")
            kwargs["form_class"] = UserChoiceField
            # Skip OrgScopedMixin: it would offer only people already in one of the owner's organizations.
            return super(OrgScopedMixin, self).formfield_for_foreignkey(db_field, request, **kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Organization)
class OrganizationAdmin(ServiceAdminMixin[Organization], ScopedAdmin):
    list_display = ("name", "slug", "timezone", "currency")
    search_fields = ("name", "slug")
    fields = ("name", "slug", "timezone", "currency", "personal_data_retention_days")
    inlines = (MembershipInline,)
    plain_text_fields = ("name",)
    org_path = ""
    change_action = "own"
    fixed_after_create = ()

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Deleting cascades to every booking, event and resource of the organization.
        return request.user.is_superuser

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "timezone":
            return timezone_formfield(db_field, **kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def service_save(self, request, obj: Organization, form, formsets, change: bool) -> Organization:
        return services.organization_save(
            organization=obj, changes=form_values(obj, form, services.ORGANIZATION_FIELDS)
        )

    def service_delete(self, request, obj: Organization) -> None:
        services.organization_delete(organization=obj)


# --- venues, resources, closures ----------------------------------------------------------------------


@admin.register(Venue)
class VenueAdmin(ServiceAdminMixin[Venue], ScopedAdmin):
    list_display = ("name", "organization", "timezone")
    list_filter = (("organization", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("organization",)
    search_fields = ("name", "address")
    fields = ("organization", "name", "address", "timezone")
    plain_text_fields = ("name", "address")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "timezone":
            return timezone_formfield(db_field, **kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def service_save(self, request, obj: Venue, form, formsets, change: bool) -> Venue:
        values = form_values(obj, form, services.VENUE_FIELDS)
        if change:
            return services.venue_update(venue=obj, changes=values)
        return services.venue_create(organization=obj.organization, **values)

    def service_delete(self, request, obj: Venue) -> None:
        services.venue_delete(venue=obj)


class BookableHoursForm(forms.ModelForm):
    class Meta:
        model = BookableHours
        fields = ("weekday", "start_time", "end_time")

    def clean(self) -> dict[str, Any]:
        cleaned = cast(dict[str, Any], super().clean())  # ModelForm.clean returns cleaned_data
        start, end = cleaned.get("start_time"), cleaned.get("end_time")
        if start is not None and end is not None and not (end > start or end == time(0, 0)):
            self.add_error("end_time", "The window must end after it starts (00:00 means midnight at the day's end).")
        return cleaned


class BookableHoursInline(OrgScopedInline, admin.TabularInline):
    model = BookableHours
    form = BookableHoursForm
    template = TABULAR_TEMPLATE
    extra = 0
    org_path = "resource__venue__organization"
    parent_org_path = "venue__organization"
    verbose_name_plural = "weekly bookable hours (none: always bookable)"


class ResourceForm(forms.ModelForm):
    class Meta:
        model = Resource
        fields = (
            "venue",
            "name",
            "kind",
            "description",
            "archived",
            "capacity",
            "exclusive",
            "requires_approval",
            "min_duration_minutes",
            "max_duration_minutes",
            "min_notice_minutes",
            "max_advance_days",
            "buffer_minutes",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = cast(dict[str, Any], super().clean())  # ModelForm.clean returns cleaned_data
        shortest, longest = cleaned.get("min_duration_minutes"), cleaned.get("max_duration_minutes")
        if shortest is not None and longest is not None and shortest > longest:
            self.add_error("max_duration_minutes", "The longest booking must not be shorter than the shortest.")
        return cleaned


class RateForm(forms.ModelForm):
    """Weekdays as seven checkboxes (stored as a bitmask, see resources.models.Rate)."""

    days = forms.TypedMultipleChoiceField(
        choices=Weekday.choices,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        label="weekdays",
        initial=list(range(7)),
    )

    class Meta:
        model = Rate
        fields = ("name", "unit", "price", "days", "start_time", "end_time", "min_minutes", "max_minutes", "active")
        widgets = {
            "name": forms.TextInput(attrs={"size": 16}),
            "price": forms.NumberInput(attrs={"style": "width: 7em"}),
            "min_minutes": forms.NumberInput(attrs={"style": "width: 5em"}),
            "max_minutes": forms.NumberInput(attrs={"style": "width: 5em"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["days"] = weekdays_of(self.instance.weekdays)

    def clean(self) -> dict[str, Any]:
        cleaned = cast(dict[str, Any], super().clean())  # ModelForm.clean returns cleaned_data
        start, end = cleaned.get("start_time"), cleaned.get("end_time")
        if (start is None) != (end is None):
            self.add_error("end_time", "Give both ends of the time window, or neither (all day).")
        elif start is not None and not (end > start or end == time(0, 0)):
            self.add_error(
                "end_time",
                "The window must end after it starts (00:00 means midnight at the day's "
                "end); for a window across midnight add one rate each side.",
            )
        shortest, longest = cleaned.get("min_minutes"), cleaned.get("max_minutes")
        if shortest is not None and longest is not None and shortest > longest:
            self.add_error("max_minutes", "The longest booking must not be shorter than the shortest.")
        return cleaned

    def save(self, commit: bool = True) -> Rate:
        self.instance.weekdays = weekday_mask(self.cleaned_data.get("days") or range(7)) or ALL_WEEKDAYS
        return super().save(commit)


class RateInline(PlainTextAdminMixin, OrgScopedInline, admin.StackedInline):
    model = Rate
    form = RateForm
    extra = 0
    org_path = "resource__venue__organization"
    parent_org_path = "venue__organization"
    plain_text_fields = ("name",)
    fields = (("name", "unit", "price", "active"), "days", ("start_time", "end_time"), ("min_minutes", "max_minutes"))
    verbose_name_plural = (
        "rates (in the organization's currency; without a rate the resource is free; the "
        "cheapest rate that applies is used unless the request names one)"
    )


class ProductInline(PlainTextAdminMixin, OrgScopedInline, admin.TabularInline):
    model = Product
    template = TABULAR_TEMPLATE
    extra = 0
    org_path = "resource__venue__organization"
    parent_org_path = "venue__organization"
    plain_text_fields = ("name",)
    fields = ("name", "unit_price", "unit", "active")
    verbose_name_plural = "products (added to a booking with a quantity)"


class ResourceUnitInline(PlainTextAdminMixin, OrgScopedInline, admin.TabularInline):
    """Desks of a hot-desk area, seats of a floor plan. A unit that was ever booked cannot be deleted (its
    reservations protect it): archive it instead."""

    model = ResourceUnit
    template = TABULAR_TEMPLATE
    extra = 0
    org_path = "resource__venue__organization"
    parent_org_path = "venue__organization"
    plain_text_fields = ("name",)
    fields = ("name", "order", "archived")
    verbose_name_plural = (
        "units (desks, seats: each takes one booking at a time; with units, at most "
        "min(capacity, active units) bookings overlap; a request without a unit gets the first "
        "free one by order)"
    )


def _row_specs(rows: ServiceRows, formset, spec_class, names: tuple[str, ...], **extra) -> list:
    """One spec per row form the service is given (ServiceRows.forms), existing rows with their id."""
    specs = []
    for form in rows.forms(formset):
        data = form.cleaned_data
        values = {name: data.get(name) for name in names}
        values.update({key: make(data) for key, make in extra.items()})
        specs.append(spec_class(id=row_id(form), delete=rows.deleted(formset, form), **values))
    return specs


RESOURCE_ROWS = {
    "bookableHours": ServiceRows("bookable_hours", {"start": "start_time", "end": "end_time"}),
    "units": ServiceRows("units", with_deleted=True),
    "rates": ServiceRows("rates", {"weekdays": "days"}, with_deleted=True),
    "products": ServiceRows("products", with_deleted=True),
}


@admin.register(Resource)
class ResourceAdmin(ImportAdminMixin, ServiceAdminMixin[Resource], ScopedAdmin):
    form = ResourceForm
    importer = ResourceImporter()  # docs/architecture.md#imports
    change_list_template = CHANGE_LIST_TEMPLATE
    list_display = ("name", "venue", "kind", "capacity", "exclusive", "archived")
    list_filter = (("venue", admin.RelatedOnlyFieldListFilter), "kind", "archived")
    list_select_related = ("venue",)
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("venue", "name", "kind", "description", "archived")}),
        ("Capacity", {"fields": ("capacity", "exclusive", "requires_approval")}),
        (
            "Booking rules",
            {
                "description": "Checked in the venue's local time. Empty: no limit.",
                "fields": (
                    ("min_duration_minutes", "max_duration_minutes"),
                    "min_notice_minutes",
                    "max_advance_days",
                    "buffer_minutes",
                ),
            },
        ),
    )
    inlines = (BookableHoursInline, ResourceUnitInline, RateInline, ProductInline)
    plain_text_fields = ("name",)
    org_path = "venue__organization"
    fixed_after_create = ()  # the venue may change, within the organization (its choices are scoped)
    service_rows = RESOURCE_ROWS
    service_inlines = ("bookable_hours", "units", "rates", "products")

    def service_save(self, request, obj: Resource, form, formsets, change: bool) -> Resource:
        """The resource, its weekly hours and its units, rates and products in one service call: switching
        `exclusive` or lowering the capacity is checked against upcoming bookings, as in the API."""
        values = form_values(obj, form, ResourceForm.Meta.fields)
        hours = self._hours(formsets)
        rows = self._rows(formsets)
        if change:
            return services.resource_update(resource=obj, changes=values, bookable_hours=hours, rows=rows)
        venue = values.pop("venue", obj.venue)
        return services.resource_create(venue=venue, bookable_hours=hours or (), rows=rows, **values)

    def service_delete(self, request, obj: Resource) -> None:
        services.resource_delete(resource=obj)

    @staticmethod
    def _hours(formsets) -> list[HoursSpec] | None:
        if "bookable_hours" not in formsets:
            return None
        return [
            HoursSpec(
                weekday=f.cleaned_data["weekday"], start=f.cleaned_data["start_time"], end=f.cleaned_data["end_time"]
            )
            for f in RESOURCE_ROWS["bookableHours"].forms(formsets["bookable_hours"])
        ]

    @staticmethod
    def _rows(formsets) -> ResourceRows:
        def specs(prefix: str, spec_class, names: tuple[str, ...], **extra) -> list | None:
            if prefix not in formsets:
                return None
            return _row_specs(RESOURCE_ROWS[prefix], formsets[prefix], spec_class, names, **extra)

        return ResourceRows(
            units=specs("units", UnitSpec, ("name", "order", "archived")),
            rates=specs(
                "rates",
                RateSpec,
                ("name", "unit", "price", "start_time", "end_time", "min_minutes", "max_minutes", "active"),
                weekdays=lambda data: data.get("days") or range(7),
            ),
            products=specs("products", ProductSpec, ("name", "unit_price", "unit", "active")),
        )


class ClosureForm(forms.ModelForm):
    class Meta:
        model = Closure
        fields = ("organization", "resources", "start", "end", "message", "repeats_yearly")

    def clean(self) -> dict[str, Any]:
        cleaned = cast(dict[str, Any], super().clean())  # ModelForm.clean returns cleaned_data
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is not None and end is not None and end <= start:
            self.add_error("end", "The closure must end after it starts.")
        org_id = organization_of(self)
        others = strangers(cleaned.get("resources") or [], org_id, lambda r: r.venue.organization_id)
        if org_id is not None and others:
            self.add_error("resources", f"Not resources of this organization: {', '.join(others)}.")
        return cleaned


@admin.register(Closure)
class ClosureAdmin(ServiceAdminMixin[Closure], ScopedAdmin):
    form = ClosureForm
    list_display = ("__str__", "organization", "start", "end", "repeats_yearly", "resource_names")
    list_filter = (("organization", admin.RelatedOnlyFieldListFilter), "repeats_yearly")
    list_select_related = ("organization",)
    search_fields = ("message",)
    date_hierarchy = "start"
    filter_horizontal = ("resources",)
    plain_text_fields = ("message",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("resources")

    @admin.display(description="resources")
    def resource_names(self, closure: Closure) -> str:
        return ", ".join(r.name for r in closure.resources.all()) or "all"

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "resources":
            label_resources(formfield)
        return formfield

    def service_save(self, request, obj: Closure, form, formsets, change: bool) -> Closure:
        values = form_values(obj, form, services.CLOSURE_FIELDS)
        resources = list(form.cleaned_data["resources"]) if form is not None else None
        if change:
            return services.closure_update(closure=obj, changes=values, resources=resources)
        return services.closure_create(organization=obj.organization, resources=resources or (), **values)

    def service_delete(self, request, obj: Closure) -> None:
        services.closure_delete(closure=obj)
