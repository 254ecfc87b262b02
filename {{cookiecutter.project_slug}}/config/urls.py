from django.conf import settings
from django.contrib import admin
from django.urls import path

from apps.core.audit.admin.history import activity_view
from config.health import healthz
from config.home import home

admin.site.site_header = settings.PROJECT_NAME
admin.site.site_title = settings.PROJECT_NAME

urlpatterns = [
    # Served by config.health.HealthCheckMiddleware before host and HTTPS checks; routed here too, so it can be
    # reversed and is listed with the project's URLs.
    path("healthz", healthz, name="healthz"),
    # The Activity page (the latest changes across audited models) is a page of the admin, under its prefix.
    path(f"{settings.ADMIN_URL}activity/", admin.site.admin_view(activity_view), name="admin-activity"),
    path(settings.ADMIN_URL, admin.site.urls),
    # A development home page while DEBUG is on, 404 in production (config/home.py). Route "" to a view of your
    # own above this line when the service has a home page.
    path("", home, name="home"),
]
