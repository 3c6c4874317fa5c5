"""Demo data: one organization with a venue, three resources, a live portal, a booking module with custom
fields, a manager with a password and an API token, and a week of sample bookings. Idempotent per --slug."""

import contextlib
import json as jsonlib
import os
import sys
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken

from bookings.lifecycle.change_requests import change_request_submit
from bookings.lifecycle.decide import booking_approve, booking_deny
from bookings.lifecycle.submit import booking_submit
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
from core.actor import Actor
from resources.models import Closure, Membership, Organization, Resource, ResourceKind, Role, Venue

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
        self.stdout.write(f"  Public:   http://127.0.0.1:8000/p/{data['portalSlug']}/  (the booking site)")

    def _seed(self, slug: str, password: str) -> dict:
        org, _ = Organization.objects.get_or_create(
            slug=slug,
            defaults={"name": f"{slug.title()} Community Centre", "timezone": "Europe/London", "currency": "GBP"},
        )
        venue, _ = Venue.objects.get_or_create(
            organization=org, name="Riverside Hall", defaults={"address": "1 River Street, London"}
        )
        hall, _ = Resource.objects.get_or_create(
            venue=venue,
            name="Main Hall",
            defaults={
                "kind": ResourceKind.EVENT_SPACE,
                "capacity": 120,
                "min_duration_minutes": 60,
                "description": "<p>Our largest space, with a stage and a kitchen.</p>",
            },
        )
        room, _ = Resource.objects.get_or_create(
            venue=venue,
            name="Meeting Room",
            defaults={
                "kind": ResourceKind.ROOM,
                "capacity": 12,
                "buffer_minutes": 15,
                "description": "<p>A quiet room for up to twelve people. "
                "Cleaned for 15 minutes after each booking.</p>",
            },
        )
        desks, _ = Resource.objects.get_or_create(
            venue=venue,
            name="Hot Desks",
            defaults={
                "kind": ResourceKind.DESK,
                "capacity": 10,
                "exclusive": False,
                "description": "<p>Ten desks in the open-plan area.</p>",
            },
        )
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
            portal = Portal.objects.create(
                organization=org,
                name="Book our spaces",
                slug=portal_slug,
                status=PortalStatus.LIVE,
                description="<p>Request a room, the hall or a desk.</p>",
            )
        module, created = BookingModule.objects.get_or_create(
            organization=org,
            slug="spaces",
            defaults={
                "name": "Room and desk bookings",
                "admin_user": user,
                "hold_pending_slots": True,
                "about_title": "Book a space at Riverside Hall",
                "about_description": "<p>Requests are reviewed within one working day.</p>",
            },
        )
        module.portals.add(portal)
        for resource in resources:
            ModuleResource.objects.get_or_create(module=module, resource=resource)
        if created:
            FormField.objects.create(
                module=module,
                section=FormSection.EVENT,
                label="Type of event",
                type=FieldType.SELECT,
                required=True,
                order=1,
                options=["Meeting", "Workshop", "Celebration", "Other"],
            )
            FormField.objects.create(
                module=module,
                section=FormSection.EVENT,
                label="Chairs needed",
                type=FieldType.NUMBER,
                required=True,
                order=2,
                min_value=0,
                max_value=120,
            )
            FormField.objects.create(
                module=module,
                section=FormSection.CONTACT,
                label="Send me the newsletter",
                type=FieldType.CHECKBOX,
                required=False,
                order=1,
            )
        if not Booking.objects.filter(organization=org).exists():
            self._sample_bookings(module, portal, room, hall, desks, user)

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

    def _sample_bookings(self, module, portal, room, hall, desks, user) -> None:
        """The next eight days of a busy venue: approved bookings on the calendar, pending requests holding
        their slots, a denied one, and a change request, so every admin page has something to show."""
        fields = {f.label: str(f.pk) for f in module.fields.all()}
        tz = room.venue.tz
        today = timezone.now().astimezone(tz).date()
        staff = Actor.staff(user)
        plan = [
            # (days ahead, title, resource, start hour, end hour, booker, outcome)
            (1, "Yoga for beginners", hall, 9, 10, "Priya Shah", "approved"),
            (1, "Board meeting", room, 14, 16, "Tom Baker", "approved"),
            (2, "Book club", room, 18, 20, "Ada Booker", "pending"),
            (2, "Choir rehearsal", hall, 19, 21, "Maria Lopez", "pending"),
            (3, "Neighbourhood meeting", hall, 10, 12, "Grace Organiser", "change_request"),
            (3, "Coworking day", desks, 9, 17, "Sam Lee", "pending"),
            (4, "Birthday party", hall, 15, 19, "Olu Adeyemi", "denied"),
            (4, "Team workshop", room, 9, 12, "Jin Park", "approved"),
            (5, "Language exchange", room, 18, 19, "Eva Novak", "pending"),
            (6, "Repair café", hall, 10, 14, "Ben Carter", "approved"),
            (7, "Parents' evening", room, 17, 19, "Lena Fischer", "approved"),
            (8, "Community lunch", hall, 12, 14, "Noor Khan", "pending"),
        ]
        now = timezone.now().astimezone(tz)
        if now.hour < 20:  # something later today, so this week's calendar is never empty
            plan.insert(0, (0, "Drop-in coworking", desks, now.hour + 2, now.hour + 4, "Kai Moreno", "approved"))
        for days, title, resource, start, end, name, outcome in plan:
            day = today + timedelta(days=days)
            email = f"{name.split()[0].lower()}@example.com"
            result = booking_submit(
                module=module,
                portal=portal,
                single_event=True,
                contact={"name": name, "email": email},
                events=[
                    {
                        "title": title,
                        "resourceIds": [str(resource.pk)],
                        "start": timezone.make_aware(datetime.combine(day, time(start)), tz).isoformat(),
                        "end": timezone.make_aware(datetime.combine(day, time(end)), tz).isoformat(),
                        fields["Type of event"]: "Meeting",
                        fields["Chairs needed"]: 8,
                    }
                ],
                request_note="<p>We bring our own tea.</p>" if title == "Book club" else "",
            )
            booking_id = result.booking.pk
            if outcome in ("approved", "change_request"):
                booking_approve(booking_id=booking_id, actor=staff, client_last_updated_at=None)
            elif outcome == "denied":
                booking_deny(booking_id=booking_id, actor=staff, client_last_updated_at=None)
            if outcome == "change_request":
                later = [timezone.make_aware(datetime.combine(day, time(h)), tz).isoformat() for h in (13, 15)]
                change_request_submit(
                    booking_id=booking_id,
                    actor=Actor.booker(email),
                    events=[{"start": later[0], "end": later[1]}],
                    request_note="<p>Could we start after lunch instead?</p>",
                )
        polishing = Closure.objects.create(
            organization=module.organization,
            message="Floor polishing",
            start=timezone.make_aware(datetime.combine(today + timedelta(days=5), time(8)), tz),
            end=timezone.make_aware(datetime.combine(today + timedelta(days=5), time(12)), tz),
        )
        polishing.resources.add(hall)


def _dumps(data: dict) -> str:
    return jsonlib.dumps(data)
