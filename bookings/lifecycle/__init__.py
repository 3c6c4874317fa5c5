"""The booking lifecycle (docs/architecture.md#booking-lifecycle): the only code that changes a booking's
status. Import the services from their modules: `submit`, `decide`, `change_requests`, `follow`.

Every service runs in one transaction: it locks the booking row, checks the move against TRANSITIONS
(`transitions`), does the work (requested times and their events through events.services, which lock
the resources: `requested_times`, `changes`), writes one BookingLog row (`audit`) and enqueues its emails
as Notification rows. If anything fails, all of it rolls back: no event, no log row, no email.
"""
