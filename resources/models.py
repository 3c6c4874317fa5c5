import zoneinfo
from datetime import time
from typing import TypedDict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from core.html import sanitize_html

from .base import BaseModel


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
    # Changed (to a new random value) by every configuration service, in the change's transaction: the
    # configuration cache of every process reloads what it holds of this organization (resources.config_cache).
    config_version = models.BigIntegerField(default=0, editable=False)
    # Personal data (docs/architecture.md#personal-data): a daily job erases the contacts whose last booking
    # ended longer ago than this; empty keeps them until someone erases them.
    personal_data_retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(36500)],
        help_text="Erase a contact this many days after their last booking ended. Empty: keep them.",
    )

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
    # Booking rules, all checked in the venue's local time (docs/architecture.md#booking-rules). Empty = no limit.
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


class ResourceUnit(BaseModel):
    """A named place inside a resource: a desk of a hot-desk area, a seat of a floor plan (docs/architecture.md#units).

    Each unit holds one booking at a time (events.services checks it under the resource lock; PostgreSQL's
    exclusion constraint `reservation_no_overlap_unit` backs it). A resource with active units takes at most
    min(capacity, number of active units) overlapping bookings, whether or not they name a unit; a request
    that names none gets the first free unit (lowest `order`) when its reservation is written. Archived
    units take no new bookings and keep their past ones; a unit that was ever booked cannot be deleted.
    """

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="units")
    admin_org_path = "resource__venue__organization"  # for scoped choices (resources.admin_base)
    name = models.CharField(max_length=100)
    order = models.PositiveIntegerField(default=0, help_text="Units are assigned lowest first.")
    archived = models.BooleanField(default=False)

    class Meta:
        ordering = ["resource", "order", "name"]
        constraints = [models.UniqueConstraint(fields=["resource", "name"], name="resource_unit_name_unique")]

    def __str__(self) -> str:
        return self.name


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


# --- prices (docs/architecture.md#prices) ------------------------------------------------------------------
# Unit prices keep four decimals: a per-minute product or an hourly rate may be finer than the currency's
# minor unit. Amounts are rounded to the minor unit only when a price is computed (bookings.pricing).
class PriceDigits(TypedDict):
    """The keyword arguments a price DecimalField spreads (a TypedDict, so mypy checks them)."""

    max_digits: int
    decimal_places: int


PRICE_DIGITS: PriceDigits = {"max_digits": 14, "decimal_places": 4}

# Rate.weekdays is a bitmask: bit n is Weekday n (Monday = bit 0). A small integer works the same on
# SQLite and PostgreSQL and a CheckConstraint keeps it in range, which a JSON list would not allow.
ALL_WEEKDAYS = 0b1111111


def weekday_mask(days) -> int:
    mask = 0
    for day in days:
        mask |= 1 << int(day)
    return mask


def weekdays_of(mask: int) -> list[int]:
    return [day for day in range(7) if mask & (1 << day)]


class RateUnit(models.IntegerChoices):
    HOUR = 0, "Per hour"
    DAY = 1, "Per day"
    BOOKING = 2, "Per booking"


class Rate(BaseModel):
    """One price of a resource. Which rates apply to a booking and how a price is computed from them is
    bookings.pricing; a rate reserved for some customers is a bookings.RateCustomer row (Customer lives in
    bookings, and nothing here may import it)."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="rates")
    admin_org_path = "resource__venue__organization"  # for scoped choices (resources.admin_base)
    name = models.CharField(max_length=200)
    unit = models.PositiveSmallIntegerField(choices=RateUnit.choices, default=RateUnit.HOUR)
    price = models.DecimalField(
        **PRICE_DIGITS, validators=[MinValueValidator(0)], help_text="In the organization's currency, per unit."
    )
    weekdays = models.PositiveSmallIntegerField(default=ALL_WEEKDAYS, help_text="Days it applies (local time).")
    # Both empty: all day. end_time 00:00 is midnight at the day's end, as for BookableHours. A window
    # across midnight is two rates (one each side), so every window lies inside one local day.
    start_time = models.TimeField(null=True, blank=True, help_text="Local time from which it applies.")
    end_time = models.TimeField(null=True, blank=True, help_text="Local time until which it applies.")
    min_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Shortest booking it applies to.")
    max_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Longest booking it applies to.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["resource", "price", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="rate_price_not_negative"),
            models.CheckConstraint(
                condition=Q(weekdays__gte=1, weekdays__lte=ALL_WEEKDAYS), name="rate_weekdays_range"
            ),
            models.CheckConstraint(
                condition=Q(start_time__isnull=True, end_time__isnull=True)
                | Q(start_time__isnull=False, end_time__isnull=False, end_time__gt=F("start_time"))
                # end_time__isnull=False matters: `NULL = '00:00'` is NULL, and a CHECK passes on NULL.
                | Q(start_time__isnull=False, end_time__isnull=False, end_time=time(0, 0)),
                name="rate_window_both_or_none_and_ordered",
            ),
            models.CheckConstraint(
                condition=Q(min_minutes__isnull=True)
                | Q(max_minutes__isnull=True)
                | Q(min_minutes__lte=F("max_minutes")),
                name="rate_min_le_max_minutes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_unit_display().lower()})"

    @property
    def weekday_list(self) -> list[int]:
        return weekdays_of(self.weekdays)


class ProductUnit(models.IntegerChoices):
    PER_USE = 0, "Per use"
    PER_MINUTE = 1, "Per minute of the booking"


class Product(BaseModel):
    """Something added to a booking of the resource with a quantity (coffee, a projector, cleaning)."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="products")
    admin_org_path = "resource__venue__organization"
    name = models.CharField(max_length=200)
    unit_price = models.DecimalField(**PRICE_DIGITS, validators=[MinValueValidator(0)])
    unit = models.PositiveSmallIntegerField(choices=ProductUnit.choices, default=ProductUnit.PER_USE)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["resource", "name"]
        constraints = [models.CheckConstraint(condition=Q(unit_price__gte=0), name="product_price_not_negative")]

    def __str__(self) -> str:
        return self.name
