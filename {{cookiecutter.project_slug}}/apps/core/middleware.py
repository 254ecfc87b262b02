from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from .audit.current_user import request_context


class CurrentUserMiddleware:
    """Expose the current request to `get_current_user()` for as long as the request is being handled.

    Place it after AuthenticationMiddleware. It serves sync and async stacks alike without switching modes.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(self.get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        with request_context(request):
            return self.get_response(request)

    async def __acall__(self, request):
        with request_context(request):
            return await self.get_response(request)
