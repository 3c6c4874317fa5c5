"""Webhook endpoints and their delivery log (docs/architecture.md#webhooks)."""

from rest_framework.routers import DefaultRouter

from .views import WebhookEndpointViewSet

router = DefaultRouter(trailing_slash=False)
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")

urlpatterns = router.urls
