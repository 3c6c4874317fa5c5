"""Prices in the staff admin (docs/architecture.md#prices, docs/architecture.md#charge-statuses): discount
codes, booking credit, the charges list, and the rates a customer gets (an inline on the customer's page;
rates themselves are edited on the resource's page).

Scoped like the rest (resources.admin_base): another organization's code, credit or charge is a 404, and
linked objects must be of the same organization. Discount codes and credits are configuration (ADMIN),
written through bookings.pricing.config, whose errors show at the form's fields; charges are moved with the
list's actions (managers) through bookings.pricing.charges and exported as CSV.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.forms.formsets import BaseFormSet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from core.actor import Actor
from core.errors import DomainError
from resources.admin import PlainTextAdminMixin, ScopedAdmin, label_resources, organization_of
from resources.admin_base import ModelT, OrgScopedInline, ServiceAdminMixin, add_service_errors, form_values
from resources.admin_exports import ExportAdminMixin
from resources.models import Rate
from resources.permissions import request_allows

from ..models import BookingCredit, BookingCreditAdjustment, Charge, DiscountCode, DiscountCodeUse, RateCustomer
from ..pricing.charges import charge_mark_charged, charge_mark_invoiced, charge_revert, charges_table
from ..pricing.config import (
    CODE_FIELDS,
    CREDIT_FIELDS,
    booking_credit_check,
    booking_credit_create,
    booking_credit_delete,
    booking_credit_update,
    discount_code_check,
    discount_code_create,
    discount_code_delete,
    discount_code_update,
)


class ServiceForm(forms.ModelForm):
    """Runs the service's check in clean(), so its problems show at the fields before anything is written
    (and before the model's constraints, which say the same without a field); the service checks again under
    its lock when it writes, and ServiceAdminMixin shows that refusal at the fields too."""

    check_fields: tuple[str, ...] = ()

    @staticmethod
    def check(*args: Any, **values: Any) -> None:  # each form's service check, with its own keywords
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        cleaned = cast(dict[str, Any], super().clean())  # ModelForm.clean returns cleaned_data
        if self.errors:
            return cleaned  # the inputs first; the service's rules on the next post
        org_id = organization_of(self)
        values = {
            name: cleaned[name] if name in cleaned else getattr(self.instance, name, None) for name in self.check_fields
        }
        try:
            self.check(organization_id=org_id, pk=self.instance.pk, **values)
        except DomainError as exc:
            add_service_errors(self, exc)
        return cleaned


class ConfiguredByService(ServiceAdminMixin[ModelT], ScopedAdmin):
    """Saves through `create` / `update` and deletes through `delete` (keyword-only services) with the
    form's fields."""

    service_values: frozenset[str] = frozenset()

    def create(self, obj: ModelT, values: dict[str, Any]) -> ModelT:
        raise NotImplementedError

    def update(self, obj: ModelT, values: dict[str, Any]) -> ModelT:
        raise NotImplementedError

    def delete(self, obj: ModelT) -> ModelT | None:
        raise NotImplementedError

    def service_save(
        self,
        request: HttpRequest,
        obj: ModelT,
        form: forms.ModelForm | None,
        formsets: Mapping[str, BaseFormSet],
        change: bool,
    ) -> ModelT:
        values = form_values(obj, form, self.service_values)
        return self.update(obj, values) if change else self.create(obj, values)

    def service_delete(self, request: HttpRequest, obj: ModelT) -> ModelT | None:
        self.check_may_save(request, obj)
        return self.delete(obj)


# --- discount codes ------------------------------------------------------------------------------------


class DiscountCodeForm(ServiceForm):
    check_fields = (
        "code",
        "percentage",
        "amount",
        "valid_from",
        "valid_until",
        "max_uses_total",
        "max_uses_per_contact",
        "resources",
    )
    check = staticmethod(discount_code_check)

    class Meta:
        model = DiscountCode
        fields = (
            "organization",
            "code",
            "description",
            "percentage",
            "amount",
            "valid_from",
            "valid_until",
            "max_uses_total",
            "max_uses_per_contact",
            "resources",
            "active",
        )


@admin.register(DiscountCode)
class DiscountCodeAdmin(ConfiguredByService[DiscountCode]):
    form = DiscountCodeForm
    service_values = CODE_FIELDS
    list_display = ("code", "organization", "discount", "valid_from", "valid_until", "used", "max_uses_total", "active")
    list_filter = (("organization", admin.RelatedOnlyFieldListFilter), "active")
    list_select_related = ("organization",)
    search_fields = ("code", "description")
    filter_horizontal = ("resources",)
    plain_text_fields = ("code", "description")
    fieldsets = (
        (None, {"fields": ("organization", "code", "description", "active")}),
        (
            "Discount",
            {
                "description": "Either a percentage or a fixed amount off one booking.",
                "fields": (("percentage", "amount"),),
            },
        ),
        (
            "Limits",
            {
                "description": "Empty: no limit. A use is counted when a booking with the code is approved.",
                "fields": (("valid_from", "valid_until"), ("max_uses_total", "max_uses_per_contact"), "resources"),
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        uses = (
            DiscountCodeUse.objects.filter(code=OuterRef("pk"))
            .order_by()
            .values("code")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return super().get_queryset(request).annotate(use_count=Coalesce(Subquery(uses), 0))

    def create(self, obj: DiscountCode, values: dict[str, Any]) -> DiscountCode:
        return discount_code_create(organization=obj.organization, **values)

    def update(self, obj: DiscountCode, values: dict[str, Any]) -> DiscountCode:
        return discount_code_update(discount_code=obj, changes=values)

    def delete(self, obj: DiscountCode) -> DiscountCode | None:
        return discount_code_delete(discount_code=obj)  # a used code is archived instead

    @admin.display(description="discount")
    def discount(self, code: DiscountCode) -> str:
        if code.percentage is not None:
            return f"{code.percentage.normalize():f} %"
        return f"{code.amount} {code.organization.currency}"

    @admin.display(description="uses", ordering="use_count")
    def used(self, code: DiscountCode) -> int:
        return code.use_count  # type: ignore[attr-defined]  # annotated by get_queryset

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "resources":
            label_resources(formfield)
        return formfield


# --- booking credit ------------------------------------------------------------------------------------


class BookingCreditForm(ServiceForm):
    check_fields = ("contact", "customer", "amount", "valid_from", "valid_until", "resources")
    check = staticmethod(booking_credit_check)

    class Meta:
        model = BookingCredit
        fields = (
            "organization",
            "contact",
            "customer",
            "description",
            "amount",
            "valid_from",
            "valid_until",
            "resources",
        )
        help_texts = {
            "valid_from": "For events starting from then. Empty: no start.",
            "valid_until": "For events starting before then. Empty: no end.",
        }


class BookingCreditAdjustmentInline(OrgScopedInline, admin.TabularInline):
    """What staff granted or took back (POST /booking-credits/{id}/adjust), read-only: the log of the credit."""

    model = BookingCreditAdjustment
    fields = ("created_at", "delta", "balance_after", "reason", "actor_label")
    readonly_fields = fields
    extra = 0
    can_delete = False
    org_path = "credit__organization"
    parent_org_path = "organization"
    verbose_name_plural = "adjustments (granted or taken back by staff)"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(BookingCredit)
class BookingCreditAdmin(ConfiguredByService[BookingCredit]):
    form = BookingCreditForm
    service_values = CREDIT_FIELDS | {"contact", "customer", "amount"}
    list_display = ("__str__", "organization", "owner", "amount", "balance", "valid_from", "valid_until")
    list_filter = (("organization", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("organization", "contact", "customer")
    search_fields = ("description", "contact__name", "contact__email", "customer__name")
    autocomplete_fields = ("contact", "customer")
    filter_horizontal = ("resources",)
    plain_text_fields = ("description",)
    readonly_fields = ("balance",)
    inlines = (BookingCreditAdjustmentInline,)
    # Who holds the credit and how much was granted are fixed: the balance and the uses follow from them.
    fixed_after_create = ("organization", "contact", "customer", "amount")
    fieldsets = (
        (None, {"fields": ("organization", ("contact", "customer"), "description", ("amount", "balance"))}),
        ("Limits", {"fields": (("valid_from", "valid_until"), "resources")}),
    )

    def get_inlines(self, request: HttpRequest, obj: BookingCredit | None) -> tuple:
        return self.inlines if obj is not None else ()  # a new credit has no adjustments yet

    @admin.display(description="for")
    def owner(self, credit: BookingCredit) -> str:
        return str(credit.contact or credit.customer)

    def create(self, obj: BookingCredit, values: dict[str, Any]) -> BookingCredit:
        return booking_credit_create(organization=obj.organization, **values)  # a new credit is all left

    def update(self, obj: BookingCredit, values: dict[str, Any]) -> BookingCredit:
        # The owner and the amount are read-only here: only the other fields reach the service.
        return booking_credit_update(credit=obj, changes={k: v for k, v in values.items() if k in CREDIT_FIELDS})

    def delete(self, obj: BookingCredit) -> BookingCredit | None:
        booking_credit_delete(credit=obj)
        return None

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "resources":
            label_resources(formfield)
        return formfield


# --- charges -------------------------------------------------------------------------------------------


@admin.register(Charge)
class ChargeAdmin(ExportAdminMixin, ScopedAdmin):
    """Charges are written by the approval service (bookings.pricing.fixing); staff move them with the actions
    (Mark charged, Mark invoiced, Revert: managers) and export them as CSV or XLSX for accounting (anyone who
    sees them; filter by date first, then select all). The rows themselves are never edited here."""

    list_display = ("created_at", "booking", "billed", "amount", "currency", "status", "purchase_order")
    list_filter = (("organization", admin.RelatedOnlyFieldListFilter), "status")
    list_select_related = ("organization", "booking", "customer", "contact")
    search_fields = ("booking__title", "purchase_order", "customer__name", "contact__name", "contact__email")
    date_hierarchy = "created_at"
    change_action = "manage_bookings"
    actions = ("mark_charged", "mark_invoiced", "revert_selected")

    def export_table(self, queryset):
        return charges_table(queryset)

    @admin.display(description="billed to")
    def billed(self, charge: Charge) -> str:
        return str(charge.customer or charge.contact or "—")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_mark_permission(self, request: HttpRequest) -> bool:
        """The moves are the charge services': a manager of some organization may use them (each charge is
        checked against its own organization)."""
        return ScopedAdmin.has_change_permission(self, request)

    def _move(self, request: HttpRequest, queryset: QuerySet, service, verb: str) -> None:
        actor = Actor.staff(request.user)
        done, refused = 0, []
        for charge in queryset.select_related("booking").order_by("created_at", "pk"):
            if not request_allows(request, charge.organization_id, "manage_bookings"):
                refused.append(f"“{charge}”: your role may not change it")
                continue
            try:
                service(charge_id=charge.pk, actor=actor)
            except DomainError as exc:
                refused.append(f"“{charge}”: {exc.message}")
            else:
                done += 1
        if done:
            messages.success(request, f"{done} charge{'s' if done != 1 else ''} {verb}.")
        if refused:
            messages.error(request, f"Not {verb}: " + " · ".join(refused))

    @admin.action(description="Mark charged", permissions=["mark"])
    def mark_charged(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._move(request, queryset, charge_mark_charged, "marked charged")

    @admin.action(description="Mark invoiced", permissions=["mark"])
    def mark_invoiced(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._move(request, queryset, charge_mark_invoiced, "marked invoiced")

    @admin.action(description="Revert", permissions=["mark"])
    def revert_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._move(request, queryset, charge_revert, "reverted")


# --- rates reserved for a customer (an inline of the customer's page) -----------------------------------


def _rate_label(rate: Rate) -> str:
    return f"{rate.resource.venue.name} · {rate.resource.name} · {rate.name}"


class RateCustomerFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        org_id = self.instance.organization_id
        for form in self.forms:
            rate = form.cleaned_data.get("rate") if form.cleaned_data else None
            # A view-only row (a manager on the page) is not a choice: nothing to check.
            # _should_delete_form: Django's own test for a row marked for deletion; private, so not in the stubs.
            if (
                isinstance(rate, Rate)
                and not self._should_delete_form(form)  # type: ignore[attr-defined]
                and rate.resource.venue.organization_id != org_id
            ):
                form.add_error("rate", "Choose a rate of the customer's organization.")


class RateCustomerInline(PlainTextAdminMixin, OrgScopedInline, admin.TabularInline):
    model = RateCustomer
    formset = RateCustomerFormSet
    fields = ("rate",)
    extra = 0
    org_path = "customer__organization"
    parent_org_path = "organization"
    change_action = "configure"
    verbose_name = "rate reserved for this customer"
    verbose_name_plural = "rates reserved for this customer (a reserved rate applies only to its customers)"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("rate__resource__venue")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "rate" and formfield is not None:
            formfield.queryset = formfield.queryset.select_related("resource__venue")
            formfield.label_from_instance = _rate_label
        return formfield
