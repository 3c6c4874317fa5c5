"""Booking change requests over the API (docs/architecture.md#change-requests): the booker's (or staff's)
submit, and staff's list, detail, approve and deny."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.lifecycle.change_requests import change_request_approve, change_request_deny, change_request_submit
from bookings.models import Booking, BookingChangeRequest
from bookings.selectors import (
    booking_payload,
    booking_token_matches,
    change_requests_payload,
)
from bookings.validation.public import public_errors
from core.actor import Actor
from core.api.errors import error_responses
from core.api.input import valid
from core.errors import DomainError, NotFound
from core.throttles import PublicSubmitThrottle
from resources.api.scoping import actor_for, get_scoped, require_role, roles_of, scope

from .booking_serializers import (
    BookingEnvelope,
    BookingWithEventsOut,
    ChangeRequestApproveSerializer,
    ChangeRequestDenySerializer,
    ChangeRequestEnvelope,
    ChangeRequestListOut,
    ChangeRequestSubmitSerializer,
    NotificationInSerializer,
)
from .booking_views import TAG_CHANGES, booking_response


class ChangeRequestSubmitView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [PublicSubmitThrottle]

    @extend_schema(
        tags=TAG_CHANGES,
        request=ChangeRequestSubmitSerializer,
        operation_id="change_requests_submit",
        description=(
            "A booker asks for a change of an approved booking (other times, details) or for its cancellation, with "
            "the booking's `accessToken` from the private link and no API token; staff may ask with their token. The "
            "module must allow change requests. A manager decides it (POST /booking-change-requests/{id}/approve or "
            ".../deny)."
        ),
        summary="Request a change or a cancellation (booker with accessToken, or staff)",
        responses={200: BookingEnvelope, 201: ChangeRequestEnvelope, **error_responses(400, 403, 404, 409, 429)},
    )
    def post(self, request):
        data = valid(ChangeRequestSubmitSerializer, request.data)
        booking = Booking.objects.filter(pk=data["bookingId"]).first()
        # A wrong token and a missing booking answer alike, so the endpoint reveals nothing.
        if booking is None:
            raise NotFound("No booking matches this id and access token.")
        if booking_token_matches(booking, data.get("accessToken")):
            actor = Actor.booker(booking.booker_email)
        elif "*" in roles_of(request) or booking.organization_id in roles_of(request):
            require_role(request, booking.organization_id, "manage_bookings")
            actor = actor_for(request)
        else:
            raise NotFound("No booking matches this id and access token.")
        events, _ = ChangeRequestSubmitSerializer.events_of(data)
        try:
            result = change_request_submit(
                booking_id=booking.pk,
                actor=actor,
                cancellation=data["cancellation"],
                contact=data.get("contact"),
                events=events,
                request_note=data.get("requestNote", ""),
            )
        except DomainError as exc:
            if not actor.is_staff:
                exc.errors = public_errors(exc.errors)  # a booker never sees another booking's title or ids
            raise
        staff = actor.is_staff
        if result.change_request is not None:
            payload = change_requests_payload(BookingChangeRequest.objects.filter(pk=result.change_request.pk))[0]
            return Response({"changeRequest": payload}, status=201)
        return Response({"booking": booking_payload(result.booking, staff=staff)}, status=200)


def _change_requests(request):
    return scope(BookingChangeRequest.open.all(), request, "booking__organization").order_by("created_at", "id")


class ChangeRequestListView(APIView):
    @extend_schema(
        tags=TAG_CHANGES,
        operation_id="change_requests_list",
        description=(
            "The change requests of your organizations' bookings that no one has decided yet (any member may read "
            "them). A manager decides each with POST /booking-change-requests/{id}/approve or .../deny."
        ),
        summary="Open change requests of your organizations",
        responses={200: ChangeRequestListOut, **error_responses(401, 403)},
    )
    def get(self, request):
        return Response({"changeRequests": change_requests_payload(_change_requests(request))})


def _change_request_for(request, pk) -> BookingChangeRequest:
    """Decided requests stay addressable so deciding twice answers 409, not 404."""
    return get_scoped(BookingChangeRequest.objects.select_related("booking"), request, pk, "booking__organization")


class ChangeRequestDetailView(APIView):
    @extend_schema(
        tags=TAG_CHANGES,
        operation_id="change_requests_retrieve",
        summary="Get an open change request",
        description=(
            "One open change request of your organizations (any member): the booking it is for and what it asks. "
            "A decided request, or one of another organization, is 404."
        ),
        responses={200: ChangeRequestEnvelope, **error_responses(401, 404)},
    )
    def get(self, request, pk):
        change_request = get_scoped(BookingChangeRequest.open.all(), request, pk, "booking__organization")
        return Response(
            {"changeRequest": change_requests_payload(BookingChangeRequest.objects.filter(pk=change_request.pk))[0]}
        )


class ChangeRequestApproveView(APIView):
    @extend_schema(
        tags=TAG_CHANGES,
        operation_id="change_requests_approve",
        summary="Approve a change request (manager)",
        description=(
            "Manager and above. Applies what the booker asked to the approved booking, with `event` or `events` to "
            "edit the requested change first; a cancellation request cancels (`eventProcedure` 0) or deletes (1) "
            "its events. The booking rules apply unless `overrideRules`; times taken meanwhile are 409. A request "
            "already decided is 409."
        ),
        request=ChangeRequestApproveSerializer,
        responses={200: BookingWithEventsOut, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk):
        change_request = _change_request_for(request, pk)
        require_role(request, change_request.booking.organization_id, "manage_bookings")
        data = valid(ChangeRequestApproveSerializer, request.data)
        events, _ = ChangeRequestApproveSerializer.events_of(data)
        result = change_request_approve(
            change_request_id=change_request.pk,
            actor=actor_for(request),
            event_edits=events,
            notification=NotificationInSerializer.spec(data.get("notification")),
            event_procedure=data["eventProcedure"],
            override_rules=data["overrideRules"],
        )
        return booking_response(result.booking, events=result.events)


class ChangeRequestDenyView(APIView):
    @extend_schema(
        tags=TAG_CHANGES,
        operation_id="change_requests_deny",
        summary="Deny a change request (manager)",
        description=(
            "Manager and above. The booking stays as it is; `notification` says whether and how the booker is "
            "emailed. A request already decided is 409."
        ),
        request=ChangeRequestDenySerializer,
        responses={204: OpenApiResponse(description="Denied."), **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk):
        change_request = _change_request_for(request, pk)
        require_role(request, change_request.booking.organization_id, "manage_bookings")
        data = valid(ChangeRequestDenySerializer, request.data)
        change_request_deny(
            change_request_id=change_request.pk,
            actor=actor_for(request),
            notification=NotificationInSerializer.spec(data.get("notification")),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
