"""Routes of configuration: booking modules, portals, customers, contacts, and the public module endpoints."""

from rest_framework.routers import DefaultRouter

from . import config_views as v

router = DefaultRouter(trailing_slash=False)
# No format suffixes ("events.json"): the API speaks JSON only, and "{name}.csv" / ".xlsx" are the exports.
router.include_format_suffixes = False
router.register("booking-modules", v.BookingModuleViewSet, basename="booking-module")
router.register("portals", v.PortalViewSet, basename="portal")
router.register("customers", v.CustomerViewSet, basename="customer")
router.register("contacts", v.ContactViewSet, basename="contact")
router.register("public/booking-modules", v.PublicBookingModuleViewSet, basename="public-booking-module")

urlpatterns = router.urls
