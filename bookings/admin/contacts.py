"""Contacts in the admin: the people of an organization, and what a person may ask of it about their data
(docs/architecture.md#personal-data): a download of everything held about them, and their erasure after a
confirmation page. Both need the admin role in the contact's organization."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.actor import Actor
from core.errors import DomainError
from resources.admin import ScopedAdmin, organization_of
from resources.admin_base import ServiceAdminMixin, form_values
from resources.admin_exports import ExportAdminMixin
from resources.admin_imports import CHANGE_LIST_TEMPLATE, ImportAdminMixin
from resources.permissions import request_allows

from .. import services
from ..exports import contacts_table
from ..models import Contact
from ..privacy import contact_erase, contact_future_times, contact_personal_data
from .imports import ContactImporter


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ("organization", "name", "email", "phone", "customer")

    def clean(self) -> dict[str, Any]:
        cleaned = cast(dict[str, Any], super().clean())  # ModelForm.clean returns cleaned_data
        org_id = organization_of(self)
        if org_id is None:
            return cleaned
        email = cleaned.get("email")
        if (
            email
            and Contact.objects.filter(organization_id=org_id, email__iexact=email)
            .exclude(pk=self.instance.pk)
            .exists()
        ):
            # An error on `email` also keeps the model's constraint check (and its raw message) away.
            self.add_error("email", "Another contact of this organization has this email address.")
        customer = cleaned.get("customer")
        if customer is not None and customer.organization_id != org_id:
            self.add_error("customer", "Choose a customer of the contact's organization.")
        return cleaned


@admin.register(Contact)
class ContactAdmin(ImportAdminMixin, ExportAdminMixin, ServiceAdminMixin[Contact], ScopedAdmin):
    form = ContactForm
    importer = ContactImporter()  # docs/architecture.md#imports
    change_list_template = CHANGE_LIST_TEMPLATE

    def export_table(self, queryset):
        return contacts_table(queryset)

    list_display = ("name", "email", "phone", "customer", "organization")
    list_filter = (("organization", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("organization", "customer")
    search_fields = ("name", "email")
    autocomplete_fields = ("customer",)
    plain_text_fields = ("name", "phone")
    change_action = "manage_bookings"

    def service_save(self, request, obj: Contact, form, formsets, change: bool) -> Contact:
        values = form_values(obj, form, services.PEOPLE_ATTRIBUTES)
        customer = form_values(obj, form, ("customer",))
        if "customer" in customer:
            values["customer_id"] = customer["customer"].pk if customer["customer"] is not None else None
        if change:
            return services.contact_update(contact_id=obj.pk, changes=values)
        return services.contact_create(organization_id=obj.organization_id, values=values)

    def service_delete(self, request, obj: Contact) -> None:
        services.contact_delete(contact_id=obj.pk)

    change_form_template = "admin/bookings/contact/change_form.html"

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and request_allows(request, obj.organization_id, "personal_data"):
            context["contact_tools"] = [
                {
                    "label": "Personal data (JSON)",
                    "url": reverse("admin:bookings_contact_personal_data", args=[obj.pk]),
                },
                *(
                    [{"label": "Erase…", "url": reverse("admin:bookings_contact_erase", args=[obj.pk])}]
                    if obj.erased_at is None
                    else []
                ),
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/personal-data/",
                view(self.personal_data_view),
                name="bookings_contact_personal_data",
            ),
            path("<path:object_id>/erase/", view(self.erase_view), name="bookings_contact_erase"),
        ] + super().get_urls()

    def _contact_for_privacy(self, request: HttpRequest, object_id: str) -> Contact:
        contact = self.get_object(request, object_id)  # another organization's contact: None, so 404
        if contact is None:
            raise Http404("No such contact.")
        if not request_allows(request, contact.organization_id, "personal_data"):
            raise PermissionDenied
        return cast(Contact, contact)

    def personal_data_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        contact = self._contact_for_privacy(request, object_id)
        response = JsonResponse(contact_personal_data(contact), json_dumps_params={"indent": 2, "ensure_ascii": False})
        response["Content-Disposition"] = f'attachment; filename="personal-data-{contact.pk}.json"'
        return response

    def erase_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        contact = self._contact_for_privacy(request, object_id)
        back = reverse("admin:bookings_contact_change", args=[contact.pk])
        if contact.erased_at is not None:
            messages.info(request, "This person is already erased.")
            return redirect(back)
        error = ""
        if request.method == "POST":
            try:
                erased = contact_erase(
                    contact_id=contact.pk, actor=Actor.staff(request.user), force=request.POST.get("force") == "on"
                )
            except DomainError as refused:
                error = refused.message
            else:
                messages.success(
                    request, f"Erased the person from {erased.bookings} booking(s) and everything sent about them."
                )
                return redirect(back)
        future = contact_future_times(contact)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Erase {contact.name}",
            "contact": contact,
            "opts": self.model._meta,
            "back_url": back,
            "bookings": contact.bookings.count(),
            "future": future,
            "error": error,
        }
        return TemplateResponse(request, "admin/bookings/contact/erase.html", context)
