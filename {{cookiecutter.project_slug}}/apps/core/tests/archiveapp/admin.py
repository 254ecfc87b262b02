from django.contrib import admin

from apps.core.admin_mixins import TimestampedAdminMixin, TrackableAdminMixin

from .models import Country, Document, Note


@admin.register(Note)
class NoteAdmin(TrackableAdminMixin, admin.ModelAdmin):
    list_display = ("title",)


@admin.register(Country)
class CountryAdmin(TrackableAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name")


@admin.register(Document)
class DocumentAdmin(TimestampedAdminMixin, admin.ModelAdmin):
    list_display = ("title",)
