"""Rendering a Notification's snapshot into what is sent (docs/architecture.md#emails).

The row written in the caller's transaction holds a JSON snapshot of what the email shows, as it was at
commit; the worker renders it here right before the first send and stores the result, so a retry sends
the same bytes. The snapshot:

- `template`, `html_template`: the text and HTML templates (the HTML one may be empty);
- `language`: the language the email is written in;
- `context`: the templates' context, plain JSON (objects become the few attributes the templates read);
- `html`: basic HTML values, sanitized when written: each is shown as text under its name and as markup
  under `<name>_html` (the booker's note);
- `staff_message`: staff's added message (sanitized HTML), text in the text body, markup in the HTML one;
- `calendar` (optional): an .ics to attach, as `calendar_ics` takes it;
- `custom` (optional): staff's own body (`body`, Jinja2 source) of template `template`, rendered in the
  sandbox of notifications.templating in place of the default body, inside the same layout; `subject_error`
  when staff's subject could not be rendered at write time, `updated_at` (ISO) of the template's version the
  email was written with, so a failure is recorded on that version only (docs/architecture.md#email-templates).
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import strip_tags
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from icalendar import Calendar
from icalendar import Event as VEvent

from core.html import sanitize_html

from .models import Notification
from .templating import TemplateProblem, body_html, placeholder_values, template_render

logger = logging.getLogger(__name__)

PRODID = "-//Allot//Bookings//EN"
ICS_FILENAME = "booking.ics"
ICS_MIMETYPE = "text/calendar"

_BLOCK_END_RE = re.compile(r"</(?:p|h3|h4|blockquote|ul|ol)>", re.IGNORECASE)
_BREAK_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)
_LIST_ITEM_RE = re.compile(r"<li(?:\s[^>]*)?>", re.IGNORECASE)
_LINK_RE = re.compile(r'<a\s[^>]*?href="([^"]*)"[^>]*>(.*?)</a>', re.IGNORECASE | re.DOTALL)
_TAG_OPENER_RE = re.compile(r"<+(?=[A-Za-z/!?])")


def html_to_text(value: str) -> str:
    """Basic HTML (what sanitize_html keeps) as readable plain text for a text/plain body: paragraphs and
    line breaks stay, list items get a dash, a link keeps its address, entities are decoded."""
    if not value:
        return ""

    def link(match: re.Match) -> str:
        # Both stay entity-encoded until the one decoding pass below.
        href, label = match[1], match[2]
        shown = html.unescape(strip_tags(label)).strip()
        return label if html.unescape(href) in ("", shown, f"mailto:{shown}") else f"{label} ({href})"

    text = _LINK_RE.sub(link, sanitize_html(value))
    text = _BREAK_RE.sub("\n", _BLOCK_END_RE.sub("\n\n", text))
    text = _LIST_ITEM_RE.sub("\n- ", text)
    # Decoding entities could turn "&lt;b&gt;" back into a tag: drop any "<" that could open one (not
    # strip_tags again, which would mangle a bare "&" next to it).
    text = _TAG_OPENER_RE.sub("", html.unescape(strip_tags(text)))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- the calendar file ------------------------------------------------------------------------------


def calendar_ics(calendar: dict[str, Any]) -> str:
    """An iCalendar file (RFC 5545) from its snapshot: `stamp` (ISO, the DTSTAMP: when the row was written),
    `description`, and `events` of `uid`, `start`, `end` (ISO, UTC), `summary`, `location`.

    Times are written in UTC: every calendar client converts them to the reader's zone, and no VTIMEZONE
    block has to be kept in step with the tz database."""
    stamp = datetime.fromisoformat(calendar["stamp"]).astimezone(UTC)
    ics = Calendar()
    ics.add("prodid", PRODID)
    ics.add("version", "2.0")
    # PUBLISH, not REQUEST: REQUEST is an iTIP invitation that expects an ORGANIZER and a reply from
    # the attendee; this file only tells the booker's calendar what was confirmed.
    ics.add("method", "PUBLISH")
    for event in calendar["events"]:
        vevent = VEvent()
        vevent.add("uid", event["uid"])
        vevent.add("dtstamp", stamp)
        vevent.add("dtstart", datetime.fromisoformat(event["start"]).astimezone(UTC))
        vevent.add("dtend", datetime.fromisoformat(event["end"]).astimezone(UTC))
        vevent.add("summary", event["summary"])
        if event.get("location"):
            vevent.add("location", event["location"])
        vevent.add("description", calendar["description"])
        vevent.add("status", "CONFIRMED")
        ics.add_component(vevent)
    return ics.to_ical().decode()


# --- the bodies -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    body_text: str
    body_html: str
    attachments: list[dict[str, str]]
    # Why staff's template (snapshot["custom"]) was not used and the default was (empty: it was, or none).
    template_error: str = ""


def _custom_body(snapshot: dict[str, Any], context: dict[str, Any]) -> tuple[str | None, str]:
    """Staff's body rendered in the sandbox (None: there is none, or it failed), and why it failed or the
    subject did. Never raises: a template that fails leaves the default body (docs/architecture.md#email-templates)."""
    custom = snapshot.get("custom") or {}
    errors = [_("Subject: %(error)s") % {"error": custom["subject_error"]}] if custom.get("subject_error") else []
    text = None
    if custom.get("body"):
        try:
            # A body that renders to nothing (`{% if note %}...{% endif %}` without a note) would send an
            # empty email: the default body is used, as for an empty subject. Not a failure: the template
            # did what it says.
            text = template_render(custom["body"], placeholder_values(context)).strip() or None
        except TemplateProblem as problem:
            errors.append(_("Body: %(error)s") % {"error": problem.message})
        except Exception as exc:  # the last wall: whatever slipped past template_render, the default is sent
            logger.exception("email template %s crashed while rendering", custom.get("template"))
            errors.append(_("Body: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"[:500]})
    return text, " ".join(errors)


def notification_render(snapshot: dict[str, Any], *, subject: str) -> Rendered:
    """The text and HTML bodies and the attachments (`{"filename", "mimetype", "content"}`, text content)
    that `snapshot` describes. Pure: the same snapshot always gives the same bytes."""
    context: dict[str, Any] = {**snapshot.get("context", {}), "subject": subject}
    for name, value in (snapshot.get("html") or {}).items():
        # Sanitized when written; sanitized again because this is where it becomes markup.
        context[name] = html_to_text(value)
        context[f"{name}_html"] = mark_safe(sanitize_html(value))  # noqa: S308
    message_html = snapshot.get("staff_message") or ""
    custom_text, template_error = _custom_body(snapshot, context)
    text_template, html_template = snapshot["template"], snapshot.get("html_template")
    if custom_text is not None:
        # Staff's body in place of the kind's own body block; the rest of the kind's layout stays.
        context.update(custom_parent=text_template, custom_body=custom_text)
        context.update(custom_html_parent=html_template, custom_body_html=body_html(custom_text))
        text_template = "notifications/_custom.txt"
        html_template = "notifications/_custom.html" if html_template else html_template
    with translation.override(snapshot.get("language") or None):
        body_text = render_to_string(text_template, {**context, "staff_message": html_to_text(message_html)})
        body_html_out = ""
        if html_template:
            # Autoescaping is on for the HTML templates; the staff message is the one piece inserted as
            # HTML, and only after nh3 has reduced it to basic formatting.
            html_context = {**context, "staff_message": mark_safe(message_html)}  # noqa: S308
            body_html_out = render_to_string(html_template, html_context).strip() + "\n"
    attachments = []
    if snapshot.get("calendar"):
        content = calendar_ics(snapshot["calendar"])
        attachments.append({"filename": ICS_FILENAME, "mimetype": ICS_MIMETYPE, "content": content})
    return Rendered(
        body_text=body_text.strip() + "\n",
        body_html=body_html_out,
        attachments=attachments,
        template_error=template_error,
    )


def notification_bodies(notification: Notification) -> Rendered:
    """What the row sends: its stored bodies once the worker rendered them, else its snapshot rendered now
    (not stored: only the worker stores, with its claim)."""
    if notification.rendered:
        return Rendered(
            body_text=notification.body_text, body_html=notification.body_html, attachments=notification.attachments
        )
    return notification_render(notification.snapshot, subject=notification.subject)
