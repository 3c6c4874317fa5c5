"""Factories of the resources app (and the user model): organizations, their venues and resources, and what
a resource carries (units, bookable hours, closures, rates, products)."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from resources.models import (
    BookableHours,
    Closure,
    Membership,
    Organization,
    Product,
    ProductUnit,
    Rate,
    RateUnit,
    Resource,
    ResourceUnit,
    Role,
    Venue,
)


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


class ResourceUnitFactory(factory.django.DjangoModelFactory):
    """A desk of a hot-desk area: its resource defaults to a shared (non-exclusive) one."""

    class Meta:
        model = ResourceUnit

    resource = factory.SubFactory(ResourceFactory, exclusive=False)
    name = factory.Sequence(lambda n: f"Desk {n}")
    order = 0
    archived = False


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
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    start = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    end = factory.LazyAttribute(lambda c: c.start + timedelta(days=1))
    message = "Closed for maintenance"

    @factory.post_generation
    def resources(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.resources.add(*extracted)


class RateFactory(factory.django.DjangoModelFactory):
    """An hourly rate for every day and hour."""

    class Meta:
        model = Rate

    resource = factory.SubFactory(ResourceFactory)
    name = factory.Sequence(lambda n: f"Rate {n}")
    unit = RateUnit.HOUR
    price = Decimal("20.00")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    resource = factory.SubFactory(ResourceFactory)
    name = factory.Sequence(lambda n: f"Product {n}")
    unit_price = Decimal("2.50")
    unit = ProductUnit.PER_USE
