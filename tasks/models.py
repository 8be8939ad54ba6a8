"""Rows shared by all tasks: the claims of the scheduled jobs."""

from django.db import models
from django.utils import timezone


class JobRun(models.Model):
    """One run of a scheduled job for one period, e.g. ("daily_purge_reports", "2026-11-28").

    The unique (job, period) pair is the claim: whoever inserts the row runs
    the job, so two beats, a redelivered message or a slow previous run
    never run the same period twice. See tasks.jobs.run_once.
    """

    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    job = models.CharField(max_length=64)
    period = models.CharField(max_length=32, help_text="2026-11-28 for daily jobs, 2026-W48 for weekly ones")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["job", "period"], name="job_run_unique_job_period")]

    def __str__(self) -> str:
        return f"{self.job} {self.period} ({self.status})"
