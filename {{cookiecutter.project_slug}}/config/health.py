"""GET /healthz: what a load balancer probes to decide whether this process should get traffic.

200 {"status": "ok"} when the database answers one `SELECT 1`, else 503 naming the failing check. The middleware
answers before anything else runs: before the host check (a load balancer probes by IP address, which is not in
ALLOWED_HOSTS), the HTTPS redirect (probes speak plain HTTP), sessions and authentication. Successful probes are not
logged; config/gunicorn.py keeps them out of the access log too.
"""

import logging

from django.db import DatabaseError, connection
from django.http import JsonResponse

PATH = "/healthz"

logger = logging.getLogger(__name__)


def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        logger.warning("Health check failed: the database did not answer (%s: %s)", type(error).__name__, error)
        return JsonResponse({"status": "error", "failing": {"database": type(error).__name__}}, status=503)
    return JsonResponse({"status": "ok"})


class HealthCheckMiddleware:
    """Serves PATH for any host and scheme; first in MIDDLEWARE."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == PATH and request.method in ("GET", "HEAD"):
            return healthz(request)
        return self.get_response(request)
