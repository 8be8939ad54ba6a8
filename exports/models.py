"""Exports of a report: a PDF of the whole report, the season tables as CSV and XLSX.

One row per request of a file. An export belongs to one generation of its
report (a retry raises the generation, and the new data needs a new file).
While one is queued, running or done it answers every request for the same
(report, generation, format); a failed one keeps its error, and asking again
adds a row with the next `attempt`, so no error is overwritten.
"""

from django.db import models

from reports.models import Report


class ExportFormat(models.TextChoices):
    PDF = "pdf"
    CSV = "csv"
    XLSX = "xlsx"


class ExportState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


CONTENT_TYPES = {
    ExportFormat.PDF: "application/pdf",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class Export(models.Model):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="exports")
    generation = models.PositiveIntegerField(help_text="the report's generation the file shows")
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    attempt = models.PositiveSmallIntegerField(
        default=1, help_text="1, then one more per request after a failure"
    )
    state = models.CharField(max_length=16, choices=ExportState.choices, default=ExportState.QUEUED)
    # Deliveries of the task that claimed this row: more than one means a
    # worker died or the broker redelivered; bounded by EXPORT_MAX_CLAIMS.
    claims = models.PositiveSmallIntegerField(default=0)
    storage_key = models.CharField(max_length=255, blank=True)
    size = models.PositiveIntegerField(default=0, help_text="bytes")
    # Whether every section had ended when the file was made: an export made
    # while slow sections ran is replaced by a new one once the report completes.
    complete = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["format", "-attempt"]
        constraints = [
            # Two requests that race for the same next attempt: one insert wins,
            # the other finds the winner (exports.services.export_ensure).
            models.UniqueConstraint(
                fields=["report", "generation", "format", "attempt"], name="export_unique_attempt"
            )
        ]

    def __str__(self) -> str:
        return f"{self.format} of {self.report_id} g{self.generation} #{self.attempt} ({self.state})"
