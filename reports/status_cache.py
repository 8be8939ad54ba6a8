"""The status revision of each report in Redis, so that a poller's conditional GET skips the database.

A browser polls a running report about once a second with the ETag it last
saw; nearly every answer is 304. Served from MariaDB, each one waited for two
queries behind the workers' heavy ones: under a 500-player report the p99 of
those answers was 90-100 ms, nearly all of it waiting for a turn on the CPU in
the database server (docs/performance.md). Served from here it is one Redis
read.

Redis keeps `<revision> <owner id>` for each report, written by whoever
learns a revision: the writer after it commits a change (reports.status),
and any read that went to the database. A Lua script keeps the highest
revision, so writers that finish out of order cannot put an older state back.

What can go wrong, and what bounds it:

- A change whose note is lost (the process died between commit and note, or
  Redis was unreachable): pollers that hold the previous ETag get 304 for up
  to ENTRY_TTL_S, then the entry expires and the database answers again.
- Redis unreachable: every request takes the database path; nothing fails.
- The cache is not Redis (the embedded stack): this module does nothing.

Beside the revision, Redis keeps the status body last read from the database
(keep_body), served to a first, unconditional GET at exactly that revision:
every poller's first request, which used to read the database too.

A deleted report's entry becomes a tombstone that outranks every revision,
so a read that raced the delete cannot bring it back; if writing it fails,
the owner gets 304 instead of 404 for at most ENTRY_TTL_S.
"""

import functools
import json
import logging
from typing import NamedTuple

from django.core.cache import caches
from django_redis import get_redis_connection
from django_redis.cache import RedisCache
from redis.commands.core import Script
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# How long an entry lives after its last note: the bound on a stale 304.
ENTRY_TTL_S = 10
# A deleted report's revision: above any real one; owner 0 is nobody.
_TOMBSTONE = 2**62

# Keep the higher revision: ARGV[1] revision, ARGV[2] value, ARGV[3] seconds to live.
_KEEP_HIGHEST = """
local current = redis.call('GET', KEYS[1])
if current and tonumber(string.match(current, '^%d+')) > tonumber(ARGV[1]) then
    return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""


class Entry(NamedTuple):
    revision: int
    owner_id: int


def enabled() -> bool:
    return isinstance(caches["default"], RedisCache)


@functools.cache
def _keep_highest(client) -> Script:
    """The script, hashed once per client: every section that ends notes a revision."""
    return client.register_script(_KEEP_HIGHEST)


def _client_and_key(report_id):
    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        return None, None
    key = cache.make_and_validate_key(f"report-status:{report_id}")
    return get_redis_connection("default"), key


def note(*, report_id, revision: int, owner_id: int) -> None:
    """Record that the report is at `revision` (or later); after the change is committed."""
    client, key = _client_and_key(report_id)
    if client is None:
        return
    try:
        _keep_highest(client)(
            keys=[key], args=[revision, f"{revision} {owner_id}", ENTRY_TTL_S], client=client
        )
    except RedisError as exc:
        logger.warning("status cache unreachable, revision %s of %s not noted: %s", revision, report_id, exc)


def lookup(report_id) -> Entry | None:
    """The latest revision noted for the report, or None: then the database answers."""
    return _lookup(report_id, with_body=False)[0]


def lookup_with_body(report_id) -> tuple[Entry | None, dict | None]:
    """The latest revision noted, and the status body kept for exactly that revision (or None); one round trip.

    For a first, unconditional GET; a poller holding an ETag needs only the
    revision (lookup), not the body moved from Redis to be thrown away.
    """
    return _lookup(report_id, with_body=True)


def _lookup(report_id, *, with_body: bool) -> tuple[Entry | None, dict | None]:
    client, key = _client_and_key(report_id)
    if client is None:
        return None, None
    try:
        value, kept = client.mget([key, _body_key(report_id)]) if with_body else (client.get(key), None)
    except RedisError as exc:
        logger.warning("status cache unreachable, lookup skipped: %s", exc)
        return None, None
    if value is None:
        return None, None
    revision, owner_id = value.split()
    entry = Entry(int(revision), int(owner_id))
    if kept is None:
        return entry, None
    kept_revision, _, body = kept.partition(b" ")
    # A body kept for an earlier revision is not this one's; the database answers.
    return entry, (json.loads(body) if int(kept_revision) == entry.revision else None)


def keep_body(*, report_id, revision: int, body: dict) -> None:
    """Keep the status body read from the database at `revision`, for the next first GET of the same revision.

    The first request of every poller is unconditional, so it would read the
    report from the database even when nothing changed; with 100 tabs opening
    a report in the same second while its workers keep the database busy,
    those reads were most of the slowest answers (docs/performance.md). The
    body leaves out what depends on the request (the data URL). It is only
    ever served for the revision it was read at, so a late writer of an older
    body makes a miss, never a stale answer. Its estimate (eta_seconds) is
    that of the first reader, for at most ENTRY_TTL_S, as a poller holding
    the same ETag sees it too.
    """
    client, _ = _client_and_key(report_id)
    if client is None:
        return
    try:
        client.set(_body_key(report_id), f"{revision} {json.dumps(body)}", ex=ENTRY_TTL_S)
    except RedisError as exc:
        logger.warning("status cache unreachable, body of %s not kept: %s", report_id, exc)


def _body_key(report_id) -> str:
    return caches["default"].make_and_validate_key(f"report-status-body:{report_id}")


def forget(report_id) -> None:
    """The report is gone: no revision noted later counts."""
    note(report_id=report_id, revision=_TOMBSTONE, owner_id=0)
