"""Views that write audited rows the way a service's views do, for the tests of who gets recorded."""

import asyncio

from django.contrib.auth import get_user_model
from django.http import JsonResponse
from django.views.decorators.http import require_POST

from .models import Document


@require_POST
def create_document(request):
    document = Document.objects.create(title=request.POST.get("title", "sync"))
    return JsonResponse({"id": document.pk})


@require_POST
async def acreate_documents(request):
    """Two rows with a pause in between, so concurrent requests interleave while this one is in flight."""
    first = await Document.objects.acreate(title=request.POST.get("title", "async") + " 1")
    await asyncio.sleep(0.01)
    second = await Document.objects.acreate(title=request.POST.get("title", "async") + " 2")
    return JsonResponse({"ids": [first.pk, second.pk]})


@require_POST
def create_document_with_token(request):
    """Authenticates inside the view, after every middleware has run, as API token schemes do (the "token" here is
    the user's id: this is a test double of such a scheme, not one to copy)."""
    request.user = get_user_model()._default_manager.get(pk=request.headers["X-Test-User-Id"])
    document = Document.objects.create(title="token")
    return JsonResponse({"id": document.pk})


def fail(request):
    raise RuntimeError("The view failed.")
