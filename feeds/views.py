"""The calendar feeds at their secret URLs, and the booker's own events as a file from their private page.

A wrong, malformed or revoked token gets the same short plain 404: nothing tells a revoked URL from one
that never existed, or a feed from a booking. Each miss counts against the client's address; too many in
a short time and every token URL answers 429 to it for a while (core.throttles).
"""

from __future__ import annotations

import hashlib
from typing import cast

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.utils.cache import get_conditional_response
from django.utils.http import content_disposition_header, quote_etag
from django.utils.text import slugify
from django.views.decorators.http import require_safe

from bookings.selectors import booking_by_access_token
from core.errors import NotFound
from core.throttles import guard

from .ics import booker_ics, feed_ics
from .selectors import booker_events, feed_by_token, feed_events

CALENDAR_CONTENT_TYPE = "text/calendar; charset=utf-8"
# Calendar apps poll; five minutes of reuse costs nothing and keeps a busy feed cheap. "private": the URL
# is a secret, so shared caches must not keep it.
FEED_CACHE_CONTROL = "private, max-age=300"
NOINDEX = "noindex, nofollow"


def _not_found() -> HttpResponse:
    response = HttpResponseNotFound("Not found.\n", content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = NOINDEX
    response["Referrer-Policy"] = "no-referrer"
    return response


def _throttled(wait: int) -> HttpResponse:
    """429 for a client that tried too many wrong tokens (core.throttles); plain text, like the 404."""
    response = HttpResponse(
        f"Too many wrong links from your network. Try again in {wait} seconds.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(wait)
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = NOINDEX
    response["Referrer-Policy"] = "no-referrer"
    return response


def _filename(name: str, fallback: str) -> str:
    return f"{slugify(name) or fallback}.ics"


@require_safe
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """GET /feeds/<token>.ics — the feed's events (see selectors.feed_events). Query parameters are
    ignored: what a feed shows is its own setting, never the caller's."""
    guessing = guard(request)
    if (wait := guessing.wait_seconds()) is not None:
        return _throttled(wait)
    try:
        feed = feed_by_token(token)
    except NotFound:
        guessing.miss()
        return _not_found()
    body = feed_ics(feed, feed_events(feed))
    etag = quote_etag(hashlib.sha256(body).hexdigest()[:32])
    response = HttpResponse(body, content_type=CALENDAR_CONTENT_TYPE)
    # With a file name Django always makes the header (None is for neither a name nor an attachment).
    response["Content-Disposition"] = cast(str, content_disposition_header(False, _filename(feed.name, "calendar")))
    response["Cache-Control"] = FEED_CACHE_CONTROL
    response["X-Robots-Tag"] = NOINDEX
    response["Referrer-Policy"] = "no-referrer"
    response["ETag"] = etag
    # The file only changes when an event does (see ics.feed_calendar): a poll with the last ETag gets a 304.
    return cast(HttpResponse, get_conditional_response(request, etag=etag, response=response))  # given one: never None


@require_safe
def booking_events_ics(request: HttpRequest, token: str) -> HttpResponse:
    """GET /b/<token>/events.ics — the booker's events, from a link on their private page."""
    guessing = guard(request)
    if (wait := guessing.wait_seconds()) is not None:
        return _throttled(wait)
    try:
        booking = booking_by_access_token(token)
    except NotFound:
        guessing.miss()
        return _not_found()
    body = booker_ics(booking, booker_events(booking))
    response = HttpResponse(body, content_type=CALENDAR_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, _filename(booking.title, "booking"))
    # The URL carries the booker's private token: kept out of every cache, other sites and search engines.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = NOINDEX
    return response
