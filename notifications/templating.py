"""Staff's own email subjects and bodies, rendered in a sandbox (docs/architecture.md#email-templates).

A custom template is Jinja2 source that staff type in the admin. It is checked twice, when it is saved and
every time it is rendered, by walking its syntax tree against a short list of what is allowed:

- text, `{{ placeholder }}` with a placeholder of `PLACEHOLDERS`, string and number constants;
- the filters of `FILTERS`, with constant or placeholder arguments;
- `{% if %}` / `{% elif %}` / `{% else %}` with `not`, `and`, `or`, comparisons and `x if y else z`.

Everything else is refused: attribute and item access (`''.__class__`), calls (`range(...)`), arithmetic
(`'x' * 10**9`), loops, `{% set %}`, macros, `{% import %}`, `{% include %}`, `{% extends %}`, blocks. The
source is then rendered by Jinja2's ImmutableSandboxedEnvironment without a loader, with no globals
(no `range`, `cycler`, `lipsum`, ...), only the filters of `FILTERS`, and StrictUndefined, and its output is
cut off at `MAX_OUTPUT` characters: the tree check is what keeps templates harmless, the sandbox is the
second wall behind it.

Every failure is a `TemplateProblem` with a machine code: `INVALID_TEMPLATE` (does not parse, or uses what
is not allowed), `UNKNOWN_PLACEHOLDER`, `RENDER_FAILED` (anything at render time, output too long included).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from types import CodeType
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

# The placeholders a custom template may use, with what they hold (shown in the admin).
PLACEHOLDERS: dict[str, Any] = {
    "booker_name": _("The booker's name."),
    "booker_email": _("The booker's email address."),
    "booking_title": _("The booking's title."),
    "organization_name": _("Your organization's name."),
    "module_name": _("The booking module's name."),
    "when": _(
        "The first requested time in the venue's local time, with its time zone, e.g. "
        "“Mon 07 Dec 2026, 10:00–11:00 (Europe/Berlin)”; empty when the email lists none."
    ),
    "event_count": _("How many requested times the email lists (a number)."),
    "note": _("The booker's note, as plain text (emails to the module admin); empty when none."),
    "visitor_name": _("The invited visitor's name (visitor invitations); empty otherwise."),
    "admin_email": _("The module admin's email address; empty when the module has none."),
    "is_cancellation": _("True when the change request asks to cancel the booking (change request emails)."),
}

# Filters that only reshape a value already at hand: none of them can make output grow much.
FILTERS: dict[str, Any] = {
    name: ImmutableSandboxedEnvironment().filters[name]
    for name in ("upper", "lower", "title", "capitalize", "trim", "default", "truncate")
}

MAX_SOURCE = 10_000  # characters of a body's source (a subject's is 300)
MAX_OUTPUT = 20_000  # characters a rendered template may have
# Levels of nesting of the syntax tree (each `{% if %}` inside another, each filter of a chain, each `and`,
# `not` or parenthesis adds one): far more than any wording needs, far less than what makes Jinja2's
# parser, compiler or Python's own compile() give up (RecursionError, "too many levels of indentation").
MAX_DEPTH = 30

INVALID_TEMPLATE = "INVALID_TEMPLATE"
UNKNOWN_PLACEHOLDER = "UNKNOWN_PLACEHOLDER"
RENDER_FAILED = "RENDER_FAILED"


class TemplateProblem(Exception):
    """Why a custom template cannot be saved or rendered: `code` (above) and a readable message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- the environment ------------------------------------------------------------------------------------


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        autoescape=False,  # text; the HTML body escapes it (body_html)
        undefined=StrictUndefined,
        loader=None,  # nothing to include, import or extend
        extensions=(),
        auto_reload=False,
        cache_size=0,
    )
    env.globals.clear()  # range, cycler, joiner, namespace, dict, lipsum
    env.filters = dict(FILTERS)
    env.tests = {}  # `is ...` tests are refused by the tree check anyway
    return env


_ENV = _environment()

# What the tree check lets through. Anything not in here (Getattr, Getitem, Call, For, Assign, Import,
# Include, Extends, Macro, BinExpr, Concat, List, Dict, ...) is refused.
_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.Filter,
    nodes.If,
    nodes.Not,
    nodes.And,
    nodes.Or,
    nodes.Compare,
    nodes.Operand,
    nodes.CondExpr,
    nodes.Keyword,
)
_TAG_NAMES = {
    nodes.For: "for",
    nodes.Assign: "set",
    nodes.AssignBlock: "set",
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.FilterBlock: "filter",
    nodes.Import: "import",
    nodes.FromImport: "from",
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.Block: "block",
    nodes.With: "with",
}


def _walk(node: nodes.Node) -> Iterator[nodes.Node]:
    """Every node of the tree, without recursion (a deep tree must not exhaust Python's stack). Raises
    TemplateProblem past `MAX_DEPTH` levels of nesting."""
    stack: list[tuple[nodes.Node, int]] = [(node, 0)]
    while stack:
        current, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise TemplateProblem(INVALID_TEMPLATE, _too_deep())
        yield current
        # Reversed, so the nodes come in the order they are written (the first refusal is the first one).
        stack.extend(reversed([(child, depth + 1) for child in current.iter_child_nodes()]))


def _refusal(node: nodes.Node) -> str | None:
    """Why `node` is not allowed (None: it is)."""
    if not isinstance(node, _ALLOWED_NODES):
        tag = next((name for cls, name in _TAG_NAMES.items() if isinstance(node, cls)), None)
        if tag is not None:
            return str(_("The tag {%% %(tag)s %%} is not allowed; use placeholders and {%% if %%}.") % {"tag": tag})
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            return str(_("Only the placeholders themselves may be used, not their attributes or items."))
        if isinstance(node, nodes.Call):
            return str(_("Calling functions is not allowed."))
        return str(_("This expression is not allowed here (line %(line)s).") % {"line": node.lineno})
    if isinstance(node, nodes.Filter):
        if node.name not in FILTERS:
            allowed = ", ".join(FILTERS)
            return str(
                _("The filter “%(name)s” is not allowed (allowed: %(allowed)s).")
                % {"name": node.name, "allowed": allowed}
            )
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            return str(_("Filters take plain arguments only."))
    if isinstance(node, nodes.Name) and node.ctx != "load":
        return str(_("Assigning to a placeholder is not allowed."))
    return None


def _too_deep() -> str:
    return str(
        _("The template is nested too deeply (at most %(n)s levels of {%% if %%}, filters, and/or/not).")
        % {"n": MAX_DEPTH}
    )


def _compiled(source: str, max_length: int) -> CodeType:
    """`source` checked and compiled. Raises TemplateProblem, never anything else: whatever Jinja2 or Python
    raise on a hostile source (RecursionError on deep nesting, ValueError on a 5,000-digit number,
    IndentationError from compile()) is a refusal, not a crash."""
    if len(source) > max_length:
        raise TemplateProblem(INVALID_TEMPLATE, str(_("At most %(n)s characters.") % {"n": max_length}))
    try:
        tree = _ENV.parse(source)
        for node in _walk(tree):
            reason = _refusal(node)
            if reason is not None:
                raise TemplateProblem(INVALID_TEMPLATE, reason)
            if isinstance(node, nodes.Name) and node.name not in PLACEHOLDERS:
                raise TemplateProblem(
                    UNKNOWN_PLACEHOLDER,
                    str(_("“%(name)s” is not a placeholder (see the list below the form).") % {"name": node.name}),
                )
        # Only what passed the walk is compiled; compile() has limits of its own (Python's nesting of blocks).
        return _ENV.compile(tree)
    except TemplateProblem:
        raise
    except TemplateSyntaxError as exc:
        raise TemplateProblem(
            INVALID_TEMPLATE, str(_("Line %(line)s: %(error)s") % {"line": exc.lineno, "error": exc.message})
        ) from exc
    except RecursionError as exc:
        raise TemplateProblem(INVALID_TEMPLATE, _too_deep()) from exc
    except Exception as exc:  # ValueError (a number too long to read), SyntaxError from compile(), ...
        raise TemplateProblem(
            INVALID_TEMPLATE, str(_("The template cannot be read: %(error)s") % {"error": str(exc)[:200]})
        ) from exc


def template_check(source: str, *, max_length: int = MAX_SOURCE) -> None:
    """Raise TemplateProblem unless `source` parses, uses only what this module allows and compiles. Raises
    nothing else."""
    _compiled(source, max_length)


def template_render(source: str, values: Mapping[str, Any], *, max_output: int = MAX_OUTPUT) -> str:
    """`source` rendered with `values` (every placeholder). Raises TemplateProblem, never anything else."""
    try:
        code = _compiled(source, MAX_SOURCE)
        template = _ENV.template_class.from_code(_ENV, code, _ENV.make_globals(None))
        parts: list[str] = []
        size = 0
        for part in template.generate({name: values.get(name, "") for name in PLACEHOLDERS}):
            size += len(part)
            if size > max_output:
                raise TemplateProblem(
                    RENDER_FAILED, str(_("The text is longer than %(n)s characters.") % {"n": max_output})
                )
            parts.append(part)
    except TemplateProblem:
        raise
    except Exception as exc:  # a sandbox refusal, a filter given a wrong argument, ...
        raise TemplateProblem(RENDER_FAILED, f"{type(exc).__name__}: {exc}"[:500]) from exc
    return "".join(parts)


# --- values and the HTML body ---------------------------------------------------------------------------


def placeholder_values(context: Mapping[str, Any]) -> dict[str, Any]:
    """The placeholders' values from an email snapshot's context (bookings.notify, with the note already
    made text, as notifications.rendering does): plain strings, a number and a boolean."""

    def part(name: str, key: str) -> str:
        value = context.get(name)
        return str(value.get(key) or "") if isinstance(value, Mapping) else ""

    events = [e for e in context.get("events") or () if isinstance(e, Mapping)]
    first = events[0] if events else None
    change_request = context.get("change_request")
    return {
        "booker_name": part("booking", "booker_name"),
        "booker_email": part("booking", "booker_email"),
        "booking_title": part("booking", "title"),
        "organization_name": part("organization", "name"),
        "module_name": part("module", "name"),
        "when": f"{first.get('when', '')} ({first.get('timezone', '')})" if first else "",
        "event_count": len(events),
        "note": str(context.get("note") or ""),
        "visitor_name": part("visitor", "name"),
        "admin_email": str(context.get("admin_email") or ""),
        "is_cancellation": bool(isinstance(change_request, Mapping) and change_request.get("cancellation")),
    }


_BLANK_LINES = re.compile(r"\n\s*\n")


def body_html(text: str) -> SafeString:
    """A rendered text body as HTML for our email layout: escaped, paragraphs at blank lines, <br> at line
    breaks. Nothing in it becomes markup or a link."""
    paragraphs = [p.strip("\n") for p in _BLANK_LINES.split(text.replace("\r\n", "\n").strip())]
    html = "\n".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs if p.strip())
    return mark_safe(html)  # noqa: S308  (every piece escaped above)
