"""The HTML pages every Content-Security-Policy test visits (tests/config/test_csp.py with the test client,
tests/browser/test_csp.py in Chromium): the public site, the booker's private page, the admin's own and
Allot's admin pages, Swagger UI, the browsable API and a 404."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from bookings.lifecycle.change_requests import change_request_submit
from bookings.lifecycle.decide import booking_approve
from core.actor import Actor
from resources.models import Role
from tests.conftest import future
from tests.factories import MembershipFactory, UserFactory
from tests.public.site import PublicSite


@dataclass
class Pages:
    site: PublicSite
    public: dict[str, str]  # name -> URL, anonymous
    staff: dict[str, str]  # name -> URL, signed in as `admin` (password "pw-123456")
    admin: object  # a member with the ADMIN role: decides bookings and edits modules


def build_pages() -> Pages:
    site = PublicSite()
    admin = UserFactory(username="csp-admin")
    MembershipFactory(user=admin, organization=site.org, role=Role.ADMIN)
    pending = site.submit(site.event(start=future(5, 10), title="Choir rehearsal"))
    approved = site.submit(site.event(start=future(6, 18), title="Book club"), email="club@example.com").booking
    booking_approve(booking_id=approved.pk, actor=site.staff, client_last_updated_at=None)
    change = change_request_submit(
        booking_id=approved.pk,
        actor=Actor.booker("club@example.com"),
        events=[{"start": future(6, 19).isoformat(), "end": future(6, 20).isoformat()}],
    )
    booking_id = pending.booking.pk
    change_id = change.change_request.pk
    public = {
        "portal": site.portal_url,
        "module about": site.url(),
        "module calendar": site.url("calendar"),
        "booking form": site.url("book"),
        "booker's private page": f"/b/{pending.access_token}/",
        "admin login": reverse("admin:login"),
        "404": "/no-such-page/",
    }
    staff = {
        "admin index": reverse("admin:index"),
        "booking list": reverse("admin:bookings_booking_changelist"),
        "booking page": reverse("admin:bookings_booking_change", args=[booking_id]),
        "approve page": reverse("admin:bookings_booking_approve", args=[booking_id]),
        "deny page": reverse("admin:bookings_booking_deny", args=[booking_id]),
        "calendar": reverse("admin:events_event_calendar"),
        "reports": reverse("admin:bookings_booking_reports")
        + f"?start={future(2).date()}&end={future(12).date()}&granularity=day",
        "change request": reverse("admin:bookings_bookingchangerequest_change", args=[change_id]),
        "change request approve page": reverse("admin:bookings_bookingchangerequest_approve", args=[change_id]),
        "module page": reverse("admin:bookings_bookingmodule_change", args=[site.module.pk]),
        "contact import": reverse("admin:bookings_contact_import"),
        "API docs": "/api/docs/",
        "browsable API": "/api/v1/bookings",
    }
    return Pages(site=site, public=public, staff=staff, admin=admin)
