"""The base models' managers and querysets, at one public path for a project's own managers:

    from apps.core.querysets import TrackableManager, AliveManager

TrackableQuerySet and TrackableManager are the audit trail's (`audit.querysets`); TimestampedQuerySet,
TimestampedManager and AliveManager add soft delete (`softdelete.managers`).
"""

from .audit.querysets import TrackableManager, TrackableQuerySet
from .softdelete.managers import AliveManager, TimestampedManager, TimestampedQuerySet

__all__ = ["AliveManager", "TimestampedManager", "TimestampedQuerySet", "TrackableManager", "TrackableQuerySet"]
