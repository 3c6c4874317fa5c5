"""The one family of domain errors (docs/architecture.md#domain-errors). Every error carries a machine code; the API
(docs/architecture.md#http-api-conventions), the admin and the public pages each turn it into their own presentation."""

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = {"field": self.field, "code": self.code, "message": self.message}
        data.update(self.meta)
        return data


class DomainError(Exception):
    code = "ERROR"
    status = 400
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, errors: list[FieldError] | None = None):
        self.message = message or self.default_message
        self.errors = list(errors or [])
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        # Always at least one entry, so a client can switch on the code without parsing the sentence.
        errors = self.errors or [FieldError("", self.code, self.message)]
        return {"status": self.status, "error": self.message, "errors": [e.as_dict() for e in errors]}


class ValidationFailed(DomainError):
    """Input that breaks a field rule or a booking rule; each FieldError has its own code."""

    code = "VALIDATION_FAILED"
    status = 400
    default_message = "Some answers need attention."


class ImmutableField(DomainError):
    code = "IMMUTABLE_FIELD"
    status = 400
    default_message = "Only the customer and contact of a booking can be changed."


class NotFound(DomainError):
    code = "NOT_FOUND"
    status = 404
    default_message = "Not found."


class PermissionDenied(DomainError):
    code = "PERMISSION_DENIED"
    status = 403
    default_message = "Your role does not allow this."


class Conflict(DomainError):
    status = 409


class BookingConflict(Conflict):
    code = "BOOKING_CONFLICT"
    default_message = "The requested time is no longer available."


class CapacityExceeded(Conflict):
    code = "CAPACITY_EXCEEDED"
    default_message = "The resource is already booked to capacity at that time."


class StaleBooking(Conflict):
    code = "STALE_BOOKING"
    default_message = "The booking changed since you opened it; review the changes and try again."


class InvalidTransition(Conflict):
    code = "INVALID_TRANSITION"
    default_message = "That action is not possible in the booking's current state."


class HasFutureBookings(Conflict):
    code = "HAS_FUTURE_BOOKINGS"
    default_message = "This person has approved bookings still to come; erase with force to go ahead."


class InUse(Conflict):
    code = "IN_USE"
    default_message = "It is still in use; archive it instead."


# --- prices (bookings.pricing) --------------------------------------------------------------------------


class InvalidDiscountCode(DomainError):
    """Unknown, inactive, outside its validity window, used up, or not for this resource. One code for all
    of them, so a booker cannot probe which codes exist; the message says which."""

    code = "INVALID_DISCOUNT_CODE"
    status = 400
    default_message = "The discount code is not valid."


class RateNotApplicable(DomainError):
    """The request named a rate (`rateId`) that is not one of the resource's active rates for this booking."""

    code = "RATE_NOT_APPLICABLE"
    status = 400
    default_message = "The chosen rate does not apply to this booking."


class NoApplicableRate(DomainError):
    """The resource has rates, but none covers part of the booking (e.g. only a daytime rate for an evening
    booking). Staff may still set a price with overridePrice."""

    code = "NO_APPLICABLE_RATE"
    status = 400
    default_message = "No rate of the resource applies to this booking."


class InvalidProduct(DomainError):
    code = "INVALID_PRODUCT"
    status = 400
    default_message = "A product is not available with this booking."


class CreditUnavailable(Conflict):
    """The booking credit a request was estimated to use is gone at approval (another approval spent it
    meanwhile). Nothing is approved; staff approve again with doNotUseBookingCredit or acceptAvailableCredit."""

    code = "CREDIT_UNAVAILABLE"
    default_message = "The booking credit this request expected is no longer available."


class ChargeLocked(Conflict):
    """The price of an event whose charge was already charged or invoiced cannot change: revert it first
    (a charged one), or correct the invoice with a credit note in the accounts (an invoiced one)."""

    code = "CHARGE_ALREADY_BILLED"
    default_message = "The event's charge was already charged or invoiced."
