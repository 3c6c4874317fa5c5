"""Who the client is, for django-axes' login lockout: the same address the API throttles use."""

from __future__ import annotations

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.conf import settings
from django.contrib import admin
from django.template.response import TemplateResponse


def client_ip(request) -> str | None:
    """REMOTE_ADDR, or behind NUM_PROXIES proxies the address the outermost of ours put in X-Forwarded-For.

    Only the last NUM_PROXIES entries of X-Forwarded-For were written by our proxies; anything left of
    them came from the client and could be anything, so trusting it would let an attacker pick a fresh
    address per attempt and never be locked out (and with no proxy configured the header is ignored).
    """
    remote_addr = request.META.get("REMOTE_ADDR")
    num_proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if not num_proxies or not forwarded:
        return remote_addr
    addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
    if not addresses:
        return remote_addr
    return addresses[-min(num_proxies, len(addresses))]


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out sign-in: the admin's own frame saying what happened and for how
    long (HTTP 429), instead of a bare line of text."""
    cool_off = get_cool_off(request)
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed sign-ins",
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
        "cooloff_minutes": int(cool_off.total_seconds() // 60) if cool_off else None,
    }
    response = TemplateResponse(request, "admin/locked_out.html", context, status=429)
    response["Retry-After"] = str(int(cool_off.total_seconds())) if cool_off else "3600"
    return response.render()
