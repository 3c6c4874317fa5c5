import zoneinfo
from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from .base import BaseModel, sanitize_html


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not an IANA time zone.") from exc


class Organization(BaseModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    currency = models.CharField(max_length=3, default="EUR")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Role(models.TextChoices):
    OWNER = "OWNER", "Owner"
    ADMIN = "ADMIN", "Admin"
    MANAGER = "MANAGER", "Manager"
    VIEWER = "VIEWER", "Viewer"


class Membership(BaseModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} · {self.organization} · {self.role}"


class Venue(BaseModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="venues")
    name = models.CharField(max_length=200)
    address = models.TextField(blank=True)
    timezone = models.CharField(
        max_length=64, blank=True, validators=[validate_timezone], help_text="Empty: the organization's."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone or self.organization.timezone)


class ResourceKind(models.TextChoices):
    ROOM = "room", "Room"
    DESK = "desk", "Desk"
    EQUIPMENT = "equipment", "Equipment"
    EVENT_SPACE = "event_space", "Event space"
    OTHER = "other", "Other"


class Resource(BaseModel):
    venue = models.ForeignKey(Venue, on_delete=models.CASCADE, related_name="resources")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=ResourceKind.choices, default=ResourceKind.ROOM)
    description = models.TextField(blank=True, help_text="Basic HTML; sanitized on save.")
    capacity = models.PositiveIntegerField(default=1)
    exclusive = models.BooleanField(
        default=True, help_text="At most one booking at a time. Off: up to `capacity` overlapping bookings."
    )
    requires_approval = models.BooleanField(default=True)
    archived = models.BooleanField(default=False)
    # Booking rules, all checked in the venue's local time (DESIGN §5). Empty = no limit.
    min_duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    max_duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    min_notice_minutes = models.PositiveIntegerField(default=0)
    max_advance_days = models.PositiveIntegerField(null=True, blank=True)
    buffer_minutes = models.PositiveIntegerField(default=0, help_text="Kept free after each booking.")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(capacity__gte=1), name="resource_capacity_positive"),
            models.CheckConstraint(
                condition=Q(min_duration_minutes__isnull=True)
                | Q(max_duration_minutes__isnull=True)
                | Q(min_duration_minutes__lte=F("max_duration_minutes")),
                name="resource_min_le_max_duration",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.description = sanitize_html(self.description)
        super().save(*args, **kwargs)

    @property
    def organization_id(self):
        return self.venue.organization_id


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class BookableHours(BaseModel):
    """One weekly window in the venue's local time. A resource without any is always bookable.

    `end_time` 00:00 means midnight at the end of the day, so a window can reach the day's end.
    """

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="bookable_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["weekday", "start_time"]
        verbose_name_plural = "bookable hours"
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")) | Q(end_time=time(0, 0)),
                name="bookable_hours_end_after_start",
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="bookable_hours_weekday_range"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}–{self.end_time:%H:%M}"


class Closure(BaseModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="closures")
    resources = models.ManyToManyField(
        Resource, blank=True, related_name="closures", help_text="None selected: every resource."
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    message = models.CharField(max_length=300, blank=True)
    repeats_yearly = models.BooleanField(default=False)

    class Meta:
        ordering = ["start"]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="closure_end_after_start")]

    def __str__(self) -> str:
        return self.message or f"Closure {self.start:%Y-%m-%d}"
