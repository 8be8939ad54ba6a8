"""Writes on exports: asking for one (the web), making one (a slow worker), and the files a deleted report leaves.

An export is claimed by its task with a conditional update, so a message
delivered twice makes the file once; each delivery writes under a key of its
own, and only the delivery that still holds the claim when it ends records
its file (any other deletes what it wrote). The report itself is only read:
a failed export changes nothing but its own row.
"""

import logging
import uuid

import orjson
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone

from reports import dispatch
from reports.exceptions import ApplicationError, ServiceUnavailable
from reports.keys import PREFIX
from reports.merge import report_data_read
from reports.models import Report
from reports.runner import TransientError, is_transient
from reports.storage import storage_delete_many

from . import render, selectors
from .models import Export, ExportFormat, ExportState

logger = logging.getLogger(__name__)

RENDERERS = {
    ExportFormat.PDF: render.report_pdf,
    ExportFormat.CSV: render.season_csv,
    ExportFormat.XLSX: render.season_xlsx,
}
FORMATS = ", ".join(ExportFormat.values)
NOT_READY = (
    "The report is still being built: it can be exported once its profile, season figures, match log, "
    "shot map and heatmap have ended for every player."
)
RETRIED = "The report was retried after this export was asked for; ask for an export of the new data."


def export_key(*, export: Export) -> str:
    """Ids only (CONTRACT section 7); the claim number keeps two deliveries' files apart."""
    return (
        f"{PREFIX}exports/{uuid.UUID(str(export.report_id)).hex}/g{int(export.generation)}/"
        f"{int(export.pk)}-{int(export.claims)}.{ExportFormat(export.format).value}"
    )


def export_ensure(*, report: Report, export_format: str, retry_failed: bool = True) -> tuple[Export, bool]:
    """The export of the report's current generation in this format, asked for now if there is none.

    Returns it and whether it was created. One queued, running or done export
    answers every request; a failed one is asked again when `retry_failed`
    (a new row: the failure's error stays). A done file made before the report
    completed, or one lost by its worker, is replaced by a new one.
    Raises ApplicationError: 400 for an unknown format, 409 while the
    report's fast sections have not all ended, 503 when the broker is down.
    """
    if export_format not in ExportFormat.values:
        raise ApplicationError(
            f"Unknown export format {export_format!r}: choose one of {FORMATS}.", field="format"
        )
    current = Report.objects.filter(pk=report.pk).first()  # the generation and readiness as they are now
    if current is None:
        raise ApplicationError("No such report: it was deleted.", status_code=404)
    report = current
    if report.ready_at is None:
        raise ApplicationError(NOT_READY, status_code=409)
    latest = selectors.export_latest(report=report, export_format=export_format)
    if latest is not None and selectors.export_is_lost(export=latest):
        _fail(latest, f"lost: no worker finished it within {settings.EXPORT_DEADLINE_S} s")
        latest.refresh_from_db()
    if latest is not None:
        if latest.state in (ExportState.QUEUED, ExportState.RUNNING):
            return latest, False
        if latest.state == ExportState.DONE and not selectors.export_is_stale(export=latest, report=report):
            return latest, False
        if latest.state == ExportState.FAILED and not retry_failed:
            return latest, False
    try:
        dispatch.broker_ensure_reachable()
    except ServiceUnavailable as exc:
        raise ServiceUnavailable(
            "The task broker is unreachable; no export was started. Try again shortly.", headers=exc.headers
        ) from exc
    attempt = latest.attempt + 1 if latest is not None else 1
    try:
        with transaction.atomic():
            export = Export.objects.create(
                report=report, generation=report.generation, format=export_format, attempt=attempt
            )
            transaction.on_commit(lambda: _enqueue(export.pk), robust=True)
    except IntegrityError:
        # Another request created this attempt first: theirs is the one.
        return Export.objects.get(
            report=report, generation=report.generation, format=export_format, attempt=attempt
        ), False
    return export, True


def _enqueue(export_id: int) -> None:
    from .tasks import export_make  # the task module imports this one

    try:
        export_make.apply_async(kwargs={"export_id": export_id}, task_id=f"export-{export_id}")
    except Exception as exc:
        # Failed at once, so that asking again works now rather than after EXPORT_DEADLINE_S.
        logger.exception("could not publish export %s", export_id)
        Export.objects.filter(pk=export_id, state=ExportState.QUEUED).update(
            state=ExportState.FAILED, error=f"could not be queued: {exc}", finished_at=timezone.now()
        )


def export_make(*, export_id: int) -> None:
    """Make the export's file (on a slow worker). Safe to run twice; raises TransientError to be retried."""
    # Running is claimable too: a message redelivered after its worker died
    # finds the row still running. Counting claims here ends a task that kills
    # its worker every time.
    claimed = Export.objects.filter(pk=export_id, state__in=[ExportState.QUEUED, ExportState.RUNNING]).update(
        state=ExportState.RUNNING, claims=F("claims") + 1, started_at=timezone.now()
    )
    if not claimed:
        return  # done, failed, or deleted with its report: nothing to do
    export = Export.objects.select_related("report").filter(pk=export_id).first()
    if export is None:
        return
    if export.claims > settings.EXPORT_MAX_CLAIMS:
        _fail(
            export,
            f"gave up after {export.claims - 1} attempts; the export crashed or its worker died each time",
        )
        return
    report = export.report
    if report.generation != export.generation or report.ready_at is None:
        _fail(export, RETRIED)
        return
    key = export_key(export=export)
    try:
        document = orjson.loads(report_data_read(report=report).body)
        content = RENDERERS[ExportFormat(export.format)](document)
        saved_as = default_storage.save(key, ContentFile(content, name=key.rsplit("/", 1)[-1]))
        if saved_as != key:
            raise RuntimeError(f"storage wrote {saved_as} instead of {key}")
    except render.RenderError as exc:
        _fail(export, str(exc))
        return
    except Exception as exc:
        if is_transient(exc) and export.claims < settings.EXPORT_MAX_CLAIMS:
            connections.close_all()
            raise TransientError(exc) from exc
        logger.exception("export %s failed", export_id)
        _fail(export, f"{type(exc).__name__}: {exc}")
        return
    finished = Export.objects.filter(pk=export.pk, state=ExportState.RUNNING, claims=export.claims).update(
        state=ExportState.DONE,
        storage_key=key,
        size=len(content),
        complete=bool(document["complete"]),
        error="",
        finished_at=timezone.now(),
    )
    if not finished:
        # The report was deleted meanwhile, or a later delivery took the export
        # over: this file is nobody's.
        storage_delete_many([key])


LOST_FILE = "lost: its file is gone from storage; ask for the export again to make a new one."


def export_mark_lost(*, export: Export) -> None:
    """A done export whose file storage no longer has: failed, so that asking again makes a new one."""
    _fail(export, LOST_FILE)
    export.refresh_from_db()


def _fail(export: Export, error: str) -> None:
    """Fail the export if it is still where its caller saw it; the report is untouched."""
    Export.objects.filter(pk=export.pk, state=export.state, claims=export.claims).update(
        state=ExportState.FAILED, error=error[:2000], finished_at=timezone.now()
    )
