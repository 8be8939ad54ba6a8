"""Reports, the per-(player, section) task records, and the partial files they share.

The database, not the result backend, decides every state: a task record moves
through its states by conditional updates, and the report's counters and
status follow from those updates exactly once (see reports.services).
"""

import uuid

from django.conf import settings
from django.db import models


class TaskState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    DONE = "done"
    FAILED = "failed"
    # The report was cancelled before this section started: it never runs (reports.fairshare).
    CANCELLED = "cancelled"


TERMINAL_STATES = (TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED)


class ReportStatus(models.TextChoices):
    # Its owner has REPORT_USER_MAX_OUTSTANDING sections outstanding: nothing
    # is published until room frees up (reports.fairshare), then `pending`.
    WAITING = "waiting"
    PENDING = "pending"
    RUNNING = "running"
    READY = "ready"
    COMPLETE = "complete"
    FAILED = "failed"
    # Ended by POST /cancel/: what had finished stays readable.
    CANCELLED = "cancelled"


class Report(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.PENDING)
    player_ids = models.JSONField(help_text="in the order the client sent them")
    sections = models.JSONField(help_text="section names, dependencies included")
    data_version = models.CharField(max_length=64)
    # The fitted model versions (xg, xt, agg) the report's keys name: every
    # section loads exactly these, so a refit during the run changes nothing.
    model_versions = models.JSONField(default=dict)
    # Null when the client sent none: NULLs never collide in the unique constraint.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    # Counters moved only by conditional updates when a task reaches a terminal state.
    fast_total = models.PositiveIntegerField(default=0)
    fast_done = models.PositiveIntegerField(default=0)
    fast_failed = models.PositiveIntegerField(default=0)
    fast_reused = models.PositiveIntegerField(default=0)
    slow_total = models.PositiveIntegerField(default=0)
    slow_done = models.PositiveIntegerField(default=0)
    slow_failed = models.PositiveIntegerField(default=0)
    slow_reused = models.PositiveIntegerField(default=0)
    # One more with every change that the status shows (reports.status): the
    # status ETag, and the order of what reports.status_cache keeps in Redis.
    revision = models.PositiveIntegerField(default=0)

    # The merged file: `generation` goes up on every retry (and when missing
    # partials are computed again); the transition that completes a
    # generation writes an outbox row, whose run writes the file and records
    # it under `merged_generation` (reports.outbox).
    generation = models.PositiveIntegerField(default=1)
    merged_generation = models.PositiveIntegerField(default=0)
    merged_key = models.CharField(max_length=255, blank=True)
    merge_count = models.PositiveIntegerField(default=0, help_text="merged files written, for audit")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"], name="report_unique_owner_idempotency_key"
            )
        ]
        # The open reports, oldest first: the reconciler's pass every minute and
        # the queue position of every status body (reports.fairshare) read them;
        # without it each scanned the whole table, every report ever made.
        indexes = [models.Index(fields=["completed_at", "created_at"], name="report_open")]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class Partial(models.Model):
    """One stored section result for one player, shared by every report that asks for it.

    The key is derived from (section, section version, player, data version,
    versions of the fitted models used), so equal inputs map to the same file.
    """

    key = models.CharField(max_length=255, unique=True)
    section = models.CharField(max_length=32)
    player_id = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    size = models.PositiveIntegerField(default=0)
    # Further files (pictures) written beside the JSON, by storage key.
    files = models.JSONField(default=list)
    # Successful writes of the object; more than one means the same bytes were written again.
    writes = models.PositiveIntegerField(default=0)
    # Set when the object was found gone from storage (a read, storage_audit):
    # such a row is never reused, and the next write of its key clears it.
    missing_since = models.DateTimeField(null=True, blank=True)


class ReportTask(models.Model):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="tasks")
    player_id = models.IntegerField()
    section = models.CharField(max_length=32)
    queue = models.CharField(max_length=8)
    state = models.CharField(max_length=16, choices=TaskState.choices, default=TaskState.QUEUED)
    reused = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    partial_key = models.CharField(max_length=255, help_text="the key this task's result is stored under")
    partial = models.ForeignKey(
        Partial, null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    celery_id = models.CharField(max_length=64, blank=True)
    # "<host>:<pid>" of the process that claimed the record last: a redelivery
    # on the same host may take over at once only when that process is gone.
    claimed_by = models.CharField(max_length=128, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "player_id", "section"], name="report_task_unique")
        ]
        indexes = [
            models.Index(fields=["state", "dispatched_at"], name="report_task_state"),
            models.Index(fields=["section", "finished_at"], name="report_task_section_finished"),
        ]


class OutboxKind(models.TextChoices):
    # Publish the report's queued, undispatched sections (slow ones once it is ready).
    PUBLISH = "publish"
    # Write the merged file of payload["generation"] and delete older generations' files.
    WRITE_MERGED = "write_merged"
    # Delete payload["keys"] from storage.
    DELETE_FILES = "delete_files"
    # Release payload["owner_id"]'s waiting reports that now fit under their limit (reports.fairshare).
    RELEASE_WAITING = "release_waiting"


class Outbox(models.Model):
    """Follow-up work of a transition, written in the transaction that causes it.

    Whoever commits the transition runs its rows at once (reports.outbox);
    a row that fails or whose runner died stays and is run again by the
    reconciler, so no follow-up is lost between a commit and a crash. Running
    a row twice is harmless: every kind is idempotent.
    """

    kind = models.CharField(max_length=16, choices=OutboxKind.choices)
    # No foreign key: the files of a deleted report are deleted after it.
    report_id = models.UUIDField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    # The reconciler runs a row from then on (a little after its commit, so
    # that it does not race the committing process's own run).
    due_at = models.DateTimeField()
    # A claim's lease: a row claimed by a process that died is claimable again after it.
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["due_at"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.kind} {self.report_id or ''} ({self.pk})"


class AnalystQuota(models.Model):
    """One user's own limit of outstanding sections, set by staff in the admin (reports.fairshare).

    Without a row the user has REPORT_USER_MAX_OUTSTANDING.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota")
    max_outstanding_sections = models.PositiveIntegerField(
        help_text="Sections this user's running reports may have outstanding before a new report waits; "
        "0: no limit."
    )
    note = models.CharField(max_length=200, blank=True, help_text="Why this user has their own limit.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user}: {self.max_outstanding_sections} sections"
