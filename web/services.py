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
from reports.keys import merged_key, partial_file_key
from reports.models import Partial, Report

from .models import ShareLink
from .pizza import PIZZA_VERSION, main_competition, render_pizza
from .selectors import share_token_hash

# Bytes of randomness in a share token (secrets.token_urlsafe): 256 bits, unguessable.
SHARE_TOKEN_BYTES = 32


def share_create(*, report: Report, created_by: User, days: int) -> tuple[ShareLink, str]:
    """A read-only link to the report's current generation; returns the link and its token.

    The token is returned once and only its hash is stored. Only a finished
    report (complete or failed) can be shared: a generation that is still
    running has no fixed content to show. Its merged file is written here if
    no read has written it yet, so the link serves that file.
    """
    if not 1 <= days <= settings.WEB_SHARE_MAX_DAYS:
        raise ApplicationError(
            f"A link lasts from 1 to {settings.WEB_SHARE_MAX_DAYS} days, not {days}.", field="days"
        )
    report.refresh_from_db()
    if report.completed_at is None:
        raise ApplicationError("Only a finished report can be shared; wait until every section has ended.")
    merge.report_data_read(report=report)
    token = secrets.token_urlsafe(SHARE_TOKEN_BYTES)
    link = ShareLink.objects.create(
        report=report,
        token_hash=share_token_hash(token),
        generation=report.generation,
        created_by=created_by,
        expires_at=timezone.now() + timedelta(days=days),
    )
    return link, token


def share_revoke(*, link: ShareLink) -> None:
    ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def share_data_read(*, link: ShareLink) -> bytes | None:
    """The data document of the link's generation, or None when it is no longer stored.

    While the report is still at that generation this is the ordinary read
    (reports.merge); after a retry the link keeps showing its own
    generation's merged file, for as long as it is stored.
    """
    report = link.report
    if report.generation == link.generation and report.completed_at is not None:
        return merge.report_data_read(report=report).body
    key = merged_key(report_id=report.pk, generation=link.generation)
    if not default_storage.exists(key):
        return None
    with default_storage.open(key, "rb") as stored:
        return stored.read()


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
