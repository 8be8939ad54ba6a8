"""Reading a report's data: the partials merged on the fly, or the one merged file.

While sections are outstanding, every read merges the partials that exist.
The first read after all sections are terminal claims the merge of the
report's generation in the database and writes the merged file; reads that
arrive meanwhile merge on the fly and give the same body; later reads serve
the file. A retry raises the generation, so a new merged file follows it.
"""

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import orjson
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import F
from django.urls import reverse
from storages.backends.s3 import S3Storage

from .keys import merged_key
from .models import Report, ReportTask, TaskState

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
    if report.completed_at is not None:
        if report.merged_generation == report.generation and report.merged_key:
            with default_storage.open(report.merged_key, "rb") as stored:
                return ReportData(body=stored.read(), source=SOURCE_MERGED)
        claimed = Report.objects.filter(
            pk=report.pk,
            generation=report.generation,
            merge_claimed__lt=report.generation,
            completed_at__isnull=False,
        ).update(merge_claimed=report.generation)
        body = _merge_partials(report)
        if claimed:
            _write_merged(report, body)
        return ReportData(body=body, source=SOURCE_PARTIALS)
    return ReportData(body=_merge_partials(report), source=SOURCE_PARTIALS)


def _write_merged(report: Report, body: bytes) -> None:
    key = merged_key(report_id=report.pk, generation=report.generation)
    default_storage.save(key, ContentFile(body, name="merged.json"))
    recorded = Report.objects.filter(pk=report.pk, generation=report.generation).update(
        merged_generation=report.generation, merged_key=key, merge_count=F("merge_count") + 1
    )
    if not recorded:
        # A retry started while we merged: this file belongs to an old generation.
        default_storage.delete(key)


def _merge_partials(report: Report) -> bytes:
    rows = list(
        ReportTask.objects.filter(report=report)
        .order_by("player_id", "section")
        .values("player_id", "section", "state", "partial_key", "error")
    )
    done = [row for row in rows if row["state"] == TaskState.DONE]
    contents = _read_partials([row["partial_key"] for row in done])
    order = {name: index for index, name in enumerate(report.sections)}
    players: dict[str, dict] = {str(pid): {} for pid in report.player_ids}
    for row in sorted(done, key=lambda r: order.get(r["section"], 99)):
        players[str(row["player_id"])][row["section"]] = contents[row["partial_key"]]
    pending = [
        {"player": row["player_id"], "section": row["section"]}
        for row in rows
        if row["state"] not in (TaskState.DONE, TaskState.FAILED)
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
    return orjson.dumps(document)


def _read_partials(keys: list[str]) -> dict[str, dict]:
    """Fetch partials concurrently: on S3 each is a round trip, and they are independent."""

    def read(key: str) -> tuple[str, dict]:
        with default_storage.open(key, "rb") as stored:
            return key, orjson.loads(stored.read())

    unique = list(dict.fromkeys(keys))
    if len(unique) <= 1:
        return dict(map(read, unique))
    with ThreadPoolExecutor(max_workers=min(settings.REPORT_READ_CONCURRENCY, len(unique))) as pool:
        return dict(pool.map(read, unique))


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
