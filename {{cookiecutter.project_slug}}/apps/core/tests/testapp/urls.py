from django.urls import path

from . import views

urlpatterns = [
    path("documents/", views.create_document, name="create-document"),
    path("documents/async/", views.acreate_documents, name="acreate-documents"),
    path("documents/token/", views.create_document_with_token, name="create-document-with-token"),
    path("fail/", views.fail, name="fail"),
]
