from django.contrib.admin.apps import AdminConfig


class AllotAdminConfig(AdminConfig):
    default_site = "config.admin_site.AllotAdminSite"
