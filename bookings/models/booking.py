"""The bookings app's records: portals, modules and their forms, customers and contacts, bookings with
their requested times, visitors, change requests and the log (docs/architecture.md#glossary)."""

import secrets
import string

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from core.actor import ActorKind
from core.html import sanitize_html
from events.models import Event
from resources.base import BaseModel
from resources.models import PRICE_DIGITS, Organization, Rate, Resource, ResourceUnit

# The highest `BookingModule.max_occurrences` can be set to (bookings.validation.submission.MAX_TIMES per request).
MAX_OCCURRENCES_LIMIT = 500


def random_portal_slug() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(6))


class PortalStatus(models.TextChoices):
    LIVE = "LIVE", "Live"
    DRAFT = "DRAFT", "Draft"


class Portal(BaseModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="portals")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True, default=random_portal_slug)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=5, choices=PortalStatus.choices, default=PortalStatus.DRAFT)
    # Hashed like a user password; empty means the portal is open.
    password = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.description = sanitize_html(self.description)
        super().save(*args, **kwargs)

    def set_password(self, raw: str | None) -> None:
        self.password = make_password(raw) if raw else ""

    def check_password(self, raw: str) -> bool:
        return bool(self.password) and check_password(raw, self.password)


class BookingModule(BaseModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="booking_modules")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    admin_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Receives new requests; named in the footer of booker emails.",
    )
    portals = models.ManyToManyField(Portal, blank=True, related_name="modules")
    resources = models.ManyToManyField(Resource, through="ModuleResource", related_name="booking_modules")
    # about
    about_title = models.CharField(max_length=200, blank=True)
    about_description = models.TextField(blank=True)
    # calendar
    calendar_days_shown = models.PositiveSmallIntegerField(default=7)
    calendar_show_requested = models.BooleanField(default=True, help_text='Show pending requests as "Requested".')
    # config
    hold_pending_slots = models.BooleanField(
        default=True, help_text="Pending requests hold their slots with TENTATIVE events."
    )
    allow_change_requests = models.BooleanField(default=True)
    allow_cancellation = models.BooleanField(default=True)
    terms = models.TextField(blank=True, help_text="Terms and conditions the booker must accept.")
    reminder_hours = models.PositiveSmallIntegerField(
        default=24,
        null=True,
        blank=True,
        help_text="Email the booker this many hours before each approved event; empty or 0: no reminders.",
    )
    max_occurrences = models.PositiveSmallIntegerField(
        default=150,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_OCCURRENCES_LIMIT)],
        help_text="The most occurrences one repeated request may have.",
    )
    allow_repeat_requests = models.BooleanField(
        default=False,
        help_text="Bookers may ask for a repeating booking (daily, weekly, monthly …) on the public form and "
        "through the public API. Staff can always create repeats.",
    )
    auto_approve = models.BooleanField(
        default=False,
        help_text="A request whose resources all do not require approval, and that passes every rule, is approved "
        "at once (confirmed events, approval email). Requests for a resource that requires approval "
        "stay pending.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "slug"], name="module_slug_unique")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.about_description = sanitize_html(self.about_description)
        self.terms = sanitize_html(self.terms)
        super().save(*args, **kwargs)


class ModuleResource(BaseModel):
    module = models.ForeignKey(BookingModule, on_delete=models.CASCADE, related_name="module_resources")
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="module_resources")
    settings = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["module", "resource"], name="module_resource_unique")]


class FormSection(models.TextChoices):
    CONTACT = "contact", "Contact"
    EVENT = "event", "Event"


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    TEXTAREA = "textarea", "Paragraph"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    TIME = "time", "Time"
    DATETIME = "datetime", "Date and time"
    SELECT = "select", "Select"
    MULTISELECT = "multiselect", "Multi-select"
    CHECKBOX = "checkbox", "Checkbox"
    URL = "url", "URL"


class FormField(BaseModel):
    """A custom question. Answers are keyed by the field's id; a field with answers is archived, never
    deleted, so old bookings keep their labels."""

    module = models.ForeignKey(BookingModule, on_delete=models.CASCADE, related_name="fields")
    section = models.CharField(max_length=10, choices=FormSection.choices)
    label = models.CharField(max_length=200)
    type = models.CharField(max_length=12, choices=FieldType.choices, default=FieldType.TEXT)
    required = models.BooleanField(default=False)
    help_text = models.CharField(max_length=500, blank=True)
    options = models.JSONField(default=list, blank=True, help_text="Choices for select fields.")
    min_value = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Numbers: smallest value. Text: shortest length.",
    )
    max_value = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Numbers: largest value. Text: longest length.",
    )
    order = models.PositiveIntegerField(default=0)
    archived = models.BooleanField(default=False)

    class Meta:
        ordering = ["section", "order", "created_at"]

    def __str__(self) -> str:
        return self.label


class Customer(BaseModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="customers")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(BaseModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="contacts")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    # Set by contact_erase (docs/architecture.md#personal-data): when, and by whom, the person was erased.
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    erased_by = models.CharField(max_length=200, blank=True, default="", db_default="", editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            # A submission finds its contact by email, so one email is one contact per organization.
            models.UniqueConstraint(
                Lower("email"), "organization", condition=~Q(email=""), name="contact_email_unique_per_org"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.email else self.name


class BookingStatus(models.IntegerChoices):
    PENDING = 0, "Pending"
    APPROVED = 1, "Approved"
    DENIED = 2, "Denied"
    CANCELED = 3, "Canceled"


class Booking(BaseModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="bookings")
    module = models.ForeignKey(BookingModule, on_delete=models.PROTECT, related_name="bookings")
    portal = models.ForeignKey(Portal, null=True, blank=True, on_delete=models.SET_NULL, related_name="bookings")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="bookings")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="bookings")
    status = models.PositiveSmallIntegerField(choices=BookingStatus.choices, default=BookingStatus.PENDING)
    submission = models.BooleanField(default=True, help_text="Submitted by a booker (not created by staff).")
    title = models.CharField(max_length=300)
    contact_answers = models.JSONField(default=dict, blank=True)
    request_note = models.TextField(blank=True)
    # sha256 of the booker's private-link token; the token itself is only ever shown once.
    access_token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    internal_notes = models.TextField(blank=True, help_text="Staff only; never shown to the booker.")
    # What the request said about paying (docs/architecture.md#prices, bookings.pricing): the code is checked
    # on submit and counted on approval; credit is used on approval unless the request declined it.
    discount_code = models.ForeignKey(
        "DiscountCode", null=True, blank=True, on_delete=models.SET_NULL, related_name="bookings"
    )
    do_not_use_booking_credit = models.BooleanField(default=False)
    invoice_this_contact = models.BooleanField(default=False, help_text="Charge the contact, not the customer.")
    purchase_order = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organization", "status", "-created_at"], name="booking_org_status"),
            models.Index(fields=["organization", "updated_at"], name="booking_org_updated"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def booker_email(self) -> str:
        return (self.contact_answers or {}).get("email", "")

    @property
    def booker_name(self) -> str:
        return (self.contact_answers or {}).get("name", "")


class BookingEvent(BaseModel):
    """One requested occurrence of a booking, and the Event it became (null until one exists)."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="requested_times")
    order = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=300)
    start = models.DateTimeField()
    end = models.DateTimeField()
    resources = models.ManyToManyField(Resource, related_name="booking_events")
    attendees = models.PositiveIntegerField(null=True, blank=True)
    answers = models.JSONField(default=dict, blank=True, help_text="Custom event-section answers by field id.")
    # The unit (desk, seat) the booker asked for; null: any free unit is assigned when the event is written
    # (the Event's reservations say which).
    unit = models.ForeignKey(
        ResourceUnit, null=True, blank=True, on_delete=models.SET_NULL, related_name="booking_events"
    )
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="booking_events")
    # The start the booker was reminded of (bookings.reminders): a moved event differs from it and is
    # reminded again; an unmoved one never twice.
    reminded_for = models.DateTimeField(null=True, blank=True, editable=False)
    # An occurrence of a repeated request (bookings.validation.repeat): the rule as requested (wire form; {} for a
    # single time), the id shared by the occurrences of that request (their Events share an EventSeries),
    # and its place in the expansion (0-based). Set at creation only: a repeat cannot be changed or added.
    repeat = models.JSONField(default=dict, blank=True, editable=False)
    repeat_group = models.UUIDField(null=True, blank=True, editable=False)
    occurrence = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # Pricing (docs/architecture.md#prices, bookings.pricing): the rate the request named (else the cheapest
    # applies), the products as requested ([{productId, quantity}]), staff's override of the rates' amount, and
    # the price: the estimate (`"fixed": false`) until approval, then the snapshot fixed on the Event
    # (`"fixed": true`).
    rate = models.ForeignKey(Rate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    products = models.JSONField(default=list, blank=True)
    override_price = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    price = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["order", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="booking_event_end_after_start")
        ]
        # The reminder sweep reads only the events starting in the next hours.
        indexes = [models.Index(fields=["start"], name="booking_event_start")]

    def __str__(self) -> str:
        return f"{self.title} ({self.start:%Y-%m-%d %H:%M})"


class BookingVisitor(BaseModel):
    """Someone the booker brings (docs/architecture.md#visitors): invited by email when the booking is approved."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="visitors")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    invited_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at", "name"]
        constraints = [models.UniqueConstraint(Lower("email"), "booking", name="booking_visitor_email_unique")]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class ChangeRequestDecision(models.TextChoices):
    APPROVED = "APPROVED", "Approved"
    DENIED = "DENIED", "Denied"
    SUPERSEDED = "SUPERSEDED", "Replaced by a newer request"
    WITHDRAWN = "WITHDRAWN", "Booking no longer approved"


class OpenChangeRequestManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(decision="")


class BookingChangeRequest(BaseModel):
    """A booker's requested change to an approved booking.

    Decided requests leave the lists (the `open` manager) but keep their row, so deciding one twice is
    an INVALID_TRANSITION rather than a puzzling 404; the booking's log records what happened.
    """

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="change_requests")
    cancellation = models.BooleanField(default=False)
    contact_changes = models.JSONField(default=dict, blank=True)
    event_changes = models.JSONField(default=list, blank=True, help_text="[{bookingEventId, ...answers}]")
    request_note = models.TextField(blank=True)
    decision = models.CharField(max_length=10, choices=ChangeRequestDecision.choices, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = models.Manager()
    open = OpenChangeRequestManager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["booking"], condition=Q(decision=""), name="one_open_change_request_per_booking"
            ),
        ]

    def __str__(self) -> str:
        return f"{'Cancellation' if self.cancellation else 'Change'} request for {self.booking}"


class BookingLogAction(models.TextChoices):
    """What a BookingLog row records (docs/architecture.md#booking-lifecycle). The values are stored:
    never change one."""

    # the lifecycle (bookings.lifecycle)
    SUBMIT = "submit", "Submitted"
    CREATE = "create", "Created by staff"
    APPROVE = "approve", "Approved"
    DENY = "deny", "Denied"
    CANCEL = "cancel", "Canceled by staff"
    UPDATE = "update", "Updated"
    BOOKER_CANCEL = "booker_cancel", "Canceled by the booker"
    CHANGE_APPLIED = "change_applied", "Change applied"
    CHANGE_REQUESTED = "change_requested", "Change requested"
    CHANGE_REQUEST_APPROVE = "change_request_approve", "Change request approved"
    CHANGE_REQUEST_DENY = "change_request_deny", "Change request denied"
    # staff changed or deleted the booking's events on the calendar (bookings.lifecycle.follow)
    EVENTS_CHANGED = "events_changed", "Events changed by staff"
    EVENTS_DELETED = "events_deleted", "Events deleted by staff"
    # prices and charges (docs/architecture.md#prices, docs/architecture.md#charge-statuses)
    PRICE_FIXED = "price_fixed", "Price fixed"
    CHARGES_RELEASED = "charges_released", "Charges released"
    PRICE_OVERRIDE = "price_override", "Price overridden"
    CHARGE_CHARGED = "charge_charged", "Charge charged"
    CHARGE_INVOICED = "charge_invoiced", "Charge invoiced"
    CHARGE_REVERTED = "charge_reverted", "Charge reverted"
    CHARGES_REVERTED = "charges_reverted", "Charges reverted"
    # the booker's personal data (docs/architecture.md#personal-data)
    PERSONAL_DATA_ERASED = "personal_data_erased", "Personal data erased"


class BookingLog(BaseModel):
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="log")
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=40, choices=BookingLogAction.choices)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label or self.actor_kind}"
