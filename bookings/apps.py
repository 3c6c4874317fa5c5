from django.apps import AppConfig


def _lock_bookings(sender, *, event_ids, actor=None, **kwargs):
    from .services import booking_events_lock

    booking_events_lock(event_ids=event_ids)


def _follow_events(sender, *, events, deleted=False, actor=None, **kwargs):
    from .services import booking_events_follow

    booking_events_follow(events=events, deleted=deleted, actor=actor)


class BookingsConfig(AppConfig):
    name = "bookings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Staff may change a booking's events directly on the calendar (the events API, the Event admin);
        # events cannot know about bookings (DESIGN §2), so it announces such changes and we follow them.
        from events.signals import occurrences_changed, occurrences_changing

        occurrences_changing.connect(_lock_bookings, dispatch_uid="bookings.lock_bookings")
        occurrences_changed.connect(_follow_events, dispatch_uid="bookings.follow_events")
