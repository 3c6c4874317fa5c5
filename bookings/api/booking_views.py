"""The booking and change-request endpoints of docs/architecture.md#http-api-conventions. Each view parses input, checks
permission with the shared helpers, calls one lifecycle service, and returns the selectors' representation."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import django_filters
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.api import descriptions
from bookings.lifecycle.decide import booking_approve, booking_cancel, booking_deny, booking_update
from bookings.lifecycle.submit import booking_create, booking_submit
from bookings.lifecycle.transitions import BookingResult
from bookings.models import Booking, BookingModule, BookingStatus, Portal
from bookings.module_cache import submit_config
from bookings.selectors import (
    booking_estimate_payload,
    booking_payload,
    booking_written_payload,
    bookings_overlapping,
    bookings_payload,
)
from bookings.validation.billing import BookingBilling, refuse_public_override
from bookings.validation.public import booking_preflight, check_published, public_errors
from bookings.validation.submission import check_repeat_allowed
from core.api.errors import error_responses
from core.api.etags import check_if_match, with_etag
from core.api.fields import CURSOR_SCHEMA, MOMENT_SCHEMA, MomentFilter, StrictFilterSet
from core.api.input import refuse_unknown, valid
from core.errors import DomainError, FieldError, NotFound, ValidationFailed
from core.ids import as_uuid
from core.throttles import PublicSubmitThrottle
from events.models import Event
from events.selectors import events_payload, events_written_payload
from resources.api.scoping import actor_for, get_scoped, require_role, scope
from resources.config_cache import StaleConfiguration, config_forget

from .booking_serializers import (
    MAX_PAGE,
    ApproveSerializer,
    BookingEnvelope,
    BookingListOut,
    BookingListQuerySerializer,
    BookingPatchSerializer,
    BookingWithEventsOut,
    CancelSerializer,
    CreateSerializer,
    DenySerializer,
    NotificationInSerializer,
    SubmitOut,
    SubmitSerializer,
    ValidateSerializer,
)
from .validate_serializers import ValidateOut

TAG_BOOKINGS = ["bookings"]
TAG_CHANGES = ["booking change requests"]


def _events_out(events: list[Event], booking_of: dict | None = None) -> list[dict]:
    if not events:
        return []
    if booking_of is not None:
        written = events_written_payload(events, booking_of)
        if written is not None:
            return written
    rows = events_payload(Event.objects.filter(pk__in=[e.pk for e in events]), booking_of)
    by_id = {row["id"]: row for row in rows}
    return [by_id[str(e.pk)] for e in events]


def booking_response(
    booking: Booking, *, http_status=200, staff=True, events=None, extra=None, written: BookingResult | None = None
) -> Response:
    """The booking (and its events); `written`: the service's result, whose requested times it answers with
    instead of reading them back."""
    if written is not None and written.booking_events is not None:
        payload = booking_written_payload(booking, written.booking_events, written.visitors, staff=staff)
    else:
        payload = booking_payload(booking, staff=staff)
    body: dict[str, Any] = {"booking": payload}
    if events is not None:
        # A service's written events are its booking's own (linked to its requested times).
        rows = _events_out(events, {e.pk: booking.pk for e in events} if written is not None else None)
        body["events"] = rows
        if rows:
            body["event"] = rows[0]
    body.update(extra or {})
    return with_etag(Response(body, status=http_status), booking)  # the service returned it as saved


def _module_and_portal(data: dict, *, checked: bool = True) -> tuple[BookingModule, Portal | None, int | None]:
    """The body's module and portal from the configuration cache (a warm submit reads no configuration from
    the database), and the version to check when `checked` is False (see bookings.module_cache.submit_config)."""
    module, portal, version = submit_config(
        organization_id=data["orgId"],
        module_id=data["bookingModuleId"],
        portal_id=data.get("portalId"),
        checked=checked,
    )
    if module is None:
        raise NotFound("No such booking module.")
    if data.get("portalId") and portal is None:
        raise NotFound("No such portal.")
    return module, portal, version


def _public_submit(data: dict, *, checked: bool) -> BookingResult:
    """A booker's submit; `checked` False reads the form from this process's cache without a query, and the
    submit's first write checks that it is current (StaleConfiguration when it is not)."""
    module, portal, version = _module_and_portal(data, checked=checked)
    assert portal is not None  # the view refuses a submit without portalId first
    events, single = SubmitSerializer.events_of(data)
    return booking_submit(
        module=module,
        portal=portal,
        contact=data.get("contact"),
        events=events,
        single_event=single,
        title=data.get("title"),
        request_note=data.get("requestNote", ""),
        visitors=data.get("visitors"),
        billing_choices=BookingBilling.from_wire(data),
        config_version=version,
    )


def _skipped(data: dict, result: BookingResult) -> dict:
    """`skipped` in the response when the caller asked to skip conflicting occurrences."""
    return {"skipped": [e.as_dict() for e in result.skipped]} if data.get("skipConflicts") else {}


def _staff_only_skip(data: dict) -> None:
    if data.get("skipConflicts"):
        raise ValidationFailed(
            errors=[
                FieldError(
                    "skipConflicts", "NOT_ALLOWED", "Only staff (submission false) may skip conflicting occurrences."
                )
            ]
        )


def _staff_only_fields(data: dict) -> None:
    """What only staff may send: charging flags, and internal notes (a booker must not be able to write
    what staff read as their own)."""
    errors = [
        FieldError(name, "NOT_ALLOWED", f"Only staff (submission false) may send {name}.")
        for name in ("chargeNow", "invoiceNow", "internalNotes")
        if data.get(name) or (name == "internalNotes" and name in data)
    ]
    if errors:
        raise ValidationFailed(errors=errors)


def _staff_create(request, data: dict, module: BookingModule, portal: Portal | None) -> Response:
    require_role(request, module.organization_id, "manage_bookings")
    events, single = SubmitSerializer.events_of(data)
    result = booking_create(
        module=module,
        actor=actor_for(request),
        status=data.get("bookingStatus", BookingStatus.PENDING),
        contact=data.get("contact"),
        events=events,
        single_event=single,
        portal=portal,
        title=data.get("title"),
        request_note=data.get("requestNote", ""),
        event_id=data.get("eventId"),
        customer_id=data.get("customerId"),
        contact_id=data.get("contactId"),
        notification=NotificationInSerializer.spec(data.get("notification")),
        override_rules=data.get("overrideRules", False),
        skip_conflicts=data.get("skipConflicts", False),
        billing_choices=BookingBilling.from_wire(data),
        visitors=data.get("visitors"),
        submission=data.get("submission", False),
        internal_notes=data.get("internalNotes", ""),
    )
    return booking_response(result.booking, http_status=201, events=result.events, extra=_skipped(data, result))


class BookingSubmitView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [PublicSubmitThrottle]

    @extend_schema(
        tags=TAG_BOOKINGS,
        request=SubmitSerializer,
        operation_id="bookings_submit",
        description=descriptions.SUBMIT,
        summary="Submit a booking request (public); with submission false, staff create",
        responses={201: SubmitOut, **error_responses(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request):
        data = valid(SubmitSerializer, request.data)
        if not data["submission"]:
            if not request.user.is_authenticated:
                raise NotAuthenticated()
            module, portal, _ = _module_and_portal(data)
            return _staff_create(request, data, module, portal)
        if not data.get("portalId"):
            raise ValidationFailed(errors=[FieldError("portalId", "REQUIRED", "Name the portal the form is on.")])
        _staff_only_skip(data)
        _staff_only_fields(data)
        try:
            try:
                result = _public_submit(data, checked=False)
            except StaleConfiguration:  # the form changed since this process cached it: read it again
                config_forget(as_uuid(data["orgId"]))
                result = _public_submit(data, checked=True)
        except DomainError as exc:
            exc.errors = public_errors(exc.errors)  # never another booking's title or event ids
            raise
        if result.booking_events is not None:  # built from what was written, not read back
            payload = booking_written_payload(result.booking, result.booking_events, result.visitors or [], staff=False)
        else:
            payload = booking_payload(result.booking, staff=False)
        return Response({"booking": payload, "accessToken": result.access_token}, status=201)


class BookingValidateView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [PublicSubmitThrottle]

    @extend_schema(
        tags=TAG_BOOKINGS,
        request=ValidateSerializer,
        operation_id="bookings_validate",
        summary="Check a booking request without booking (public; staff with submission false)",
        description=descriptions.VALIDATE,
        responses={200: ValidateOut, **error_responses(400, 401, 403, 404, 429)},
    )
    def post(self, request):
        data = valid(ValidateSerializer, request.data)
        module, portal, _ = _module_and_portal(data)
        staff = not data["submission"]
        if staff:
            if not request.user.is_authenticated:
                raise NotAuthenticated()
            require_role(request, module.organization_id, "manage_bookings")
        else:
            if portal is None:
                raise ValidationFailed(errors=[FieldError("portalId", "REQUIRED", "Name the portal the form is on.")])
            check_published(module, portal)
            _staff_only_skip(data)
        events, single = ValidateSerializer.events_of(data)
        if not staff:
            check_repeat_allowed(module=module, events=events, single_event=single)
            refuse_public_override(events, single_event=single)
        result = booking_preflight(
            module=module,
            contact=data.get("contact"),
            events=events,
            single_event=single,
            check_contact="contact" in data,
            check_rules=not (staff and data["overrideRules"]),
            skip_conflicts=staff and data["skipConflicts"],
            title=data.get("title"),
            request_note=data.get("requestNote"),
            public=not staff,
        )
        body = result.as_dict()
        body["price"] = None
        if result.valid:
            try:
                body["price"] = booking_estimate_payload(
                    module=module, events=events, single_event=single, discount_code=data.get("discountCode")
                )
            except DomainError as exc:  # a rate, product or code that cannot be used: reported like the rest
                body["valid"] = False
                body["errors"] = [e.as_dict() for e in exc.errors]
        return Response(body)


class BookingFilter(StrictFilterSet):
    status = django_filters.TypedChoiceFilter(choices=BookingStatus.choices, coerce=int)
    bookingModuleId = django_filters.UUIDFilter(field_name="module_id")
    portalId = django_filters.UUIDFilter(field_name="portal_id")
    # MomentFilter converts to UTC: PostgreSQL refuses the offsets beyond ±15:59 that Python accepts (a 500).
    updatedSince = MomentFilter(field_name="updated_at", lookup_expr="gte")
    start = MomentFilter(method="noop", help_text="Bookings with a time ending after this.")
    end = MomentFilter(method="noop", help_text="Bookings with a time starting before this.")

    class Meta:
        model = Booking
        fields: list[str] = []

    def noop(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        # One requested time must overlap [start, end), not one time each bound.
        return bookings_overlapping(queryset, self.form.cleaned_data.get("start"), self.form.cleaned_data.get("end"))


def _encode_cursor(created_at: datetime, pk) -> str:
    raw = json.dumps([created_at.isoformat(), str(pk)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _check_in_range(values: dict, names) -> None:
    """A datetime at the very edge of the calendar (9999-12-31T23:59-14:00) parses, but overflows when the
    database adapter converts it to UTC: a 400 here rather than a 500 there."""
    errors = []
    for name in names:
        value = values.get(name)
        try:
            if value is not None:
                value.astimezone(UTC)
        except OverflowError:
            errors.append(FieldError(name, "INVALID", "The date is out of range."))
    if errors:
        raise ValidationFailed(errors=errors)


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, pk = json.loads(raw)
        moment = parse_datetime(created)
        if moment is None or moment.tzinfo is None or not isinstance(pk, str):
            raise ValueError
        # In UTC: years 1 and 9999 with an offset overflow here, and PostgreSQL refuses offsets beyond ±15:59.
        return moment.astimezone(UTC), str(UUID(pk))  # a crafted id must be a 400 here, not a 500 in the query
    except (ValueError, TypeError, OverflowError, json.JSONDecodeError) as exc:
        raise ValidationFailed(
            errors=[FieldError("cursor", "INVALID", "Use the nextCursor of a previous page.")]
        ) from exc


LIST_PARAMS = [
    OpenApiParameter("returnEvents", OpenApiTypes.BOOL, description="Include the bookings' Events."),
    OpenApiParameter("status", OpenApiTypes.INT, enum=[0, 1, 2, 3]),
    OpenApiParameter("bookingModuleId", OpenApiTypes.UUID),
    OpenApiParameter("portalId", OpenApiTypes.UUID),
    OpenApiParameter("updatedSince", MOMENT_SCHEMA),
    OpenApiParameter("start", MOMENT_SCHEMA),
    OpenApiParameter("end", MOMENT_SCHEMA),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        description=f"Page size (1–{MAX_PAGE}); without it, all bookings.",
    ),
    OpenApiParameter("cursor", CURSOR_SCHEMA, description="nextCursor of the previous page."),
]


def bookings_filtered(request) -> QuerySet[Booking]:
    """The caller's bookings that the list's filters keep (the list and its exports); 400 on a bad filter."""
    filterset = BookingFilter(request.query_params, queryset=scope(Booking.objects.all(), request))
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    _check_in_range(filterset.form.cleaned_data, ("updatedSince", "start", "end"))
    return filterset.qs


class BookingListView(APIView):
    filterset_class = BookingFilter

    @extend_schema(
        tags=TAG_BOOKINGS,
        operation_id="bookings_list",
        description=descriptions.LIST,
        parameters=LIST_PARAMS,
        filters=False,
        summary="Bookings of your organizations, by id",
        responses={200: BookingListOut, **error_responses(400, 401, 403)},
    )
    def get(self, request):
        query = valid(BookingListQuerySerializer, request.query_params)
        bookings = bookings_filtered(request).order_by("created_at", "id")
        if query.get("cursor"):
            created, pk = _decode_cursor(query["cursor"])
            bookings = bookings.filter(Q(created_at__gt=created) | Q(created_at=created, id__gt=pk))
        limit = query.get("limit")
        if limit:
            bookings = bookings[: limit + 1]
        rows, associated = bookings_payload(bookings, staff=True, with_events=query["returnEvents"])
        next_cursor = None
        if limit and len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = _encode_cursor(parse_datetime(last["createdAt"]), last["id"])
            if query["returnEvents"]:
                keep = {r["id"] for r in rows}
                associated = [e for e in associated if e["bookingId"] in keep]
        body = {"bookings": {r["id"]: r for r in rows}, "nextCursor": next_cursor}
        if query["returnEvents"]:
            body["associatedEvents"] = associated
        return Response(body)

    @extend_schema(
        tags=TAG_BOOKINGS,
        operation_id="bookings_create",
        description=descriptions.CREATE,
        request=CreateSerializer,
        summary="Create a booking in any status, or record a request on a booker's behalf (staff)",
        responses={201: BookingWithEventsOut, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request):
        data = valid(CreateSerializer, request.data)
        module, portal, _ = _module_and_portal(data)
        return _staff_create(request, data, module, portal)


def _uuid_or_blank(value) -> bool:
    if value is None or value == "":
        return True
    try:
        UUID(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return isinstance(value, str)


def _booking_for(request, pk) -> Booking:
    return get_scoped(Booking.objects.all(), request, pk)


class BookingDetailView(APIView):
    @extend_schema(
        tags=TAG_BOOKINGS,
        operation_id="bookings_retrieve",
        summary="Get a booking",
        description=descriptions.RETRIEVE,
        responses={200: BookingEnvelope, **error_responses(401, 404)},
    )
    def get(self, request, pk):
        booking = _booking_for(request, pk)
        return booking_response(booking)

    @extend_schema(
        tags=TAG_BOOKINGS,
        operation_id="bookings_partial_update",
        description=descriptions.PATCH,
        request=BookingPatchSerializer,
        summary="Change the linked customer or contact, or staff's internal notes (nothing else can change)",
        parameters=[OpenApiParameter("If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER)],
        responses={200: BookingEnvelope, **error_responses(400, 401, 403, 404, 412)},
    )
    def patch(self, request, pk):
        booking = _booking_for(request, pk)
        require_role(request, booking.organization_id, "manage_bookings")
        check_if_match(request, booking)
        if not isinstance(request.data, dict):
            raise ValidationFailed(errors=[FieldError("", "INVALID", "Send a JSON object.")])
        refuse_unknown(BookingPatchSerializer, request.data)
        changes = dict(request.data)
        notes = None
        if "internalNotes" in changes:  # text, checked by its serializer field; the rest by the service
            notes = valid(BookingPatchSerializer, {"internalNotes": changes.pop("internalNotes")})["internalNotes"]
        bad = [key for key in ("customerId", "contactId") if key in changes and not _uuid_or_blank(changes[key])]
        if bad:  # the service would hand them to a UUID lookup, which raises (a 500) on anything else
            raise ValidationFailed(
                errors=[FieldError(key, "INVALID", f'{key} must be an id, or "" to clear it.') for key in bad]
            )
        result = booking_update(booking_id=booking.pk, actor=actor_for(request), changes=changes, internal_notes=notes)
        return booking_response(result.booking)


class _BookingAction(APIView):
    action_serializer: type[serializers.Serializer[Any]]  # each action's input

    def prepare(self, request, pk) -> tuple[Booking, dict]:
        booking = _booking_for(request, pk)
        require_role(request, booking.organization_id, "manage_bookings")
        return booking, valid(self.action_serializer, request.data)


class BookingApproveView(_BookingAction):
    action_serializer = ApproveSerializer

    @extend_schema(
        tags=TAG_BOOKINGS,
        operation_id="bookings_approve",
        description=descriptions.APPROVE,
        request=ApproveSerializer,
        summary="Approve a pending booking; its Events are created or confirmed",
        responses={200: BookingWithEventsOut, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk):
        booking, data = self.prepare(request, pk)
        events, _ = ApproveSerializer.events_of(data)
        kwargs = {k: data[w] for k, w in (("customer_id", "customerId"), ("contact_id", "contactId")) if w in data}
        changes = {
            k: data[k]
            for k in ("discountCode", "doNotUseBookingCredit", "invoiceThisContact", "purchaseOrder")
            if k in data
        }
        result = booking_approve(
            booking_id=booking.pk,
            actor=actor_for(request),
            client_last_updated_at=data["clientBookingLastUpdatedAt"],
            event_edits=events,
            notification=NotificationInSerializer.spec(data.get("notification")),
            override_rules=data["overrideRules"],
            skip_conflicts=data["skipConflicts"],
            billing_changes=changes,
            accept_available_credit=data["acceptAvailableCredit"],
            **kwargs,
        )
        return booking_response(result.booking, events=result.events, extra=_skipped(data, result), written=result)


class BookingDenyView(_BookingAction):
    action_serializer = DenySerializer

    @extend_schema(
        tags=TAG_BOOKINGS,
        operation_id="bookings_deny",
        summary="Deny a pending booking (manager)",
        description=descriptions.DENY,
        request=DenySerializer,
        responses={200: BookingEnvelope, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk):
        booking, data = self.prepare(request, pk)
        result = booking_deny(
            booking_id=booking.pk,
            actor=actor_for(request),
            client_last_updated_at=data["clientBookingLastUpdatedAt"],
            notification=NotificationInSerializer.spec(data.get("notification")),
        )
        return booking_response(result.booking)


class BookingCancelView(_BookingAction):
    action_serializer = CancelSerializer

    @extend_schema(
        tags=TAG_BOOKINGS,
        operation_id="bookings_cancel",
        description=descriptions.CANCEL,
        request=CancelSerializer,
        summary="Cancel an approved booking; its Events are canceled (0) or deleted (1)",
        responses={200: BookingWithEventsOut, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk):
        booking, data = self.prepare(request, pk)
        result = booking_cancel(
            booking_id=booking.pk,
            actor=actor_for(request),
            event_procedure=data["eventProcedure"],
            notification=NotificationInSerializer.spec(data.get("notification")),
        )
        return booking_response(result.booking, events=result.events)
