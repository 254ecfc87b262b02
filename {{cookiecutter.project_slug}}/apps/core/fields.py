"""The audit trail's model fields, at the path migrations name them by (theirs and every project's own).

HistoryField lives in `audit.fields`, DeletionDateField in `softdelete.fields`; both deconstruct to this module.
"""

from .audit.fields import HistoryField
from .softdelete.fields import DeletionDateField

__all__ = ["DeletionDateField", "HistoryField"]
