"""Importing resources in the admin (docs/architecture.md#imports): one row per resource, at a venue of the
organization named in the `venue` column, created by resources.services.resource_create."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from core.errors import FieldError

from . import services
from .admin_base import PlainTextFormField
from .admin_imports import BooleanCell, ImportColumn, Importer, column_length
from .models import Organization, Resource, ResourceKind, Venue

# The largest value a PositiveIntegerField holds on every database we run on.
MAX_INT = 2_147_483_647
KINDS = ", ".join(ResourceKind.values)


def _count(minimum: int) -> forms.IntegerField:
    return forms.IntegerField(required=False, min_value=minimum, max_value=MAX_INT)


class ResourceRowForm(forms.Form):
    venue = forms.CharField(max_length=column_length(Venue, "name"))
    name = PlainTextFormField(max_length=column_length(Resource, "name"))
    kind = forms.CharField(max_length=column_length(Resource, "kind"), required=False)
    description = forms.CharField(max_length=column_length(Resource, "description"), required=False)
    capacity = _count(1)
    exclusive = BooleanCell(required=False)
    requires_approval = BooleanCell(required=False)
    archived = BooleanCell(required=False)
    min_duration_minutes = _count(0)
    max_duration_minutes = _count(0)
    min_notice_minutes = _count(0)
    max_advance_days = _count(0)
    buffer_minutes = _count(0)

    def __init__(self, *args: Any, venues: dict[str, list[Venue]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.venues = venues

    def clean_venue(self) -> Venue:
        name = self.cleaned_data["venue"]
        found = self.venues.get(name.lower(), [])
        if not found:
            message = _("No venue “%(name)s” in this organization.") % {"name": name}
            raise ValidationError(message, code="does_not_exist")
        if len(found) > 1:
            raise ValidationError(_("Two venues are called “%(name)s”.") % {"name": name}, code="AMBIGUOUS")
        return found[0]

    def clean_kind(self) -> str:
        kind = self.cleaned_data["kind"].lower().replace(" ", "_")
        if not kind:
            return ResourceKind.ROOM
        if kind not in ResourceKind.values:
            raise ValidationError(_("Use one of: %(kinds)s.") % {"kinds": KINDS}, code="invalid_choice")
        return kind


class ResourceImporter(Importer):
    columns = (
        ImportColumn("venue", _("The name of a venue of the organization."), required=True),
        ImportColumn("name", _("Plain text; unique at its venue."), required=True),
        ImportColumn("kind", format_lazy(_("One of {kinds}; empty: room."), kinds=KINDS)),
        ImportColumn("description", _("Basic HTML, sanitized.")),
        ImportColumn("capacity", _("A whole number, at least 1; empty: 1.")),
        ImportColumn("exclusive", _("true or false (also yes/no, 1/0); empty: true.")),
        ImportColumn("requires_approval", _("true or false; empty: true.")),
        ImportColumn("archived", _("true or false; empty: false.")),
        ImportColumn("min_duration_minutes", _("Minutes; empty: no limit.")),
        ImportColumn("max_duration_minutes", _("Minutes; empty: no limit.")),
        ImportColumn("min_notice_minutes", _("Minutes; empty: 0.")),
        ImportColumn("max_advance_days", _("Days; empty: no limit.")),
        ImportColumn("buffer_minutes", _("Minutes kept free after each booking; empty: 0.")),
    )
    form_class = ResourceRowForm

    def lock(self, organization: Organization) -> None:
        # resource_create inserts under its venue (FOR KEY SHARE) then updates the organization (config_changed);
        # venue_update locks its venue FOR UPDATE then updates the organization. Holding every venue first, in id
        # order, keeps one order for both: venues, then the organization.
        list(Venue.objects.select_for_update().filter(organization=organization).order_by("pk").values_list("pk"))

    def prepare(self, organization: Organization) -> dict[str, Any]:
        venues: dict[str, list[Venue]] = {}
        for venue in Venue.objects.filter(organization=organization).select_related("organization"):
            venues.setdefault(venue.name.lower(), []).append(venue)
        taken = {
            (venue_id, name.lower())
            for venue_id, name in Resource.objects.filter(venue__organization=organization).values_list(
                "venue_id", "name"
            )
        }
        return {"venues": venues, "taken": taken}

    def form(self, values: Any, context: dict[str, Any]) -> forms.Form:
        return ResourceRowForm(data=values, venues=context["venues"])

    def check(self, cleaned: dict[str, Any], context: dict[str, Any]) -> list[FieldError]:
        if (cleaned["venue"].pk, cleaned["name"].lower()) in context["taken"]:
            message = _("%(venue)s already has a resource “%(name)s”.") % {
                "venue": cleaned["venue"].name,
                "name": cleaned["name"],
            }
            return [FieldError("name", "DUPLICATE", str(message))]
        return []

    def save(self, organization: Organization, cleaned: dict[str, Any], context: dict[str, Any]) -> Resource:
        given = {key: value for key, value in cleaned.items() if value is not None and value != ""}
        given.pop("venue")
        for key in ("min_duration_minutes", "max_duration_minutes", "max_advance_days"):
            given.setdefault(key, None)
        resource = services.resource_create(venue=cleaned["venue"], **given)
        context["taken"].add((cleaned["venue"].pk, cleaned["name"].lower()))
        return resource
