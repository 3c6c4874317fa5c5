"""An import in a real browser (docs/architecture.md#imports): the list's Import button, the upload, a preview
with a failing row (nothing can be confirmed), the corrected file, its preview and the confirmation. Screenshots
of the upload page and both previews go to artifacts/screenshots/import-*.png."""

from __future__ import annotations

from resources.models import Resource, Role
from tests.conftest import Setup
from tests.factories import MembershipFactory, UserFactory, VenueFactory

from .conftest import screenshot

HEADER = "venue,name,kind,capacity,exclusive,min_duration_minutes,max_duration_minutes\n"
GOOD = "Main hall,Studio A,room,12,no,,\nMain hall,Hot desks,desk,8,false,30,240\nMain hall,Board room,,14,yes,,\n"
BAD = "Annex,Garden,room,0,maybe,,\nMain hall,Long room,room,10,yes,120,60\n"


def _upload(page, path) -> None:
    page.set_input_files("#id_file", str(path))
    with page.expect_navigation():
        page.click("input[type=submit][value=Preview]")


def test_an_admin_imports_resources_after_a_preview(page, admin_login, live_server, tmp_path):
    setup = Setup()
    VenueFactory(organization=setup.org, name="Main hall")
    user = UserFactory(username="importer")
    MembershipFactory(user=user, organization=setup.org, role=Role.ADMIN)
    bad, good = tmp_path / "resources-bad.csv", tmp_path / "resources.csv"
    bad.write_text(HEADER + GOOD + BAD)
    good.write_text(HEADER + GOOD)

    admin_login("importer", "pw-123456")
    page.goto("/admin/resources/resource/")
    page.click("[data-testid=import]")
    screenshot(page, "import-upload")
    _upload(page, bad)

    preview = page.locator("[data-testid=preview]")
    assert page.locator("[data-testid=errors]").is_visible()
    assert "No venue “Annex” in this organization." in preview.locator("[data-testid=row-5]").inner_text()
    assert "(INVALID)" in preview.locator("[data-testid=row-6]").inner_text()
    assert page.locator("[data-testid=confirm]").count() == 0
    screenshot(page, "import-preview-errors")

    page.click("text=Upload a file again")
    _upload(page, good)
    assert page.locator("[data-testid=ready]").is_visible()
    screenshot(page, "import-preview")
    with page.expect_navigation():
        page.click("[data-testid=confirm]")

    assert "Imported 3 resources." in page.locator(".messagelist").inner_text()
    assert sorted(Resource.objects.filter(venue__name="Main hall").values_list("name", flat=True)) == [
        "Board room",
        "Hot desks",
        "Studio A",
    ]
