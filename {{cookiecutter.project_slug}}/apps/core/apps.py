from django.apps import AppConfig
from django.db.models.signals import post_migrate


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

        # On PostgreSQL, long histories are compressed with lz4, set after each migrate (see audit/compression.py).
        from .audit.compression import compress_with_lz4

        post_migrate.connect(compress_with_lz4, sender=self, dispatch_uid="apps.core.audit.compression")

        # Every installed app's ingestors.py registers its ingestors now, as admin.py registers its admin classes,
        # and its tasks.py declares its @task functions and their @periodic schedules.
        from .tasks import ingestors, schedules

        ingestors.autodiscover()
        schedules.autodiscover()
