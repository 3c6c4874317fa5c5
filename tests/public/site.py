"""A published booking site for the public-page tests (client and browser): a LIVE portal whose module
offers three resources and asks one custom question of every field type, with terms to accept."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bookings.models import FieldType, FormSection
from tests.conftest import LONDON, Setup, future
from tests.factories import FormFieldFactory

# (section, type, label, extra attributes): one custom question per field type (docs/architecture.md#form-fields).
CUSTOM_FIELDS: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        FormSection.CONTACT,
        FieldType.TEXT,
        "Organisation",
        {"required": True, "max_value": 40, "help_text": "Your club, company or group."},
    ),
    (FormSection.CONTACT, FieldType.EMAIL, "Billing email", {}),
    (FormSection.CONTACT, FieldType.PHONE, "Emergency phone", {}),
    (FormSection.CONTACT, FieldType.CHECKBOX, "Send me the newsletter", {}),
    (FormSection.EVENT, FieldType.TEXTAREA, "Describe the event", {"required": True, "min_value": 10}),
    (FormSection.EVENT, FieldType.NUMBER, "Chairs needed", {"required": True, "min_value": 0, "max_value": 100}),
    (FormSection.EVENT, FieldType.DATE, "Date of the rehearsal", {}),
    (FormSection.EVENT, FieldType.TIME, "Doors open", {"required": True}),
    (FormSection.EVENT, FieldType.DATETIME, "Set-up from", {}),
    (
        FormSection.EVENT,
        FieldType.SELECT,
        "Type of event",
        {"required": True, "options": ["Meeting", "Workshop", "Party"]},
    ),
    (
        FormSection.EVENT,
        FieldType.MULTISELECT,
        "Equipment",
        {"required": True, "options": ["Projector", "Microphone", "Piano"]},
    ),
    (FormSection.EVENT, FieldType.URL, "Event website", {}),
    (FormSection.EVENT, FieldType.CHECKBOX, "Alcohol will be served", {"required": True}),
]

TERMS = "<p>Leave the space as you found it.</p><script>alert('terms')</script>"


class PublicSite(Setup):
    """Setup (org, venue, Room/Hall/Desks, LIVE portal, module) made public-page ready."""

    def __init__(self, *, hold: bool = True, terms: str = TERMS):
        super().__init__(hold=hold)
        self.org.name = "Riverside Community Centre"
        self.org.save()
        self.portal.slug = f"site-{self.portal.pk.hex[:6]}"
        self.portal.name = "Book our spaces"
        self.portal.description = "<p>Rooms for <em>everyone</em>.</p><script>alert('portal')</script>"
        self.portal.save()
        self.module.slug = "spaces"
        self.module.about_title = "Rooms and hall"
        self.module.about_description = "<p>Requests are answered within a day.</p><img src=x onerror=alert(1)>"
        self.module.terms = terms
        self.module.save()
        self.room.description = "<p>Quiet room with a <strong>view</strong>.</p><script>alert('room')</script>"
        self.room.save()
        self.fields = {}
        for order, (section, type_, label, extra) in enumerate(CUSTOM_FIELDS):
            self.fields[label] = FormFieldFactory(
                module=self.module, section=section, type=type_, label=label, order=order, **extra
            )

    # --- through the services, as the API would (answers keyed by field id) ---

    def event(self, start=None, end=None, resources=None, title="Team meeting", **answers):
        f = {label: str(ff.pk) for label, ff in self.fields.items()}
        required = {
            f["Describe the event"]: "A meeting of the committee.",
            f["Chairs needed"]: 6,
            f["Doors open"]: "09:30",
            f["Type of event"]: "Meeting",
            f["Equipment"]: ["Projector"],
            f["Alcohol will be served"]: True,
        }
        return super().event(start, end, resources, title, **{**required, **answers})

    def submit(self, *events, email="ada@example.com", name="Ada Lovelace", **kwargs):
        from bookings.lifecycle.submit import booking_submit

        events = list(events) or [self.event()]
        contact = {"name": name, "email": email, str(self.fields["Organisation"].pk): "Riverside Choir"}
        return booking_submit(
            module=self.module,
            portal=self.portal,
            contact=contact,
            events=events,
            single_event=len(events) == 1,
            **kwargs,
        )

    # --- URLs ---

    @property
    def portal_url(self) -> str:
        return f"/p/{self.portal.slug}/"

    def url(self, page: str = "") -> str:
        return f"/p/{self.portal.slug}/{self.module.slug}/{page + '/' if page else ''}"

    # --- form answers ---

    def name_of(self, label: str, index: int = 0) -> str:
        ff = self.fields[label]
        return f"contact-{ff.pk}" if ff.section == FormSection.CONTACT else f"events-{index}-{ff.pk}"

    def custom_answers(self, index: int = 0) -> dict[str, Any]:
        n = self.name_of
        return {
            n("Organisation"): "Riverside Choir",
            n("Billing email"): "treasurer@example.com",
            n("Emergency phone"): "+44 20 7946 0000",
            n("Send me the newsletter"): "on",
            n("Describe the event", index): "Our weekly rehearsal, about twenty singers.",
            n("Chairs needed", index): "20",
            n("Date of the rehearsal", index): "2030-01-15",
            n("Doors open", index): "18:30",
            n("Set-up from", index): "2030-01-15T17:00",
            n("Type of event", index): "Workshop",
            n("Equipment", index): ["Piano", "Microphone"],
            n("Event website", index): "https://choir.example.org/",
            n("Alcohol will be served", index): "on",
        }

    def post_data(
        self, start: datetime | None = None, end: datetime | None = None, resources=None, **overrides
    ) -> dict[str, Any]:
        """A complete, valid form post for one date (local wall-clock times, as the inputs send them)."""
        start = start or future(7, 10)
        end = end or start + timedelta(hours=1)
        data = {
            "action": "submit",
            "event_count": "1",
            "contact-name": "Ada Lovelace",
            "contact-email": "ada@example.com",
            "contact-phone": "",
            "events-0-title": "Choir rehearsal",
            "events-0-resourceIds": [str(r.pk) for r in (resources or [self.room])],
            "events-0-start": local_input(start),
            "events-0-end": local_input(end),
            "events-0-attendees": "8",
            "requestNote": "",
            "terms": "on",
            "contact_ref": "",
            **self.custom_answers(),
        }
        data.update(overrides)
        return data


def local_input(moment: datetime) -> str:
    """A datetime-local input's value for an aware moment, on London's wall clock."""
    return moment.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")
