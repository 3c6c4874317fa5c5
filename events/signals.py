"""What other apps may follow when staff change calendar events directly (the events API, the Event admin).

Events know nothing of the apps built on them (DESIGN §2: bookings → events), so the services of
events.services announce direct edits and the bookings app keeps its requested times in step
(bookings.apps connects bookings.services.booking_events_lock / booking_events_follow). Both signals are
sent inside the writing transaction: a receiver's error rolls the whole change back.
"""

from django.dispatch import Signal

# Sent before anything is locked, with `event_ids` (the events about to change or go) and `actor` (who
# does it, as the caller gave it: a user, or the API's actor). Receivers lock their own rows here, so
# every writer takes its locks in the same order: the bookings, then the events, then the resources.
occurrences_changing = Signal()

# Sent after the events were written, with `events` (as they are now), `deleted` (false), and `actor`;
# for a deletion just before the rows go, with `deleted` true, while links to them still exist.
occurrences_changed = Signal()

# Sent by the series scopes that are about charges (whichEventsToUpdate 4 and 7), with `event_ids`; each
# receiver returns the ids among them that are charged (events keep no charges: the bookings app does).
occurrences_charged = Signal()

# Sent by whichEventsToUpdate 8, with `event_ids` (every occurrence of the series) and `actor`: receivers
# revert those events' charges that are not final, in the same transaction.
charges_revert = Signal()
