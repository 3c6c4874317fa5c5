"""Configuration services: booking modules (with their form fields and offered resources), portals,
customers and contacts (docs/architecture.md#every-write-through-a-service). The booking lifecycle is
bookings.lifecycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from core.errors import FieldError, NotFound, ValidationFailed
from resources.config_cache import config_changed
from resources.models import Membership, Organization, Resource

from .models import (
    BookingModule,
    Contact,
    Customer,
    FieldType,
    FormField,
    FormSection,
    ModuleResource,
    Portal,
    random_portal_slug,
)

# --- configuration ---------------------------------------------------------------------------------
# Booking modules (with their form fields), portals, customers and contacts. The API's serializers only
# check shapes; these functions check what needs the database (the same organization, unique slugs and
# emails, field ids of this module) and name problems with the wire's field names. Values arrive with
# model attribute names, as the serializers' `source=` gives them.

MODULE_ATTRIBUTES = (
    "name",
    "slug",
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
FORM_FIELD_ATTRIBUTES = ("label", "type", "required", "help_text", "options", "min_value", "max_value", "order")
FORM_SECTIONS = {
    "contact_fields": (FormSection.CONTACT, "bookingForm.contactFields"),
    "event_fields": (FormSection.EVENT, "bookingForm.eventFields"),
}
CHOICE_TYPES = {FieldType.SELECT, FieldType.MULTISELECT}
LENGTH_TYPES = {FieldType.TEXT, FieldType.TEXTAREA, FieldType.EMAIL, FieldType.PHONE, FieldType.URL}
PORTAL_ATTRIBUTES = ("name", "slug", "description", "status")
PEOPLE_ATTRIBUTES = ("name", "email", "phone")


def _locked(model, pk: Any, noun: str):
    try:
        return model.objects.select_for_update().get(pk=pk)
    except (model.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound(f"{noun} not found.") from exc


def _require_organization(organization_id: Any) -> None:
    if not Organization.objects.filter(pk=organization_id).exists():
        raise NotFound("Organization not found.")


def _save_unique(obj, field_name: str, message: str) -> None:
    """Save; a unique constraint lost to a concurrent writer is NOT_UNIQUE, not an integrity error."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise ValidationFailed(errors=[FieldError(field_name, "NOT_UNIQUE", message)]) from exc


def _ids_in(queryset, ids: Sequence[Any], field_name: str, noun: str, errors: list[FieldError]) -> list[UUID]:
    """The ids (in order, without repeats) if every one is in `queryset`; else NOT_FOUND for each stranger."""
    wanted: list[UUID] = []
    for raw in ids:
        try:
            value = raw if isinstance(raw, UUID) else UUID(str(raw))
        except ValueError:
            errors.append(FieldError(field_name, "INVALID", f"{raw} is not an id."))
            continue
        if value not in wanted:
            wanted.append(value)
    found = set(queryset.filter(pk__in=wanted).values_list("pk", flat=True))
    for value in wanted:
        if value not in found:
            errors.append(
                FieldError(field_name, "NOT_FOUND", f"No {noun} {value} in this organization.", {"id": str(value)})
            )
    return [value for value in wanted if value in found]


@dataclass
class _FormPlan:
    create: list[FormField] = field(default_factory=list)
    update: list[FormField] = field(default_factory=list)
    archive: list[FormField] = field(default_factory=list)


def check_form_field(ff: FormField, where: str, errors: list[FieldError]) -> None:
    if ff.type in CHOICE_TYPES:
        ff.options = list(dict.fromkeys(str(o).strip() for o in ff.options or [] if str(o).strip()))
        if not ff.options:
            errors.append(FieldError(f"{where}.options", "REQUIRED", "A select field needs at least one option."))
    else:
        ff.options = []
    if ff.type == FieldType.NUMBER or ff.type in LENGTH_TYPES:
        if ff.type in LENGTH_TYPES:
            for attr, wire in (("min_value", "min"), ("max_value", "max")):
                if getattr(ff, attr) is not None and getattr(ff, attr) < 0:
                    errors.append(FieldError(f"{where}.{wire}", "MIN_VALUE", "A length cannot be negative."))
        if ff.min_value is not None and ff.max_value is not None and ff.min_value > ff.max_value:
            errors.append(FieldError(f"{where}.max", "INVALID", "max must not be smaller than min."))
    else:
        ff.min_value = ff.max_value = None  # nothing to limit for dates, times, selects and checkboxes


def _plan_form_fields(
    module: BookingModule, section: str, items: Sequence[Mapping[str, Any]], path: str, errors: list[FieldError]
) -> _FormPlan:
    """Fields without an id are new; with an id (of this module and section) updated; active fields
    left out are archived. A listed archived field comes back."""
    existing = {} if module._state.adding else {ff.pk: ff for ff in module.fields.filter(section=section)}
    plan = _FormPlan()
    seen: set[UUID] = set()
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        field_id = item.get("id")
        if field_id is None:
            ff = FormField(module=module, section=section)
            if not item.get("label"):
                errors.append(FieldError(f"{where}.label", "REQUIRED", "A new field needs a label."))
            plan.create.append(ff)
        elif field_id in seen:
            errors.append(FieldError(f"{where}.id", "NOT_UNIQUE", "The same field is listed twice."))
            continue
        elif field_id not in existing:
            errors.append(FieldError(f"{where}.id", "NOT_FOUND", f"No field {field_id} in this form section."))
            continue
        else:
            ff = existing[field_id]
            seen.add(field_id)
            plan.update.append(ff)
        for attr in FORM_FIELD_ATTRIBUTES:
            if attr in item:
                setattr(ff, attr, item[attr])
        if "order" not in item:
            ff.order = index
        ff.archived = False
        check_form_field(ff, where, errors)
    plan.archive = [ff for pk, ff in existing.items() if pk not in seen and not ff.archived]
    return plan


def _apply_form_plan(module: BookingModule, plan: _FormPlan) -> None:
    """Three statements at most, however many fields: insert, update, archive. Nothing is deleted, so
    answers keyed by an archived field's id keep their meaning."""
    now = timezone.now()
    for ff in plan.create:
        ff.module_id = module.pk
    if plan.create:
        FormField.objects.bulk_create(plan.create)
    if plan.update:
        for ff in plan.update:
            ff.updated_at = now
        FormField.objects.bulk_update(plan.update, [*FORM_FIELD_ATTRIBUTES, "archived", "updated_at"])
    if plan.archive:
        FormField.objects.filter(pk__in=[ff.pk for ff in plan.archive]).update(archived=True, updated_at=now)


def _free_module_slug(organization_id: Any, name: str) -> str:
    base = slugify(name)[:70] or "module"
    taken = set(
        BookingModule.objects.filter(organization_id=organization_id, slug__startswith=base).values_list(
            "slug", flat=True
        )
    )
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)


def _set_module_resources(module: BookingModule, resource_ids: list[UUID]) -> None:
    """Keep the rows (and per-resource settings) of resources still offered; add and remove the rest."""
    current = set(ModuleResource.objects.filter(module=module).values_list("resource_id", flat=True))
    gone = current - set(resource_ids)
    if gone:
        ModuleResource.objects.filter(module=module, resource_id__in=gone).delete()
    ModuleResource.objects.bulk_create(
        [ModuleResource(module=module, resource_id=rid) for rid in resource_ids if rid not in current]
    )


def _set_module_attributes(module: BookingModule, values: Mapping[str, Any], errors: list[FieldError]) -> None:
    """The MODULE_ATTRIBUTES given, a free slug for a new module without one, and the admin user (a member of
    the organization)."""
    creating = module._state.adding
    org_id = module.organization_id
    for attr in MODULE_ATTRIBUTES:
        if attr in values and (attr != "slug" or values[attr]):
            setattr(module, attr, values[attr])
    if creating and not values.get("slug"):
        module.slug = _free_module_slug(org_id, module.name)
    elif BookingModule.objects.filter(organization_id=org_id, slug=module.slug).exclude(pk=module.pk).exists():
        errors.append(FieldError("slug", "NOT_UNIQUE", "Another booking module of this organization has this slug."))
    if "admin_user_id" in values:
        user_id = values["admin_user_id"]
        if user_id is not None and not Membership.objects.filter(organization_id=org_id, user_id=user_id).exists():
            errors.append(
                FieldError("adminUserId", "NOT_FOUND", "The admin user must be a member of the organization.")
            )
        module.admin_user_id = user_id


def _module_write(module: BookingModule, values: Mapping[str, Any]) -> BookingModule:
    org_id = module.organization_id
    errors: list[FieldError] = []
    _set_module_attributes(module, values, errors)
    portal_ids = resource_ids = None
    if values.get("portals") is not None:
        portal_ids = _ids_in(
            Portal.objects.filter(organization_id=org_id), values["portals"], "portalIds", "portal", errors
        )
    if values.get("resources") is not None:
        resource_ids = _ids_in(
            Resource.objects.filter(venue__organization_id=org_id),
            values["resources"],
            "resourceIds",
            "resource",
            errors,
        )
    plans = [
        _plan_form_fields(module, section, values[key], path, errors)
        for key, (section, path) in FORM_SECTIONS.items()
        if values.get(key) is not None
    ]
    if errors:
        raise ValidationFailed(errors=errors)
    _save_unique(module, "slug", "Another booking module of this organization has this slug.")
    if portal_ids is not None:
        module.portals.set(portal_ids)  # type: ignore[arg-type]  # set() takes pks; the stubs know int pks only
    if resource_ids is not None:
        _set_module_resources(module, resource_ids)
    for plan in plans:
        _apply_form_plan(module, plan)
    return module


def module_create(*, organization_id: UUID, values: Mapping[str, Any]) -> BookingModule:
    """A booking module with its links and form. `values`: the MODULE_ATTRIBUTES, `admin_user_id`,
    `portals` and `resources` (ids of this organization), `contact_fields` and `event_fields` (lists of
    FORM_FIELD_ATTRIBUTES; the server assigns ids)."""
    with transaction.atomic():
        _require_organization(organization_id)
        config_changed(organization_id=organization_id)
        return _module_write(BookingModule(organization_id=organization_id), values)


def module_update(*, module_id: UUID, changes: Mapping[str, Any]) -> BookingModule:
    """Change what is given. A form section that is given is the whole section: fields with an id are
    updated, without one created, and active fields left out archived (never deleted)."""
    with transaction.atomic():
        module = _locked(BookingModule, module_id, "Booking module")
        config_changed(organization_id=module.organization_id)
        return _module_write(module, changes)


def module_delete(*, module_id: UUID) -> None:
    """Refused (ProtectedError, 409 IN_USE in the API) while bookings use the module."""
    with transaction.atomic():
        module = _locked(BookingModule, module_id, "Booking module")
        config_changed(organization_id=module.organization_id)
        module.delete()


def _portal_write(portal: Portal, values: Mapping[str, Any]) -> Portal:
    for attr in PORTAL_ATTRIBUTES:
        if attr in values and (attr != "slug" or values[attr]):
            setattr(portal, attr, values[attr])
    if "password" in values:
        portal.set_password(values["password"])  # "" or None: the portal is open again
    if values.get("slug"):
        if Portal.objects.filter(slug=portal.slug).exclude(pk=portal.pk).exists():
            raise ValidationFailed(errors=[FieldError("slug", "NOT_UNIQUE", "Another portal has this slug.")])
    elif portal._state.adding:
        while Portal.objects.filter(slug=portal.slug).exists():  # 36^6 slugs: a second draw is rare
            portal.slug = random_portal_slug()
    module_ids = _portal_module_ids(portal, values)
    _save_unique(portal, "slug", "Another portal has this slug.")
    if module_ids is not None:
        portal.modules.set(module_ids)  # type: ignore[arg-type]  # set() takes pks; the stubs know int pks only
    return portal


def _portal_module_ids(portal: Portal, values: Mapping[str, Any]) -> list[UUID] | None:
    """`modules` (the admin links a portal's modules from the portal): ids of the portal's organization."""
    if values.get("modules") is None:
        return None
    errors: list[FieldError] = []
    ids = _ids_in(
        BookingModule.objects.filter(organization_id=portal.organization_id),
        values["modules"],
        "moduleIds",
        "booking module",
        errors,
    )
    if errors:
        raise ValidationFailed(errors=errors)
    return ids


def portal_create(*, organization_id: UUID, values: Mapping[str, Any]) -> Portal:
    """`values`: name, slug (random 6 characters when empty), description, status, password, modules
    (ids of booking modules shown on the portal; left out: unchanged)."""
    with transaction.atomic():
        _require_organization(organization_id)
        config_changed(organization_id=organization_id)
        return _portal_write(Portal(organization_id=organization_id), values)


def portal_update(*, portal_id: UUID, changes: Mapping[str, Any]) -> Portal:
    with transaction.atomic():
        portal = _locked(Portal, portal_id, "Portal")
        config_changed(organization_id=portal.organization_id)
        return _portal_write(portal, changes)


def portal_delete(*, portal_id: UUID) -> None:
    """Its bookings keep existing without a portal; modules simply stop being on it."""
    with transaction.atomic():
        portal = _locked(Portal, portal_id, "Portal")
        config_changed(organization_id=portal.organization_id)
        portal.delete()


def customer_create(*, organization_id: UUID, values: Mapping[str, Any]) -> Customer:
    with transaction.atomic():
        _require_organization(organization_id)
        customer = Customer(organization_id=organization_id)
        for attr in PEOPLE_ATTRIBUTES:
            if attr in values:
                setattr(customer, attr, values[attr] or "")
        customer.save()
        return customer


def customer_update(*, customer_id: UUID, changes: Mapping[str, Any]) -> Customer:
    with transaction.atomic():
        customer = _locked(Customer, customer_id, "Customer")
        for attr in PEOPLE_ATTRIBUTES:
            if attr in changes:
                setattr(customer, attr, changes[attr] or "")
        customer.save()
        return customer


def customer_delete(*, customer_id: UUID) -> None:
    """Bookings and contacts that named the customer keep existing without it."""
    with transaction.atomic():
        _locked(Customer, customer_id, "Customer").delete()


def _contact_write(contact: Contact, values: Mapping[str, Any]) -> Contact:
    for attr in PEOPLE_ATTRIBUTES:
        if attr in values:
            setattr(contact, attr, (values[attr] or "").strip())
    if "customer_id" in values:
        customer_id = values["customer_id"]
        if (
            customer_id is not None
            and not Customer.objects.filter(organization_id=contact.organization_id, pk=customer_id).exists()
        ):
            raise ValidationFailed(
                errors=[FieldError("customerId", "NOT_FOUND", "No customer with this id in the organization.")]
            )
        contact.customer_id = customer_id
    message = "Another contact of this organization has this email address."
    if (
        contact.email
        and Contact.objects.filter(organization_id=contact.organization_id, email__iexact=contact.email)
        .exclude(pk=contact.pk)
        .exists()
    ):
        raise ValidationFailed(errors=[FieldError("email", "NOT_UNIQUE", message)])
    _save_unique(contact, "email", message)
    return contact


def contact_create(*, organization_id: UUID, values: Mapping[str, Any]) -> Contact:
    """`values`: name, email (unique in the organization, whatever its case), phone, customer_id."""
    with transaction.atomic():
        _require_organization(organization_id)
        return _contact_write(Contact(organization_id=organization_id), values)


def contact_update(*, contact_id: UUID, changes: Mapping[str, Any]) -> Contact:
    with transaction.atomic():
        return _contact_write(_locked(Contact, contact_id, "Contact"), changes)


def contact_delete(*, contact_id: UUID) -> None:
    """Bookings that named the contact keep existing without it."""
    with transaction.atomic():
        _locked(Contact, contact_id, "Contact").delete()
