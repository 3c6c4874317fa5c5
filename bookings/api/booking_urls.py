from django.urls import path

from . import booking_views as v
from . import change_request_views as cr
from . import charge_views as c
from .export_views import VIEWS as EXPORTS

UUID = "<uuid:pk>"

urlpatterns = [
    path("bookings/submit", v.BookingSubmitView.as_view(), name="bookings-submit"),
    path("bookings/validate", v.BookingValidateView.as_view(), name="bookings-validate"),
    path("bookings/change-requests/submit", cr.ChangeRequestSubmitView.as_view(), name="change-requests-submit"),
    path("bookings", v.BookingListView.as_view(), name="bookings"),
    path(f"bookings/{UUID}", v.BookingDetailView.as_view(), name="booking-detail"),
    path(f"bookings/{UUID}/approve", v.BookingApproveView.as_view(), name="booking-approve"),
    path(f"bookings/{UUID}/deny", v.BookingDenyView.as_view(), name="booking-deny"),
    path(f"bookings/{UUID}/cancel", v.BookingCancelView.as_view(), name="booking-cancel"),
    path("booking-change-requests", cr.ChangeRequestListView.as_view(), name="change-requests"),
    path(f"booking-change-requests/{UUID}", cr.ChangeRequestDetailView.as_view(), name="change-request-detail"),
    path(
        f"booking-change-requests/{UUID}/approve", cr.ChangeRequestApproveView.as_view(), name="change-request-approve"
    ),
    path(f"booking-change-requests/{UUID}/deny", cr.ChangeRequestDenyView.as_view(), name="change-request-deny"),
    path("charges", c.ChargeListView.as_view(), name="charges"),
    path("charges.csv", c.ChargeCsvView.as_view(), name="charges-csv"),
    *(path(name, view.as_view(), name=name.replace(".", "-")) for name, view in EXPORTS.items()),
    path(f"charges/{UUID}/charge", c.ChargeChargeView.as_view(), name="charge-charge"),
    path(f"charges/{UUID}/invoice", c.ChargeInvoiceView.as_view(), name="charge-invoice"),
    path(f"charges/{UUID}/revert", c.ChargeRevertView.as_view(), name="charge-revert"),
]
