"""The status revision of each report in Redis, so that a poller's conditional GET skips the database.

Redis keeps `<revision> <owner id>` per report, written by whoever learns a
revision (the writer after its commit, any read that went to the database);
a Lua script keeps the highest, so writers finishing out of order cannot put
an older state back. Beside it, the status body last read from the database
(keep_body), served only for exactly that revision. A deleted report's entry
becomes a tombstone that outranks every revision.

What bounds a fault: a lost note gives pollers holding the previous ETag a
304 for at most ENTRY_TTL_S; Redis unreachable sends every request to the
database; on a cache that is not Redis (embedded) this module does nothing.
Why it exists (the p99 it brought down): docs/performance.md, "Why the code is as it is".
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

    Without what depends on the request (the data URL). Served only for the
    revision it was read at, so a late writer of an older body makes a miss,
    never a stale answer; its eta_seconds is the first reader's, for at most
    ENTRY_TTL_S.
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
