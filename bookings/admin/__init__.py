"""The bookings app's admin: the booking queue and its decisions, change requests, and configuration
(modules with their form fields, portals, customers, contacts), staff's email templates, and prices
(discount codes, credit, charges)."""

from . import booking, change_request, config, contacts, email_templates, pricing  # noqa: F401  (registers the ModelAdmins)
