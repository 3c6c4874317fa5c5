"""URLconf of `make bench` (config/settings_bench.py only): the application's URLs plus the baselines the
figures are compared with. The /bench/ paths do not exist under config.urls."""

from django.urls import path

from benchmarks import views
from config.urls import handler404
from config.urls import urlpatterns as app_urlpatterns

urlpatterns = [
    path("bench/baseline", views.baseline_insert, name="bench-baseline"),
    path("bench/dump/bookings", views.bookings_dump, name="bench-dump"),
    *app_urlpatterns,
]

__all__ = ["handler404", "urlpatterns"]
