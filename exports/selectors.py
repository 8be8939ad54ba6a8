"""Reads of exports: the exports of a report's current generation, and which file a download serves."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from reports.models import Report

from .models import Export, ExportState


def exports_of_generation(*, report: Report) -> list[Export]:
    """Every export of the report's current generation, failed attempts included, newest first per format."""
    return list(
        Export.objects.filter(report=report, generation=report.generation).order_by("format", "-attempt")
    )


def export_latest(*, report: Report, export_format: str) -> Export | None:
    """The last attempt at this format for the report's current generation."""
    return (
        Export.objects.filter(report=report, generation=report.generation, format=export_format)
        .order_by("-attempt")
        .first()
    )


def export_is_stale(*, export: Export, report: Report) -> bool:
    """A file made while slow sections ran, of a report that has completed since: it lacks their figures."""
    return export.state == ExportState.DONE and not export.complete and report.completed_at is not None


def export_is_lost(*, export: Export, now=None) -> bool:
    """Queued or running past EXPORT_DEADLINE_S: its message or its worker is gone (the task's limit is shorter)."""
    deadline = (now or timezone.now()) - timedelta(seconds=settings.EXPORT_DEADLINE_S)
    if export.state == ExportState.QUEUED:
        return export.created_at < deadline
    if export.state == ExportState.RUNNING:
        return export.started_at is None or export.started_at < deadline
    return False


def export_downloadable(*, export: Export | None, report: Report) -> bool:
    return (
        export is not None
        and export.state == ExportState.DONE
        and export.generation == report.generation
        and bool(export.storage_key)
        and not export_is_stale(export=export, report=report)
    )


def export_keys_of_report(*, report_id) -> list[str]:
    """The storage keys of every export file of a report, of every generation."""
    return list(
        Export.objects.filter(report_id=report_id)
        .exclude(storage_key="")
        .values_list("storage_key", flat=True)
    )
