"""Running one section for one player: claim the record, compute, store the partial, finish.

A partial is stored only if the data did not change under the section: its
key names the report's data version, and a section that finds another one
loaded after computing fails with a clear error instead of storing.

Safe to run twice. The claim counts attempts in the database; storing writes
the same bytes to the same key; the move to a terminal state is a conditional
update that succeeds once, and only that one counts towards the report.
"""

import logging
import os
import socket
import time
from datetime import timedelta

import orjson
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, InterfaceError, OperationalError, connections, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from football.analytics.pinned import pinned_models
from football.models import FittedModel
from football.selectors import data_version, fitted_model_versions

from . import fairshare, healing
from .keys import partial_file_key
from .models import Partial, ReportStatus, ReportTask, TaskState
from .sections import REGISTRY, SECTIONS, SectionContext, SectionError
from .status import report_count_terminal, report_mark_started
from .storage import storage_delete_many

logger = logging.getLogger(__name__)

CLAIMABLE = (TaskState.QUEUED, TaskState.RETRYING, TaskState.RUNNING)
DATA_CHANGED = (
    "the football data was re-imported while this report was being built;"
    " create the report again for figures on the new data"
)
AGGREGATES_CHANGED = (
    "the per-player aggregates were refreshed while this report was being built;"
    " create the report again for figures on the new aggregates"
)
_HOST = socket.gethostname()


def claimant() -> str:
    """This process, as recorded on the records it claims: "<host>:<pid>" (the pid changes with each fork)."""
    return f"{_HOST}:{os.getpid()}"


def _claimant_gone(claimed_by: str) -> bool:
    """Whether the process that claimed a record is known to be dead: on this host, its pid is gone.

    Only a certainty counts: a claimant on another host, or a pid that exists
    (alive, or reused), is taken as alive, and its record waits for the
    reclaim time instead.
    """
    host, _, pid = claimed_by.rpartition(":")
    if host != _HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # A killed process whose parent died with it waits as a zombie until
    # init reaps it, which some containers' init does late or never: it
    # exists for kill(0), but it is dead (state Z or X in /proc).
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as stat:
            state = stat.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in (b"Z", b"X")


class UpstreamGone(Exception):
    """The partial of the section this one depends on is gone from storage."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


class UpstreamPending(Exception):
    """The section this one depends on is queued, running or retrying: a wait, not a failure."""

    def __init__(self, section: str):
        super().__init__(f"depends on {section}, which has not finished")
        self.section = section


class TransientError(Exception):
    """A fault worth retrying (database connection, storage, broker): the task retries with backoff."""

    def __init__(self, cause: BaseException, *, claim: dict | None = None):
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause
        # The failed attempt's claim ({"claimed_by", "attempts"}), handed to
        # its retry: if the record could not be marked retrying (the database
        # itself was down), the retry takes it over from `running` at once.
        self.claim = claim


def is_transient(exc: BaseException) -> bool:
    if isinstance(
        exc, OperationalError | InterfaceError | BotoCoreError | BrokerError | ConnectionError | TimeoutError
    ):
        return True
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or code in {"SlowDown", "Throttling", "RequestTimeout", "ServiceUnavailable"}
    return False


def encode_partial(content: dict) -> bytes:
    """Canonical bytes: sorted keys and no timestamps, so a rerun writes the same bytes."""
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def report_task_run(
    *, report_task_id: int, upstream: dict | None = None, retry_of: dict | None = None
) -> dict | None:
    """Run one task record. Returns what a chained section receives, or None when nothing may follow it.

    Raises TransientError when the caller should retry later; `retry_of` is
    the claim its `claim` named, passed back by the retry.
    """
    try:
        claimed = _claim(report_task_id, retry_of=retry_of)
    except (OperationalError, InterfaceError) as exc:
        # The worker's connection died while it was idle (the database
        # restarted, the connection was killed): the claim failed before any
        # attempt was counted, and the task retries like any transient fault.
        connections.close_all()
        raise TransientError(exc) from exc
    if claimed is None:
        # A redelivery of a record that ended done (its worker died after the
        # commit, before the chain went on): the chain goes on with its
        # partial. Held by a live claimant, failed or gone: None, and the
        # task adapter stops the chain (the claimant's own message, or the
        # failure of the dependents with it, stands for it).
        done_key = (
            ReportTask.objects.filter(pk=report_task_id, state=TaskState.DONE)
            .values_list("partial_key", flat=True)
            .first()
        )
        return {"partial_key": done_key} if done_key else None
    task, stored_partial_id = claimed
    if task.attempts > settings.REPORT_TASK_MAX_ATTEMPTS:
        _fail(
            task, f"gave up after {task.attempts - 1} attempts; the task crashed or its worker died each time"
        )
        return None
    started = time.monotonic()
    try:
        if stored_partial_id is not None:
            # Another report stored the same inputs since this one was created.
            # The task's end and the report's counters in one transaction: a
            # crash between two commits lost the count for good.
            with transaction.atomic():
                _finish(task, partial_id=stored_partial_id, reused=True, started=started)
            return {"partial_key": task.partial_key}
        section = SECTIONS[task.section]
        context = SectionContext(
            player_id=task.player_id,
            data_version=task.report.data_version,
            upstream=_load_upstream(task, upstream) if section.depends_on else None,
        )
        files: list[str] = []

        def save_file(filename: str, content: bytes, content_type: str) -> str:
            key = partial_file_key(task.partial_key, filename)
            default_storage.save(key, ContentFile(content, name=filename))
            files.append(key)
            return key

        context.save_file = save_file
        pinned = task.report.model_versions
        # The fitted models the key names, loaded by version (football.analytics.pinned).
        with pinned_models(pinned):
            content = section.compute(context)
        if data_version() != context.data_version:
            # An import committed while the section computed: some of what it
            # read may be the new data, which its key (the report's data
            # version) does not name. Stored, it would be served as the old.
            storage_delete_many(files)
            raise SectionError(DATA_CHANGED)
        agg = FittedModel.Kind.AGGREGATES
        if agg in section.uses and pinned and fitted_model_versions()[agg] != pinned.get(agg):
            # The aggregates live in one table, replaced by a refresh: they
            # cannot be loaded by version like xG and xT, only checked.
            storage_delete_many(files)
            raise SectionError(AGGREGATES_CHANGED)
        body = encode_partial(
            {**content, "section": section.name, "version": section.version, "player_id": task.player_id}
        )
        saved_as = default_storage.save(task.partial_key, ContentFile(body, name="partial.json"))
        if saved_as != task.partial_key:
            raise RuntimeError(f"storage wrote {saved_as} instead of {task.partial_key}")
        # One transaction for the bookkeeping of a finished section (on MySQL
        # every commit is a log flush), with the report's row, which every
        # worker of the report updates, written last: its lock is held for the
        # least time.
        with transaction.atomic():
            partial_id = _partial_record(task, size=len(body), files=files)
            _finish(task, partial_id=partial_id, reused=False, started=started)
        return {"partial_key": task.partial_key}
    except SectionError as exc:
        _fail(task, str(exc))
        return None
    except UpstreamPending as exc:
        if task.attempts < settings.REPORT_TASK_MAX_ATTEMPTS:
            _mark_retrying(task, exc)
            raise TransientError(exc, claim=_claim_of(task)) from exc
        _fail(task, str(exc))
        return None
    except UpstreamGone as exc:
        # Not a failure of this section: its input is computed again, then it runs.
        healing.report_upstream_missing(report_task_id=task.pk, report_id=task.report_id, key=exc.key)
        return None
    except Exception as exc:
        if is_transient(exc):
            # A broken connection is not reused by the next attempt.
            connections.close_all()
            if task.attempts < settings.REPORT_TASK_MAX_ATTEMPTS:
                _mark_retrying(task, exc)
                raise TransientError(exc, claim=_claim_of(task)) from exc
        logger.exception("section %s failed for player %s", task.section, task.player_id)
        _fail(task, f"{type(exc).__name__}: {exc}")
        return None


def _partial_record(task: ReportTask, *, size: int, files: list[str]) -> int | Subquery:
    """Record the partial just written under the task's key; its id, or a subquery that finds it.

    Usually the key is new: one INSERT in a savepoint (0.9 ms less CPU a
    section than inserting-or-ignoring and then updating, docs/performance.md).
    The row exists when another report's task of the same inputs stored it
    since this one's claim, or when it was found gone and is written again:
    then its write is counted and it is reusable from now on.
    """
    try:
        with transaction.atomic():
            return Partial.objects.create(
                key=task.partial_key,
                section=task.section,
                player_id=task.player_id,
                size=size,
                files=files,
                writes=1,
            ).pk
    except IntegrityError:
        stored = Partial.objects.filter(key=task.partial_key)
        stored.update(writes=F("writes") + 1, size=size, files=files, missing_since=None)
        return Subquery(stored.values("pk")[:1])


def _claim_of(task: ReportTask) -> dict:
    return {"claimed_by": task.claimed_by, "attempts": task.attempts}


# What a run reads of its record and report. The rest of the report (its
# player ids, 500 of them in a large report, and its sections, both JSON) was
# loaded and decoded for every section: a fifth of the claim's read in CPU
# (docs/performance.md). A field left out still loads when read, one query.
_CLAIMED_FIELDS = (
    "report_id",
    "player_id",
    "section",
    "queue",
    "state",
    "attempts",
    "partial_key",
    "claimed_by",
    "report__status",
    "report__data_version",
    "report__model_versions",
)


def _claim(report_task_id: int, *, retry_of: dict | None = None) -> tuple[ReportTask, int | None] | None:
    """The claimed record with its report, and the id of a partial already stored under its key, if any."""
    now = timezone.now()
    me = claimant()
    changes = {"state": TaskState.RUNNING, "attempts": F("attempts") + 1, "started_at": now, "claimed_by": me}
    # A running record is claimable only once no live worker can still be
    # running it: after the hard time limit (REPORT_TASK_RECLAIM_AFTER_S), or
    # at once when its claimant process is known dead. A duplicate delivery
    # while the section runs (a redelivery after a broker connection loss, a
    # publish repeated by the outbox) then does nothing and counts no attempt;
    # the running one's own message still stands for it. Counting attempts
    # here is what ends a task that kills its worker every time.
    reclaim_before = now - timedelta(seconds=settings.REPORT_TASK_RECLAIM_AFTER_S)
    claimable = Q(state__in=[TaskState.QUEUED, TaskState.RETRYING]) | Q(
        state=TaskState.RUNNING, started_at__lt=reclaim_before
    )
    claimed = ReportTask.objects.filter(claimable, pk=report_task_id).update(**changes)
    if not claimed:
        # Only a redelivery gets here: read who holds it, and take it over if that process died.
        row = (
            ReportTask.objects.filter(pk=report_task_id, state=TaskState.RUNNING)
            .values_list("claimed_by", "attempts")
            .first()
        )
        held = row[0] if row is not None else None
        # The retry of an attempt that ended on a transient fault but could
        # not mark the record retrying (the database was down): the record
        # is exactly as that attempt left it, and no one runs it any more.
        left_by_my_attempt = row is not None and retry_of == {"claimed_by": row[0], "attempts": row[1]}
        if row is not None and (left_by_my_attempt or _claimant_gone(row[0])):
            claimed = ReportTask.objects.filter(
                pk=report_task_id, state=TaskState.RUNNING, claimed_by=row[0], attempts=row[1]
            ).update(**changes)
        elif row is not None:
            logger.info("report task %s is running in %s; this delivery does nothing", report_task_id, held)
            return None
    if not claimed:
        logger.info("report task %s is gone or already ended; nothing to do", report_task_id)
        return None
    task = (
        ReportTask.objects.select_related("report")
        .only(*_CLAIMED_FIELDS)
        # A partial another report stored since this one was created, found in the same query.
        .annotate(
            stored_partial_id=Subquery(
                Partial.objects.filter(key=OuterRef("partial_key"), missing_since__isnull=True).values("pk")[
                    :1
                ]
            )
        )
        .filter(pk=report_task_id)
        .first()
    )
    if task is None:
        return None
    if task.report.status == ReportStatus.PENDING:
        report_mark_started(report_id=task.report_id)
    return task, task.stored_partial_id  # type: ignore[attr-defined]


def _load_upstream(task: ReportTask, upstream: dict | None) -> dict:
    dependency = SECTIONS[task.section].depends_on
    key = (upstream or {}).get("partial_key")
    if not key:
        parent = (
            ReportTask.objects.filter(report_id=task.report_id, player_id=task.player_id, section=dependency)
            .values("state", "partial_key")
            .first()
        )
        if parent is not None and parent["state"] in CLAIMABLE:
            # Re-queued by a heal or the reconciler while this message waited
            # (the re-publish chains this section behind it again), or still
            # running: retried with backoff, as many times as attempts allow.
            raise UpstreamPending(str(dependency))
        if parent is None or parent["state"] != TaskState.DONE:
            raise SectionError(f"depends on {dependency}, which has not finished")
        key = parent["partial_key"]
    try:
        with default_storage.open(key, "rb") as stored:
            return orjson.loads(stored.read())
    except FileNotFoundError as exc:
        raise UpstreamGone(key) from exc


def _finish(task: ReportTask, *, partial_id, reused: bool, started: float) -> None:
    finished = ReportTask.objects.filter(pk=task.pk, state=TaskState.RUNNING).update(
        state=TaskState.DONE,
        reused=reused,
        partial_id=partial_id,
        finished_at=timezone.now(),
        duration_ms=int((time.monotonic() - started) * 1000),
        error="",
    )
    if finished:
        report_count_terminal(report_id=task.report_id, queue=task.queue, failed=False, reused=reused)


def _mark_retrying(task: ReportTask, exc: BaseException) -> None:
    try:
        if fairshare.cancelled_task_end(report_task_id=task.pk):
            return  # its retry finds nothing to claim
        ReportTask.objects.filter(pk=task.pk, state=TaskState.RUNNING).update(
            state=TaskState.RETRYING, error=f"retrying after {type(exc).__name__}: {exc}"[:2000]
        )
    except (OperationalError, InterfaceError):
        connections.close_all()  # the database itself is down; the retry claims from running


def _fail(task: ReportTask, error: str) -> None:
    """End the record failed, with the sections that depend on it, and count them: one transaction."""
    with transaction.atomic():
        _fail_in_transaction(task, error)


def _fail_in_transaction(task: ReportTask, error: str) -> None:
    failed = ReportTask.objects.filter(pk=task.pk, state__in=CLAIMABLE).update(
        state=TaskState.FAILED, error=error[:2000], finished_at=timezone.now()
    )
    if failed:
        report_count_terminal(report_id=task.report_id, queue=task.queue, failed=True)
    # Sections that needed this one cannot run: they fail with it, so the report still ends.
    for section in REGISTRY:
        if section.depends_on != task.section:
            continue
        dependent = ReportTask.objects.filter(
            report_id=task.report_id, player_id=task.player_id, section=section.name
        ).first()
        if dependent is not None:
            _fail_in_transaction(dependent, f"depends on {task.section}, which failed: {error}")
