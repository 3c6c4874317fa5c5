"""HTML sanitizing and plain text: what may reach a page from text people typed."""

import re

import nh3
from django.utils.html import strip_tags

ALLOWED_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "ul", "ol", "li", "a", "h3", "h4", "blockquote"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def sanitize_html(value: str | None) -> str:
    """Keep basic formatting; drop scripts, styles, event handlers and unsafe URLs."""
    if not value:
        return ""
    return nh3.clean(
        value,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


# A "<" that could still open a tag: strip_tags leaves an unclosed one (`<img src=x onerror=alert(1)`) as
# text, and whatever page the text is pasted into would close it.
_TAG_OPENER = re.compile(r"<+(?=[A-Za-z/!?])")


def plain_text(value: str) -> str:
    """Text without markup: tags stripped, and any "<" that could open one removed (a lone "a < b" stays)."""
    return _TAG_OPENER.sub("", strip_tags(value))
