"""Factories of the events app: events, their series, and the reservations that occupy resources."""

from datetime import timedelta

import factory
from django.utils import timezone

from events.models import Event, EventSeries, EventStatus, Reservation

from .resources import OrganizationFactory, ResourceFactory


class EventSeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EventSeries

    organization = factory.SubFactory(OrganizationFactory)
    timezone = "Europe/London"
    rule = factory.LazyFunction(lambda: {"freq": "WEEKLY", "interval": 1, "count": 10})


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    organization = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"Event {n}")
    start = factory.LazyFunction(lambda: timezone.now() + timedelta(days=2))
    end = factory.LazyAttribute(lambda e: e.start + timedelta(hours=1))
    status = EventStatus.CONFIRMED


class ReservationFactory(factory.django.DjangoModelFactory):
    """A reservation as events.services writes one: the event's times with the resource's buffer added to
    the end, the resource's `exclusive` copied, active unless the event is canceled. The resource defaults
    to one in the event's organization. It skips the services' conflict checks: only the database's
    constraints guard it."""

    class Meta:
        model = Reservation

    event = factory.SubFactory(EventFactory)
    resource = factory.SubFactory(ResourceFactory, venue__organization=factory.SelfAttribute("...event.organization"))
    start = factory.SelfAttribute("event.start")
    end = factory.LazyAttribute(lambda r: r.event.end + timedelta(minutes=r.resource.buffer_minutes))
    active = factory.LazyAttribute(lambda r: r.event.status != EventStatus.CANCELED)
    exclusive = factory.SelfAttribute("resource.exclusive")
    unit = None
