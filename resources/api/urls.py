from rest_framework.routers import DefaultRouter

from .views import ResourceViewSet, VenueViewSet

router = DefaultRouter(trailing_slash=False)
router.register("venues", VenueViewSet, basename="venue")
router.register("resources", ResourceViewSet, basename="resource")

urlpatterns = router.urls
