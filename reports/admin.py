"""Admin for reports: what each is doing, and a way to retry what failed.

The report's counters and states move only through reports.services and the
task runner (conditional updates), so these pages show them read-only, and
retry and delete go through the same services as the API.
"""

import uuid

from django.contrib import admin, messages
from django.db.models import Case, IntegerField, Value, When

from .models import AnalystQuota, Report, ReportTask, TaskState


class ReportTaskInline(admin.TabularInline):
    model = ReportTask
    fields = (
        "player_id",
        "section",
        "queue",
        "state",
        "reused",
        "attempts",
        "started_at",
        "finished_at",
        "error",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # Failed and unfinished sections first: those are what a reader comes for.
        state_order = Case(
            When(state=TaskState.FAILED, then=Value(0)),
            When(state=TaskState.DONE, then=Value(2)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return super().get_queryset(request).order_by(state_order, "player_id", "section")


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "status", "created_at", "fast_progress", "slow_progress", "failed")
    list_filter = ("status",)
    search_fields = ("name",)
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    inlines = [ReportTaskInline]
    actions = ["retry_failed_sections"]
    readonly_fields = [field.name for field in Report._meta.fields]

    def has_add_permission(self, request):
        # Reports are created through the API or `create_report`, which enqueue their sections.
        return False

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # A report id pasted from the API or a log line (with or without dashes).
        try:
            report_id = uuid.UUID(search_term.strip())
        except ValueError:
            return results, may_have_duplicates
        return results | queryset.filter(pk=report_id), may_have_duplicates

    @admin.display(description="fast done/total")
    def fast_progress(self, report: Report) -> str:
        return f"{report.fast_done}/{report.fast_total}"

    @admin.display(description="slow done/total")
    def slow_progress(self, report: Report) -> str:
        return f"{report.slow_done}/{report.slow_total}"

    @admin.display(description="failed")
    def failed(self, report: Report) -> int:
        return report.fast_failed + report.slow_failed

    @admin.action(description="Retry failed sections")
    def retry_failed_sections(self, request, queryset):
        # Imported here: the admin must load even where the services cannot (a
        # partly migrated database, a management command that only lists URLs).
        from .exceptions import ApplicationError
        from .services import report_retry

        retried = 0
        for report in queryset:
            try:
                report_retry(report=report)
            except ApplicationError as exc:
                self.message_user(request, f"{report.name} ({report.pk}): {exc.message}", messages.WARNING)
            else:
                retried += 1
        if retried:
            self.message_user(
                request, f"Re-enqueued the failed sections of {retried} report(s).", messages.SUCCESS
            )

    def delete_model(self, request, obj):
        from .services import report_delete

        # The service also revokes outstanding tasks and removes files no other report uses.
        report_delete(report=obj)

    def delete_queryset(self, request, queryset):
        from .services import report_delete

        for report in queryset:
            report_delete(report=report)


@admin.register(AnalystQuota)
class AnalystQuotaAdmin(admin.ModelAdmin):
    """Staff raise (or lower) one analyst's limit of outstanding sections (REPORT_USER_MAX_OUTSTANDING)."""

    list_display = ("user", "max_outstanding_sections", "note", "updated_at")
    search_fields = ("user__username", "note")
    autocomplete_fields = ("user",)
