from rest_framework.routers import DefaultRouter

from .catalog_views import ProductViewSet, UnitViewSet
from .views import ResourceViewSet, VenueViewSet

router = DefaultRouter(trailing_slash=False)
router.register("venues", VenueViewSet, basename="venue")
router.register("resources", ResourceViewSet, basename="resource")
router.register("units", UnitViewSet, basename="unit")
router.register("products", ProductViewSet, basename="product")

urlpatterns = router.urls
