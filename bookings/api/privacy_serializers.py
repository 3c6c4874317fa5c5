"""What the personal-data endpoints of a contact answer and take (docs/architecture.md#personal-data): the
export is documented field by field, so an integrator's client reads it typed."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class _ContactData(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    name = serializers.CharField()
    email = serializers.CharField(help_text="Empty once erased.")
    phone = serializers.CharField()
    customerId = serializers.UUIDField(allow_null=True)
    createdAt = serializers.DateTimeField()
    erasedAt = serializers.DateTimeField(allow_null=True)


class _RequestedTimeData(serializers.Serializer[Any]):
    title = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    answers = serializers.DictField(child=serializers.JSONField(), help_text="Custom answers by form field id.")


class _VisitorData(serializers.Serializer[Any]):
    name = serializers.CharField()
    email = serializers.CharField()


class _ChangeRequestData(serializers.Serializer[Any]):
    createdAt = serializers.DateTimeField()
    contactChanges = serializers.DictField(child=serializers.JSONField())
    eventChanges = serializers.ListField(child=serializers.DictField(child=serializers.JSONField()))
    requestNote = serializers.CharField()
    decision = serializers.CharField(help_text="Empty while open; APPROVED, DENIED, SUPERSEDED or WITHDRAWN.")


class _BookingData(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    status = serializers.IntegerField(help_text="0 Pending, 1 Approved, 2 Denied, 3 Canceled.")
    title = serializers.CharField()
    requestNote = serializers.CharField()
    internalNotes = serializers.CharField(help_text="Staff's notes about the booking: held about the person too.")
    contactAnswers = serializers.DictField(child=serializers.JSONField())
    createdAt = serializers.DateTimeField()
    requestedTimes = _RequestedTimeData(many=True)
    visitors = _VisitorData(many=True)
    changeRequests = _ChangeRequestData(many=True)


class _CreditData(serializers.Serializer[Any]):
    amount = serializers.CharField(help_text="A decimal, in the organization's currency.")
    balance = serializers.CharField(help_text="A decimal, in the organization's currency.")
    description = serializers.CharField()


class _EmailData(serializers.Serializer[Any]):
    kind = serializers.CharField()
    subject = serializers.CharField()
    recipients = serializers.ListField(child=serializers.CharField())
    status = serializers.CharField(help_text="QUEUED, SENDING, SENT or FAILED.")
    createdAt = serializers.DateTimeField()
    sentAt = serializers.DateTimeField(allow_null=True)
    bodyText = serializers.CharField(help_text="Empty until the email is rendered for sending.")


class PersonalDataOut(serializers.Serializer[Any]):
    contact = _ContactData()
    bookings = _BookingData(many=True)
    credits = _CreditData(many=True)
    emails = _EmailData(many=True)


class EraseIn(serializers.Serializer[Any]):
    force = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Erase even while the person has approved bookings still to come (they keep their times).",
    )
