from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("resources.api.urls")),
    path("api/v1/", include("events.api.urls")),
    path("api/v1/", include("bookings.api.urls")),
    path("api/v1/", include("webhooks.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script as a file of its own (/api/docs/?script=), so the
    # page runs under the Content-Security-Policy's script-src 'self' with no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("anymail/", include("anymail.urls")),  # the email provider's delivery tracking webhooks
    path("", include("feeds.urls")),  # calendar feeds /feeds/<token>.ics and the booker's /b/<token>/events.ics
    path("", include("public.urls")),  # the public site: /p/<portal>/... and the booker's /b/<token>/
]

handler400 = "core.api.errors.json_400"
handler404 = "core.api.errors.json_404"
