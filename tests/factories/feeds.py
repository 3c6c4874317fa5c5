"""Factories of the feeds app."""

import factory

from feeds.models import CalendarFeed

from .resources import OrganizationFactory


class CalendarFeedFactory(factory.django.DjangoModelFactory):
    """A live feed of every resource of the organization (its token is the model's default, random)."""

    class Meta:
        model = CalendarFeed

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Feed {n}")
    resource = None
