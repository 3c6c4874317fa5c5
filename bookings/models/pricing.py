"""Prices, discount codes, booking credit and charges: the records the pricing package reads and its
services write (docs/architecture.md#prices)."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from core.actor import ActorKind
from events.models import Event
from resources.base import BaseModel
from resources.models import PRICE_DIGITS, Organization, Rate, Resource

from .booking import Booking, BookingEvent, Contact, Customer

# --- prices, discounts, credit and charges (docs/architecture.md#prices) --------------------------------
# How a price is computed is bookings.pricing.quote; these are the records it reads and the services write.


class RateCustomer(BaseModel):
    """Reserves a resource's rate for a customer. Declared here, not as a field of resources.Rate, because
    Customer lives in bookings and imports only flow bookings → events → resources. A rate with no row
    applies to everyone; a rate with rows applies only to those customers."""

    rate = models.ForeignKey(Rate, on_delete=models.CASCADE, related_name="customer_links")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="rate_links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rate", "customer"], name="rate_customer_unique")]

    def __str__(self) -> str:
        return f"{self.rate} for {self.customer}"


class DiscountCode(BaseModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="discount_codes")
    code = models.CharField(max_length=40, help_text="What bookers type; letters case does not matter.")
    description = models.CharField(max_length=200, blank=True)
    # Exactly one of the two (a CheckConstraint): a code is either a percentage or a fixed amount.
    percentage = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(100)],
        help_text="Percent off the price.",
    )
    amount = models.DecimalField(
        **PRICE_DIGITS,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Fixed amount off one booking, in the organization's currency.",
    )
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    max_uses_total = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    max_uses_per_contact = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    resources = models.ManyToManyField(
        Resource, blank=True, related_name="discount_codes", help_text="None selected: every resource."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(Lower("code"), "organization", name="discount_code_unique_per_org"),
            models.CheckConstraint(
                condition=Q(percentage__isnull=False, amount__isnull=True)
                | Q(percentage__isnull=True, amount__isnull=False),
                name="discount_code_percentage_xor_amount",
            ),
            models.CheckConstraint(
                condition=Q(percentage__isnull=True) | Q(percentage__gt=0, percentage__lte=100),
                name="discount_code_percentage_range",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0), name="discount_code_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True) | Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="discount_code_valid_window",
            ),
            models.CheckConstraint(
                condition=Q(max_uses_total__isnull=True) | Q(max_uses_total__gte=1),
                name="discount_code_max_uses_positive",
            ),
            models.CheckConstraint(
                condition=Q(max_uses_per_contact__isnull=True) | Q(max_uses_per_contact__gte=1),
                name="discount_code_max_uses_per_contact_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class DiscountCodeUse(BaseModel):
    """One use of a code: written when a booking that carries it is approved. The unique pair makes a
    second approval attempt (or a retry racing the first) count nothing twice; the approval service locks
    the code row before counting the uses against the limits."""

    code = models.ForeignKey(DiscountCode, on_delete=models.CASCADE, related_name="uses")
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="discount_code_uses")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["code", "booking"], name="discount_code_use_once_per_booking")]

    def __str__(self) -> str:
        return f"{self.code} on {self.booking}"


class BookingCredit(BaseModel):
    """Prepaid credit of a contact or a customer. `amount` is what was granted, `balance` what is left;
    the database refuses a negative balance, so two approvals racing for the last euro cannot both win."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="booking_credits")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="credits")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="credits")
    description = models.CharField(max_length=200, blank=True)
    amount = models.DecimalField(**PRICE_DIGITS, validators=[MinValueValidator(Decimal("0.01"))])
    balance = models.DecimalField(**PRICE_DIGITS)
    # For events starting in this period (bookings.pricing.quote).
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    resources = models.ManyToManyField(
        Resource, blank=True, related_name="booking_credits", help_text="None selected: every resource."
    )

    class Meta:
        ordering = ["valid_until", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(contact__isnull=False, customer__isnull=True)
                | Q(contact__isnull=True, customer__isnull=False),
                name="booking_credit_contact_xor_customer",
            ),
            models.CheckConstraint(condition=Q(balance__gte=0), name="booking_credit_balance_not_negative"),
            models.CheckConstraint(condition=Q(balance__lte=F("amount")), name="booking_credit_balance_le_amount"),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True) | Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="booking_credit_valid_window",
            ),
        ]

    def __str__(self) -> str:
        owner = self.contact or self.customer
        return f"{self.description or 'Credit'} · {owner} · {self.balance}/{self.amount}"


class BookingCreditAdjustment(BaseModel):
    """Staff granting more of a credit or taking unspent credit back (bookings.pricing.config.booking_credit_adjust):
    the log of every change to a credit's amount and balance that no booking made."""

    credit = models.ForeignKey(BookingCredit, on_delete=models.CASCADE, related_name="adjustments")
    delta = models.DecimalField(**PRICE_DIGITS, help_text="Added to the amount and the balance (negative: taken back).")
    reason = models.CharField(max_length=500)
    balance_after = models.DecimalField(**PRICE_DIGITS)
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.delta:+} by {self.actor_label or self.actor_kind}: {self.reason}"


class CreditUse(BaseModel):
    """Credit spent on one event of a booking; `returned_at` is set when it is given back (the event was
    canceled before it started) and the credit's balance restored."""

    credit = models.ForeignKey(BookingCredit, on_delete=models.CASCADE, related_name="uses")
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="credit_uses")
    booking_event = models.ForeignKey(
        BookingEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="credit_uses"
    )
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="credit_uses")
    amount = models.DecimalField(**PRICE_DIGITS)
    returned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="credit_use_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount} of {self.credit}"


class ChargeStatus(models.IntegerChoices):
    NOT_CHARGED = 0, "Not charged"
    CHARGED = 1, "Charged"
    INVOICED = 2, "Invoiced"
    REVERTED = 3, "Reverted"


# The moves a charge may make. INVOICED and REVERTED are final: an invoice is corrected with a credit note
# in the accounting system, not by editing the charge it came from.
CHARGE_TRANSITIONS: dict[int, frozenset[int]] = {
    ChargeStatus.NOT_CHARGED: frozenset({ChargeStatus.CHARGED, ChargeStatus.INVOICED, ChargeStatus.REVERTED}),
    ChargeStatus.CHARGED: frozenset({ChargeStatus.INVOICED, ChargeStatus.REVERTED}),
    ChargeStatus.INVOICED: frozenset(),
    ChargeStatus.REVERTED: frozenset(),
}


def charge_transition_allowed(current: int, target: int) -> bool:
    return target in CHARGE_TRANSITIONS.get(current, frozenset())


class Charge(BaseModel):
    """What an approved event with a price costs its customer (or its contact, when the booking asked for
    `invoiceThisContact`): the amount left after credit. The event may be deleted later (cancel with DELETE);
    the charge stays for the accounts, with its booking."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="charges")
    booking = models.ForeignKey(Booking, on_delete=models.RESTRICT, related_name="charges")
    booking_event = models.ForeignKey(
        BookingEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="charges"
    )
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="charges")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="charges")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="charges")
    description = models.CharField(max_length=300, blank=True)
    amount = models.DecimalField(**PRICE_DIGITS)
    currency = models.CharField(max_length=3)
    status = models.PositiveSmallIntegerField(choices=ChargeStatus.choices, default=ChargeStatus.NOT_CHARGED)
    purchase_order = models.CharField(max_length=200, blank=True)
    charged_at = models.DateTimeField(null=True, blank=True)
    invoiced_at = models.DateTimeField(null=True, blank=True)
    reverted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "created_at"], name="charge_org_created")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="charge_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(customer__isnull=True) | Q(contact__isnull=True), name="charge_customer_or_contact"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} · {self.booking} · {self.get_status_display()}"
