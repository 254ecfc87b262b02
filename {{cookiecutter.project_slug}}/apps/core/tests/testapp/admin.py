from django.contrib import admin

from apps.core.admin import TaskAdmin
from apps.core.admin_mixins import TimestampedAdminMixin, TrackableAdminMixin

from .models import Category, Document, Folder, Handle, MyTaskModel, Note, Page, ReusableHandle


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


@admin.register(Folder)
class FolderAdmin(TimestampedAdminMixin, admin.ModelAdmin):
    list_display = ("name",)


@admin.register(Page)
class PageAdmin(TimestampedAdminMixin, admin.ModelAdmin):
    list_display = ("title", "folder")
    actions = ["mark_seen"]  # an admin with its own actions still gets the soft delete and restore

    @admin.action(description="Mark seen")
    def mark_seen(self, request, queryset):
        pass


@admin.register(Handle)
class HandleAdmin(TimestampedAdminMixin, admin.ModelAdmin):
    pass


@admin.register(ReusableHandle)
class ReusableHandleAdmin(TimestampedAdminMixin, admin.ModelAdmin):
    pass
