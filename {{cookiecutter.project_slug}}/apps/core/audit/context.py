"""What a change happened inside of, recorded in its entry as `"ctx"`: the request (its X-Request-ID, the id the web
tier logs), the task the worker was running (its id and ingestor), or the management command.

    {"request_id": "9f2c..."}
    {"task_id": 42, "ingestor": "invoices"}
    {"command": "loaddata"}

The request id is read from the request the current-user middleware already holds (see `current_user`), only when an
entry is written, and only when it is a well-formed id (the rule config/request_id.py applies before logging it).
Everything else is named with `change_context(...)`: the worker wraps each task in it, manage.py each command, and a
script can name its own (`with change_context(job="nightly-import"):`). Blocks nest: an inner block adds to (or
replaces keys of) the outer one. Values must be JSON-safe.
"""

import contextlib
import contextvars
import re
from collections.abc import Iterator
from typing import Any

from .current_user import current_request

# The rule config/request_id.py applies before it echoes an id into logs: a longer or odder value is not recorded.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,200}$")
_REQUEST_ID_HEADER = "HTTP_X_REQUEST_ID"

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("audit_change_context", default=None)


@contextlib.contextmanager
def change_context(**values: Any) -> Iterator[dict[str, Any]]:
    """Record `values` in the "ctx" of every entry written inside the block (in this thread or task)."""
    merged = {**(_context.get() or {}), **values}
    token = _context.set(merged)
    try:
        yield merged
    finally:
        _context.reset(token)


def task_context(task_id: Any, ingestor: str) -> contextlib.AbstractContextManager[dict[str, Any]]:
    """The context of a task run by the worker."""
    return change_context(task_id=task_id, ingestor=ingestor)


def command_context(argv: list[str]) -> contextlib.AbstractContextManager[dict[str, Any]]:
    """The context of a management command, from the command line manage.py was given (`manage.py NAME ...`)."""
    name = argv[1] if len(argv) > 1 and not argv[1].startswith("-") else None
    if name:
        return change_context(command=name)
    return contextlib.nullcontext({})


def current_context() -> dict[str, Any] | None:
    """The "ctx" of an entry written now: None when nothing is known."""
    values = _context.get()
    request_id = _request_id()
    if request_id is None:
        return dict(values) if values else None
    return {"request_id": request_id, **(values or {})}


def _request_id() -> str | None:
    request = current_request()
    if request is None:
        return None
    value = request.META.get(_REQUEST_ID_HEADER, "")
    return value if isinstance(value, str) and _VALID_REQUEST_ID.match(value) else None
