"""What a caller says about the email a change sends (`notification`): the same input on every endpoint
whose action emails someone, the booking endpoints and the event deletion that cancels a booking."""

from django.core.validators import RegexValidator
from rest_framework import serializers

from notifications.services import NotificationSpec

# The subject becomes an email header: a line break in it would end the header (and could start another).
# "+": "" is the schema's other alternative (allow_blank), and never reaches the validators; no NUL either.
one_line = RegexValidator(r"\A[^\x00\r\n\x85\u2028\u2029]+\Z", "The subject must be one line.", code="invalid")


class NotificationInSerializer(serializers.Serializer):
    send = serializers.BooleanField(default=True)
    subject = serializers.CharField(required=False, allow_blank=True, max_length=300, validators=[one_line])
    message = serializers.CharField(
        required=False, allow_blank=True, max_length=20000, help_text="Basic HTML, sanitized; added to the email."
    )

    @staticmethod
    def spec(data: dict | None) -> NotificationSpec | None:
        if data is None:
            return None
        return NotificationSpec(
            send=data.get("send", True), subject=data.get("subject") or None, message=data.get("message") or None
        )
