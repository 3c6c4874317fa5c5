"""Event endpoints and resource availability (docs/architecture.md#http-api-conventions): staff read, managers
write. Each view parses input, checks permission with the shared helpers, calls one service of
events.services, and returns events.selectors' representation."""

from __future__ import annotations

import django_filters
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_media_type_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_responses
from core.api.etags import ETAG, IF_MATCH, check_if_match, with_etag
from core.api.fields import UUID_PATTERN, MomentFilter, StrictFilterSet
from core.api.input import valid
from core.errors import FieldError, ValidationFailed
from events.models import Event, EventStatus
from events.selectors import events_payload, resource_availability
from events.series import DELETE_HELP, DELETE_VALUES, WHICH_EVENTS
from events.services.occurrences import occurrences_delete, occurrences_update
from events.services.single import event_create
from notifications.api.serializers import NotificationInSerializer
from notifications.services import NotificationSpec
from resources.api.scoping import actor_for, get_scoped, require_role, scope
from resources.models import Organization, Resource

from .serializers import (
    AvailabilityQuerySerializer,
    AvailabilitySerializer,
    EventCreateSerializer,
    EventDeleteSerializer,
    EventSerializer,
    EventUpdateSerializer,
)


class EventFilter(StrictFilterSet):
    orgId = django_filters.UUIDFilter(field_name="organization_id", help_text="Only this organization's.")
    windowStart = MomentFilter(
        field_name="end",
        lookup_expr="gt",
        help_text="Events that end after this moment (an event ending exactly then is outside).",
    )
    windowEnd = MomentFilter(
        field_name="start",
        lookup_expr="lt",
        help_text="Events that start before this moment (an event starting exactly then is outside).",
    )
    status = django_filters.TypedChoiceFilter(
        choices=EventStatus.choices, coerce=int, help_text="0 CONFIRMED, 1 TENTATIVE, 2 CANCELED"
    )
    resourceId = django_filters.UUIDFilter(
        field_name="reservations__resource_id", help_text="Events that use this resource."
    )
    seriesId = django_filters.UUIDFilter(field_name="series_id", help_text="The occurrences of this series.")

    class Meta:
        model = Event
        fields: list[str] = []


WHICH_EVENTS_QUERY = OpenApiParameter(
    WHICH_EVENTS,
    OpenApiTypes.INT,
    OpenApiParameter.QUERY,
    required=False,
    enum=[int(v) for v in DELETE_VALUES],
    description=f"{DELETE_HELP} May be sent in the query, in a JSON body, or both (then the same).",
)


class EventSchema(AutoSchema):
    """drf-spectacular leaves request bodies of DELETE out; ours takes an optional one (whichEventsToUpdate)."""

    def _get_request_body(self, direction="request"):
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        serializer = self.get_request_serializer()
        if serializer is None:
            return None
        schema, _ = self._get_request_for_media_type(serializer, direction)
        return {"content": {"application/json": build_media_type_object(schema)}, "required": False}


def _delete_options(request) -> tuple[int, NotificationSpec | None]:
    """whichEventsToUpdate of a DELETE, from the query string and/or the JSON body (then the same), and the
    body's notification."""
    found = [valid(EventDeleteSerializer, request.query_params).get("which")]
    notification = None
    if request.data or not isinstance(request.data, dict):
        body = valid(EventDeleteSerializer, request.data)
        found.append(body.get("which"))
        notification = NotificationInSerializer.spec(body.get("notification"))
    given = {which for which in found if which is not None}
    if len(given) > 1:
        raise ValidationFailed(
            errors=[
                FieldError(
                    WHICH_EVENTS, "INVALID", "whichEventsToUpdate differs between the query string and the body."
                )
            ]
        )
    return (given.pop() if given else 1), notification


def _respond(event: Event, code: int = status.HTTP_200_OK) -> Response:
    event = Event.objects.get(pk=event.pk)  # services may have stamped updated_at in the database only
    [payload] = events_payload(Event.objects.filter(pk=event.pk))
    return with_etag(Response(payload, status=code), event)


@extend_schema_view(
    list=extend_schema(
        summary="List events",
        description="Events overlapping [windowStart, windowEnd) when given, ordered by start.",
        responses={200: EventSerializer(many=True), **error_responses(400, 401)},
    ),
    retrieve=extend_schema(
        summary="Get an event",
        description="One event of your organizations (any member), with its resources; its ETag serves If-Match "
        "on PATCH and DELETE. Another organization's event is 404.",
        parameters=[ETAG],
        responses={200: EventSerializer, **error_responses(401, 404)},
    ),
    create=extend_schema(
        summary="Create an event (manager)",
        request=EventCreateSerializer,
        parameters=[ETAG],
        description="Checks the booking rules of every resource (unless overrideRules) and conflicts (409 "
        "BOOKING_CONFLICT or CAPACITY_EXCEEDED with conflictingEventIds).",
        responses={201: EventSerializer, **error_responses(400, 401, 403, 404, 409)},
    ),
    partial_update=extend_schema(
        summary="Move, retitle, confirm or cancel an event, or occurrences of its series (manager)",
        request=EventUpdateSerializer,
        parameters=[IF_MATCH, ETAG],
        description="A move is checked like a new event. status 0 confirms a tentative event, 2 cancels (frees "
        "its resources); anything else answers 409 INVALID_TRANSITION.\n\n"
        "For an occurrence of a series (seriesId), whichEventsToUpdate chooses what changes: 1 this "
        "event (default), 2 this and the later occurrences, 3 all of them. Title, description, "
        "resources and status apply to each; a start/end change moves this event to the given times "
        "and each other chosen occurrence by the same wall-clock shift in the series' timezone (09:00 "
        "→ 10:30 local stays 10:30 local across a clock change). Booking rules are checked for each "
        "moved occurrence, conflicts for all of them together: if any occurrence cannot move, "
        "nothing changes and the 400/409 errors name it (eventId). An occurrence that came from a "
        "booking moves the booking's requested time too (logged on the booking). No occurrence can "
        "be added to a series (seriesId is refused). The response is this event.",
        responses={200: EventSerializer, **error_responses(400, 401, 403, 404, 409, 412)},
    ),
    destroy=extend_schema(
        summary="Delete an event, or occurrences of its series (manager)",
        request=EventDeleteSerializer,
        parameters=[IF_MATCH, WHICH_EVENTS_QUERY],
        description="Deletes the event and its reservations; whichEventsToUpdate 5 deletes every occurrence of its "
        "series, 6 this and the later ones (see the parameter). A booking whose events are deleted "
        "keeps its requested times, unlinked, and logs it; an approved booking left without a live event "
        "is canceled (logged, the `booking.canceled` webhook) and its booker emailed as for a cancellation "
        "unless the body's `notification.send` is false.",
        responses={204: None, **error_responses(400, 401, 403, 404, 412)},
    ),
)
@extend_schema(tags=["events"])
class EventViewSet(viewsets.GenericViewSet):
    schema = EventSchema()
    queryset = Event.objects.order_by("start", "end", "id")
    serializer_class = EventSerializer
    filterset_class = EventFilter
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        return scope(super().get_queryset(), self.request)

    def list(self, request):
        return Response(events_payload(self.filter_queryset(self.get_queryset())))

    def retrieve(self, request, pk=None):
        return _respond(get_scoped(self.queryset, request, pk))

    def create(self, request):
        data = valid(EventCreateSerializer, request.data)
        org_id = data.pop("organization_id")
        require_role(request, org_id, "manage_events")
        event = event_create(organization=Organization.objects.get(pk=org_id), **data)
        return _respond(event, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        event = get_scoped(self.queryset, request, pk)
        require_role(request, event.organization_id, "manage_events")
        data = valid(EventUpdateSerializer, request.data, partial=True, context={"event": event})
        check_if_match(request, event)
        occurrences_update(event=event, actor=actor_for(request), **data)
        return _respond(event)

    def destroy(self, request, pk=None):
        event = get_scoped(self.queryset, request, pk)
        require_role(request, event.organization_id, "manage_events")
        which, notification = _delete_options(request)
        check_if_match(request, event)
        occurrences_delete(event=event, which=which, actor=actor_for(request), notification=notification)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ResourceAvailabilityView(APIView):
    """Lives with the events (its data are reservations and closures) under the resource's path."""

    @extend_schema(
        summary="Busy times and closures of a resource",
        tags=["resources"],
        parameters=[AvailabilityQuerySerializer],
        description="Active reservations (confirmed and tentative events) overlapping [start, end), and the "
        "closures that apply, yearly ones at their date in the window. The window is at most 366 days.",
        responses={200: AvailabilitySerializer, **error_responses(400, 401, 404)},
    )
    def get(self, request, pk):
        resource = get_scoped(
            Resource.objects.select_related("venue__organization"), request, pk, "venue__organization"
        )
        window = valid(AvailabilityQuerySerializer, request.query_params, context={"tz": resource.venue.tz})
        availability = resource_availability(resource=resource, start=window["start"], end=window["end"])
        return Response(AvailabilitySerializer(availability).data)
