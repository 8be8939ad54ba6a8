"""Writes behind the report pages: share links, and the pizza pictures cached in storage."""

import secrets
from datetime import timedelta

import orjson
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from reports import merge
from reports.exceptions import ApplicationError
from reports.keys import partial_file_key, share_data_key
from reports.models import OutboxKind, Partial, Report, ReportTask, TaskState
from reports.outbox import outbox_add

from .models import ShareLink
from .pizza import PIZZA_VERSION, main_competition, render_pizza
from .selectors import share_token_hash

# Bytes of randomness in a share token (secrets.token_urlsafe): 256 bits, unguessable.
SHARE_TOKEN_BYTES = 32


# What a shared page shows instead of a failed section's error: the error
# (reports.runner, "Type: message") may name hosts or paths; its owner sees it.
SHARED_ERROR = "this section could not be computed"


def share_create(*, report: Report, created_by: User, days: int) -> tuple[ShareLink, str]:
    """A read-only link to the report's current generation; returns the link and its token.

    The token is returned once and only its hash is stored. Only a finished
    report (complete or failed) can be shared: a generation that is still
    running has no fixed content to show. The link gets its own copy of that
    generation's data document (a retry's merged file deletes the older
    ones), with failed sections' errors made generic, and records the
    pictures and pizzas the copy names: the only files the link serves.
    """
    if not 1 <= days <= settings.WEB_SHARE_MAX_DAYS:
        raise ApplicationError(
            f"A link lasts from 1 to {settings.WEB_SHARE_MAX_DAYS} days, not {days}.", field="days"
        )
    report.refresh_from_db()
    if report.completed_at is None:
        raise ApplicationError("Only a finished report can be shared; wait until every section has ended.")
    document = orjson.loads(merge.report_data_read(report=report).body)
    for failure in document["failed"]:
        failure["error"] = SHARED_ERROR
    files = sorted(
        key
        for sections in document["players"].values()
        for key in sections.get("visuals", {}).get("images", {}).values()
    )
    pizzas = dict(
        ReportTask.objects.filter(report=report, section="percentiles", state=TaskState.DONE)
        .values_list("player_id", "partial_key")
        .order_by("player_id")
    )
    token = secrets.token_urlsafe(SHARE_TOKEN_BYTES)
    with transaction.atomic():
        link = ShareLink.objects.create(
            report=report,
            token_hash=share_token_hash(token),
            generation=report.generation,
            created_by=created_by,
            expires_at=timezone.now() + timedelta(days=days),
            serves={
                "status": str(report.status),
                "files": files,
                "pizzas": {str(pid): key for pid, key in pizzas.items()},
            },
        )
        # Written inside the transaction: a storage fault leaves no link without its copy.
        # The name storage actually used: a file system storage renames rather than
        # overwrite a leftover of a rolled-back link that had the same id.
        link.data_key = default_storage.save(
            share_data_key(report_id=report.pk, link_id=link.pk),
            ContentFile(orjson.dumps(document), name="share.json"),
        )
        link.save(update_fields=["data_key"])
    return link, token


def share_revoke(*, link: ShareLink) -> None:
    """Revoke the link and delete its copy (through the outbox, written with the revocation)."""
    with transaction.atomic():
        revoked = ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), data_key=""
        )
        if revoked and link.data_key:
            outbox_add(
                kind=OutboxKind.DELETE_FILES, report_id=link.report_id, payload={"keys": [link.data_key]}
            )


def shares_purge_expired(*, now=None) -> int:
    """Delete the copies of links that expired (the daily purge); returns how many."""
    now = now or timezone.now()
    with transaction.atomic():
        expired = list(
            ShareLink.objects.select_for_update()
            .filter(expires_at__lte=now)
            .exclude(data_key="")
            .values_list("pk", "data_key")
        )
        if expired:
            ShareLink.objects.filter(pk__in=[pk for pk, _ in expired]).update(data_key="")
            outbox_add(kind=OutboxKind.DELETE_FILES, payload={"keys": [key for _, key in expired]})
    return len(expired)


def share_data_read(*, link: ShareLink) -> bytes | None:
    """The link's copy of its generation's data document, or None when it is no longer stored."""
    if not link.data_key:
        return None
    try:
        with default_storage.open(link.data_key, "rb") as stored:
            return stored.read()
    except FileNotFoundError:
        return None


def pizza_key(percentiles_key: str) -> str:
    """The pizza's storage key: beside the percentiles partial it is drawn from, ids and hashes only."""
    return partial_file_key(percentiles_key, f"pizza-v{PIZZA_VERSION}.png")


def player_pizza_png(*, percentiles_key: str) -> bytes | None:
    """The pizza of the percentiles partial stored under `percentiles_key`, drawn once and kept in storage.

    None when the player has no competition to rank in; Http404 when the
    partial's file is gone from storage. The picture is
    listed among the partial's files, so it is deleted with the partial
    (reports.services.partials_delete_orphans), and the file view accepts it.
    """
    key = pizza_key(percentiles_key)
    if default_storage.exists(key):
        with default_storage.open(key, "rb") as stored:
            return stored.read()
    try:
        with default_storage.open(percentiles_key, "rb") as stored:
            percentiles = orjson.loads(stored.read())
    except FileNotFoundError as error:
        # Storage lost the partial (a bucket emptied or restored): a 404, and
        # the page shows no pizza; reading the report heals the partial. Imported
        # here to keep this fix inside the function.
        from django.http import Http404

        raise Http404("The percentiles of this player are no longer stored.") from error
    competition = main_competition(percentiles)
    if competition is None:
        return None
    png = render_pizza(name=_player_label(percentiles_key), competition=competition)
    default_storage.save(key, ContentFile(png, name="pizza.png"))
    with transaction.atomic():
        partial = Partial.objects.select_for_update().filter(key=percentiles_key).first()
        if partial is not None and key not in partial.files:
            partial.files = [*partial.files, key]
            partial.save(update_fields=["files"])
    return png


def _player_label(percentiles_key: str) -> str:
    from football.models import Player

    # reports/partials/percentiles/v<version>/<player id>/<hash>.json
    player_id = int(percentiles_key.split("/")[-2])
    row = Player.objects.filter(pk=player_id).values_list("short_name", "name").first()
    return (row[0] or row[1]) if row else f"Player {player_id}"
