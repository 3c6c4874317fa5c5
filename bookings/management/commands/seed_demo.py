"""Demo data: one organization with a venue, three resources, a live portal, a booking module with custom
fields, a manager with a password and an API token, and two sample bookings. Idempotent per --slug."""

import contextlib
import json as jsonlib
import os
import sys
from datetime import time, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken

from bookings.models import (
    Booking,
    BookingModule,
    FieldType,
    FormField,
    FormSection,
    ModuleResource,
    Portal,
    PortalStatus,
    random_portal_slug,
)
from bookings.services import Actor, booking_approve, booking_submit
from resources.models import Membership, Organization, Resource, ResourceKind, Role, Venue

DEFAULT_PASSWORD = "allot-demo-pass"


class Command(BaseCommand):
    help = "Create (or refresh) demo data for one organization slug. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--slug", default="demo")
        parser.add_argument("--json", action="store_true", help="Print only one JSON object with the ids.")

    def handle(self, *args, slug: str, **options):
        password = os.environ.get("DEMO_PASSWORD", DEFAULT_PASSWORD)
        # Emails of the sample bookings go to the console backend in development; keep stdout clean
        # for --json so a script can parse it.
        with contextlib.redirect_stdout(sys.stderr if options["json"] else sys.stdout), transaction.atomic():
            data = self._seed(slug, password)
        if options["json"]:
            self.stdout.write(_dumps(data))
            return
        self.stdout.write(self.style.SUCCESS(f"Demo data ready for '{slug}'."))
        self.stdout.write(f"  Admin:    http://127.0.0.1:8000/admin/  (user {data['username']}, password {password})")
        self.stdout.write(f"  API token: {data['apiToken']}")

    def _seed(self, slug: str, password: str) -> dict:
        org, _ = Organization.objects.get_or_create(
            slug=slug, defaults={"name": f"{slug.title()} Community Centre", "timezone": "Europe/London",
                                 "currency": "GBP"})
        venue, _ = Venue.objects.get_or_create(
            organization=org, name="Riverside Hall", defaults={"address": "1 River Street, London"})
        hall, _ = Resource.objects.get_or_create(
            venue=venue, name="Main Hall",
            defaults={"kind": ResourceKind.EVENT_SPACE, "capacity": 120, "min_duration_minutes": 60,
                      "description": "<p>Our largest space, with a stage and a kitchen.</p>"})
        room, _ = Resource.objects.get_or_create(
            venue=venue, name="Meeting Room",
            defaults={"kind": ResourceKind.ROOM, "capacity": 12, "buffer_minutes": 15,
                      "description": "<p>A quiet room for up to twelve people. "
                                     "Cleaned for 15 minutes after each booking.</p>"})
        desks, _ = Resource.objects.get_or_create(
            venue=venue, name="Hot Desks",
            defaults={"kind": ResourceKind.DESK, "capacity": 10, "exclusive": False,
                      "description": "<p>Ten desks in the open-plan area.</p>"})
        resources = [hall, room, desks]

        User = get_user_model()
        username = f"{slug}-manager"
        user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
        user.is_staff = True
        user.set_password(password)
        user.save()
        Membership.objects.update_or_create(user=user, organization=org, defaults={"role": Role.MANAGER})

        portal = Portal.objects.filter(organization=org, name="Book our spaces").first()
        if portal is None:
            # The organization's slug reads best in the public URL; fall back to a random one if another
            # organization's portal already uses it.
            portal_slug = slug[:80] if not Portal.objects.filter(slug=slug[:80]).exists() else random_portal_slug()
            portal = Portal.objects.create(organization=org, name="Book our spaces", slug=portal_slug,
                                           status=PortalStatus.LIVE,
                                           description="<p>Request a room, the hall or a desk.</p>")
        module, created = BookingModule.objects.get_or_create(
            organization=org, slug="spaces",
            defaults={"name": "Room and desk bookings", "admin_user": user, "hold_pending_slots": True,
                      "about_title": "Book a space at Riverside Hall",
                      "about_description": "<p>Requests are reviewed within one working day.</p>"})
        module.portals.add(portal)
        for resource in resources:
            ModuleResource.objects.get_or_create(module=module, resource=resource)
        if created:
            FormField.objects.create(module=module, section=FormSection.EVENT, label="Type of event",
                                     type=FieldType.SELECT, required=True, order=1,
                                     options=["Meeting", "Workshop", "Celebration", "Other"])
            FormField.objects.create(module=module, section=FormSection.EVENT, label="Chairs needed",
                                     type=FieldType.NUMBER, required=True, order=2, min_value=0, max_value=120)
            FormField.objects.create(module=module, section=FormSection.CONTACT, label="Send me the newsletter",
                                     type=FieldType.CHECKBOX, required=False, order=1)
        if not Booking.objects.filter(organization=org).exists():
            self._sample_bookings(module, portal, room, hall, user)

        AuthToken.objects.filter(user=user).delete()  # one demo token at a time
        _, token = AuthToken.objects.create(user=user, expiry=None)
        return {
            "orgId": str(org.pk),
            "portalId": str(portal.pk),
            "portalSlug": portal.slug,
            "bookingModuleId": str(module.pk),
            "moduleSlug": module.slug,
            "resourceIds": [str(r.pk) for r in resources],
            "username": username,
            "password": password,
            "apiToken": token,
        }

    def _sample_bookings(self, module, portal, room, hall, user) -> None:
        fields = {f.label: str(f.pk) for f in module.fields.all()}
        tz = room.venue.tz
        day = (timezone.now().astimezone(tz) + timedelta(days=7)).date()

        def at(hour: int):
            return timezone.make_aware(timezone.datetime.combine(day, time(hour)), tz).isoformat()

        def event(title, resource, start, end):
            return {"title": title, "start": at(start), "end": at(end), "resourceIds": [str(resource.pk)],
                    fields["Type of event"]: "Meeting", fields["Chairs needed"]: 8}

        booking_submit(module=module, portal=portal, single_event=True,
                       contact={"name": "Ada Booker", "email": "ada@example.com"},
                       events=[event("Book club", room, 18, 20)], request_note="<p>We bring our own tea.</p>")
        approved = booking_submit(module=module, portal=portal, single_event=True,
                                  contact={"name": "Grace Organiser", "email": "grace@example.com"},
                                  events=[event("Neighbourhood meeting", hall, 10, 12)])
        booking_approve(booking_id=approved.booking.pk, actor=Actor.staff(user), client_last_updated_at=None)


def _dumps(data: dict) -> str:
    return jsonlib.dumps(data)
