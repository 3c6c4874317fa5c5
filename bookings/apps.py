from django.apps import AppConfig


def _lock_bookings(sender, *, event_ids, actor=None, **kwargs):
    from .services import booking_events_lock

    booking_events_lock(event_ids=event_ids)


def _charged_events(sender, *, event_ids, **kwargs):
    from .pricing.charges import charged_event_ids

    return charged_event_ids(event_ids)


def _revert_charges(sender, *, event_ids, actor=None, **kwargs):
    from .pricing.charges import events_charges_revert
    from .services import _actor_of

    events_charges_revert(event_ids=event_ids, actor=_actor_of(actor))


def _follow_events(sender, *, events, deleted=False, actor=None, **kwargs):
    from .services import booking_events_follow

    booking_events_follow(events=events, deleted=deleted, actor=actor, price_override=kwargs.get("price_override"))


class BookingsConfig(AppConfig):
    name = "bookings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Staff may change a booking's events directly on the calendar (the events API, the Event admin);
        # events cannot know about bookings (docs/architecture.md#apps-and-layers), so it announces such changes
        # and we follow them.
        from events.signals import charges_revert, occurrences_changed, occurrences_changing, occurrences_charged

        occurrences_changing.connect(_lock_bookings, dispatch_uid="bookings.lock_bookings")
        occurrences_changed.connect(_follow_events, dispatch_uid="bookings.follow_events")
        # Charges are the bookings app's: the series scopes 4, 7 and 8 ask it (events.signals).
        occurrences_charged.connect(_charged_events, dispatch_uid="bookings.charged_events")
        charges_revert.connect(_revert_charges, dispatch_uid="bookings.revert_charges")
