"""The public site (docs/architecture.md#public-site): portals and their modules under /p/, the booker's
private page under /b/."""

from django.urls import path

from . import views

app_name = "public"

urlpatterns = [
    # A POST here is the password form of a protected portal (whatever page showed it).
    path("p/<slug:portal>/", views.portal_home, name="portal"),
    path("p/<slug:portal>/<slug:module>/", views.module_about, name="about"),
    path("p/<slug:portal>/<slug:module>/calendar/", views.module_calendar, name="calendar"),
    path("p/<slug:portal>/<slug:module>/book/", views.module_book, name="book"),
    path("p/<slug:portal>/<slug:module>/book/sent/", views.module_book_sent, name="sent"),
    path("b/<str:token>/", views.private_page, name="private"),
    path("b/<str:token>/change/", views.private_change, name="change"),
    path("b/<str:token>/cancel/", views.private_cancel, name="cancel"),
]
