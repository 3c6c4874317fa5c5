import re

import pytest
from django.test import Client


@pytest.mark.django_db
def test_swagger_ui_renders_from_local_files_only():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui" in a and a.startswith("/static/drf_spectacular_sidecar/") for a in assets), assets
    assert not [a for a in assets if a.startswith(("http://", "https://", "//"))], assets


@pytest.mark.django_db
def test_schema_is_served_as_openapi_3():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/bookings/submit" in schema["paths"]
