from django.apps import AppConfig

from events.hooks import register_occurrence_hook
from notifications.hooks import register_template_failure_hook
from resources.hooks import register_pricing_hook


class BookingsConfig(AppConfig):
    name = "bookings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Staff may change a booking's events directly on the calendar (the events API, the Event admin);
        # events cannot know about bookings (docs/architecture.md#apps-and-layers), so it offers a hook
        # (events.hooks) through which we lock, follow and answer for the charges. The implementation
        # reads the models, which Django loads only after this module: it is imported here, once the app
        # registry is ready, as Django requires (not to dodge an import cycle).
        from .email_templates import EmailTemplateFailureHook
        from .lifecycle.follow import BookingOccurrenceHook
        from .pricing.catalog import BookingPricingHook

        register_occurrence_hook(BookingOccurrenceHook())
        # Rates and products live in resources, but what refers to them (requested times, prices) and whom a
        # rate is reserved for (customers) live here: resources.catalog asks through this hook.
        register_pricing_hook(BookingPricingHook())
        # Staff's email templates belong to modules; the worker that renders them (notifications.sending)
        # reports a failed one through this hook, and the admin shows it (docs/architecture.md#email-templates).
        register_template_failure_hook(EmailTemplateFailureHook())
