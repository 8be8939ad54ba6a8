"""Reads of reports: visibility, status with progress and ETA, per-task detail."""

import hashlib
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Avg, Count, Max, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone

from tasks.queues import QUEUES

from .models import Report, ReportTask, TaskState

# How far back task durations count for the ETA, and how long their average is cached.
ETA_WINDOW = timedelta(hours=1)
ETA_CACHE_S = 30


def reports_visible_to(user) -> QuerySet[Report]:
    """A report is its owner's; staff see all. Anyone else gets 404 for it."""
    reports = Report.objects.all()
    return reports if user.is_staff else reports.filter(owner=user)


def report_get(*, user, report_id) -> Report:
    """The report, if `user` may see it; Http404 otherwise, as for one that does not exist."""
    return get_object_or_404(reports_visible_to(user), pk=report_id)


def report_progress(report: Report) -> dict:
    progress: dict[str, Any] = {}
    for queue in QUEUES:
        progress[queue] = {
            "total": getattr(report, f"{queue}_total"),
            "done": getattr(report, f"{queue}_done"),
            "failed": getattr(report, f"{queue}_failed"),
            "reused": getattr(report, f"{queue}_reused"),
        }
    total = report.fast_total + report.slow_total
    ended = report.fast_done + report.fast_failed + report.slow_done + report.slow_failed
    progress["percent"] = round(100 * ended / total, 1) if total else 100.0
    return progress


def section_durations_ms() -> dict[str, float]:
    """Mean duration per section over the last hour's computed (not reused) tasks.

    Kept ETA_CACHE_S in the shared cache and, for as long, in the process: a
    status answer then waits for neither the database nor Redis for it.
    """
    global _durations
    expires, durations = _durations
    if time.monotonic() < expires:
        return durations
    durations = cache.get("reports:section-durations")
    if durations is None:
        since = timezone.now() - ETA_WINDOW
        rows = (
            ReportTask.objects.filter(state=TaskState.DONE, reused=False, finished_at__gte=since)
            .values("section")
            .annotate(mean=Avg("duration_ms"))
        )
        durations = {row["section"]: float(row["mean"] or 0) for row in rows}
        cache.set("reports:section-durations", durations, ETA_CACHE_S)
    _durations = (time.monotonic() + ETA_CACHE_S, durations)
    return durations


_durations: tuple[float, dict[str, float]] = (0.0, {})


def report_eta_seconds(report: Report) -> int | None:
    """Remaining work per queue, the report's own and what runs before it (reports.fairshare), from recent durations."""
    from .fairshare import report_eta_seconds as fair_eta

    if report.completed_at is not None:
        return 0
    return fair_eta(report, durations=section_durations_ms(), parallelism=settings.REPORT_ETA_PARALLELISM)


def report_tasks(report: Report) -> list[dict[str, Any]]:
    return [
        dict(row)
        for row in ReportTask.objects.filter(report=report)
        .order_by("player_id", "id")
        .values(
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
    ]


def report_etag(report: Report, *, detail: bool) -> str:
    """Changes whenever anything the status body shows changes: the report's revision (reports.status)."""
    if not detail:
        return revision_etag(report.revision)
    # Running and retrying states change without moving the counters.
    latest = ReportTask.objects.filter(report=report).aggregate(
        started=Max("started_at"),
        finished=Max("finished_at"),
        attempts=Sum("attempts"),
        running=Count("id", filter=Q(state=TaskState.RUNNING)),
        retrying=Count("id", filter=Q(state=TaskState.RETRYING)),
    )
    parts = [str(report.revision), *(str(value) for value in latest.values())]
    return '"t' + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32] + '"'


def revision_etag(revision: int) -> str:
    return f'"r{revision}"'


def report_visible(user, *, owner_id: int) -> bool:
    """The rule of reports_visible_to, for one report whose owner is known."""
    return user.is_staff or user.pk == owner_id
