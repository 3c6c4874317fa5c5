"""The bookings app's admin: the booking queue and its decisions, change requests, and configuration
(modules with their form fields, portals, customers, contacts), and prices (discount codes, credit,
charges)."""

from . import booking, change_request, config, contacts, pricing  # noqa: F401  (registers the ModelAdmins)
