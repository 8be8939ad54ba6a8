from django.contrib import admin

from tasks.models import JobRun


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ("job", "period", "status", "started_at", "finished_at", "attempts")
    list_filter = ("job", "status")
    search_fields = ("job", "period")
    readonly_fields = ("job", "period", "started_at", "finished_at", "attempts", "result", "error")
