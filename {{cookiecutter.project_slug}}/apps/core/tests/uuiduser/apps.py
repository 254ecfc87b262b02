from django.apps import AppConfig


class UUIDUserConfig(AppConfig):
    name = "apps.core.tests.uuiduser"
    label = "uuiduser"
    default_auto_field = "django.db.models.BigAutoField"
