class CompatError(Exception):
    """The check could not run (a download failed, a source could not be transformed, the list is malformed)."""
