"""XSS (never echo raw HTML: docs/adr/0011-nh3-for-html-sanitizing.md): 33 payloads (script tags, event-handler
attributes, javascript: URLs, SVG, iframes, styles, objects, encoded, upper-case and broken tags, mutation tricks) put
into every text a booker or an admin can write, then read back everywhere the API shows them: nothing executable comes
back. requestNote and the admin's descriptions are basic HTML (sanitized with nh3: harmless formatting and http(s) links
stay); titles, names and custom answers are plain text (no markup at all).

"Executable", checked case-insensitively on every string of every JSON response: a `<script`, an `on…=`
attribute inside a tag (even an unclosed one: whatever the text is pasted before closes it), a
`javascript:`/`vbscript:`/`data:` URL in an attribute, or an svg/iframe/style/object/embed/... tag."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bookings.lifecycle.decide import booking_approve
from bookings.models import FieldType, FormSection
from resources.models import Role
from tests.attack.payloads import CLASSIC
from tests.conftest import future
from tests.factories import FormFieldFactory

# The classic 33, shared with the browser checks of tests/attack/ (which add 59 more with markers).
PAYLOADS = CLASSIC
assert len(PAYLOADS) >= 30

EXECUTABLE = {
    "script tag": re.compile(r"<\s*script", re.I),
    "event handler in a tag": re.compile(r"<[a-z!/?][^>]*?[\s/\"'`]on[a-z]+\s*=", re.I),
    "script URL in an attribute": re.compile(
        r"\b(?:href|src|action|formaction|data|srcdoc|xlink:href)\s*=\s*"
        r"[\"'`]?\s*(?:javascript|vbscript|data):",
        re.I,
    ),
    "dangerous tag": re.compile(
        r"<\s*(?:svg|iframe|style|object|embed|math|img|input|form|base|link|meta|body|"
        r"details|video|audio|frame|frameset|applet|template)\b",
        re.I,
    ),
}
HREF = re.compile(r"\bhref\s*=\s*[\"']?([^\"'\s>]*)", re.I)


def strings(value) -> list[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings(v)]]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return [value] if isinstance(value, str) else []


def assert_nothing_executable(body, where: str) -> None:
    for text in strings(body):
        for name, pattern in EXECUTABLE.items():
            assert not pattern.search(text), f"{where}: {name} in {text!r}"
        for url in HREF.findall(text):
            assert re.match(r"(?:https?|mailto):", url, re.I), f"{where}: link to {url!r} in {text!r}"


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    return response.json()


FORMATTING = '<p>Please <strong>keep</strong> <em>this</em>: <a href="https://example.org/plan">the plan</a></p>'


@pytest.fixture
def fields(setup):
    """A text contact question and a paragraph event question on setup's module."""
    return (
        FormFieldFactory(module=setup.module, section=FormSection.CONTACT, label="Company", type=FieldType.TEXT),
        FormFieldFactory(module=setup.module, section=FormSection.EVENT, label="Notes", type=FieldType.TEXTAREA),
    )


def submit_with(setup, fields, payload: str) -> dict:
    company, notes = fields
    event = setup.event(future(7, 10), title=f"Rehearsal {payload}")
    event[str(notes.pk)] = f"Line one {payload}\nline two"
    return {
        "orgId": str(setup.org.pk),
        "bookingModuleId": str(setup.module.pk),
        "portalId": str(setup.portal.pk),
        "title": f"Concert {payload} night",
        "contact": {
            "name": f"Ada {payload} Lovelace",
            "email": "ada@example.com",
            str(company.pk): f"Analytical {payload} Engines",
        },
        "event": event,
        "requestNote": FORMATTING + payload,
    }


@pytest.mark.parametrize("payload", PAYLOADS, ids=[f"p{i:02d}" for i in range(len(PAYLOADS))])
def test_a_submission_comes_back_with_nothing_executable(payload, api, setup, fields):
    submitted = ok(api.public.post("/api/v1/bookings/submit", submit_with(setup, fields, payload), format="json"), 201)
    assert_nothing_executable(submitted, "submit response")
    booking = submitted["booking"]
    pk = booking["id"]

    # The harmless formatting of the note survives; the text around the payload stays in plain fields.
    note = booking["requestNote"]
    assert "<strong>keep</strong>" in note and "<em>this</em>" in note and "<p>" in note, note
    assert 'href="https://example.org/plan"' in note, note
    assert booking["title"].startswith("Concert") and booking["contact"]["name"].startswith("Ada")
    company, notes = (str(f.pk) for f in fields)
    assert booking["contact"][company].startswith("Analytical")  # the answers were taken, cleaned
    assert booking["events"][0]["answers"][notes].startswith("Line one")
    assert booking["events"][0]["title"].startswith("Rehearsal")

    staff = api[Role.VIEWER]
    assert_nothing_executable(ok(staff.get(f"/api/v1/bookings/{pk}")), "GET /bookings/{id}")
    listed = ok(staff.get("/api/v1/bookings", {"returnEvents": "true"}))
    assert pk in listed["bookings"]
    assert_nothing_executable(listed, "GET /bookings?returnEvents=true")
    associated = [e for e in listed["associatedEvents"] if e["bookingId"] == pk]
    assert associated, "the request holds its slot with a tentative event"
    for event in associated:
        assert event["title"].startswith("Rehearsal")
        assert_nothing_executable(ok(staff.get(f"/api/v1/events/{event['id']}")), "GET /events/{id}")
    assert_nothing_executable(ok(staff.get("/api/v1/events")), "GET /events")
    assert_nothing_executable(ok(staff.get("/api/v1/contacts")), "GET /contacts")


@pytest.mark.parametrize("payload", PAYLOADS, ids=[f"p{i:02d}" for i in range(len(PAYLOADS))])
def test_a_change_request_comes_back_with_nothing_executable(payload, api, setup, fields):
    result = setup.submit(setup.event(future(7, 10)))
    booking_approve(booking_id=result.booking.pk, actor=setup.staff, client_last_updated_at=None)
    company, notes = fields
    start = future(7, 15)
    body = {
        "bookingId": str(result.booking.pk),
        "accessToken": result.access_token,
        "contact": {"name": f"Ada {payload} King", str(company.pk): f"Difference {payload} Engines"},
        "event": {
            "title": f"Moved {payload}",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            str(notes.pk): payload,
        },
        "requestNote": FORMATTING + payload,
    }
    created = ok(api.public.post("/api/v1/bookings/change-requests/submit", body, format="json"), 201)
    assert_nothing_executable(created, "change request submit")
    assert "<strong>keep</strong>" in created["changeRequest"]["requestNote"]
    pk = created["changeRequest"]["id"]
    staff = api[Role.VIEWER]
    assert_nothing_executable(ok(staff.get(f"/api/v1/booking-change-requests/{pk}")), "GET change request")
    assert_nothing_executable(ok(staff.get("/api/v1/booking-change-requests")), "GET change requests")
    approved = ok(api.manager.post(f"/api/v1/booking-change-requests/{pk}/approve", {}, format="json"))
    assert_nothing_executable(approved, "change request approve")


@pytest.mark.parametrize("payload", PAYLOADS, ids=[f"p{i:02d}" for i in range(len(PAYLOADS))])
def test_admin_texts_come_back_with_nothing_executable(payload, api, setup):
    """The module's about.description and terms and a resource's description (basic HTML), written through
    the admin endpoints and shown to the public by the published form."""
    module_url, resource_url = f"/api/v1/booking-modules/{setup.module.pk}", f"/api/v1/resources/{setup.room.pk}"
    html = FORMATTING + payload
    module = ok(api.admin.patch(module_url, {"about": {"description": html}, "config": {"terms": html}}, format="json"))
    resource = ok(api.admin.patch(resource_url, {"description": html}, format="json"))
    for body, where in ((module, "PATCH module"), (resource, "PATCH resource")):
        assert_nothing_executable(body, where)
    assert "<strong>keep</strong>" in module["about"]["description"]
    assert 'href="https://example.org/plan"' in module["config"]["terms"]
    assert "<strong>keep</strong>" in resource["description"]
    for url in (module_url, resource_url, f"/api/v1/public/booking-modules/{setup.module.pk}"):
        assert_nothing_executable(ok(api.viewer.get(url)), f"GET {url}")
    public = ok(api.public.get(f"/api/v1/public/booking-modules/{setup.module.pk}"))
    assert "<strong>keep</strong>" in public["about"]["description"]
    assert any("<strong>keep</strong>" in r["description"] for r in public["resources"])


@pytest.mark.parametrize("payload", PAYLOADS, ids=[f"p{i:02d}" for i in range(len(PAYLOADS))])
def test_events_written_by_staff_come_back_with_nothing_executable(payload, api, setup):
    """The events API: a plain-text title and an HTML description."""
    body = {
        "orgId": str(setup.org.pk),
        "title": f"Board {payload} meeting",
        "description": FORMATTING + payload,
        "start": future(9, 10).isoformat(),
        "end": future(9, 11).isoformat(),
        "resourceIds": [str(setup.room.pk)],
    }
    created = ok(api.manager.post("/api/v1/events", body, format="json"), 201)
    assert_nothing_executable(created, "POST /events")
    assert "<strong>keep</strong>" in created["description"]
    changed = ok(api.manager.patch(f"/api/v1/events/{created['id']}", {"title": f"Moved {payload}"}, format="json"))
    assert_nothing_executable(changed, "PATCH /events/{id}")
    assert_nothing_executable(ok(api.viewer.get("/api/v1/events")), "GET /events")


def test_the_checker_flags_what_it_should():
    """The checks themselves: each payload as is would be flagged (except the two inert encodings)."""
    inert = {"&lt;script&gt;alert(1)&lt;/script&gt;", "%3Cscript%3Ealert(1)%3C/script%3E"}
    for payload in PAYLOADS:
        if payload in inert:
            assert_nothing_executable([payload], "inert")
            continue
        with pytest.raises(AssertionError):
            assert_nothing_executable([payload], "raw")
    assert_nothing_executable([FORMATTING, "1 < 2 and 3 > 2", "x<y", "on=1 <b>"], "harmless")


def test_admin_entered_names_and_labels_lose_their_markup(api, setup):
    payload = "<img src=x onerror=alert(1)>Hall<script>alert(2)</script>"
    created = api.admin.post(
        "/api/v1/booking-modules",
        {
            "orgId": str(setup.org.pk),
            "name": payload,
            "about": {"title": payload},
            "bookingForm": {
                "contactFields": [],
                "eventFields": [
                    {"label": payload, "type": "select", "helpText": payload, "options": [payload, "Plain"]}
                ],
            },
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    text = created.content.decode().lower()
    assert "<img" not in text and "<script" not in text and "onerror" not in text
    portal = api.admin.post("/api/v1/portals", {"orgId": str(setup.org.pk), "name": payload}, format="json")
    assert portal.status_code == 201 and "<img" not in portal.content.decode().lower()
    contact = api.manager.post(
        "/api/v1/contacts", {"orgId": str(setup.org.pk), "name": payload, "email": "x@example.com"}, format="json"
    )
    assert contact.status_code == 201 and "<img" not in contact.content.decode().lower()
