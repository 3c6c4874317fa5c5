"""Routes of configuration: booking modules, portals, customers, contacts, and the public module endpoints."""

from rest_framework.routers import DefaultRouter

from . import config_views as v

router = DefaultRouter(trailing_slash=False)
router.register("booking-modules", v.BookingModuleViewSet, basename="booking-module")
router.register("portals", v.PortalViewSet, basename="portal")
router.register("customers", v.CustomerViewSet, basename="customer")
router.register("contacts", v.ContactViewSet, basename="contact")
router.register("public/booking-modules", v.PublicBookingModuleViewSet, basename="public-booking-module")

urlpatterns = router.urls
