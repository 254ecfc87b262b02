"""Who is acting right now: the user behind the current request, or one named explicitly with `acting_as`.

The value lives in a context variable, so it follows the code through sync and async views, threads started by
asgiref, and never leaks into another request or thread. The request itself is stored rather than its user, and
`request.user` is read only when a row is saved, so authentication that happens inside the view (API tokens, for
instance) is seen.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest

_acting_user: ContextVar["_Explicit | None"] = ContextVar("acting_user", default=None)
_current_request: ContextVar["HttpRequest | None"] = ContextVar("current_request", default=None)


@contextmanager
def acting_as(user: "AbstractBaseUser | AnonymousUser | None") -> Iterator["AbstractBaseUser | AnonymousUser | None"]:
    """Attribute every save inside the block to `user` (or to nobody, with None); wins over the request's user."""
    token = _acting_user.set(_Explicit(user))
    try:
        yield user
    finally:
        _acting_user.reset(token)


def get_current_user() -> "AbstractBaseUser | None":
    """The acting user, or None when nobody (or an anonymous visitor) is acting.

    Reading `request.user` may query the database (the session's user is loaded lazily), so from async code call
    this through `sync_to_async`, as `Model.asave()` does.
    """
    explicit = _acting_user.get()
    user: Any = explicit.user if explicit is not None else getattr(_current_request.get(), "user", None)
    if user is None or not user.is_authenticated:
        return None
    return user


def current_request() -> "HttpRequest | None":
    """The request being handled in this context (None outside one, or without the middleware)."""
    return _current_request.get()


@contextmanager
def request_context(request: "HttpRequest") -> Iterator["HttpRequest"]:
    """Make `request` the source of the acting user for the duration of the block (used by the middleware)."""
    token = _current_request.set(request)
    try:
        yield request
    finally:
        _current_request.reset(token)


class _Explicit:
    """Wraps the user given to `acting_as`, so that `acting_as(None)` can be told apart from "not set"."""

    __slots__ = ("user",)

    def __init__(self, user: "AbstractBaseUser | AnonymousUser | None") -> None:
        self.user = user
