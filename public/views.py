"""The public pages (docs/architecture.md#public-site). Each view loads what it shows through
public.selectors, hands input to a form of public.forms (which calls the lifecycle services), and renders a
template of templates/public/."""

from __future__ import annotations

from datetime import date
from functools import wraps

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.cache import never_cache

from bookings.lifecycle.change_requests import booking_cancel_by_booker
from bookings.models import Booking, BookingStatus
from bookings.selectors import booking_by_access_token
from core.actor import Actor
from core.errors import DomainError, NotFound
from core.throttles import PublicSubmitThrottle, guard

from .forms.booking import HONEYPOT, BookingForm
from .forms.change import ChangeForm
from .forms.fields import MAX_NOTE, note_as_html
from .selectors import (
    booking_summary,
    calendar_grid,
    live_portal,
    module_title,
    portal_module,
    portal_modules,
)

UNLOCKED = "public.portals"  # session: portal id → proof of the password the booker gave
SENT = "public.sent"  # session: the booking just submitted, for its confirmation page


# --- shared --------------------------------------------------------------------------------------


def _throttle_wait(request: HttpRequest) -> int | None:
    """Seconds to wait when this client sent too many submissions (the API's per-IP allowance, shared
    with it: PUBLIC_SUBMIT_RATE, NUM_PROXIES); None when it may go ahead."""
    throttle = PublicSubmitThrottle()
    # The API's throttle reads only what a Django request has too (META); no API view here.
    if throttle.allow_request(request, None):  # type: ignore[arg-type]
        return None
    return max(1, int(throttle.wait() or 1))


def _throttled(response: HttpResponse, wait: int) -> HttpResponse:
    response["Retry-After"] = str(wait)
    return response


def _context(portal, module=None, **extra) -> dict:
    organization = (module or portal).organization
    return {
        "portal": portal,
        "module": module,
        "organization": organization,
        "module_title": module_title(module) if module else "",
        **extra,
    }


def _unlock_proof(portal) -> str:
    # Changes with the portal's password, so a new password locks out earlier sessions.
    return salted_hmac("public.portal-unlock", portal.password).hexdigest()


def _unlocked(request: HttpRequest, portal) -> bool:
    if not portal.password:
        return True
    proof = request.session.get(UNLOCKED, {}).get(str(portal.pk), "")
    return constant_time_compare(proof, _unlock_proof(portal))


def _password_page(
    request: HttpRequest, portal, *, error: str = "", next_url: str = "", status: int = 200, wait: int | None = None
) -> HttpResponse:
    return render(
        request,
        "public/password.html",
        _context(portal, error=error, next=next_url or request.get_full_path(), throttled_wait=wait),
        status=status,
    )


def _portal(slug: str):
    try:
        return live_portal(slug)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def module_page(view):
    """Loads the LIVE portal and its module (404 otherwise) and asks for a protected portal's password."""

    @wraps(view)
    def wrapper(request: HttpRequest, portal: str, module: str):
        portal_obj = _portal(portal)
        if not _unlocked(request, portal_obj):
            return _password_page(request, portal_obj)
        try:
            module_obj = portal_module(portal_obj, module)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        return view(request, portal_obj, module_obj)

    return wrapper


# --- portal and module pages -----------------------------------------------------------------------


def portal_home(request: HttpRequest, portal: str) -> HttpResponse:
    portal_obj = _portal(portal)
    if request.method == "POST":
        return _unlock(request, portal_obj)
    if not _unlocked(request, portal_obj):
        return _password_page(request, portal_obj)
    return render(request, "public/portal.html", _context(portal_obj, modules=portal_modules(portal_obj)))


def _unlock(request: HttpRequest, portal) -> HttpResponse:
    """The password form of a protected portal; once right, the whole session may see the portal."""
    home = reverse("public:portal", args=[portal.slug])
    next_url = request.POST.get("next", "")
    if not next_url.startswith(home) or "//" in next_url or "\\" in next_url:
        next_url = home
    if not portal.password or _unlocked(request, portal):
        return redirect(next_url)
    wait = _throttle_wait(request)  # password guesses count like submissions
    if wait is not None:
        return _throttled(_password_page(request, portal, next_url=next_url, status=429, wait=wait), wait)
    if not portal.check_password(request.POST.get("password", "")):
        return _password_page(request, portal, next_url=next_url, error="That password is not right. Try again.")
    request.session.cycle_key()
    request.session[UNLOCKED] = {**request.session.get(UNLOCKED, {}), str(portal.pk): _unlock_proof(portal)}
    return redirect(next_url)


@module_page
def module_about(request: HttpRequest, portal, module) -> HttpResponse:
    return render(
        request, "public/about.html", _context(portal, module, resources=module.public_resources, page="about")
    )


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@module_page
def module_calendar(request: HttpRequest, portal, module) -> HttpResponse:
    grid = calendar_grid(
        module=module,
        view=request.GET.get("view", "day"),
        day=_day(request.GET.get("date")),
        resource_id=request.GET.get("resource"),
    )
    return render(request, "public/calendar.html", _context(portal, module, grid=grid, page="calendar"))


@module_page
def module_book(request: HttpRequest, portal, module) -> HttpResponse:
    if request.method != "POST":
        form = BookingForm(module, initial=request.GET)
        return render(request, "public/book.html", _context(portal, module, form=form, page="book", honeypot=HONEYPOT))
    form = BookingForm(module, data=request.POST)
    action = request.POST.get("action", "submit")
    context = _context(portal, module, form=form, page="book", honeypot=HONEYPOT)
    if action == "add":
        form.add_event()
    elif action.startswith("remove-") and action[7:].isdigit():
        form.remove_event(int(action[7:]))
    elif request.POST.get("use"):  # a suggested free time: refill that date's times, nothing else
        form.use_slot(request.POST["use"])
    elif request.POST.get("check") or action == "check":
        # "Check availability": the validate endpoint's logic (bookings.validation.public); nothing is created.
        wait = _throttle_wait(request)
        if wait is not None:
            return _throttled(
                render(request, "public/book.html", {**context, "throttled_wait": wait}, status=429), wait
            )
        form.check()
    else:
        wait = _throttle_wait(request)
        if wait is not None:
            return _throttled(
                render(request, "public/book.html", {**context, "throttled_wait": wait}, status=429), wait
            )
        if form.honeypot_filled(request.POST):
            # Answered as if accepted, so a bot learns nothing; nothing is stored and no email goes out.
            request.session.pop(SENT, None)
            return redirect("public:sent", portal=portal.slug, module=module.slug)
        try:
            result = form.submit(portal)
        except NotFound as exc:  # the portal was unpublished a moment ago
            raise Http404(exc.message) from exc
        if result is not None:
            request.session[SENT] = str(result.booking.pk)
            return redirect("public:sent", portal=portal.slug, module=module.slug)
    return render(request, "public/book.html", context)


@module_page
def module_book_sent(request: HttpRequest, portal, module) -> HttpResponse:
    sent = request.session.get(SENT)
    booking = Booking.objects.filter(pk=sent, module=module).first() if sent else None
    summary = booking_summary(booking) if booking is not None else None
    return render(request, "public/sent.html", _context(portal, module, summary=summary, page="book"))


# --- the booker's private page ---------------------------------------------------------------------


# A page with forms cannot use "no-referrer": under it the browser sends `Origin: null` with the form's
# POST, and the CSRF check (rightly) refuses that. "same-origin" still never tells another site the link.
NO_REFERRER, SAME_ORIGIN = "no-referrer", "same-origin"


def private_view(referrer_policy: str):
    """Finds the booking by its link's token (only its hash is stored; a wrong one is a 404) and keeps the
    link out of caches, search engines and other sites' Referer headers."""

    def decorate(view):
        @wraps(view)
        @never_cache
        def wrapper(request: HttpRequest, token: str):
            guessing = guard(request)
            wait = guessing.wait_seconds()
            if wait is not None:  # checked before the lookup: a found token must not answer differently
                return link_throttled(request, wait)
            try:
                booking = booking_by_access_token(token)
            except NotFound as exc:
                guessing.miss()
                raise Http404(exc.message) from exc
            request.referrer_policy = referrer_policy  # type: ignore[attr-defined]  # for _private_context
            response = view(request, booking, token)
            response["Referrer-Policy"] = referrer_policy
            response["X-Robots-Tag"] = "noindex, nofollow"
            return response

        return wrapper

    return decorate


def link_throttled(request: HttpRequest, wait: int) -> HttpResponse:
    """429 for a client that tried too many wrong private links (core.throttles)."""
    response = render(
        request,
        "public/link_throttled.html",
        {"throttled_wait": wait, "private": True, "referrer_policy": NO_REFERRER},
        status=429,
    )
    response["Retry-After"] = str(wait)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = NO_REFERRER
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _private_context(request: HttpRequest, booking: Booking, token: str, **extra) -> dict:
    return {
        "organization": booking.organization,
        "module": booking.module,
        "module_title": module_title(booking.module),
        "token": token,
        "private": True,
        "referrer_policy": request.referrer_policy,  # type: ignore[attr-defined]  # set by private_view
        **extra,
    }


@private_view(NO_REFERRER)
def private_page(request: HttpRequest, booking: Booking, token: str) -> HttpResponse:
    context = _private_context(request, booking, token, summary=booking_summary(booking))
    return render(request, "public/private.html", context)


@private_view(SAME_ORIGIN)
def private_change(request: HttpRequest, booking: Booking, token: str) -> HttpResponse:
    summary = booking_summary(booking)
    if not summary.can_change:
        messages.error(request, "This booking can no longer be changed here. Contact the organizers.")
        return redirect("public:private", token=token)
    form = ChangeForm(booking, data=request.POST if request.method == "POST" else None)
    context = _private_context(request, booking, token, form=form, summary=summary)
    if request.method == "POST":
        wait = _throttle_wait(request)
        if wait is not None:
            return _throttled(
                render(request, "public/change.html", {**context, "throttled_wait": wait}, status=429), wait
            )
        result = form.submit(booking)
        if result is not None:
            if result.change_request is not None:
                messages.success(
                    request,
                    "We received your change request. The organizers will review it and email you their answer.",
                )
            else:
                messages.success(request, "Your changes are saved.")
            return redirect("public:private", token=token)
    return render(request, "public/change.html", context)


@private_view(SAME_ORIGIN)
def private_cancel(request: HttpRequest, booking: Booking, token: str) -> HttpResponse:
    summary = booking_summary(booking)
    if not summary.can_cancel:
        messages.error(request, "This booking can no longer be canceled here. Contact the organizers.")
        return redirect("public:private", token=token)
    context = _private_context(
        request, booking, token, summary=summary, max_note=MAX_NOTE, approved=booking.status == BookingStatus.APPROVED
    )
    if request.method == "POST":
        wait = _throttle_wait(request)
        if wait is not None:
            return _throttled(
                render(request, "public/cancel.html", {**context, "throttled_wait": wait}, status=429), wait
            )
        note = request.POST.get("requestNote", "")[:MAX_NOTE]
        try:
            result = booking_cancel_by_booker(
                booking_id=booking.pk, actor=Actor.booker(booking.booker_email), request_note=note_as_html(note)
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                "Your booking is canceled."
                if result.applied
                else "We received your cancellation request. The organizers will confirm it by email.",
            )
        return redirect("public:private", token=token)
    return render(request, "public/cancel.html", context)
