"""Two organizations for the isolation sweep: A with one of everything, every name carrying a secret
marker, and B with its own objects and members of each role that matters."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django.apps import apps
from django.contrib.auth import get_user_model

from bookings.lifecycle.change_requests import change_request_submit
from bookings.lifecycle.decide import booking_approve, booking_cancel, booking_deny
from bookings.models import (
    Booking,
    FieldType,
    FormSection,
)
from core.actor import Actor
from events.services.single import event_create
from feeds.services import feed_create
from notifications.models import Notification
from resources.models import Role
from tests.conftest import Setup, future
from tests.factories import (
    BookingCreditFactory,
    BookingVisitorFactory,
    ChargeFactory,
    ClosureFactory,
    ContactFactory,
    CreditUseFactory,
    CustomerFactory,
    DiscountCodeFactory,
    DiscountCodeUseFactory,
    EmailTemplateFactory,
    FormFieldFactory,
    MembershipFactory,
    ProductFactory,
    RateCustomerFactory,
    RateFactory,
    ResourceUnitFactory,
    UserFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
)

PROJECT_APPS = ("resources", "events", "bookings", "notifications", "webhooks", "feeds")


class Tenant:
    """A Setup (organization, venue, three resources, live portal, module, manager) plus one object of
    every other kind, each named with `marker`."""

    def __init__(self, marker: str):
        self.marker = marker
        s = self.setup = Setup()
        m = marker
        s.org.name = f"Org {m}"
        s.org.save()
        s.venue.name = f"Venue {m}"
        s.venue.address = f"1 {m} Street"
        s.venue.save()
        for resource in (s.room, s.hall, s.desks):
            resource.name = f"{resource.name} {m}"
            resource.description = f"<p>About {m}</p>"
            resource.save()
        s.portal.name = f"Portal {m}"
        s.portal.save()
        s.module.name = f"Module {m}"
        s.module.save()
        s.manager.first_name = f"Manager {m}"
        s.manager.save()
        s.admin.first_name = f"Admin {m}"
        s.admin.save()
        self.closure = ClosureFactory(
            organization=s.org, message=f"Closed {m}", start=future(300, 0), end=future(301, 0)
        )
        self.field = FormFieldFactory(
            module=s.module, section=FormSection.EVENT, label=f"Purpose {m}", help_text=f"Help {m}"
        )
        self.choice = FormFieldFactory(
            module=s.module,
            section=FormSection.CONTACT,
            label=f"Choice {m}",
            type=FieldType.SELECT,
            options=[f"Option {m}", "Plain"],
        )
        self.customer = CustomerFactory(organization=s.org, name=f"Customer {m}")
        self.contact = ContactFactory(
            organization=s.org, customer=self.customer, name=f"Contact {m}", email=f"{uuid.uuid4().hex[:8]}@example.org"
        )
        email = f"booker-{uuid.uuid4().hex[:8]}@example.org"

        def submit(days, resource, title):
            return s.submit(
                s.event(
                    future(days, 10), resources=[resource], title=f"{title} {m}", **{str(self.field.pk): f"Answer {m}"}
                ),
                email=email,
                name=f"Booker {m}",
                request_note=f"<p>Note {m}</p>",
            )

        self.pending = submit(7, s.room, "Pending").booking
        approved = submit(8, s.hall, "Approved")
        self.approved, self.approved_token = approved.booking, approved.access_token
        booking_approve(booking_id=self.approved.pk, actor=s.staff, client_last_updated_at=None)
        self.denied = submit(9, s.room, "Denied").booking
        booking_deny(booking_id=self.denied.pk, actor=s.staff, client_last_updated_at=None)
        self.canceled = submit(10, s.room, "Canceled").booking
        booking_approve(booking_id=self.canceled.pk, actor=s.staff, client_last_updated_at=None)
        booking_cancel(booking_id=self.canceled.pk, actor=s.staff, event_procedure=0)
        start = future(8, 15)
        self.change_request = change_request_submit(
            booking_id=self.approved.pk,
            actor=Actor.booker(email),
            contact={"name": f"Renamed {m}"},
            request_note=f"Later {m}",
            events=[
                {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(), "title": f"Moved {m}"}
            ],
        ).change_request
        self.event = event_create(
            organization=s.org,
            title=f"Event {m}",
            description=f"<p>Event {m}</p>",
            start=future(11, 10),
            end=future(11, 11),
            resource_ids=[s.desks.pk],
        )
        self.endpoint = WebhookEndpointFactory(organization=s.org, description=f"Hook {m}", url="https://8.8.8.8/hooks")
        self.delivery = WebhookDeliveryFactory(
            endpoint=self.endpoint,
            event_type="booking.submitted",
            data={"title": m},
        )
        self.feed = feed_create(organization=s.org, name=f"Feed {m}", include_tentative=True)
        # Prices, desks and visitors, built by the factories: the sweep needs one row of each.
        self.unit = ResourceUnitFactory(resource=s.desks, name=f"Desk {m}")
        self.rate = RateFactory(resource=s.room, name=f"Rate {m}", price=Decimal("10"))
        RateCustomerFactory(rate=self.rate, customer=self.customer)
        self.product = ProductFactory(resource=s.room, name=f"Product {m}", unit_price=Decimal("2"))
        self.code = DiscountCodeFactory(
            organization=s.org, code=f"A{uuid.uuid4().hex[:8]}", description=f"Code {m}", percentage=Decimal("10")
        )
        DiscountCodeUseFactory(code=self.code, booking=self.approved, contact=self.contact)
        self.credit = BookingCreditFactory(
            organization=s.org,
            contact=self.contact,
            description=f"Credit {m}",
            amount=Decimal("50"),
            balance=Decimal("40"),
        )
        CreditUseFactory(credit=self.credit, booking=self.approved, amount=Decimal("10"))
        self.charge = ChargeFactory(
            organization=s.org,
            booking=self.approved,
            customer=self.customer,
            description=f"Charge {m}",
            amount=Decimal("5"),
            currency="GBP",
            purchase_order=f"PO {m}",
        )
        self.email_template = EmailTemplateFactory(
            module=s.module, subject=f"Subject {m}: {{{{ booking_title }}}}", body=f"Body {m}, {{{{ booker_name }}}}."
        )
        BookingVisitorFactory(
            booking=self.approved, name=f"Visitor {m}", email=f"visitor-{uuid.uuid4().hex[:8]}@example.org"
        )
        assert Notification.objects.filter(organization=s.org).exists()
        self.users = {}
        for role in (Role.OWNER, Role.ADMIN, Role.MANAGER, Role.VIEWER):
            user = UserFactory(first_name=f"{role.label} {m}")
            MembershipFactory(user=user, organization=s.org, role=role)
            self.users[role] = user

    def objects(self) -> dict[str, list]:
        """model label → every row of that model belonging to this organization (found by walking the
        project's models, so a new model with an organization path is covered)."""
        found: dict[str, list] = {}
        org = self.setup.org
        for label in PROJECT_APPS:
            for model in apps.get_app_config(label).get_models():
                path = org_path(model)
                if path is None:
                    continue
                rows = list(model.objects.filter(**{path: org.pk}))
                if rows:
                    found[model._meta.label] = rows
        user_model = get_user_model()
        found[user_model._meta.label] = list(user_model.objects.filter(memberships__organization=org).distinct())
        return found

    @property
    def bookings(self) -> list[Booking]:
        return [self.pending, self.approved, self.denied, self.canceled]


def org_path(model, depth: int = 0) -> str | None:
    """The lookup from `model` to its Organization ("organization", "venue__organization", ...), or None."""
    if model._meta.label == "resources.Organization":
        return "pk"
    names = [f.name for f in model._meta.concrete_fields]
    if "organization" in names:
        return "organization"
    if depth >= 3:
        return None
    for field in model._meta.concrete_fields:
        related = field.related_model
        if field.many_to_one and related is not None and not field.null and related._meta.app_label in PROJECT_APPS:
            rest = org_path(related, depth + 1)
            if rest is not None:
                return f"{field.name}__{rest}" if rest != "pk" else field.name
    return None
