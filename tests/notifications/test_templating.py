"""The sandbox of staff's email templates (docs/architecture.md#email-templates): what a template may use,
what it renders to with each placeholder, and the injection attempts that must fail harmlessly (refused
with a code, never run, never an exception other than TemplateProblem)."""

from __future__ import annotations

import time

import pytest

from notifications.templating import (
    INVALID_TEMPLATE,
    PLACEHOLDERS,
    RENDER_FAILED,
    UNKNOWN_PLACEHOLDER,
    TemplateProblem,
    body_html,
    placeholder_values,
    template_check,
    template_render,
)

VALUES = {
    "booker_name": "Ada Lovelace",
    "booker_email": "ada@example.com",
    "booking_title": "Team offsite",
    "organization_name": "Acme Hall",
    "module_name": "Rooms",
    "when": "Mon 07 Dec 2026, 10:00–12:00 (Europe/Berlin)",
    "event_count": 2,
    "note": "We bring a projector.",
    "visitor_name": "Grace Hopper",
    "admin_email": "admin@example.org",
    "is_cancellation": True,
}


def test_the_values_cover_every_placeholder():
    assert set(VALUES) == set(PLACEHOLDERS)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("booker_name", "Ada Lovelace"),
        ("booker_email", "ada@example.com"),
        ("booking_title", "Team offsite"),
        ("organization_name", "Acme Hall"),
        ("module_name", "Rooms"),
        ("when", "Mon 07 Dec 2026, 10:00–12:00 (Europe/Berlin)"),
        ("event_count", "2"),
        ("note", "We bring a projector."),
        ("visitor_name", "Grace Hopper"),
        ("admin_email", "admin@example.org"),
        ("is_cancellation", "True"),
    ],
)
def test_each_placeholder_renders_its_value(name, expected):
    assert template_render(f"<{{{{ {name} }}}}>", VALUES) == f"<{expected}>"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hello {{ booker_name|upper }}", "Hello ADA LOVELACE"),
        ("{{ booking_title|lower }}", "team offsite"),
        ("{{ module_name|title }} {{ booker_email|capitalize }}", "Rooms Ada@example.com"),
        ("[{{ '  x  '|trim }}]", "[x]"),
        ("{{ note|default('none') }}", "We bring a projector."),
        ("{{ booking_title|truncate(9, True, '…', 0) }}", "Team off…"),
        ("{% if is_cancellation %}cancel{% else %}change{% endif %}", "cancel"),
        ("{% if event_count > 1 %}times{% elif event_count == 1 %}time{% endif %}", "times"),
        ("{% if not note and visitor_name %}a{% else %}b{% endif %}", "b"),
        ("{{ 'yes' if is_cancellation else 'no' }}", "yes"),
        ("{# a comment #}text", "text"),
        ("{% raw %}{{ not_a_placeholder }}{% endraw %}", "{{ not_a_placeholder }}"),
    ],
)
def test_allowed_templates_render(source, expected):
    template_check(source)
    assert template_render(source, VALUES) == expected


def test_text_is_not_escaped_and_markup_stays_text():
    assert template_render("{{ booker_name }}", {**VALUES, "booker_name": "<b>Ada</b> & co"}) == "<b>Ada</b> & co"


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("{{ booker_name", INVALID_TEMPLATE),
        ("{% if note %}open", INVALID_TEMPLATE),
        ("{% endif %}", INVALID_TEMPLATE),
        ("{{ booking }}", UNKNOWN_PLACEHOLDER),
        ("{% if secret %}x{% endif %}", UNKNOWN_PLACEHOLDER),
        ("{{ note|safe }}", INVALID_TEMPLATE),
        ("{{ note|center(1000000) }}", INVALID_TEMPLATE),
        ("{{ note|attr('__class__') }}", INVALID_TEMPLATE),
        ("{{ note|format('%s') }}", INVALID_TEMPLATE),
        ("{{ note is defined }}", INVALID_TEMPLATE),
        ("x" * 10_001, INVALID_TEMPLATE),
    ],
)
def test_invalid_templates_are_refused_with_a_code(source, code):
    with pytest.raises(TemplateProblem) as refused:
        template_check(source)
    assert refused.value.code == code
    assert refused.value.message


# Injection attempts: each is refused by the tree check (before anything runs), quickly, with a code.
INJECTIONS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ booker_name.__class__ }}",
    "{{ booker_name['__class__'] }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler }}",
    "{{ lipsum() }}",
    "{{ config }}",
    "{{ self }}",
    "{% import 'x' as y %}",
    "{% from 'x' import y %}",
    "{% include 'notifications/_base.txt' %}",
    "{% extends 'notifications/_base.txt' %}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{% for c in booker_name %}{{ c }}{% endfor %}",
    "{{ 'x' * 10**9 }}",
    "{{ booker_name * 1000000000 }}",
    "{{ 10**10**10 }}",
    "{{ booker_name ~ booker_name }}",
    "{% set x = 'a' %}{{ x }}",
    "{% set x %}a{% endset %}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{% block b %}{% endblock %}",
    "{% with a = 1 %}{% endwith %}",
    "{% filter upper %}x{% endfilter %}",
    "{{ [1, 2] }}",
    "{{ {'a': 1} }}",
    "{{ booker_name[0:1] }}",
    "{{ booker_name|map('upper')|list }}",
    "{{ booker_name|join(*note) }}",
]


@pytest.mark.parametrize("source", INJECTIONS)
def test_injection_attempts_fail_harmlessly(source):
    started = time.monotonic()
    for attempt in (template_check, lambda s: template_render(s, VALUES)):
        with pytest.raises(TemplateProblem) as refused:
            attempt(source)
        assert refused.value.code in (INVALID_TEMPLATE, UNKNOWN_PLACEHOLDER)
    assert time.monotonic() - started < 1


def test_a_runtime_error_is_a_render_failure_not_an_exception():
    with pytest.raises(TemplateProblem) as failed:
        template_render("{{ booking_title|truncate('x') }}", VALUES)
    assert failed.value.code == RENDER_FAILED


def test_output_is_capped_while_rendering():
    source = "{{ note }}" * 900  # 9,000 characters of source, far more of output
    with pytest.raises(TemplateProblem) as failed:
        template_render(source, {**VALUES, "note": "n" * 5_000})
    assert failed.value.code == RENDER_FAILED
    assert "longer than" in failed.value.message


def test_placeholder_values_from_an_email_context():
    context = {
        "booking": {"title": "Offsite", "booker_name": "Ada", "booker_email": "ada@example.com"},
        "organization": {"name": "Acme"},
        "module": {"name": "Rooms"},
        "events": [
            {"when": "Mon 07 Dec 2026, 10:00–12:00", "timezone": "Europe/Berlin"},
            {"when": "Tue 08 Dec 2026, 10:00–12:00", "timezone": "Europe/Berlin"},
        ],
        "note": "Hi",
        "visitor": {"name": "Grace"},
        "admin_email": "admin@example.org",
        "change_request": {"cancellation": True},
    }
    assert placeholder_values(context) == {
        "booker_name": "Ada",
        "booker_email": "ada@example.com",
        "booking_title": "Offsite",
        "organization_name": "Acme",
        "module_name": "Rooms",
        "when": "Mon 07 Dec 2026, 10:00–12:00 (Europe/Berlin)",
        "event_count": 2,
        "note": "Hi",
        "visitor_name": "Grace",
        "admin_email": "admin@example.org",
        "is_cancellation": True,
    }
    assert placeholder_values({})["when"] == ""
    assert placeholder_values({"change_request": None})["is_cancellation"] is False


def test_the_html_body_escapes_everything_and_keeps_paragraphs_and_line_breaks():
    text = "Hello <b>Ada</b> & co,\n\nline one\nline two <script>x</script>\n\n\n<a href='https://x'>x</a>"
    assert body_html(text) == (
        "<p>Hello &lt;b&gt;Ada&lt;/b&gt; &amp; co,</p>\n"
        "<p>line one<br>line two &lt;script&gt;x&lt;/script&gt;</p>\n"
        "<p>&lt;a href=&#x27;https://x&#x27;&gt;x&lt;/a&gt;</p>"
    )


# --- sources that used to crash the check instead of being refused -----------------------------------------

# Each is under the 10,000-character limit; each made Jinja2 or Python raise something other than
# TemplateSyntaxError (RecursionError, ValueError, IndentationError), which reached the admin as a 500 and
# the submit or the worker as a crash.
HOSTILE = {
    "a long filter chain": "{{ booker_name" + "|upper" * 1500 + " }}",
    "deep parentheses": "{{ " + "(" * 400 + "booker_name" + ")" * 400 + " }}",
    "a long and chain": "{% if " + " and ".join(["note"] * 1100) + " %}x{% endif %}",
    "a number too long to read": "{{ " + "9" * 5000 + " }}",
    # 297 characters: fits the subject column (300), and used to make every submit raise RecursionError.
    "a subject nested 140 deep": "{{ " + "(" * 140 + "booker_name" + ")" * 140 + " }}",
    # These two parse; Python's compile() then gives up ("too many levels of indentation", RecursionError).
    "120 nested ifs": "{% if note %}" * 120 + "x" + "{% endif %}" * 120,
    "900 chained nots": "{% if " + "not " * 900 + "note %}x{% endif %}",
}


@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_source_is_refused_not_a_crash(source):
    assert len(source) <= 10_000
    with pytest.raises(TemplateProblem) as refused:
        template_check(source)
    assert refused.value.code == INVALID_TEMPLATE
    assert refused.value.message
    with pytest.raises(TemplateProblem) as failed:
        template_render(source, VALUES)
    assert failed.value.code == INVALID_TEMPLATE


def test_nesting_a_wording_needs_is_allowed():
    source = (
        "{% if note %}{% if is_cancellation %}{% if event_count > 1 %}"
        "{{ booker_name|trim|default('you')|title|truncate(40) }}"
        "{% elif not (note and booker_name or admin_email) %}b{% endif %}{% endif %}{% endif %}"
    )
    template_check(source)
    assert template_render(source, VALUES) == "Ada Lovelace"


def test_the_nesting_limit_says_so():
    with pytest.raises(TemplateProblem) as refused:
        template_check("{{ booker_name" + "|trim" * 40 + " }}")
    assert "nested too deeply" in refused.value.message
