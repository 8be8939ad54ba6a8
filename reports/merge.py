"""Reading a report's data: the partials merged on the fly, or the one merged file; writing that file.

Reads never write storage. While sections are outstanding, every read merges
the partials that exist. The transition that completes a generation writes an
outbox row, and its run (`merged_write`, on the slow queue) writes the merged
file and deletes the older generations' files; reads that arrive before it
merge on the fly and give the same body, later ones serve the file. A retry
raises the generation, so a new merged file follows it.

A file the database names but storage has lost is never a 500
(reports.healing): a missing merged file is read from the partials and
written again through the outbox; a missing partial is listed as `pending`
and its section computed again.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import F
from django.urls import reverse
from storages.backends.s3 import S3Storage

from . import healing
from .keys import merged_key
from .models import Report, ReportTask, TaskState
from .storage import storage_delete_many, storage_readers

logger = logging.getLogger(__name__)

CREDIT = (
    "Data: Wyscout public soccer-logs data set. L. Pappalardo, P. Cintia, A. Rossi, E. Massucco, P. Ferragina, "
    "D. Pedreschi, F. Giannotti, 'A public data set of spatio-temporal match events in soccer competitions', "
    "Scientific Data 6, 236 (2019), doi:10.1038/s41597-019-0247-7; figshare doi:10.6084/m9.figshare.c.4415000. "
    "Licence: CC BY 4.0."
)

SOURCE_PARTIALS = "partials"
SOURCE_MERGED = "merged"


@dataclass
class ReportData:
    body: bytes
    source: str


def report_data_read(*, report: Report) -> ReportData:
    """The report's data document (CONTRACT section 4); the caller checks that the report is ready."""
    if (
        report.completed_at is not None
        and report.merged_generation == report.generation
        and report.merged_key
    ):
        try:
            with default_storage.open(report.merged_key, "rb") as stored:
                return ReportData(body=stored.read(), source=SOURCE_MERGED)
        except FileNotFoundError:
            healing.report_merged_missing(report_id=report.pk, generation=report.generation)
    body, missing = _merge_partials(report)
    if missing:
        healing.report_partials_missing(report_id=report.pk, generation=report.generation, keys=missing)
    return ReportData(body=body, source=SOURCE_PARTIALS)


def merged_write(*, report_id, generation: int) -> bool:
    """Write the merged file of `generation` and delete the older generations' files (an outbox row's work).

    Idempotent: a generation that is no longer the report's, or whose file is
    already recorded, is left alone; a second run writes the same bytes to
    the same key and counts nothing. Raises on a storage fault, so that the
    outbox retries. True when this run recorded the file.
    """
    report = Report.objects.filter(pk=report_id).first()
    if report is None or report.generation != generation or report.completed_at is None:
        return False  # deleted, or retried meanwhile: the new generation has its own row
    if report.merged_generation != generation:
        body, missing = _merge_partials(report)
        if missing:
            # Partials gone: their sections run again, and the new generation's
            # completion writes its own merged file.
            healing.report_partials_missing(report_id=report.pk, generation=generation, keys=missing)
            return False
        key = merged_key(report_id=report.pk, generation=generation)
        default_storage.save(key, ContentFile(body, name="merged.json"))
        recorded = (
            Report.objects.filter(pk=report.pk, generation=generation, completed_at__isnull=False)
            .exclude(merged_generation=generation)
            .update(merged_generation=generation, merged_key=key, merge_count=F("merge_count") + 1)
        )
        if not recorded and not Report.objects.filter(pk=report.pk, generation=generation).exists():
            # Retried (or deleted) while we merged: this file belongs to no generation.
            storage_delete_many([key], strict=True)
            return False
    else:
        recorded = 0
    older = [merged_key(report_id=report.pk, generation=number) for number in range(1, generation)]
    storage_delete_many(older, strict=True)
    return bool(recorded)


def merged_keys_all(*, report: Report) -> list[str]:
    """Every merged file the report may have: one key per generation up to its current one."""
    return [merged_key(report_id=report.pk, generation=number) for number in range(1, report.generation + 1)]


def _merge_partials(report: Report) -> tuple[bytes, list[str]]:
    """The data document from the partials, and the keys of done sections whose partial is gone."""
    rows = list(
        ReportTask.objects.filter(report=report)
        .order_by("player_id", "section")
        .values("player_id", "section", "state", "partial_key", "error")
    )
    done = [row for row in rows if row["state"] == TaskState.DONE]
    contents = _read_partials([row["partial_key"] for row in done])
    missing = sorted({row["partial_key"] for row in done if contents.get(row["partial_key"]) is None})
    order = {name: index for index, name in enumerate(report.sections)}
    players: dict[str, dict] = {str(pid): {} for pid in report.player_ids}
    for row in sorted(done, key=lambda r: order.get(r["section"], 99)):
        content = contents.get(row["partial_key"])
        if content is not None:
            players[str(row["player_id"])][row["section"]] = content
    pending = [
        {"player": row["player_id"], "section": row["section"]}
        for row in rows
        if row["state"] not in (TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED)
        or (row["state"] == TaskState.DONE and contents.get(row["partial_key"]) is None)
    ]
    failed = [
        {"player": row["player_id"], "section": row["section"], "error": row["error"]}
        for row in rows
        if row["state"] == TaskState.FAILED
    ]
    document = {
        "report": {
            "id": str(report.pk),
            "name": report.name,
            "players": report.player_ids,
            "sections": report.sections,
            "data_version": report.data_version,
            "generation": report.generation,
        },
        "credit": CREDIT,
        "players": players,
        "pending": pending,
        "failed": failed,
        "complete": not pending,
    }
    cancelled = [
        {"player": row["player_id"], "section": row["section"]}
        for row in rows
        if row["state"] == TaskState.CANCELLED
    ]
    if cancelled:
        # A cancelled report (reports.fairshare): the sections that never ran.
        document["cancelled"] = cancelled
        document["complete"] = False
    return orjson.dumps(document), missing


def _read_partials(keys: list[str]) -> dict[str, dict | None]:
    """Fetch partials concurrently: on S3 each is a round trip, and they are independent. None: gone."""

    def read(key: str) -> tuple[str, dict | None]:
        try:
            with default_storage.open(key, "rb") as stored:
                return key, orjson.loads(stored.read())
        except FileNotFoundError:
            logger.warning("partial %s is gone from storage", key)
            return key, None

    unique = list(dict.fromkeys(keys))
    if len(unique) <= 1:
        return dict(map(read, unique))
    return dict(storage_readers().map(read, unique))


def sign_file_urls(body: bytes, *, file_url: Callable[[str], str] | None = None) -> bytes:
    """Add a URL beside every stored picture key: signed and short-lived on S3.

    Only keys are stored, in partials and merged files alike, so a stored
    document never holds a link that has expired. Off S3 the storage's own
    URLs (`/media/...`) are served by nothing, so the URL is the report's file
    view (web.views), which checks the owner and that the file is the
    report's. `file_url` builds another URL (a share link's file view).
    """
    document = orjson.loads(body)
    if file_url is None:
        file_url = report_file_url_builder(document["report"]["id"])
    for sections in document["players"].values():
        images = sections.get("visuals", {}).get("images")
        if images:
            sections["visuals"]["image_urls"] = {name: file_url(key) for name, key in images.items()}
    return orjson.dumps(document)


def report_file_url_builder(report_id: str) -> Callable[[str], str]:
    """How the API links a report's stored file: a signed S3 URL, or the report's file view."""
    if isinstance(default_storage, S3Storage):
        return default_storage.url
    return lambda key: reverse("web:report-file", kwargs={"report_id": report_id, "key": key})
