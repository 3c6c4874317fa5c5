"""factory-boy factories for every model the tests need."""

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from bookings.models import (
    Booking,
    BookingModule,
    Contact,
    Customer,
    FieldType,
    FormField,
    FormSection,
    ModuleResource,
    Portal,
    PortalStatus,
)
from events.models import Event, EventStatus
from resources.models import BookableHours, Closure, Membership, Organization, Resource, Role, Venue


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pw-123456")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")
    timezone = "Europe/London"
    currency = "GBP"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.MANAGER


class VenueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Venue

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Venue {n}")
    timezone = "Europe/London"


class ResourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Resource

    venue = factory.SubFactory(VenueFactory)
    name = factory.Sequence(lambda n: f"Room {n}")
    capacity = 10
    exclusive = True


class BookableHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BookableHours

    resource = factory.SubFactory(ResourceFactory)
    weekday = 0
    start_time = "09:00"
    end_time = "17:00"


class ClosureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Closure

    organization = factory.SubFactory(OrganizationFactory)
    start = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    end = factory.LazyAttribute(lambda c: c.start + timedelta(days=1))
    message = "Closed for maintenance"


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
                ModuleResource.objects.create(module=obj, resource=resource)


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


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    organization = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"Event {n}")
    start = factory.LazyFunction(lambda: timezone.now() + timedelta(days=2))
    end = factory.LazyAttribute(lambda e: e.start + timedelta(hours=1))
    status = EventStatus.CONFIRMED


class BookingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Booking

    organization = factory.SelfAttribute("module.organization")
    module = factory.SubFactory(BookingModuleFactory)
    title = factory.Sequence(lambda n: f"Booking {n}")
    contact_answers = factory.LazyFunction(lambda: {"name": "Ada", "email": "ada@example.com"})
