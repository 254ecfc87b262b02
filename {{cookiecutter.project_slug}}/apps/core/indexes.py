"""The history's index, at its public path: migrations name it `apps.core.indexes.HistoryIndex`.

Defined in `audit.indexes`, with the rest of the audit trail.
"""

from .audit.indexes import HistoryIndex

__all__ = ["HistoryIndex"]
