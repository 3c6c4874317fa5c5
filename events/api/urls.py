from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import EventViewSet, ResourceAvailabilityView

router = DefaultRouter(trailing_slash=False)
# No format suffixes ("events.json"): the API speaks JSON only, and "{name}.csv" / ".xlsx" are the exports.
router.include_format_suffixes = False
router.register("events", EventViewSet, basename="event")

urlpatterns = [
    path("resources/<uuid:pk>/availability", ResourceAvailabilityView.as_view(), name="resource-availability"),
    *router.urls,
]
