"""The request id a proxy or load balancer sends in X-Request-ID, carried to every log record of the request.

A context variable holds it, so the logging filter in config.log reads it without a reference to the request. It is
set when the request comes in and cleared only when the response is closed (`request_finished`), not when the
middleware returns: Django logs 4xx and 5xx responses after the middleware chain has run, and gunicorn writes its
access line after that, and both lines should carry the id.
"""

import contextvars
import re

from django.core.signals import request_finished
from django.dispatch import receiver

HEADER = "HTTP_X_REQUEST_ID"
# An id is echoed into logs as it came: anything longer or outside this alphabet is dropped rather than logged.
VALID_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,200}$")

current_request_id = contextvars.ContextVar("current_request_id", default=None)


class RequestIdMiddleware:
    """Put the request's X-Request-ID (when it has a valid one) in `current_request_id`; first in MIDDLEWARE."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request.META.get(HEADER, "")
        current_request_id.set(request_id if VALID_ID.match(request_id) else None)
        return self.get_response(request)


@receiver(request_finished, dispatch_uid="config.request_id.forget")
def forget_request_id(**kwargs):
    current_request_id.set(None)
