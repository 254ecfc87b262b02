"""The ingestor registry, at its public path: `from apps.core.ingestors import ingestor`.

Defined in `tasks.ingestors`, with the rest of the task system.
"""

from .tasks.ingestors import Ingestor, autodiscover, get_ingestor, ingestor, registered_ingestors

__all__ = ["Ingestor", "autodiscover", "get_ingestor", "ingestor", "registered_ingestors"]
