from typing import Any, NamedTuple
from uuid import UUID

from django.db import models
from django.db.models import F, Q

from core.html import sanitize_html
from resources.base import BaseModel
from resources.models import Organization, Resource, ResourceUnit


class EventStatus(models.IntegerChoices):
    CONFIRMED = 0, "Confirmed"
    TENTATIVE = 1, "Tentative"
    CANCELED = 2, "Canceled"


class Placement(NamedTuple):
    """Where events_save left an event, when it knows without reading the table (a hold confirmed where it
    is): the timezone its local times are shown in, and its reservations in the wire form's order as
    (resource id, unit id, unit name)."""

    timezone: str
    reservations: tuple[tuple[UUID, UUID | None, str | None], ...]


class EventSeries(BaseModel):
    """A group of occurrences created together from a repeat rule (expanded in local wall-clock time)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="event_series")
    timezone = models.CharField(max_length=64)
    rule = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "event series"

    def __str__(self) -> str:
        return f"Series {self.pk}"


class Event(BaseModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="events")
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.PositiveSmallIntegerField(choices=EventStatus.choices, default=EventStatus.CONFIRMED)
    series = models.ForeignKey(EventSeries, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    resources = models.ManyToManyField(Resource, through="Reservation", related_name="events")
    # The price fixed when the booking it came from was approved (bookings.pricing.fixing writes it; events only
    # keep it): later rate changes do not alter it. None for events no booking priced.
    price = models.JSONField(null=True, blank=True, editable=False)
    # Not a column: set by events_save on the events it returns when it knows their placement (an answer is then
    # built without reading it back, events.selectors.events_written_payload); None on every event read.
    placement: Placement | None = None

    class Meta:
        ordering = ["start"]
        indexes = [models.Index(fields=["organization", "start", "end"], name="event_org_window")]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="event_end_after_start")]

    def __str__(self) -> str:
        return f"{self.title} ({self.start:%Y-%m-%d %H:%M})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.description = sanitize_html(self.description)
        super().save(*args, **kwargs)


class Reservation(BaseModel):
    """What a resource is occupied by, and when: the single source of truth for "is it taken".

    `start`/`end` are the occupied period, i.e. the event's times with the resource's buffer already
    added to `end`. `exclusive` copies the resource's flag at write time so the database constraint
    (PostgreSQL: EXCLUDE USING gist, migration 0002) can be limited to exclusive resources.
    """

    # The order an event's reservations are listed in (its resourceIds and units on the wire).
    WIRE_ORDER = ("created_at", "resource__name", "resource_id")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="reservations")
    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="reservations")
    start = models.DateTimeField()
    end = models.DateTimeField()
    active = models.BooleanField(default=True)
    exclusive = models.BooleanField(default=True)
    # The unit of the resource it occupies (a desk of a hot-desk area), for resources with units. Two active
    # reservations of one unit never overlap (PostgreSQL: EXCLUDE USING gist, migration 0004).
    unit = models.ForeignKey(ResourceUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="reservations")

    class Meta:
        indexes = [
            # Overlap is `start < window_end AND end > window_start`. Leading with `end` makes the scan
            # begin at the window: past reservations, however many, are never read.
            models.Index(
                fields=["resource", "end", "start"], name="reservation_resource_end", condition=Q(active=True)
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["event", "resource"], name="reservation_event_resource_unique"),
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="reservation_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.start:%Y-%m-%d %H:%M}–{self.end:%H:%M}"
