from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from .audit.cascades import watch
        from .models import TrackableModel

        # Foreign keys whose on_delete changes tracked rows outside QuerySet.update() get their entries this way.
        watch(TrackableModel)

        # Audited rows deleted for real leave their history in the archive (see audit/deletes.py).
        from .audit.deletes import archive_collected, needs_archive
        from .audit.django_internals import before_collector_delete

        before_collector_delete(needs_archive, archive_collected)

        # Every installed app's ingestors.py registers its ingestors now, as admin.py registers its admin classes,
        # and its tasks.py declares its @task functions and their @periodic schedules.
        from .tasks import ingestors, schedules

        ingestors.autodiscover()
        schedules.autodiscover()
