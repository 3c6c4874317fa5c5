from django.urls import path

from .booking_urls import urlpatterns as booking_urlpatterns
from .config_urls import urlpatterns as config_urlpatterns
from .pricing_urls import urlpatterns as pricing_urlpatterns
from .report_views import UtilizationReportView

urlpatterns = [
    *booking_urlpatterns,
    *config_urlpatterns,
    *pricing_urlpatterns,
    path("reports/utilization", UtilizationReportView.as_view(), name="reports-utilization"),
]
