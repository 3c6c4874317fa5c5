"""Imports into the admin's lists (docs/architecture.md#imports): upload a CSV or XLSX for one of the user's
organizations, see every row with its errors, confirm, and the rows are created through the model's service,
all in one transaction or none.

The preview and the confirmation run the same code: every row is checked for its shape (a form), for the
import's own rules (duplicates) and by calling the service, inside a transaction that the preview always rolls
back and the confirmation commits only when no row has an error. So the preview shows what the services
would say, and the confirmation trusts nothing the preview saw: it checks everything again.

Between the two pages the rows travel in the confirmation form, signed (django.core.signing, with the user,
the organization and the model in the signed data, for an hour): a changed or foreign payload is refused.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.models import ADDITION, LogEntry
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import Field, Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.api.errors import DRF_CODES
from core.errors import DomainError, FieldError, ValidationFailed
from core.ids import as_uuid
from core.imports import MAX_BYTES, MAX_CELL_CHARS, MAX_ROWS, SourceRow, Table, file_error, read_table

from .admin_base import form_field_for, parse_field_path
from .models import Organization
from .permissions import request_allows, request_org_ids

logger = logging.getLogger(__name__)

SALT = "allot.admin.imports"
MAX_AGE_SECONDS = 60 * 60
# Room left in the confirmation's POST (limited by DATA_UPLOAD_MAX_MEMORY_SIZE) for the CSRF token and the rest.
PAYLOAD_MARGIN = 16 * 1024
# The list page with the "Import" button: an admin with the mixin sets it as its change_list_template.
CHANGE_LIST_TEMPLATE = "admin/allot_import_change_list.html"


@dataclass(frozen=True)
class ImportColumn:
    name: str
    help: Any  # a lazy text
    required: bool = False


@dataclass(frozen=True)
class RowError:
    column: str  # "" when the row as a whole is at fault
    code: str
    message: str


@dataclass(frozen=True)
class RowResult:
    number: int
    values: list[str]  # in the order of the file's columns
    errors: list[RowError]


class Importer:
    """What one model's import needs: its columns, a form that checks a row's shape (its fields named as the
    columns), the import's own checks and the service call. `prepare` reads what every row needs (one or two
    queries) into a context the other steps share, and may add to as rows are created."""

    columns: tuple[ImportColumn, ...] = ()
    form_class: type[forms.Form] = forms.Form
    # A service's field name → the column, where form_field_for's rule (camelCase → snake_case) does not fit.
    service_fields: Mapping[str, str] = {}

    def prepare(self, organization: Organization) -> dict[str, Any]:
        return {}

    def lock(self, organization: Organization) -> None:
        """Lock, before any service call, what the services lock only after rows other writers lock first
        (docs/architecture.md#lock-order). Nothing, unless the model's services need it."""

    def form(self, values: Mapping[str, str], context: dict[str, Any]) -> forms.Form:
        return self.form_class(data=values)

    def check(self, cleaned: dict[str, Any], context: dict[str, Any]) -> list[FieldError]:
        """Errors of the import's own rules (a duplicate within the file or of a stored row)."""
        return []

    def save(self, organization: Organization, cleaned: dict[str, Any], context: dict[str, Any]) -> Model:
        """Create the row through its service; a DomainError is the row's error. The service runs in its own
        atomic block (a savepoint), so a row the database still refuses leaves the transaction usable."""
        raise NotImplementedError

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def column_length(model: type[Model], name: str) -> int:
    """The most characters `model`'s column `name` holds: its max_length (a form's EmailField takes 320, the
    column 254; longer is the row's MAX_LENGTH, not PostgreSQL's DataError), or for a text column without one,
    as many as a cell may hold."""
    field = model._meta.get_field(name)
    assert isinstance(field, Field)
    return field.max_length or MAX_CELL_CHARS


class BooleanCell(forms.Field):
    """true/false, yes/no or 1/0 in any case; empty is None (the service's default). Anything else is INVALID,
    never quietly the default."""

    TRUE, FALSE = {"true", "yes", "1"}, {"false", "no", "0"}

    def to_python(self, value: Any) -> bool | None:
        text = str(value or "").strip().lower()
        if not text:
            return None
        if text in self.TRUE | self.FALSE:
            return text in self.TRUE
        raise ValidationError(_("Use true or false."), code="invalid")


# --- checking and writing ---------------------------------------------------------------------------------


def run_import(
    importer: Importer,
    organization: Organization,
    table: Table,
    *,
    label: str,
    commit: bool,
    created: Callable[[list[Model]], None] | None = None,
) -> list[RowResult]:
    """Check (and create) every row of a `label` (the model's) import in one transaction, kept only when `commit`
    and no row has an error; then, in the same transaction, `created` is given the new rows (the admin's history
    records them).

    A confirmation first takes the import's own lock (serialize_confirmations), so two confirmations into one
    organization (a double click) run one after the other and the second sees the first's rows as duplicates.
    Then, preview or not, the importer locks what its services lock in an order of their own (a resource
    import: the organization's venues, before config_changed updates the organization)."""
    with transaction.atomic():
        if commit:
            serialize_confirmations(organization, label)
        importer.lock(organization)
        context = importer.prepare(organization)
        saved: list[Model] = []
        results = [_run_row(importer, organization, table.columns, row, context, saved) for row in table.rows]
        if not commit or any(r.errors for r in results):
            transaction.set_rollback(True)
        elif created is not None:
            created(saved)
    return results


def serialize_confirmations(organization: Organization, label: str) -> None:
    """Wait, until this transaction ends, for any other confirmation of a `label` import into `organization`.

    A transaction-level advisory lock on PostgreSQL (PgBouncer's transaction pooling keeps it: it ends with the
    transaction), not the organization's row: the services update that row last, after the venues they lock,
    so locking it first would be the reverse order (a deadlock with venue_update). SQLite needs nothing: its
    IMMEDIATE transactions serialize every writer."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b(f"{SALT}:{organization.pk}:{label}".encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])


def _run_row(
    importer: Importer,
    organization: Organization,
    columns: list[str],
    row: SourceRow,
    context: dict[str, Any],
    saved: list[Model],
) -> RowResult:
    errors = [RowError(e.field, e.code, e.message) for e in row.errors]
    form = importer.form(row.values, context)
    if not form.is_valid():
        errors += _form_errors(form)
    else:
        found = importer.check(form.cleaned_data, context)
        if not found and not errors:
            try:
                saved.append(importer.save(organization, form.cleaned_data, context))
            except DomainError as error:
                found = error.errors or [FieldError("", error.code, error.message)]
            except (DataError, IntegrityError):
                # The form checks what the columns hold; this is a last resort, never a 500.
                logger.warning("An import row was refused by the database", exc_info=True)
                found = [FieldError("", "INVALID", str(_("The database refused this row.")))]
        errors += [_service_error(importer, e) for e in found]
    return RowResult(number=row.number, values=[row.values[c] for c in columns], errors=errors)


def _form_errors(form: forms.Form) -> list[RowError]:
    found = []
    for name, errors in form.errors.as_data().items():
        for error in errors:
            for message in error.messages:
                code = error.code or "invalid"
                code = DRF_CODES.get(code, code.upper())
                found.append(RowError("" if name == "__all__" else name, code, message))
    return found


def _service_error(importer: Importer, error: FieldError) -> RowError:
    column = form_field_for(parse_field_path(error.field)[0], importer.column_names, importer.service_fields)
    return RowError(column or "", error.code, error.message)


# --- the rows between preview and confirmation ------------------------------------------------------------


def sign_table(request: HttpRequest, label: str, organization: Organization, table: Table) -> str:
    rows = [[row.number, [row.values[c] for c in table.columns]] for row in table.rows]
    data = {"u": str(request.user.pk), "m": label, "o": str(organization.pk), "c": table.columns, "r": rows}
    return signing.dumps(data, salt=SALT, compress=True)


def unsign_table(request: HttpRequest, label: str, token: str) -> tuple[UUID | None, Table]:
    """(organization id, table) of a payload this user signed for this model within the hour; BadSignature
    (or its SignatureExpired) otherwise."""
    data = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
    if data.get("u") != str(request.user.pk) or data.get("m") != label:
        raise signing.BadSignature("Signed for another user or list.")
    columns = data["c"]
    rows = [SourceRow(number=n, values=dict(zip(columns, cells, strict=True))) for n, cells in data["r"]]
    return as_uuid(data["o"]), Table(columns=columns, rows=rows)


# --- the pages --------------------------------------------------------------------------------------------


class ImportUploadForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none(), label=_("Organization"))
    file = forms.FileField(
        label=_("File"),
        allow_empty_file=True,  # core.imports says EMPTY, like any other file it cannot import
        help_text=format_lazy(
            _("CSV (UTF-8, comma or semicolon) or XLSX (its first sheet), at most {mb} MB and {rows} rows."),
            mb=MAX_BYTES // (1024 * 1024),
            rows=f"{MAX_ROWS:,}",
        ),
    )

    def __init__(self, *args: Any, org_ids: list[Any] | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["organization"]
        assert isinstance(field, forms.ModelChoiceField)
        queryset = Organization.objects.order_by("name")
        field.queryset = queryset if org_ids is None else queryset.filter(pk__in=org_ids)
        if org_ids is not None and len(org_ids) == 1:
            field.initial = org_ids[0]


class ImportAdminMixin:
    """Mix into an OrgScopedAdmin and set `importer` and `change_list_template = CHANGE_LIST_TEMPLATE`. Adds an
    "Import" button to the list and its two pages; whoever may add the model (the admin's `change_action` role)
    in an organization may import into it."""

    importer: Importer

    # Provided by ModelAdmin and OrgScopedMixin.
    model: type[Model]
    admin_site: Any
    change_action: str

    has_add_permission: Callable[..., bool]

    def _url(self, name: str) -> str:
        return reverse(f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_{name}")

    def get_urls(self) -> list[Any]:
        view, info = self.admin_site.admin_view, f"{self.model._meta.app_label}_{self.model._meta.model_name}"
        return [
            path("import/", view(self.import_view), name=f"{info}_import"),
            path("import/confirm/", view(self.import_confirm_view), name=f"{info}_import_confirm"),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if self.has_add_permission(request):
            extra_context = {**(extra_context or {}), "import_url": self._url("import")}
        return super().changelist_view(request, extra_context)  # type: ignore[misc]

    def _require_import(self, request: HttpRequest) -> None:
        if not self.has_add_permission(request):
            raise PermissionDenied

    def import_view(self, request: HttpRequest) -> HttpResponse:
        self._require_import(request)
        org_ids = request_org_ids(request, self.change_action)
        form = ImportUploadForm(request.POST or None, request.FILES or None, org_ids=org_ids)
        if request.method == "POST" and form.is_valid():
            organization = form.cleaned_data["organization"]
            try:
                table = self._read(form.cleaned_data["file"])
                results = run_import(self.importer, organization, table, label=self.model._meta.label, commit=False)
                payload = "" if any(r.errors for r in results) else self._sign(request, organization, table)
            except ValidationFailed as error:
                for e in error.errors:
                    form.add_error("file", ValidationError(e.message, code=e.code))
            else:
                return self._preview(request, organization, table, results, payload)
        return self._render(request, "admin/allot_import.html", {"form": form, "columns": self.importer.columns})

    def _read(self, upload: Any) -> Table:
        if upload.size > MAX_BYTES:
            raise file_error("TOO_LARGE", _("The file is larger than %(mb)d MB.") % {"mb": MAX_BYTES >> 20})
        required = [c.name for c in self.importer.columns if c.required]
        return read_table(upload.read(), upload.name or "", columns=self.importer.column_names, required=required)

    def _sign(self, request: HttpRequest, organization: Organization, table: Table) -> str:
        """The rows for the confirmation form, which must stay under Django's limit on a form's size."""
        payload = sign_table(request, self.model._meta.label, organization, table)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and len(payload) > limit - PAYLOAD_MARGIN:
            raise file_error("TOO_LARGE", _("The file holds more than one confirmation can carry: split it."))
        return payload

    def import_confirm_view(self, request: HttpRequest) -> HttpResponse:
        self._require_import(request)
        if request.method != "POST":
            return HttpResponseRedirect(self._url("import"))
        try:
            org_id, table = unsign_table(request, self.model._meta.label, request.POST.get("payload", ""))
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            messages.error(request, _("This import could not be confirmed (changed, or older than an hour)."))
            form = ImportUploadForm(org_ids=request_org_ids(request, self.change_action))
            context = {"form": form, "columns": self.importer.columns}
            return self._render(request, "admin/allot_import.html", context, status=400)
        if not request_allows(request, org_id, self.change_action):
            raise PermissionDenied
        organization = get_object_or_404(Organization, pk=org_id)
        results = run_import(
            self.importer,
            organization,
            table,
            label=self.model._meta.label,
            commit=True,
            created=lambda rows: self._log_added(request, rows),
        )
        if any(r.errors for r in results):
            messages.error(request, _("Nothing was imported: some rows no longer pass."))
            return self._preview(request, organization, table, results, payload="")
        count = len(results)
        messages.success(
            request,
            ngettext("Imported %(count)d %(name)s.", "Imported %(count)d %(plural)s.", count)
            % {"count": count, "name": self.model._meta.verbose_name, "plural": self.model._meta.verbose_name_plural},
        )
        return HttpResponseRedirect(self._url("changelist"))

    def _log_added(self, request: HttpRequest, rows: list[Model]) -> None:
        """The admin's history of each new row, as the add page writes it, in one query."""
        message: list[Any] = [{"added": {}}]
        assert request.user.pk is not None  # the admin's pages are signed in
        LogEntry.objects.log_actions(request.user.pk, rows, ADDITION, change_message=message)

    def _preview(
        self,
        request: HttpRequest,
        organization: Organization,
        table: Table,
        results: Sequence[RowResult],
        payload: str,
    ) -> HttpResponse:
        failing = sum(1 for r in results if r.errors)
        rows = [
            {
                "number": r.number,
                "cells": [(v, c in {e.column for e in r.errors}) for c, v in zip(table.columns, r.values, strict=True)],
                "errors": r.errors,
            }
            for r in results
        ]
        context = {
            "organization": organization,
            "columns": table.columns,
            "rows": rows,
            "total": len(results),
            "failing": failing,
            "payload": payload if not failing else "",
        }
        return self._render(request, "admin/allot_import_preview.html", context)

    def _render(self, request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
        opts = self.model._meta
        base = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "name": opts.verbose_name,
            "title": _("Import %(plural)s") % {"plural": opts.verbose_name_plural},
            "back_url": self._url("changelist"),
            "import_url": self._url("import"),
            "confirm_url": self._url("import_confirm"),
        }
        return TemplateResponse(request, template, {**base, **context}, status=status)
