"""factory-boy factories for every model the tests build, one module per app; import them from here
(`from tests.factories import RateFactory`)."""

from .bookings import (
    BookingChangeRequestFactory,
    BookingCreditFactory,
    BookingEventFactory,
    BookingFactory,
    BookingLogFactory,
    BookingModuleFactory,
    BookingVisitorFactory,
    ChargeFactory,
    ContactFactory,
    CreditUseFactory,
    CustomerFactory,
    DiscountCodeFactory,
    DiscountCodeUseFactory,
    FormFieldFactory,
    ModuleResourceFactory,
    PortalFactory,
    RateCustomerFactory,
)
from .core import IdempotencyKeyFactory
from .events import EventFactory, EventSeriesFactory, ReservationFactory
from .feeds import CalendarFeedFactory
from .notifications import NotificationFactory
from .resources import (
    BookableHoursFactory,
    ClosureFactory,
    MembershipFactory,
    OrganizationFactory,
    ProductFactory,
    RateFactory,
    ResourceFactory,
    ResourceUnitFactory,
    UserFactory,
    VenueFactory,
)
from .webhooks import WebhookAttemptFactory, WebhookDeliveryFactory, WebhookEndpointFactory

__all__ = [
    "BookableHoursFactory",
    "BookingChangeRequestFactory",
    "BookingCreditFactory",
    "BookingEventFactory",
    "BookingFactory",
    "BookingLogFactory",
    "BookingModuleFactory",
    "BookingVisitorFactory",
    "CalendarFeedFactory",
    "ChargeFactory",
    "ClosureFactory",
    "ContactFactory",
    "CreditUseFactory",
    "CustomerFactory",
    "DiscountCodeFactory",
    "DiscountCodeUseFactory",
    "EventFactory",
    "EventSeriesFactory",
    "FormFieldFactory",
    "IdempotencyKeyFactory",
    "MembershipFactory",
    "ModuleResourceFactory",
    "NotificationFactory",
    "OrganizationFactory",
    "PortalFactory",
    "ProductFactory",
    "RateCustomerFactory",
    "RateFactory",
    "ReservationFactory",
    "ResourceFactory",
    "ResourceUnitFactory",
    "UserFactory",
    "VenueFactory",
    "WebhookAttemptFactory",
    "WebhookDeliveryFactory",
    "WebhookEndpointFactory",
]
