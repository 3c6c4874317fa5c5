"""The public pages with the Django test client: portals (LIVE, DRAFT, password), the About page, the
availability calendar and the form's inputs, and what every page carries (CSP, no inline code)."""

import re
from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from bookings.lifecycle.decide import booking_approve
from bookings.models import PortalStatus
from events.models import EventStatus
from public.selectors import CellState, calendar_grid, portal_module
from tests.config.test_csp import directives
from tests.conftest import LONDON, future
from tests.factories import BookableHoursFactory, BookingModuleFactory, ClosureFactory, PortalFactory, ResourceFactory

from .site import PublicSite, local_input


def html(response) -> str:
    return response.content.decode()


def assert_no_inline_code(page: str) -> None:
    """What the Content-Security-Policy would block: inline scripts, event handlers, style attributes."""
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", page), "inline event handler"
    assert not re.search(r"\sstyle\s*=", page), "style attribute"


# --- portals -----------------------------------------------------------------------------------------


def test_a_live_portal_shows_its_name_description_and_modules(site, client):
    other = BookingModuleFactory(organization=site.org, name="Sports pitches", slug="pitches", portals=[site.portal])
    BookingModuleFactory(organization=site.org, name="Not on this portal", slug="hidden")

    response = client.get(site.portal_url)

    page = html(response)
    assert response.status_code == 200
    assert "<h1>Book our spaces</h1>" in page
    assert "Riverside Community Centre" in page  # the organization, in the header
    assert "Rooms for <em>everyone</em>." in page and "alert('portal')" not in page  # sanitized HTML
    assert f'href="{site.url()}"' in page and f'href="/p/{site.portal.slug}/{other.slug}/"' in page
    assert "Not on this portal" not in page
    assert_no_inline_code(page)


def test_every_public_page_carries_a_content_security_policy_without_inline_code(site, client):
    for url in (site.portal_url, site.url(), site.url("calendar"), site.url("book")):
        response = client.get(url)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert_no_inline_code(html(response))


def test_the_admin_and_swagger_ui_are_under_the_policy_too(client):
    # Their inline styles are allowed by hash (config/csp.py); tests/config/test_csp.py checks every page.
    for url in ("/admin/login/", "/api/docs/"):
        policy = client.get(url)["Content-Security-Policy"]
        # django-csp writes the directives in no fixed order: compare them, not the header's text.
        assert directives(policy)["script-src"] == ["'self'"] and "unsafe-inline" not in policy


@pytest.mark.parametrize("page", ["", "spaces/", "spaces/calendar/", "spaces/book/", "spaces/book/sent/"])
def test_a_draft_portal_answers_404_on_every_page(site, client, page):
    site.portal.status = PortalStatus.DRAFT
    site.portal.save()

    response = client.get(f"{site.portal_url}{page}")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "Page not found" in html(response) and "Rooms and hall" not in html(response)


def test_posting_to_a_draft_portal_stores_nothing(site, client):
    site.portal.status = PortalStatus.DRAFT
    site.portal.save()

    assert client.post(site.url("book"), site.post_data()).status_code == 404
    assert not site.module.bookings.exists()


def test_unknown_portals_and_modules_and_modules_of_other_portals_answer_404(site, client):
    elsewhere = PortalFactory(organization=site.org, slug="elsewhere")
    BookingModuleFactory(organization=site.org, slug="pitches", portals=[elsewhere])

    assert client.get("/p/no-such-portal/").status_code == 404
    assert client.get(f"{site.portal_url}no-such-module/").status_code == 404
    assert client.get(f"{site.portal_url}pitches/").status_code == 404
    assert client.get("/p/elsewhere/pitches/").status_code == 200


class TestPasswordPortal:
    @pytest.fixture
    def locked(self, site):
        site.portal.set_password("open sesame")
        site.portal.save()
        return site

    def test_every_page_asks_for_the_password_and_shows_nothing_else(self, locked, client):
        for url in (
            locked.portal_url,
            locked.url(),
            locked.url("calendar"),
            locked.url("book"),
            locked.url("book/sent"),
            f"{locked.portal_url}no-such-module/",
        ):
            response = client.get(url)
            page = html(response)
            assert response.status_code == 200
            assert 'type="password"' in page and 'name="csrfmiddlewaretoken"' in page
            assert "Rooms and hall" not in page and "Choir" not in page and "Room (up to" not in page

    def test_a_wrong_password_is_refused_next_to_the_field(self, locked, client):
        response = client.post(locked.portal_url, {"password": "guess", "next": locked.url("book")})

        page = html(response)
        assert "That password is not right." in page and 'aria-invalid="true"' in page
        assert client.get(locked.url()).status_code == 200 and 'type="password"' in html(client.get(locked.url()))

    def test_the_right_password_opens_the_portal_once_for_the_session(self, locked, client):
        response = client.post(locked.portal_url, {"password": "open sesame", "next": locked.url("calendar")})

        assert response.status_code == 302 and response["Location"] == locked.url("calendar")
        for url in (locked.portal_url, locked.url(), locked.url("calendar"), locked.url("book")):
            assert 'type="password"' not in html(client.get(url))
        assert client.post(locked.url("book"), locked.post_data()).status_code == 302
        assert locked.module.bookings.count() == 1

    def test_another_browser_still_needs_it_and_a_new_password_locks_everyone_out(
        self, locked, client, django_user_model
    ):
        from django.test import Client

        client.post(locked.portal_url, {"password": "open sesame"})
        assert 'type="password"' in html(Client().get(locked.url()))

        locked.portal.set_password("new secret")
        locked.portal.save()
        assert 'type="password"' in html(client.get(locked.url()))

    def test_password_guesses_are_throttled_like_submissions(self, locked, client, monkeypatch):
        from core.throttles import PublicSubmitThrottle

        monkeypatch.setattr(PublicSubmitThrottle, "rate", "2/minute", raising=False)
        for _ in range(2):
            assert client.post(locked.portal_url, {"password": "guess"}).status_code == 200
        response = client.post(locked.portal_url, {"password": "open sesame"})
        assert response.status_code == 429 and "Too many requests" in html(response)
        assert 'type="password"' in html(client.get(locked.url()))

    def test_after_the_password_it_only_redirects_inside_the_portal(self, locked, client):
        for evil in ("https://evil.example/", "//evil.example/", f"{locked.portal_url}..//\\evil.example"):
            response = client.post(locked.portal_url, {"password": "open sesame", "next": evil})
            assert response["Location"] == locked.portal_url


# --- the About page ---------------------------------------------------------------------------------


def test_the_about_page_shows_the_title_description_and_offered_resources(site, client):
    ResourceFactory(venue=site.venue, name="Old barn", archived=True)
    site.module.resources.add(ResourceFactory(venue=site.venue, name="Archived studio", archived=True))

    response = client.get(site.url())

    page = html(response)
    assert "<h1>Rooms and hall</h1>" in page
    assert "Requests are answered within a day." in page and "onerror" not in page
    for name, capacity in (("Room", 10), ("Hall", 100), ("Desks", 3)):
        assert f"<h3>{name}</h3>" in page and f"up to {capacity} people" in page
    assert "Quiet room with a <strong>view</strong>." in page and "alert('room')" not in page
    assert "Archived studio" not in page and "Old barn" not in page
    assert f'href="{site.url("book")}"' in page and f'href="{site.url("calendar")}"' in page


# --- the calendar -----------------------------------------------------------------------------------


def cell_of(grid, resource, moment: datetime):
    """The grid's cell of `resource` at the local wall-clock `moment`."""
    local = moment.astimezone(LONDON)
    minute = local.hour * 60 + local.minute
    for row, cells in grid.rows:
        if row.minute == minute:
            for column, cell in zip(grid.columns, cells, strict=True):
                if column.resource == resource and column.day == local.date():
                    return cell
    raise AssertionError(f"no cell for {resource} at {local}")


def grid_for(site, day: date, view: str = "day", resource=None, now=None):
    module = portal_module(site.portal, site.module.slug)
    return calendar_grid(module=module, view=view, day=day, resource_id=resource.pk if resource else None, now=now)


def test_the_day_view_links_each_free_slot_to_the_form_with_resource_and_times(site, client):
    start = future(3, 10)
    response = client.get(site.url("calendar"), {"date": start.date().isoformat()})

    page = html(response)
    link = (
        f"{site.url('book')}?resource={site.room.pk}&amp;start={local_input(start)}"
        f"&amp;end={local_input(start + timedelta(hours=1))}"
    )
    assert link in page
    assert all(f'<th scope="col">{name}</th>' in page for name in ("Room", "Hall", "Desks"))
    assert "Times are Europe/London time" in page

    prefilled = html(client.get(link.replace("&amp;", "&")))
    assert f'value="{local_input(start)}"' in prefilled
    assert f'value="{local_input(start + timedelta(hours=1))}"' in prefilled
    assert re.search(rf'value="{site.room.pk}" checked', prefilled)


def test_booked_and_requested_blocks_show_no_names_or_titles(site, client):
    approved = site.submit(site.event(start=future(3, 10), title="Secret board meeting"), name="Zelda Private").booking
    booking_approve(booking_id=approved.pk, actor=site.staff, client_last_updated_at=None)
    site.submit(site.event(start=future(3, 14), title="Hush-hush party"), name="Yuri Hidden", email="yuri@example.com")

    page = html(client.get(site.url("calendar"), {"date": future(3).date().isoformat(), "resource": site.room.pk}))

    assert page.count('cell-booked">Booked<') == 1 and page.count('cell-requested">Requested<') == 1
    for private in ("Secret board meeting", "Hush-hush party", "Zelda", "Yuri", "example.com"):
        assert private not in page
    grid = grid_for(site, future(3).date())
    assert cell_of(grid, site.room, future(3, 10)).state == CellState.BOOKED
    assert cell_of(grid, site.room, future(3, 14)).state == CellState.REQUESTED
    assert cell_of(grid, site.hall, future(3, 10)).state == CellState.FREE


def test_pending_requests_show_as_booked_unless_the_module_shows_them_as_requested(site):
    site.module.calendar_show_requested = False
    site.module.save()
    site.submit(site.event(start=future(3, 14)))

    assert cell_of(grid_for(site, future(3).date()), site.room, future(3, 14)).state == CellState.BOOKED


def test_a_shared_resource_is_booked_only_when_full(site):
    for email in ("a@example.com", "b@example.com"):
        site.submit(site.event(start=future(3, 10), resources=[site.desks]), email=email)
    grid = grid_for(site, future(3).date())
    assert cell_of(grid, site.desks, future(3, 10)).state == CellState.FREE  # 2 of 3 taken
    site.submit(site.event(start=future(3, 10), resources=[site.desks]), email="c@example.com")
    assert cell_of(grid_for(site, future(3).date()), site.desks, future(3, 10)).state != CellState.FREE


def test_closures_non_bookable_hours_past_times_and_short_notice_are_unavailable(site, client):
    closure = ClosureFactory(organization=site.org, start=future(3, 12), end=future(3, 14), message="Floor polishing")
    closure.resources.add(site.desks)
    BookableHoursFactory(resource=site.hall, weekday=future(3).weekday(), start_time=time(9), end_time=time(17))
    site.room.min_notice_minutes = 3 * 24 * 60
    site.room.save()
    now = future(0, 12)

    grid = grid_for(site, future(3).date(), now=now)
    state = {
        (r.name, h): cell_of(grid, r, future(3, h)).state
        for r in (site.room, site.hall, site.desks)
        for h in (8, 9, 11, 12, 13, 14, 16, 17)
    }
    assert state["Desks", 12] == state["Desks", 13] == CellState.CLOSED
    assert cell_of(grid, site.desks, future(3, 12)).note == "Floor polishing"
    assert state["Desks", 11] == state["Desks", 14] == CellState.FREE
    assert state["Hall", 8] == state["Hall", 17] == CellState.UNAVAILABLE  # outside its hours
    assert state["Hall", 9] == state["Hall", 16] == CellState.FREE
    assert state["Room", 11] == CellState.UNAVAILABLE  # less notice than it needs
    assert state["Room", 12] == CellState.FREE

    today = grid_for(site, now.date(), now=future(0, 13))
    assert cell_of(today, site.desks, future(0, 12)).state == CellState.UNAVAILABLE  # past
    assert cell_of(today, site.desks, future(0, 14)).state == CellState.FREE

    page = html(client.get(site.url("calendar"), {"date": future(3).date().isoformat()}))
    assert ">Closed<" in page and "Floor polishing" in page
    assert f"resource={site.hall.pk}&amp;start={local_input(future(3, 8))}" not in page
    assert f"resource={site.hall.pk}&amp;start={local_input(future(3, 9))}" in page


def test_the_week_view_shows_the_modules_days_for_one_resource(site, client):
    site.module.calendar_days_shown = 5
    site.module.save()
    site.submit(site.event(start=future(4, 10), resources=[site.hall]))

    response = client.get(
        site.url("calendar"), {"view": "week", "resource": site.hall.pk, "date": future(2).date().isoformat()}
    )

    page = html(response)
    grid = response.context["grid"]
    assert [c.day for c in grid.columns] == [future(d).date() for d in range(2, 7)]
    assert {c.resource for c in grid.columns} == {site.hall}
    assert f"Hall, {future(2):%A} {future(2).day}" in page
    assert cell_of(grid, site.hall, future(4, 10)).state == CellState.REQUESTED
    assert "?view=week&amp;date=" + future(7).date().isoformat() in page  # next: five days on


def test_the_calendar_never_goes_before_today_and_ignores_bad_input(site, client):
    response = client.get(site.url("calendar"), {"date": "1999-01-01", "view": "bogus", "resource": "nope"})

    assert response.status_code == 200
    assert response.context["grid"].day == timezone.now().astimezone(LONDON).date()
    assert client.get(site.url("calendar"), {"date": "31-31-2020"}).status_code == 200


def test_the_calendar_reads_a_fixed_number_of_queries(site, client, django_assert_max_num_queries):
    for hour in range(8, 20):
        site.submit(site.event(start=future(3, hour), resources=[site.desks]), email=f"b{hour}@example.com")
    ClosureFactory(organization=site.org, start=future(4, 8), end=future(4, 9)).resources.add(site.hall)
    for params in ({"date": future(3).date().isoformat()}, {"view": "week", "resource": site.desks.pk}):
        with django_assert_max_num_queries(10):
            assert client.get(site.url("calendar"), params).status_code == 200


def _spring_forward(after: date) -> date:
    """The next last Sunday of March (Europe/London moves from 01:00 to 02:00) after `after`."""
    year = after.year + (1 if after >= date(after.year, 3, 1) else 0)
    day = date(year, 3, 31)
    return day - timedelta(days=(day.weekday() - 6) % 7)


def test_the_grid_keeps_the_wall_clock_on_the_day_the_clocks_go_forward(site, client):
    sunday = _spring_forward(timezone.now().date())
    BookableHoursFactory(resource=site.hall, weekday=6, start_time=time(0), end_time=time(4))

    grid = grid_for(site, sunday, resource=site.hall)

    rows = {row.label: cells[0] for row, cells in grid.rows}
    assert list(rows)[:4] == ["00:00", "01:00", "02:00", "03:00"]
    assert rows["01:00"].state == CellState.UNAVAILABLE  # 01:00-02:00 does not exist that night
    # One real hour from midnight ends at 02:00 on the wall clock that night.
    assert rows["00:00"].state == CellState.FREE and rows["00:00"].end_input == f"{sunday.isoformat()}T02:00"
    assert rows["02:00"].state == CellState.FREE
    assert rows["02:00"].start_input == f"{sunday.isoformat()}T02:00" and rows["02:00"].end_input.endswith("T03:00")
    assert grid.columns[0].clocks_change
    page = html(client.get(site.url("calendar"), {"date": sunday.isoformat(), "resource": site.hall.pk}))
    assert "Clocks change" in page


def test_a_resource_can_set_its_slot_length(site):
    from bookings.models import ModuleResource

    ModuleResource.objects.filter(module=site.module, resource=site.room).update(settings={"slotMinutes": 30})
    site.hall.min_duration_minutes = 120
    site.hall.save()

    grid = grid_for(site, future(3).date())

    assert grid.step == 30
    assert cell_of(grid, site.room, future(3, 10, 30)).end_input.endswith("T11:00")
    assert cell_of(grid, site.hall, future(3, 10, 30)).end_input.endswith("T12:30")  # its minimum length


# --- the form's inputs -------------------------------------------------------------------------------

EXPECTED_INPUTS = {
    "Organisation": r'<input type="text" id="id_{name}" name="{name}"[^>]* required[^>]* maxlength="40"',
    "Billing email": r'<input type="email" id="id_{name}"',
    "Emergency phone": r'<input type="tel" id="id_{name}"',
    "Send me the newsletter": r'<input type="checkbox" id="id_{name}" name="{name}" value="on"',
    "Describe the event": r'<textarea id="id_{name}" name="{name}" rows="4" required[^>]* minlength="10"',
    "Chairs needed": r'<input type="number" id="id_{name}"[^>]* required[^>]* min="0" max="100"',
    "Date of the rehearsal": r'<input type="date" id="id_{name}"',
    "Doors open": r'<input type="time" id="id_{name}"[^>]* required',
    "Set-up from": r'<input type="datetime-local" id="id_{name}"',
    "Type of event": r'<select id="id_{name}" name="{name}" required',
    "Equipment": r'<input type="checkbox" id="id_{name}_0" name="{name}" value="Projector"',
    "Event website": r'<input type="url" id="id_{name}"',
    "Alcohol will be served": r'<input type="checkbox" id="id_{name}" name="{name}" value="on" required',
}


def test_the_form_has_the_right_input_label_and_marker_for_each_field_type(site, client):
    page = html(client.get(site.url("book")))

    for label, pattern in EXPECTED_INPUTS.items():
        name = site.name_of(label)
        assert re.search(pattern.format(name=re.escape(name)), page), label
        if site.fields[label].type == "multiselect":
            assert re.search(rf"<legend class=\"label\">{label} <span class=\"req\"", page), label
        else:
            assert f'for="id_{name}">{label}' in page, label
    # help text, tied to its input
    name = site.name_of("Organisation")
    assert f'<p class="hint" id="id_{name}-help">Your club, company or group.</p>' in page
    assert f'aria-describedby="id_{name}-help"' in page
    # built-in fields
    assert '<input type="email" id="id_contact-email" name="contact-email"' in page
    assert 'autocomplete="name"' in page and 'autocomplete="tel"' in page
    assert '<input type="datetime-local" id="id_events-0-start"' in page
    for resource in (site.room, site.hall, site.desks):
        assert f'name="events-0-resourceIds" value="{resource.pk}"' in page
    # terms, sanitized; the honeypot, hidden from people and assistive technology
    assert "Leave the space as you found it." in page and "alert('terms')" not in page
    assert '<div class="hp" aria-hidden="true">' in page and 'name="contact_ref" value="" tabindex="-1"' in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_a_form_without_terms_does_not_ask_for_them(db, client):
    site = PublicSite(terms="")
    page = html(client.get(site.url("book")))
    assert 'name="terms"' not in page and "Terms and conditions" not in page


def test_the_form_prefill_ignores_resources_not_offered_and_bad_times(site, client):
    stranger = ResourceFactory()
    page = html(client.get(site.url("book"), {"resource": stranger.pk, "start": "<script>", "end": "2030-01-01"}))

    assert str(stranger.pk) not in page and "&lt;script&gt;" not in page
    assert 'id="id_events-0-end" name="events-0-end" value="2030-01-01T00:00"' in page


def test_pages_show_the_organization_and_the_module_title(site, client):
    for url in (site.url(), site.url("calendar"), site.url("book")):
        page = html(client.get(url))
        assert '<p class="brand"><a href="' in page and "Riverside Community Centre</a>" in page
        assert '<p class="header-module">Rooms and hall</p>' in page
        assert '<html lang="en">' in page and 'href="#main"' in page and '<main id="main"' in page


def test_event_status_enum_used_by_the_grid(site):
    # The grid reads statuses through bookings.selectors.public_busy; a canceled event frees its slot.
    booking = site.submit(site.event(start=future(3, 10))).booking
    event = booking.requested_times.get().event
    assert event.status == EventStatus.TENTATIVE
    from bookings.lifecycle.change_requests import booking_cancel_by_booker
    from core.actor import Actor

    booking_cancel_by_booker(booking_id=booking.pk, actor=Actor.booker("ada@example.com"))
    assert cell_of(grid_for(site, future(3).date()), site.room, future(3, 10)).state == CellState.FREE
