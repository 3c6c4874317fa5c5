"""The helpers of the configuration admin tests (test_config_admin*.py, and the admin tests of services,
units, prices and charges): admin urls, a change form's data with its inlines, what a page lists, and the
roles in order."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

from resources.models import Role

# --- helpers -------------------------------------------------------------------------------------------


def url(app_model: str, view: str, obj: Any = None) -> str:
    app, model = app_model.split(".")
    return reverse(f"admin:{app}_{model}_{view}", args=[obj.pk] if obj is not None else None)


def form_data(response) -> dict[str, Any]:
    """The POST a browser would send for the page as rendered: the main form, every inline row and the
    management forms (unchecked boxes left out, as browsers do)."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data: dict[str, Any] = {"_save": "Save"}
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            data[form[name].html_name] = "on" if value is True else value
    return data


def inline_rows(response, prefix: str) -> list:
    return next(i.formset for i in response.context["inline_admin_formsets"] if i.formset.prefix == prefix).forms


def add_rows(data: dict[str, Any], prefix: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Append new inline rows to a form_data() dict."""
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    for offset, row in enumerate(rows):
        for key, value in row.items():
            if value is not None and value is not False:
                data[f"{prefix}-{total + offset}-{key}"] = "on" if value is True else value
    data[f"{prefix}-TOTAL_FORMS"] = str(total + len(rows))
    return data


def changelist_names(response) -> set[str]:
    return {str(obj) for obj in response.context["cl"].result_list}


def autocomplete_ids(client: Client, app_label: str, model_name: str, field_name: str, term: str = "") -> set[str]:
    response = client.get(
        "/admin/autocomplete/",
        {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": term},
    )
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def has_save_button(response) -> bool:
    return b'name="_save"' in response.content


ROLES = [Role.VIEWER, Role.MANAGER, Role.ADMIN, Role.OWNER]
