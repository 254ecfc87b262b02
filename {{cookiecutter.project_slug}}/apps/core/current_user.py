"""The acting user, at its public path: `from apps.core.current_user import acting_as, get_current_user`.

Defined in `audit.current_user`, with the rest of the audit trail.
"""

from .audit.current_user import acting_as, get_current_user

__all__ = ["acting_as", "get_current_user"]
