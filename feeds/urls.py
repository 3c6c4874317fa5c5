"""Calendar feeds (/feeds/<token>.ics) and the booker's events file (/b/<token>/events.ics, linked from
the public app's private page /b/<token>/; the path is more specific than any of that app's)."""

from django.urls import path

from . import views

app_name = "feeds"

urlpatterns = [
    path("feeds/<str:token>.ics", views.calendar_feed, name="feed"),
    path("b/<str:token>/events.ics", views.booking_events_ics, name="booking_events"),
]
