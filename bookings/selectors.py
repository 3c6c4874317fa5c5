"""Reads with logic for bookings."""

from __future__ import annotations

from resources.exceptions import NotFound

from .models import Booking
from .services import hash_access_token


def booking_by_access_token(token: str) -> Booking:
    """The booking behind a booker's private link; the token is compared by its hash only."""
    try:
        return Booking.objects.select_related("module", "organization").get(access_token_hash=hash_access_token(token))
    except Booking.DoesNotExist as exc:
        raise NotFound("This link is not valid.") from exc
