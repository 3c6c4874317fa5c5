"""What every ModelAdmin of ours shares (docs/architecture.md#staff-admin): staff see only their
organizations' objects, in lists, pages, autocomplete and foreign-key choices, and what they may do
follows their role in the object's organization (resources.permissions), not Django's per-model
permissions.

Another organization's object is "not found": the queryset never contains it, so the admin answers 404
for its pages exactly as it does for an id that does not exist.

Configuration is written through the same services as the API (docs/architecture.md#every-write-through-a-service):
ServiceAdminMixin calls them and shows their domain errors at the form's fields
(docs/architecture.md#domain-errors).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import router, transaction
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.forms.formsets import BaseFormSet
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse

from core.errors import DomainError, FieldError
from core.html import plain_text

from .models import Organization
from .permissions import request_allows, request_org_ids


def org_id_of(obj: Model, org_path: str) -> Any:
    """Follow `org_path` ("venue__organization") from obj to its organization's id; "" is the
    organization itself."""
    if not org_path:
        return obj.pk
    *hops, last = org_path.split("__")
    node: Any = obj
    for hop in hops:
        node = getattr(node, hop, None)
        if node is None:
            return None
    return getattr(node, f"{last}_id", None)


def scope(queryset: QuerySet, request, *, org_path: str, action: str = "view") -> QuerySet:
    """The rows of organizations where the user may do `action`."""
    org_ids = request_org_ids(request, action)
    if org_ids is None:
        return queryset
    return queryset.filter(**{f"{org_path}__in" if org_path else "pk__in": org_ids})


# Where each model that our forms point at keeps its organization, for foreign-key and m2m choices.
def _related_org_path(model) -> str | None:
    if model is Organization:
        return ""
    if model is get_user_model():
        return "memberships__organization"
    path = getattr(model, "admin_org_path", None)
    if path is not None:
        return path
    names = {f.name for f in model._meta.get_fields()}
    if "organization" in names:
        return "organization"
    if "venue" in names:
        return "venue__organization"
    return None


class PlainTextFormField(forms.CharField):
    """Names and labels reach public pages and booker emails: no markup, as the API's PlainTextField.
    Cleaned before the required check, so "<b></b>" counts as empty."""

    def to_python(self, value: Any) -> str | None:
        value = super().to_python(value)
        return plain_text(value).strip() if value else value


class OrgScopedMixin:
    """For ModelAdmins and inlines. `org_path` leads from the model to its Organization; `change_action`
    is what add, change and delete need (see resources.permissions.ACTION_ROLE)."""

    org_path: str = "organization"
    change_action: str = "configure"

    # --- rows ---
    def get_queryset(self, request):
        return scope(super().get_queryset(request), request, org_path=self.org_path)

    # --- permissions, per organization ---
    def _allows(self, request, obj, action: str) -> bool:
        if obj is None or getattr(obj, "pk", None) is None:
            org_ids = request_org_ids(request, action)
            return org_ids is None or bool(org_ids)
        return request_allows(request, org_id_of(obj, self.org_path), action)

    def has_module_permission(self, request) -> bool:
        return self._allows(request, None, "view")

    def has_view_permission(self, request, obj=None) -> bool:
        return self._allows(request, obj, "view")

    def has_add_permission(self, request, obj=None) -> bool:
        return self._allows(request, obj, self.change_action)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._allows(request, obj, self.change_action)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._allows(request, obj, self.change_action)

    # --- choices: only the user's organizations, and within an object's page only its organization ---
    def _scope_choices(self, request, queryset: QuerySet) -> QuerySet:
        path = _related_org_path(queryset.model)
        if path is None:
            return queryset
        org_id = getattr(request, "_allot_admin_org_id", None)
        if org_id is not None:
            queryset = queryset.filter(**{path or "pk": org_id})
        queryset = scope(queryset, request, org_path=path, action=self.change_action)
        return queryset.distinct() if "__" in path else queryset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if formfield is not None and hasattr(formfield, "queryset"):
            formfield.queryset = self._scope_choices(request, formfield.queryset)
        return formfield

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        if formfield is not None and hasattr(formfield, "queryset"):
            formfield.queryset = self._scope_choices(request, formfield.queryset)
        return formfield


class OrgScopedAdmin(OrgScopedMixin, admin.ModelAdmin):
    list_per_page = 50

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Django's admin would redirect to the index with "doesn't exist"; another organization's
            # object must look exactly like a missing one to the API's 404.
            raise Http404("Not found.")
        # Inline and field choices on this page are limited to the object's own organization.
        request._allot_admin_org_id = org_id_of(obj, self.org_path)
        return obj

    def check_may_save(self, request, obj: Model) -> None:
        if not request_allows(request, org_id_of(obj, self.org_path), self.change_action):
            # The organization choices are already limited; this refuses a forged POST.
            raise PermissionDenied

    def save_model(self, request, obj, form, change):
        self.check_may_save(request, obj)
        super().save_model(request, obj, form, change)


class OrgScopedInline(OrgScopedMixin):
    """For inlines: Django passes the parent object to their permission checks, so the organization is
    found from the parent with `parent_org_path`."""

    parent_org_path: str = "organization"

    def _allows(self, request, obj, action: str) -> bool:
        if obj is None or getattr(obj, "pk", None) is None:
            org_ids = request_org_ids(request, action)
            return org_ids is None or bool(org_ids)
        return request_allows(request, org_id_of(obj, self.parent_org_path), action)


# --- saving through the services ---------------------------------------------------------------------

# A service's field path: a list (its name may be dotted) with a row index and optionally a field of that
# row ("bookableHours[1].end", "bookingForm.eventFields[0].options", "events[0].resourceIds[1]"), or a
# name with optionally one field ("capacity", "event.start").
ROW_PATH = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)\[(?P<index>\d+)\](?:\.(?P<field>\w+))?")
NAME_PATH = re.compile(r"^(?P<name>[A-Za-z_]\w*)(?:\.(?P<field>\w+))?")
CAMEL_HUMP = re.compile(r"(?<!^)(?=[A-Z])")


def parse_field_path(path: str) -> tuple[str, int | None, str | None]:
    """(name, row index or None, field or None) of a service's field path; ("", None, None) for none."""
    match = ROW_PATH.match(path or "")
    if match is not None:
        return match.group("name"), int(match.group("index")), match.group("field")
    match = NAME_PATH.match(path or "")
    if match is None:
        return "", None, None
    return match.group("name"), None, match.group("field")


def form_field_for(name: str, form_fields: Iterable[str], names: Mapping[str, str] = {}) -> str | None:  # noqa: B006
    """The form field a service's (camelCase) field name stands for: `names` first, then the snake_case
    name, without an `_id` ending or with `_ids` as a plural ("venueId" → venue, "portalIds" → portals).
    None: no such field, the error belongs to the whole form."""
    form_fields = set(form_fields)
    snake = CAMEL_HUMP.sub("_", name).lower()
    candidates = [names.get(name), snake, snake.removesuffix("_id"), snake.removesuffix("_ids") + "s"]
    return next((c for c in candidates if c and c in form_fields), None)


def add_service_errors(form: forms.BaseForm, error: DomainError, names: Mapping[str, str] = {}) -> None:  # noqa: B006
    """Each of a domain error's messages at the field of `form` it names (at the top when none fits)."""
    for e in _field_errors(error):
        form.add_error(form_field_for(parse_field_path(e.field)[0], form.fields, names), e.message)


def error_text(error: DomainError) -> str:
    """One sentence for a message: the error's own, then what its field errors say."""
    details = [e.message for e in error.errors if e.message and e.message != error.message]
    return " ".join([error.message, *details])


@dataclass(frozen=True)
class ServiceRows:
    """How an inline's rows appear in a service call as a list (`bookableHours`, `units`): the inline
    formset's `prefix`, the API's names of a row's fields mapped to the form's, whether rows marked for
    deletion are in the list (services that delete rows one by one) and, for one formset split into two
    lists, the form field and value (`where`) that choose its rows. The admin builds its service call from
    `forms()` and the errors of the list's row n go to the n-th of these forms."""

    prefix: str
    fields: Mapping[str, str] = field(default_factory=dict)
    with_deleted: bool = False
    where: tuple[str, Any] | None = None

    def forms(self, formset: BaseFormSet) -> list[ModelForm]:
        rows = []
        for form in formset.forms:
            data = getattr(form, "cleaned_data", None)
            if not data:
                continue  # an extra row left empty
            deleted = self.deleted(formset, form)
            if deleted and (not self.with_deleted or form.instance._state.adding):
                continue
            if self.where is not None and data.get(self.where[0]) != self.where[1]:
                continue
            rows.append(form)
        return rows

    @staticmethod
    def deleted(formset: BaseFormSet, form: ModelForm) -> bool:
        # Django's own test for a row marked for deletion; private, so not in django-stubs.
        return formset.can_delete and formset._should_delete_form(form)  # type: ignore[attr-defined]


def form_values(obj: Model, form: forms.BaseForm | None, names: Iterable[str]) -> dict[str, Any]:
    """The cleaned values of the form's fields among `names` (read-only ones are not in the form); without
    a form, the object's own values."""
    if form is None:
        return {name: getattr(obj, name) for name in names}
    return {name: form.cleaned_data[name] for name in names if name in form.cleaned_data}


def row_id(form: forms.ModelForm) -> Any:
    """The id of an inline row that exists, None for a new one (ids are made before the first save)."""
    return None if form.instance._state.adding else form.instance.pk


def adopt(obj: Model, saved: Model) -> None:
    """Make the admin's unsaved object the row a service saved (its id, for the redirect and the log)."""
    if saved is obj:
        return
    for model_field in obj._meta.concrete_fields:
        setattr(obj, model_field.attname, getattr(saved, model_field.attname))
    obj._state.adding, obj._state.db = False, saved._state.db


# Where the first attempt's error waits for the second rendering of the same POST.
SERVICE_ERROR = "_allot_service_error"
# Set when a delete service archived the object instead (it is still referred to).
ARCHIVED = "_allot_archived_not_deleted"

ModelT = TypeVar("ModelT", bound=Model)


class ServiceAdminMixin(Generic[ModelT]):
    """For an OrgScopedAdmin whose writes go through a service (docs/architecture.md#every-write-through-a-service).

    The admin says how: `service_save(request, obj, form, formsets, change)` calls the create or update
    service with the form's cleaned data and its inline rows (`formsets` by prefix; `form` is None when
    code calls save_model outside the change page) and returns the saved object;
    `service_delete(request, obj)` calls the delete (or archive) service.

    A service's domain error never becomes a 500: Django's transaction around the page rolls the attempt
    back, and the page is built again from the same POST with the error at the fields it names
    (`service_fields` maps API names to form fields where the generic rule of form_field_for does not
    fit; `service_rows` places row errors at inline rows); unknown fields become errors of the whole
    form. A refused delete is shown as a message on the object's page.
    """

    service_fields: Mapping[str, str] = {}
    service_rows: Mapping[str, ServiceRows] = {}
    # Inline prefixes the service writes; other inlines are saved by Django (save_formset).
    service_inlines: tuple[str, ...] = ()

    def service_save(
        self, request, obj: ModelT, form: forms.ModelForm | None, formsets: Mapping[str, BaseFormSet], change: bool
    ) -> ModelT:
        raise NotImplementedError

    def service_delete(self, request, obj: ModelT) -> ModelT | None:
        """Delete through the service; the object when the service archived it instead (still referenced)."""
        raise NotImplementedError

    # --- Django's hooks: the change page saves in save_related, where the inline rows are known ---
    def save_model(self, request, obj, form, change):
        self.check_may_save(request, obj)
        if form is None:
            adopt(obj, self.service_save(request, obj, None, {}, change))

    def save_related(self, request, form, formsets, change):
        handled = {fs.prefix: fs for fs in formsets if fs.prefix in self.service_inlines}
        for formset in handled.values():
            formset.save(commit=False)  # only fills new/changed/deleted_objects for the change message
        adopt(form.instance, self.service_save(request, form.instance, form, handled, change))
        for formset in formsets:
            if formset.prefix not in handled:
                self.save_formset(request, form, formset, change)

    def delete_model(self, request, obj):
        if self.service_delete(request, obj) is not None:
            setattr(request, ARCHIVED, True)

    def response_delete(self, request, obj_display, obj_id):
        if not getattr(request, ARCHIVED, False):
            return super().response_delete(request, obj_display, obj_id)
        self.message_user(
            request, f"“{obj_display}” is still referred to, so it was archived instead of deleted.", messages.WARNING
        )
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj_id], current_app=self.admin_site.name)
        )

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.service_delete(request, obj)

    # --- a service's error, shown on the page ---
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            # The attempt rolled back with the page's transaction; build the page again from the same
            # POST, whose validation now adds the service's errors (get_form, get_formsets_with_inlines).
            setattr(request, SERVICE_ERROR, error)
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:  # the error found no field that stops the save: say it, keep nothing
            self.message_user(request, error_text(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as error:
            self.message_user(request, error_text(error), messages.ERROR)
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_change",
                    args=[object_id],
                    current_app=self.admin_site.name,
                )
            )

    def response_action(self, request, queryset, *args, **kwargs):
        # *args/**kwargs: django-stubs describe a later Django, whose response_action takes more arguments.
        try:
            with transaction.atomic(using=router.db_for_write(self.model)):
                return super().response_action(request, queryset, *args, **kwargs)
        except DomainError as error:
            self.message_user(request, error_text(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        error = getattr(request, SERVICE_ERROR, None)
        if error is None:
            return form_class
        placed = [e for e in _field_errors(error) if parse_field_path(e.field)[0] not in self.service_rows]
        names = self.service_fields

        class ServiceErrorForm(form_class):
            def clean(self) -> dict[str, Any]:
                cleaned = super().clean()
                for e in placed:
                    self.add_error(form_field_for(parse_field_path(e.field)[0], self.fields, names), e.message)
                return cleaned

        ServiceErrorForm.__name__ = form_class.__name__
        return ServiceErrorForm

    def get_formsets_with_inlines(self, request, obj=None):
        error = getattr(request, SERVICE_ERROR, None)
        for formset_class, inline in super().get_formsets_with_inlines(request, obj):
            if error is not None:
                formset_class = _with_row_errors(formset_class, error, self.service_rows)
            yield formset_class, inline


def _field_errors(error: DomainError) -> list[FieldError]:
    return error.errors or [FieldError("", error.code, error.message)]


def _with_row_errors(formset_class, error: DomainError, rows: Mapping[str, ServiceRows]):
    """The formset class, adding the error's row errors to its rows when it is validated."""
    by_list: dict[str, list[tuple[int | None, str | None, str]]] = {}
    for e in _field_errors(error):
        name, index, row_field = parse_field_path(e.field)
        if name in rows:
            by_list.setdefault(name, []).append((index, row_field, e.message))

    class ServiceErrorFormSet(formset_class):
        def clean(self) -> None:
            super().clean()
            unplaced = []
            for name, found in by_list.items():
                spec = rows[name]
                if spec.prefix != self.prefix:
                    continue
                row_forms = spec.forms(self)
                for index, row_field, message in found:
                    if index is None or index >= len(row_forms):
                        unplaced.append(message)
                        continue
                    form = row_forms[index]
                    if spec.deleted(self, form):  # a deleted row's errors would not stop the save
                        unplaced.append(f"{form.instance}: {message}")
                        continue
                    target = form_field_for(row_field or "", form.fields, spec.fields) if row_field else None
                    form.add_error(target, message)
            if unplaced:
                raise ValidationError(unplaced)

    ServiceErrorFormSet.__name__ = formset_class.__name__
    return ServiceErrorFormSet
