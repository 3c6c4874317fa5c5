"""The one validator (bookings/validation/): built-in and custom fields, their codes and field paths,
time zones, offered resources, capacity, and nh3 sanitizing of free HTML."""

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.models import FieldType, FormSection
from bookings.validation.submission import validate_submission
from core.errors import ValidationFailed
from tests.conftest import future
from tests.factories import (
    BookingModuleFactory,
    FormFieldFactory,
    ModuleResourceFactory,
    OrganizationFactory,
    PortalFactory,
    ResourceFactory,
    VenueFactory,
)

CONTACT = {"name": "Ada Lovelace", "email": "ada@example.com"}

DIRTY_HTML = (
    '<p onclick="steal()">Hi <b>there</b><script>alert(1)</script></p>'
    '<a href="javascript:alert(2)" onmouseover="x()">link</a><img src=x onerror=alert(3)><style>p{}</style>'
)
CLEAN_HTML = '<p>Hi <b>there</b></p><a rel="noopener noreferrer nofollow">link</a>'


# --- helpers ---------------------------------------------------------------------------------------


def validate(setup, *, contact=None, events=None, single=True, **event_answers):
    contact = dict(CONTACT) if contact is None else contact
    events = [setup.event(**event_answers)] if events is None else events
    return validate_submission(module=setup.module, contact=contact, events=events, single_event=single)


def errors_of(setup, **kwargs) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as exc_info:
        validate(setup, **kwargs)
    assert exc_info.value.code == "VALIDATION_FAILED"
    return [(e.field, e.code) for e in exc_info.value.errors]


def custom_field(setup, *, section=FormSection.EVENT, **kwargs):
    return FormFieldFactory(module=setup.module, section=section, **kwargs)


def answer(setup, ff, value, *, omit=False):
    """Validate a submission answering one custom field (or leaving it out); returns the clean answers of
    its section. Raises ValidationFailed like the validator."""
    raw = {} if omit else {str(ff.pk): value}
    if ff.section == FormSection.CONTACT:
        return validate(setup, contact={**CONTACT, **raw}).contact
    return validate(setup, **raw).events[0].answers


def answer_errors(setup, ff, value, *, omit=False) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as exc_info:
        answer(setup, ff, value, omit=omit)
    return [(e.field, e.code) for e in exc_info.value.errors]


def path(ff) -> str:
    return f"{ff.section}.{ff.pk}"


# --- every custom field type -----------------------------------------------------------------------

OPTIONS = {"options": ["Meeting", "Party", "Tea", "Coffee"]}

# type, field settings, a valid answer, its clean value, an invalid answer, its code
FIELD_TYPES = [
    ("text", {}, "  Projector please ", "Projector please", {"a": 1}, "INVALID"),
    ("text", {}, 42, "42", ["x"], "INVALID"),
    ("textarea", {}, "Line one\nLine two", "Line one\nLine two", True, "INVALID"),
    ("email", {}, "Grace@Example.COM", "grace@example.com", "grace@", "INVALID"),
    ("email", {}, "a.b+c@example.org", "a.b+c@example.org", "two@at@example.org", "INVALID"),
    ("phone", {}, "+44 (0)20 7946-0958", "+44 (0)20 7946-0958", "call me maybe", "INVALID"),
    ("number", {}, "12", 12, "twelve", "INVALID"),
    ("number", {}, 2.5, 2.5, True, "INVALID"),
    ("number", {}, "-3.25", -3.25, "NaN", "INVALID"),
    ("number", {}, 0, 0, "Infinity", "INVALID"),
    ("date", {}, "2031-02-28", "2031-02-28", "2031-02-30", "INVALID"),
    ("date", {}, "2032-02-29", "2032-02-29", "28/02/2031", "INVALID"),
    ("time", {}, "09:30", "09:30:00", "25:00", "INVALID"),
    ("time", {}, "23:59:59", "23:59:59", 930, "INVALID"),
    ("datetime", {}, "2031-02-28T09:30:00+01:00", "2031-02-28T09:30:00+01:00", "next Tuesday at noon", "INVALID"),
    ("datetime", {}, "2031-02-28T09:30", "2031-02-28T09:30:00", "2031-13-01T09:30", "INVALID"),
    ("select", OPTIONS, "Party", "Party", "party", "INVALID_CHOICE"),
    ("select", OPTIONS, "Meeting", "Meeting", ["Meeting"], "INVALID_CHOICE"),
    ("multiselect", OPTIONS, ["Tea", "Coffee", "Tea"], ["Tea", "Coffee"], ["Tea", "Beer"], "INVALID_CHOICE"),
    ("multiselect", OPTIONS, "Tea", ["Tea"], "Beer", "INVALID_CHOICE"),
    ("checkbox", {}, "on", True, "maybe", "INVALID"),
    ("checkbox", {}, False, False, 2, "INVALID"),
    ("url", {}, "https://example.org/plan.pdf", "https://example.org/plan.pdf", "javascript:alert(1)", "INVALID"),
    ("url", {}, "http://example.org", "http://example.org", "ftp://example.org/plan.pdf", "INVALID"),
]


@pytest.mark.parametrize("section", [FormSection.EVENT, FormSection.CONTACT])
@pytest.mark.parametrize(("ftype", "extra", "good", "clean", "bad", "code"), FIELD_TYPES)
def test_field_type_valid_answer_is_cleaned(setup, section, ftype, extra, good, clean, bad, code):
    ff = custom_field(setup, section=section, type=ftype, **extra)
    assert answer(setup, ff, good)[str(ff.pk)] == clean


@pytest.mark.parametrize("section", [FormSection.EVENT, FormSection.CONTACT])
@pytest.mark.parametrize(("ftype", "extra", "good", "clean", "bad", "code"), FIELD_TYPES)
def test_field_type_invalid_answer_has_its_code(setup, section, ftype, extra, good, clean, bad, code):
    ff = custom_field(setup, section=section, type=ftype, **extra)
    assert answer_errors(setup, ff, bad) == [(path(ff), code)]


def test_every_field_type_is_covered():
    assert {row[0] for row in FIELD_TYPES} == set(FieldType.values)


# --- required and optional -------------------------------------------------------------------------

BLANKS = [None, "", "   ", []]
NON_CHECKBOX_TYPES = [t for t in FieldType.values if t != FieldType.CHECKBOX]


def _settings_for(ftype):
    return OPTIONS if ftype in (FieldType.SELECT, FieldType.MULTISELECT) else {}


@pytest.mark.parametrize("section", [FormSection.EVENT, FormSection.CONTACT])
@pytest.mark.parametrize("ftype", NON_CHECKBOX_TYPES)
def test_required_field_without_an_answer_is_required(setup, section, ftype):
    ff = custom_field(setup, section=section, type=ftype, required=True, **_settings_for(ftype))
    assert answer_errors(setup, ff, None, omit=True) == [(path(ff), "REQUIRED")]
    for blank in BLANKS:
        assert answer_errors(setup, ff, blank) == [(path(ff), "REQUIRED")], blank


@pytest.mark.parametrize("section", [FormSection.EVENT, FormSection.CONTACT])
@pytest.mark.parametrize("ftype", NON_CHECKBOX_TYPES)
def test_optional_field_may_be_left_out(setup, section, ftype):
    ff = custom_field(setup, section=section, type=ftype, required=False, **_settings_for(ftype))
    assert str(ff.pk) not in answer(setup, ff, None, omit=True)
    for blank in BLANKS:
        assert str(ff.pk) not in answer(setup, ff, blank), blank


# required, raw answer (OMIT: left out), clean value or the error code
OMIT = object()
CHECKBOX_CASES = [
    (True, True, True),
    (True, "true", True),
    (True, "on", True),
    (True, 1, True),
    (True, OMIT, "REQUIRED"),
    (True, None, "REQUIRED"),
    (True, False, "REQUIRED"),
    (True, "false", "REQUIRED"),
    (True, "", "REQUIRED"),
    (True, 0, "REQUIRED"),
    (False, OMIT, False),
    (False, False, False),
    (False, "off", False),
    (False, True, True),
]


@pytest.mark.parametrize("section", [FormSection.EVENT, FormSection.CONTACT])
@pytest.mark.parametrize(("required", "raw", "expected"), CHECKBOX_CASES)
def test_checkbox_required_means_it_must_be_checked(setup, section, required, raw, expected):
    ff = custom_field(setup, section=section, type=FieldType.CHECKBOX, required=required)
    omit = raw is OMIT
    if expected == "REQUIRED":
        assert answer_errors(setup, ff, raw, omit=omit) == [(path(ff), "REQUIRED")]
    else:
        assert answer(setup, ff, raw, omit=omit)[str(ff.pk)] is expected


# contact built-ins: answers, expected errors
CONTACT_BUILTINS = [
    ({"email": "ada@example.com"}, [("contact.name", "REQUIRED")]),
    ({"name": "  ", "email": "ada@example.com"}, [("contact.name", "REQUIRED")]),
    ({"name": "Ada"}, [("contact.email", "REQUIRED")]),
    ({"name": "Ada", "email": "ada-at-example.com"}, [("contact.email", "INVALID")]),
    ({"name": "Ada", "email": "ada@example.com", "phone": "ring ring"}, [("contact.phone", "INVALID")]),
    ({"name": "Ada", "email": "ada@example.com", "phone": ""}, []),
    ({"name": "Ada", "email": "ada@example.com", "phone": "+44 20 7946 0958"}, []),
    ({"name": "x" * 201, "email": "ada@example.com"}, [("contact.name", "MAX_LENGTH")]),
    ({}, [("contact.name", "REQUIRED"), ("contact.email", "REQUIRED")]),
    ("not an object", [("contact", "INVALID")]),
]


@pytest.mark.parametrize(("contact", "expected"), CONTACT_BUILTINS)
def test_contact_builtin_fields(setup, contact, expected):
    if not expected:
        clean = validate(setup, contact=contact)
        assert clean.contact["name"] == "Ada"
        assert clean.contact["email"] == "ada@example.com"
    else:
        assert errors_of(setup, contact=contact) == expected


def test_contact_email_is_stored_lower_case_and_trimmed(setup):
    clean = validate(setup, contact={"name": " Ada ", "email": " Ada@Example.COM "})
    assert clean.contact == {"name": "Ada", "email": "ada@example.com"}


# event built-ins: changes to a valid event, expected errors (single event)
EVENT_BUILTINS = [
    ({"title": ""}, [("event.title", "REQUIRED")]),
    ({"title": "x" * 301}, [("event.title", "MAX_LENGTH")]),
    ({"start": None}, [("event.start", "REQUIRED")]),
    ({"end": ""}, [("event.end", "REQUIRED")]),
    ({"start": "tomorrow morning"}, [("event.start", "INVALID")]),
    ({"end": "2031-02-30T10:00:00"}, [("event.end", "INVALID")]),
    ({"resourceIds": []}, [("event.resourceIds", "REQUIRED")]),
    ({"resourceIds": None}, [("event.resourceIds", "REQUIRED")]),
    ({"resourceIds": "room"}, [("event.resourceIds", "INVALID")]),
]


@pytest.mark.parametrize(("changes", "expected"), EVENT_BUILTINS)
def test_event_builtin_fields(setup, changes, expected):
    assert errors_of(setup, events=[{**setup.event(), **changes}]) == expected


def test_a_valid_event_is_cleaned(setup):
    start = future(days=5, hour=14)
    clean = validate(
        setup,
        events=[
            setup.event(
                start=start,
                end=start + timedelta(hours=2),
                title="  Board  ",
                resources=[setup.room, setup.desks],
                attendees="3",
            )
        ],
    )
    (event,) = clean.events
    assert event.title == "Board"
    assert event.start == start and event.end == start + timedelta(hours=2)
    assert event.start.utcoffset() == timedelta(0)
    assert event.resources == [setup.room, setup.desks]
    assert event.attendees == 3
    assert event.field == "event"


@pytest.mark.parametrize("single", [True, False])
def test_no_events_at_all_is_required(setup, single):
    assert errors_of(setup, events=[], single=single) == [("event" if single else "events", "REQUIRED")]


# --- min and max -----------------------------------------------------------------------------------

# type, min, max, answer, expected error code (None: accepted)
BOUNDS = [
    ("number", 2, 10, "2", None),
    ("number", 2, 10, "1.99", "MIN_VALUE"),
    ("number", 2, 10, 10, None),
    ("number", 2, 10, "10.0001", "MAX_VALUE"),
    ("number", 2, 10, 11, "MAX_VALUE"),
    ("number", 0, None, 0, None),
    ("number", 0, None, -1, "MIN_VALUE"),
    ("number", None, 0, 0, None),
    ("number", None, 0, "0.5", "MAX_VALUE"),
    ("number", "-5.5", "-1", "-5.5", None),
    ("number", "-5.5", "-1", "-5.6", "MIN_VALUE"),
    ("number", "-5.5", "-1", "-0.9", "MAX_VALUE"),
    ("text", 3, 5, "abc", None),
    ("text", 3, 5, "ab", "MIN_LENGTH"),
    ("text", 3, 5, "  ab  ", "MIN_LENGTH"),
    ("text", 3, 5, "abcde", None),
    ("text", 3, 5, "abcdef", "MAX_LENGTH"),
    ("textarea", 1, 10, "a", None),
    ("textarea", None, 10, "0123456789", None),
    ("textarea", None, 10, "0123456789X", "MAX_LENGTH"),
    ("email", None, 13, "a@example.org", None),
    ("email", None, 13, "ab@example.org", "MAX_LENGTH"),
    ("url", 20, None, "https://example.org/", None),
    ("url", 20, None, "https://example.org", "MIN_LENGTH"),
]


@pytest.mark.parametrize(("ftype", "low", "high", "value", "code"), BOUNDS)
def test_min_and_max_at_the_boundary(setup, ftype, low, high, value, code):
    ff = custom_field(setup, type=ftype, min_value=low, max_value=high)
    if code is None:
        assert str(ff.pk) in answer(setup, ff, value)
    else:
        assert answer_errors(setup, ff, value) == [(path(ff), code)]


# --- unknown and archived fields -------------------------------------------------------------------


def test_unknown_event_answer_is_reported(setup):
    assert errors_of(setup, colour="red") == [("event.colour", "UNKNOWN_FIELD")]


def test_unknown_contact_answer_is_reported(setup):
    assert errors_of(setup, contact={**CONTACT, "company": "ACME"}) == [("contact.company", "UNKNOWN_FIELD")]


def test_field_of_another_module_is_unknown(setup):
    other = FormFieldFactory(module=BookingModuleFactory(organization=setup.org), type=FieldType.TEXT)
    assert errors_of(setup, **{str(other.pk): "hi"}) == [(f"event.{other.pk}", "UNKNOWN_FIELD")]


def test_field_of_the_other_section_is_unknown(setup):
    contact_field = custom_field(setup, section=FormSection.CONTACT, type=FieldType.TEXT)
    event_field = custom_field(setup, section=FormSection.EVENT, type=FieldType.TEXT)
    assert errors_of(setup, **{str(contact_field.pk): "hi"}) == [(f"event.{contact_field.pk}", "UNKNOWN_FIELD")]
    assert errors_of(setup, contact={**CONTACT, str(event_field.pk): "hi"}) == [
        (f"contact.{event_field.pk}", "UNKNOWN_FIELD")
    ]


@pytest.mark.parametrize("section", [FormSection.EVENT, FormSection.CONTACT])
@pytest.mark.parametrize("value", ["an old answer", 12345, None])
def test_answers_to_archived_fields_are_dropped_silently(setup, section, value):
    ff = custom_field(setup, section=section, type=FieldType.NUMBER, required=True, max_value=3, archived=True)
    assert str(ff.pk) not in answer(setup, ff, value)
    assert str(ff.pk) not in answer(setup, ff, None, omit=True)


# --- field paths and reporting everything at once --------------------------------------------------


def test_field_paths_of_a_single_event(setup):
    ff = custom_field(setup, type=FieldType.NUMBER, required=True)
    event = {**setup.event(), "title": ""}
    assert errors_of(setup, events=[event], single=True) == [
        ("event.title", "REQUIRED"),
        (f"event.{ff.pk}", "REQUIRED"),
    ]


def test_field_paths_of_several_events(setup):
    ff = custom_field(setup, type=FieldType.NUMBER, required=True)
    good = setup.event(**{str(ff.pk): 1})
    bad = {**setup.event(start=future(days=8)), "title": "", str(ff.pk): "many"}
    assert errors_of(setup, events=[good, bad, good, "nonsense"], single=False) == [
        ("events[1].title", "REQUIRED"),
        (f"events[1].{ff.pk}", "INVALID"),
        ("events[3]", "INVALID"),
    ]


def test_several_clean_events_keep_their_own_paths(setup):
    clean = validate(setup, events=[setup.event(), setup.event(start=future(days=9))], single=False)
    assert [e.field for e in clean.events] == ["events[0]", "events[1]"]


def test_every_error_is_reported_at_once(setup):
    other_room = ResourceFactory(venue=setup.venue)
    newsletter = custom_field(setup, section=FormSection.CONTACT, type=FieldType.CHECKBOX, required=True)
    chairs = custom_field(setup, type=FieldType.NUMBER, required=True, min_value=0)
    kind = custom_field(setup, type=FieldType.SELECT, required=True, options=["Meeting"])
    contact = {"name": "", "email": "nope", "phone": "ring ring", "company": "ACME"}
    event0 = {
        "title": "",
        "start": "soon",
        "end": "",
        "resourceIds": [str(setup.room.pk), str(other_room.pk)],
        "attendees": 0,
        str(chairs.pk): "x",
        str(kind.pk): "Party",
        "zzz": 1,
    }
    event1 = setup.event(start=future(days=3), attendees=11, **{str(chairs.pk): -1})
    errors = errors_of(setup, contact=contact, events=[event0, event1], single=False)
    assert Counter(errors) == Counter(
        [
            ("contact.name", "REQUIRED"),
            ("contact.email", "INVALID"),
            ("contact.phone", "INVALID"),
            ("contact.company", "UNKNOWN_FIELD"),
            (f"contact.{newsletter.pk}", "REQUIRED"),
            ("events[0].title", "REQUIRED"),
            ("events[0].start", "INVALID"),
            ("events[0].end", "REQUIRED"),
            ("events[0].resourceIds", "RESOURCE_NOT_OFFERED"),
            ("events[0].attendees", "INVALID"),
            ("events[0].zzz", "UNKNOWN_FIELD"),
            (f"events[0].{chairs.pk}", "INVALID"),
            (f"events[0].{kind.pk}", "INVALID_CHOICE"),
            ("events[1].attendees", "TOO_MANY_ATTENDEES"),
            (f"events[1].{chairs.pk}", "MIN_VALUE"),
            (f"events[1].{kind.pk}", "REQUIRED"),
        ]
    )


def test_rule_errors_come_with_field_errors(setup):
    setup.room.min_duration_minutes = 60
    setup.room.save()
    start = future(days=3)
    short = setup.event(start=start, end=start + timedelta(minutes=59))
    errors = errors_of(setup, contact={"name": "Ada"}, events=[short, {**setup.event(), "title": ""}], single=False)
    assert Counter(errors) == Counter(
        [("contact.email", "REQUIRED"), ("events[0].end", "TOO_SHORT"), ("events[1].title", "REQUIRED")]
    )


def test_rules_are_not_checked_when_the_caller_overrides_them(setup):
    start = future(days=-1)
    events = [setup.event(start=start)]
    with pytest.raises(ValidationFailed) as exc_info:
        validate_submission(module=setup.module, contact=CONTACT, events=events, single_event=True)
    assert [(e.field, e.code) for e in exc_info.value.errors] == [("event.start", "IN_THE_PAST")]
    clean = validate_submission(
        module=setup.module, contact=CONTACT, events=events, single_event=True, check_rules=False
    )
    assert clean.events[0].start == start


# --- time zones ------------------------------------------------------------------------------------


# venue tz, organization tz, naive local time, expected UTC
NAIVE_TIMES = [
    ("America/New_York", "Europe/London", "2031-07-01T10:00:00", datetime(2031, 7, 1, 14, 0, tzinfo=UTC)),
    ("America/New_York", "Europe/London", "2031-01-15T10:00", datetime(2031, 1, 15, 15, 0, tzinfo=UTC)),
    ("Europe/London", "Asia/Tokyo", "2031-07-01T10:00:00", datetime(2031, 7, 1, 9, 0, tzinfo=UTC)),
    ("Europe/London", "Asia/Tokyo", "2031-01-15T10:00:00", datetime(2031, 1, 15, 10, 0, tzinfo=UTC)),
    ("", "Asia/Tokyo", "2031-07-01T10:00:00", datetime(2031, 7, 1, 1, 0, tzinfo=UTC)),
    # after the October clock change in London (26 Oct 2031)
    ("Europe/London", "UTC", "2031-10-26T10:00:00", datetime(2031, 10, 26, 10, 0, tzinfo=UTC)),
    ("Europe/London", "UTC", "2031-10-25T10:00:00", datetime(2031, 10, 25, 9, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize(("venue_tz", "org_tz", "naive", "expected"), NAIVE_TIMES)
def test_naive_times_are_the_venues_local_time(db, venue_tz, org_tz, naive, expected):
    org = OrganizationFactory(timezone=org_tz)
    resource = ResourceFactory(venue=VenueFactory(organization=org, timezone=venue_tz))
    module = BookingModuleFactory(organization=org, offered=[resource])
    end = (datetime.fromisoformat(naive) + timedelta(hours=1)).isoformat()
    clean = validate_submission(
        module=module,
        contact=CONTACT,
        single_event=True,
        check_rules=False,
        events=[{"title": "T", "start": naive, "end": end, "resourceIds": [str(resource.pk)]}],
    )
    (event,) = clean.events
    assert event.start == expected
    assert event.end == expected + timedelta(hours=1)
    assert event.start.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2031-07-01T10:00:00+02:00", datetime(2031, 7, 1, 8, 0, tzinfo=UTC)),
        ("2031-07-01T10:00:00-05:00", datetime(2031, 7, 1, 15, 0, tzinfo=UTC)),
        ("2031-07-01T10:00:00Z", datetime(2031, 7, 1, 10, 0, tzinfo=UTC)),
    ],
)
def test_times_with_an_offset_are_converted_to_utc(setup, value, expected):
    start = datetime.fromisoformat(value)
    event = {**setup.event(), "start": value, "end": (start + timedelta(hours=1)).isoformat()}
    (clean,) = validate(setup, events=[event]).events
    assert clean.start == expected
    assert clean.start.tzinfo is not None and clean.start.utcoffset() == timedelta(0)
    assert clean.end == expected + timedelta(hours=1)


# --- resources and attendees -----------------------------------------------------------------------


@pytest.mark.parametrize("which", ["same_org_not_offered", "other_org", "random_uuid", "not_a_uuid"])
def test_resource_not_offered_by_the_module(setup, which):
    if which == "same_org_not_offered":
        rid = str(ResourceFactory(venue=setup.venue).pk)
    elif which == "other_org":
        other = ResourceFactory()
        BookingModuleFactory(organization=other.venue.organization, offered=[other])
        rid = str(other.pk)
    elif which == "random_uuid":
        rid = str(uuid.uuid4())
    else:
        rid = "room-1"
    event = {**setup.event(), "resourceIds": [str(setup.room.pk), rid]}
    with pytest.raises(ValidationFailed) as exc_info:
        validate(setup, events=[event])
    (error,) = exc_info.value.errors
    assert (error.field, error.code, error.meta) == ("event.resourceIds", "RESOURCE_NOT_OFFERED", {"resourceId": rid})


def test_resource_offered_by_another_module_of_the_same_org_is_not_offered(setup):
    elsewhere = ResourceFactory(venue=setup.venue)
    BookingModuleFactory(organization=setup.org, offered=[elsewhere])
    assert errors_of(setup, resources=[elsewhere]) == [("event.resourceIds", "RESOURCE_NOT_OFFERED")]
    ModuleResourceFactory(module=setup.module, resource=elsewhere)
    assert validate(setup, resources=[elsewhere]).events[0].resources == [elsewhere]


def test_repeated_resource_ids_count_once(setup):
    event = {**setup.event(), "resourceIds": [str(setup.room.pk), str(setup.room.pk)], "attendees": 10}
    assert validate(setup, events=[event]).events[0].resources == [setup.room]


# resources (names on the Setup: room 10, hall 100, desks 3), attendees, clean value or error code
ATTENDEES = [
    (["room"], 10, 10),
    (["room"], 11, "TOO_MANY_ATTENDEES"),
    (["room"], "10", 10),
    (["room", "hall"], 110, 110),
    (["room", "hall"], 111, "TOO_MANY_ATTENDEES"),
    (["desks"], 3, 3),
    (["desks"], 4, "TOO_MANY_ATTENDEES"),
    (["room"], 1, 1),
    (["room"], None, None),
    (["room"], "", None),
    (["room"], 0, "INVALID"),
    (["room"], -2, "INVALID"),
    (["room"], "lots", "INVALID"),
    (["room"], "2.5", "INVALID"),
    (["room"], True, "INVALID"),
]


@pytest.mark.parametrize(("names", "attendees", "expected"), ATTENDEES)
def test_attendees_at_most_the_capacity_of_the_resources(setup, names, attendees, expected):
    resources = [getattr(setup, n) for n in names]
    if isinstance(expected, str):
        assert errors_of(setup, resources=resources, attendees=attendees) == [("event.attendees", expected)]
    else:
        assert validate(setup, resources=resources, attendees=attendees).events[0].attendees == expected


# --- sanitizing HTML with nh3 ----------------------------------------------------------------------


def test_request_note_is_sanitized_on_submit(setup):
    result = setup.submit(request_note=DIRTY_HTML)
    result.booking.refresh_from_db()
    assert result.booking.request_note == CLEAN_HTML
    for bad in ("<script", "alert", "onclick", "onmouseover", "javascript:", "<img", "<style"):
        assert bad not in result.booking.request_note


@pytest.mark.parametrize(
    ("factory", "attribute"),
    [
        (ResourceFactory, "description"),
        (PortalFactory, "description"),
        (BookingModuleFactory, "about_description"),
        (BookingModuleFactory, "terms"),
    ],
)
def test_descriptions_are_sanitized_on_save(db, factory, attribute):
    obj = factory(**{attribute: DIRTY_HTML})
    obj.refresh_from_db()
    assert getattr(obj, attribute) == CLEAN_HTML
    setattr(obj, attribute, '<p>Fine</p><iframe src="https://evil.example"></iframe><b onclick="x()">bold</b>')
    obj.save()
    obj.refresh_from_db()
    assert getattr(obj, attribute) == "<p>Fine</p><b>bold</b>"


def _count_validation_queries(setup, n_events: int) -> int:
    FormFieldFactory(module=setup.module, section="event", label="Chairs", type="number")
    FormFieldFactory(module=setup.module, section="contact", label="Company", type="text")
    events = [setup.event(start=future(3 + i, 10), title=f"Occurrence {i}") for i in range(n_events)]
    with CaptureQueriesContext(connection) as ctx:
        validate_submission(
            module=setup.module,
            contact={"name": "Ada", "email": "ada@example.com"},
            events=events,
            single_event=n_events == 1,
        )
    return len(ctx.captured_queries)


def test_validation_queries_do_not_grow_with_the_number_of_events(setup):
    one = _count_validation_queries(setup, 1)
    assert _count_validation_queries(setup, 12) == one
