"""Storage audit: the rows and the objects of report files, compared both ways.

- a `Partial` row whose object is gone is marked missing (never reused
  again; the next write of its key clears the mark), and the reports that
  read it heal when read (reports.healing); a report whose merged file is
  gone gets it written again through the outbox (which re-enqueues its
  sections if their partials are gone too);
- an object under `reports/partials/` or `reports/merged/` that no row
  names (a partial's JSON or picture, a current merged file) is an orphan:
  deleted with `repair`. Only those two prefixes are compared: exports
  (`reports/exports/`), share copies and any other app's files under
  `reports/` are named by rows this audit does not read, and an audit over
  all of `reports/` deleted every export file. An export's key is counted
  as in use all the same, should one ever be stored under these. Kept
  however: objects younger than REPORT_STORAGE_AUDIT_GRACE_S (a section
  writes its file before its row) and keys a record still computes.

Cost: one listing of each of the two prefixes (a request per 1,000 objects on
S3) and one pass over the partial and report rows.
"""

from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .healing import partials_mark_missing
from .keys import MERGED_PREFIX, PARTIALS_PREFIX
from .models import OutboxKind, Partial, Report, ReportTask, TaskState
from .outbox import outbox_add
from .storage import storage_delete_many, storage_list

# Keys per UPDATE or DELETE of one repair step.
AUDIT_BATCH = 500


@dataclass
class AuditResult:
    objects: int = 0
    partial_rows: int = 0
    missing_partials: int = 0
    missing_merged: int = 0
    orphan_objects: int = 0
    repaired: bool = False
    orphans_sample: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def storage_audit(*, repair: bool = False, grace_s: int | None = None, now=None) -> AuditResult:
    now = now or timezone.now()
    grace_s = settings.REPORT_STORAGE_AUDIT_GRACE_S if grace_s is None else grace_s
    young = now - timedelta(seconds=grace_s)
    stored: dict[str, object] = {}
    for prefix in (PARTIALS_PREFIX, MERGED_PREFIX):
        stored.update(storage_list(prefix))
    result = AuditResult(objects=len(stored), repaired=repair)

    named: set[str] = set()
    missing: list[str] = []
    for key, files, missing_since in Partial.objects.values_list("key", "files", "missing_since").iterator():
        result.partial_rows += 1
        named.update((key, *files))
        if key not in stored and missing_since is None:
            missing.append(key)
    result.missing_partials = len(missing)

    merged_gone = []
    for pk, generation, key in (
        Report.objects.filter(merged_generation__gt=0)
        .exclude(merged_key="")
        .values_list("pk", "merged_generation", "merged_key")
        .iterator()
    ):
        named.add(key)
        if key not in stored:
            merged_gone.append((pk, generation))
    result.missing_merged = len(merged_gone)

    from exports.models import Export  # exports depends on reports, not the other way round

    named.update(Export.objects.exclude(storage_key="").values_list("storage_key", flat=True).iterator())

    computing = set(
        ReportTask.objects.filter(state__in=[TaskState.QUEUED, TaskState.RUNNING, TaskState.RETRYING])
        .values_list("partial_key", flat=True)
        .iterator()
    )
    # A computing partial's pictures are written first, in a folder named after its key.
    computing_folders = {key.removesuffix(".json") for key in computing}
    orphans = [
        key
        for key, modified in stored.items()
        if key not in named
        and modified < young  # type: ignore[operator]
        and key not in computing
        and key.rsplit("/", 1)[0] not in computing_folders
    ]
    result.orphan_objects = len(orphans)
    result.orphans_sample = sorted(orphans)[:10]

    if repair:
        for start in range(0, len(missing), AUDIT_BATCH):
            partials_mark_missing(keys=missing[start : start + AUDIT_BATCH])
        for pk, generation in merged_gone:
            with transaction.atomic():
                if Report.objects.filter(pk=pk, merged_generation=generation).update(
                    merged_generation=0, merged_key=""
                ):
                    outbox_add(kind=OutboxKind.WRITE_MERGED, report_id=pk, payload={"generation": generation})
        storage_delete_many(orphans)
    return result
