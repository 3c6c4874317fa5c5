"""Template helpers of the public pages."""

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

from core.html import sanitize_html

register = template.Library()


@register.filter
def sanitized(value: str | None) -> SafeString:
    """Basic HTML (descriptions, terms, notes) as the page shows it: sanitized again on the way out, so a
    value that reached the database some other way than the models' save() still cannot run a script."""
    return mark_safe(sanitize_html(value or ""))  # noqa: S308 - nh3 output


@register.simple_tag
def field_attrs(field) -> SafeString:
    """The extra attributes of an input (min, max, maxlength, autocomplete, ...), escaped."""
    return format_html_join(
        "", ' {}="{}"', ((name, value) for name, value in field.attrs.items() if value is not None and value != "")
    )


@register.filter
def wait_text(seconds: int) -> str:
    """How long to wait, in words: "30 seconds", "a minute", "5 minutes"."""
    seconds = int(seconds or 0)
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return "a minute" if minutes == 1 else f"{minutes} minutes"
