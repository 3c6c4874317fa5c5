"""Routes of prices: rates, discount codes, booking credits (and their adjust action)."""

from rest_framework.routers import DefaultRouter

from . import pricing_views as v

router = DefaultRouter(trailing_slash=False)
router.register("rates", v.RateViewSet, basename="rate")
router.register("discount-codes", v.DiscountCodeViewSet, basename="discount-code")
router.register("booking-credits", v.BookingCreditViewSet, basename="booking-credit")

urlpatterns = router.urls
