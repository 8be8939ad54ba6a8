"""Share links: read-only access to one generation of one report, for anyone holding the token."""

from django.conf import settings
from django.db import models


class ShareLink(models.Model):
    """A revocable, expiring link to one generation of a report.

    Only a hash of the token is stored: the link is shown to its owner once,
    when it is made, and a copy of the table does not open any report.
    """

    report = models.ForeignKey("reports.Report", on_delete=models.CASCADE, related_name="share_links")
    # sha256 of the token, hex: the token itself is never stored.
    token_hash = models.CharField(max_length=64, unique=True)
    # The generation the link shows (reports.Report.generation when it was made):
    # a retry afterwards makes a new generation the link does not follow.
    generation = models.PositiveIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The link's own copy of its generation's data document (web.services.share_create),
    # deleted when the link is revoked, expires or its report is deleted; "" once deleted.
    data_key = models.CharField(max_length=200, blank=True, default="")
    # What the link may serve, fixed when it was made: {"status": the generation's
    # status, "files": [picture keys], "pizzas": {player id: percentiles partial key}}.
    serves = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"share of {self.report_id} g{self.generation}"
