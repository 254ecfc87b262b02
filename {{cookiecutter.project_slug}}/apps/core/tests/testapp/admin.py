from django.contrib import admin

from apps.core.admin import TaskAdmin
from apps.core.admin_mixins import TimestampedAdminMixin, TrackableAdminMixin

from .models import Category, Document, MyTaskModel, Note


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(Document)
class DocumentAdmin(TrackableAdminMixin, admin.ModelAdmin):
    list_display = ("title", "views", "updated_at")
    search_fields = ("title",)


@admin.register(Note)
class NoteAdmin(TimestampedAdminMixin, admin.ModelAdmin):
    list_display = ("title",)
    search_fields = ("title",)


@admin.register(MyTaskModel)
class MyTaskModelAdmin(TaskAdmin):
    list_display = (*TaskAdmin.list_display, "my_field")
