"""Reads behind the report pages: share links, which files belong to a report, player names."""

import hashlib

from django.db.models import QuerySet
from django.utils import timezone

from football.models import Player
from reports.models import Report, ReportTask, TaskState

from .models import ShareLink


def share_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def share_get_active(*, token: str) -> ShareLink | None:
    """The link for a token, with its report, if it is neither revoked nor expired (else None: a 404)."""
    if not token or len(token) > 100:
        return None
    return (
        ShareLink.objects.select_related("report")
        .filter(token_hash=share_token_hash(token), revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


def shares_of_report(*, report: Report) -> QuerySet[ShareLink]:
    """The report's links still in force, newest first, for its owner to see and revoke."""
    return ShareLink.objects.filter(report=report, revoked_at__isnull=True, expires_at__gt=timezone.now())


def share_keys_of_report(*, report_id) -> list[str]:
    """The storage keys of the report's share links' copies still stored (for report_delete)."""
    return list(
        ShareLink.objects.filter(report_id=report_id).exclude(data_key="").values_list("data_key", flat=True)
    )


def report_file_belongs(*, report: Report, key: str) -> bool:
    """Whether `key` is a file stored beside one of the report's partials (a picture of its sections).

    A further file lives in the folder named after its partial
    (reports.keys.partial_file_key), so the partial is found from the key and
    the key must be listed in that partial's files: one query, and a key
    that merely looks right is not enough.
    """
    if not key.startswith("reports/partials/") or ".." in key.split("/") or "/" not in key:
        return False
    partial_key = key.rsplit("/", 1)[0] + ".json"
    files = (
        ReportTask.objects.filter(report=report, partial_key=partial_key, partial__isnull=False)
        .values_list("partial__files", flat=True)
        .first()
    )
    return key in (files or [])


def report_partial_key(*, report: Report, player_id: int, section: str) -> str | None:
    """The storage key of a finished section of one player of the report, or None."""
    return (
        ReportTask.objects.filter(report=report, player_id=player_id, section=section, state=TaskState.DONE)
        .values_list("partial_key", flat=True)
        .first()
    )


def player_names(*, player_ids: list[int]) -> dict[int, dict]:
    """Names of the players, by id: one query, for the grid's row labels."""
    return {
        row["id"]: {"name": row["name"], "short_name": row["short_name"], "role": row["role"]}
        for row in Player.objects.filter(pk__in=player_ids).values("id", "name", "short_name", "role")
    }
