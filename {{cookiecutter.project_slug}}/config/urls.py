from django.conf import settings
from django.contrib import admin
from django.urls import path

admin.site.site_header = settings.PROJECT_NAME
admin.site.site_title = settings.PROJECT_NAME

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
]
