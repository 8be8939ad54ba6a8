"""Exports in the admin, read-only: they move only through exports.services and the task."""

from django.contrib import admin

from .models import Export


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "report",
        "generation",
        "format",
        "attempt",
        "state",
        "size",
        "created_at",
        "finished_at",
    )
    list_filter = ("state", "format")
    search_fields = ("report__id", "report__name")
    readonly_fields = [field.name for field in Export._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
