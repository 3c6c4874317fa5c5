"""A finding of the attack tests (docs/adr/0011-nh3-for-html-sanitizing.md), fixed in bookings/validation/fields.py:
plain-text answers lose their markup, and a required answer that was nothing but markup (`<b></b>`, `<img src=x>`) used
to be accepted and stored empty -- a booking with no booker name or no event title, which the admin's approve page then
refused ("This field is required"). It is now refused at input as REQUIRED."""

import pytest

from bookings.models import Booking
from tests.api.conftest import Api, assert_error


@pytest.mark.parametrize(("key", "value"), [("contact.name", "<b></b>"), ("event.title", "<img src=x>")])
def test_a_required_answer_that_is_only_markup_is_refused(setup, key, value):
    api = Api(setup)
    event = setup.event(title=value if key == "event.title" else "Choir")
    body = {
        "orgId": str(setup.org.pk),
        "bookingModuleId": str(setup.module.pk),
        "portalId": str(setup.portal.pk),
        "contact": {"name": value if key == "contact.name" else "Ada", "email": "ada@example.org"},
        "event": event,
    }
    response = api.public.post("/api/v1/bookings/submit", body, format="json")
    assert_error(response, 400, "REQUIRED", key)
    assert not Booking.objects.exists()
