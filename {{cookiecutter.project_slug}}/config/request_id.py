"""The request id a proxy or load balancer sends in X-Request-ID, carried to every log record of the request.

A context variable holds it, so it follows the request through sync and async code alike, and the logging filter in
config.log reads it without a reference to the request.
"""

import contextvars
import re

HEADER = "HTTP_X_REQUEST_ID"
# An id is echoed into logs as it came: anything longer or outside this alphabet is dropped rather than logged.
VALID_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,200}$")

current_request_id = contextvars.ContextVar("current_request_id", default=None)


class RequestIdMiddleware:
    """Put the request's X-Request-ID (when it has a valid one) in `current_request_id` while the request runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request.META.get(HEADER, "")
        token = current_request_id.set(request_id if VALID_ID.match(request_id) else None)
        try:
            return self.get_response(request)
        finally:
            current_request_id.reset(token)
