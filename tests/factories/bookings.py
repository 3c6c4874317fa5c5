"""Factories of the bookings app: portals and modules with their form, customers and contacts, bookings with
their requested times, visitors, change requests and log, and what pricing records (customer rates,
discount codes, credit, charges). Each chain stays in one organization."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from bookings.models import (
    Booking,
    BookingChangeRequest,
    BookingCredit,
    BookingCreditAdjustment,
    BookingEvent,
    BookingLog,
    BookingModule,
    BookingVisitor,
    Charge,
    ChargeStatus,
    Contact,
    CreditUse,
    Customer,
    DiscountCode,
    DiscountCodeUse,
    EmailKind,
    EmailTemplate,
    FieldType,
    FormField,
    FormSection,
    ModuleResource,
    Portal,
    PortalStatus,
    RateCustomer,
)
from core.actor import ActorKind

from .resources import OrganizationFactory, RateFactory, ResourceFactory, UserFactory


def _add_resources(obj, create, extracted):
    """The post-generation step of a factory whose model has a `resources` many-to-many."""
    if create and extracted:
        obj.resources.add(*extracted)


class PortalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Portal

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Portal {n}")
    status = PortalStatus.LIVE


class BookingModuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BookingModule
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Module {n}")
    slug = factory.Sequence(lambda n: f"module-{n}")
    admin_user = factory.SubFactory(UserFactory)
    hold_pending_slots = True

    @factory.post_generation
    def portals(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.portals.add(*extracted)

    @factory.post_generation
    def offered(obj, create, extracted, **kwargs):
        if create and extracted:
            for resource in extracted:
                ModuleResourceFactory(module=obj, resource=resource)


class EmailTemplateFactory(factory.django.DjangoModelFactory):
    """Staff's wording of one of a module's emails (written behind the services' back: tests that need the
    cache to see it clear it, or go through bookings.email_templates)."""

    class Meta:
        model = EmailTemplate

    module = factory.SubFactory(BookingModuleFactory)
    kind = EmailKind.BOOKING_RECEIVED
    language = "en"
    subject = "Thanks, {{ booker_name }}: {{ booking_title }}"
    body = "Dear {{ booker_name }},\n\nThank you for booking {{ booking_title }} with {{ organization_name }}."


class ModuleResourceFactory(factory.django.DjangoModelFactory):
    """A resource offered by a module; the resource defaults to one of the module's organization."""

    class Meta:
        model = ModuleResource

    module = factory.SubFactory(BookingModuleFactory)
    resource = factory.SubFactory(ResourceFactory, venue__organization=factory.SelfAttribute("...module.organization"))


class FormFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FormField

    module = factory.SubFactory(BookingModuleFactory)
    section = FormSection.EVENT
    label = factory.Sequence(lambda n: f"Question {n}")
    type = FieldType.TEXT


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")
    email = factory.Sequence(lambda n: f"contact{n}@example.com")


class BookingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Booking

    organization = factory.SelfAttribute("module.organization")
    module = factory.SubFactory(BookingModuleFactory)
    title = factory.Sequence(lambda n: f"Booking {n}")
    contact_answers = factory.LazyFunction(lambda: {"name": "Ada", "email": "ada@example.com"})


class BookingEventFactory(factory.django.DjangoModelFactory):
    """A requested time of a booking, not yet an Event. `resources=[...]` fills the many-to-many."""

    class Meta:
        model = BookingEvent
        skip_postgeneration_save = True

    booking = factory.SubFactory(BookingFactory)
    order = 0
    title = factory.Sequence(lambda n: f"Requested time {n}")
    start = factory.LazyFunction(lambda: timezone.now() + timedelta(days=2))
    end = factory.LazyAttribute(lambda e: e.start + timedelta(hours=1))

    @factory.post_generation
    def resources(obj, create, extracted, **kwargs):
        _add_resources(obj, create, extracted)


class BookingVisitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BookingVisitor

    booking = factory.SubFactory(BookingFactory)
    name = factory.Sequence(lambda n: f"Visitor {n}")
    email = factory.Sequence(lambda n: f"visitor{n}@example.com")


class BookingChangeRequestFactory(factory.django.DjangoModelFactory):
    """An open change request (no decision); a booking has at most one open."""

    class Meta:
        model = BookingChangeRequest

    booking = factory.SubFactory(BookingFactory)
    cancellation = False
    contact_changes = factory.LazyFunction(dict)
    event_changes = factory.LazyFunction(list)


class BookingLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BookingLog

    booking = factory.SubFactory(BookingFactory)
    actor_kind = ActorKind.SYSTEM
    actor_label = "system"
    action = "update"


class RateCustomerFactory(factory.django.DjangoModelFactory):
    """Reserves a rate for a customer of the rate's organization."""

    class Meta:
        model = RateCustomer

    rate = factory.SubFactory(RateFactory)
    customer = factory.SubFactory(
        CustomerFactory, organization=factory.SelfAttribute("..rate.resource.venue.organization")
    )


class DiscountCodeFactory(factory.django.DjangoModelFactory):
    """10% off by default; given an `amount`, a fixed-amount code (the two exclude each other).
    `resources=[...]` limits it to those resources."""

    class Meta:
        model = DiscountCode
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"CODE{n}")
    amount = None
    percentage = factory.LazyAttribute(lambda d: None if d.amount is not None else Decimal("10"))

    @factory.post_generation
    def resources(obj, create, extracted, **kwargs):
        _add_resources(obj, create, extracted)


class DiscountCodeUseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DiscountCodeUse

    code = factory.SubFactory(DiscountCodeFactory)
    booking = factory.SubFactory(BookingFactory, module__organization=factory.SelfAttribute("...code.organization"))
    contact = None


class BookingCreditFactory(factory.django.DjangoModelFactory):
    """Unspent credit of a new contact of the organization; given a `customer`, the customer's instead (a
    credit has exactly one owner). `resources=[...]` limits it to those resources."""

    class Meta:
        model = BookingCredit
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    customer = None
    contact = factory.Maybe(
        "customer",
        yes_declaration=None,
        no_declaration=factory.SubFactory(ContactFactory, organization=factory.SelfAttribute("..organization")),
    )
    amount = Decimal("50.00")
    balance = factory.SelfAttribute("amount")

    @factory.post_generation
    def resources(obj, create, extracted, **kwargs):
        _add_resources(obj, create, extracted)


class BookingCreditAdjustmentFactory(factory.django.DjangoModelFactory):
    """A staff member granting 10.00 more of a credit (bookings.pricing.config.booking_credit_adjust logs these)."""

    class Meta:
        model = BookingCreditAdjustment

    credit = factory.SubFactory(BookingCreditFactory)
    delta = Decimal("10.00")
    reason = "Goodwill"
    balance_after = factory.LazyAttribute(lambda a: a.credit.balance)
    actor_kind = ActorKind.USER
    actor_label = "staff"


class CreditUseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CreditUse

    credit = factory.SubFactory(BookingCreditFactory)
    booking = factory.SubFactory(BookingFactory, module__organization=factory.SelfAttribute("...credit.organization"))
    amount = Decimal("10.00")


class ChargeFactory(factory.django.DjangoModelFactory):
    """A not-yet-charged amount of a booking, in its organization's currency."""

    class Meta:
        model = Charge

    booking = factory.SubFactory(BookingFactory)
    organization = factory.SelfAttribute("booking.organization")
    amount = Decimal("20.00")
    currency = factory.SelfAttribute("organization.currency")
    status = ChargeStatus.NOT_CHARGED
