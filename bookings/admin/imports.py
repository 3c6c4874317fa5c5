"""Importing customers and contacts in the admin (docs/architecture.md#imports): one row per person, created by
bookings.services.customer_create and contact_create. Imports only create: a contact whose email address the
organization already has (stored, or on an earlier row of the file) is the service's NOT_UNIQUE on that row;
a contact without an email whose name it already has among those without one, and a customer whose name it
already has, are a DUPLICATE. So importing a file twice creates nothing twice."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core.errors import FieldError
from resources.admin_base import PlainTextFormField
from resources.admin_imports import ImportColumn, Importer, column_length
from resources.models import Organization

from .. import services
from ..models import Contact, Customer


def _person_form(model: type[Contact | Customer]) -> type[forms.Form]:
    """A row's form for `model`, its lengths the model's own (column_length)."""

    return type(
        f"{model.__name__}RowForm",
        (forms.Form,),
        {
            "name": PlainTextFormField(max_length=column_length(model, "name")),
            "email": forms.EmailField(max_length=column_length(model, "email"), required=False),
            "phone": PlainTextFormField(max_length=column_length(model, "phone"), required=False),
        },
    )


ContactRowForm = _person_form(Contact)
CustomerRowForm = _person_form(Customer)


PERSON_COLUMNS = (
    ImportColumn("name", _("Plain text."), required=True),
    ImportColumn("email", _("An email address, or empty.")),
    ImportColumn("phone", _("Plain text, or empty.")),
)


class ContactImporter(Importer):
    columns = (
        ImportColumn(
            "name", _("Plain text; without an email, one contact per name in the organization."), required=True
        ),
        ImportColumn("email", _("An email address, or empty; one contact per address in the organization.")),
        PERSON_COLUMNS[2],
    )
    form_class = ContactRowForm

    def prepare(self, organization: Organization) -> dict[str, Any]:
        # A contact without an email is told apart by its name alone, so a file imported twice adds no one twice.
        names = Contact.objects.filter(organization=organization, email="").values_list("name", flat=True)
        return {"taken": {name.lower() for name in names}}

    def check(self, cleaned: dict[str, Any], context: dict[str, Any]) -> list[FieldError]:
        if not cleaned["email"] and cleaned["name"].lower() in context["taken"]:
            message = _("A contact “%(name)s” without an email address already exists.") % {"name": cleaned["name"]}
            return [FieldError("name", "DUPLICATE", str(message))]
        return []

    def save(self, organization: Organization, cleaned: dict[str, Any], context: dict[str, Any]) -> Contact:
        contact = services.contact_create(organization_id=organization.pk, values=cleaned)
        if not cleaned["email"]:
            context["taken"].add(cleaned["name"].lower())
        return contact


class CustomerImporter(Importer):
    columns = (
        ImportColumn("name", _("Plain text; one customer per name in the organization."), required=True),
        *PERSON_COLUMNS[1:],
    )
    form_class = CustomerRowForm

    def prepare(self, organization: Organization) -> dict[str, Any]:
        names = Customer.objects.filter(organization=organization).values_list("name", flat=True)
        return {"taken": {name.lower() for name in names}}

    def check(self, cleaned: dict[str, Any], context: dict[str, Any]) -> list[FieldError]:
        if cleaned["name"].lower() in context["taken"]:
            message = _("A customer “%(name)s” already exists.") % {"name": cleaned["name"]}
            return [FieldError("name", "DUPLICATE", str(message))]
        return []

    def save(self, organization: Organization, cleaned: dict[str, Any], context: dict[str, Any]) -> Customer:
        customer = services.customer_create(organization_id=organization.pk, values=cleaned)
        context["taken"].add(cleaned["name"].lower())
        return customer
