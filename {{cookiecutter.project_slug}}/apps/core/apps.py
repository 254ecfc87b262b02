from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from .audit.cascades import watch
        from .models import TrackableModel

        # Foreign keys whose on_delete changes tracked rows outside QuerySet.update() get their entries this way.
        watch(TrackableModel)

        # Every installed app's ingestors.py registers its ingestors now, as admin.py registers its admin classes.
        from .tasks.ingestors import autodiscover

        autodiscover()
