"""A Redis cache that fails open: while Redis is unreachable, reads miss and writes are dropped.

The cache holds nothing that must not be lost: throttle counters, report
status revisions and the status ETA's recent durations. Django's RedisCache
raises on a refused connection, which turned every authenticated request
into a 500 while Redis was down (docs/reliability.md). With this backend the
API keeps answering; throttling is off until Redis is back, and each failure
is logged.

It also keeps one redis-py client per connection pool. Django builds a new
one for every cache operation, and building one copies redis-py's table of
about 170 response callbacks: 0.2 ms each time, a third of the CPU of a
status poll's 304, which makes two such operations (docs/performance.md).
A client holds no connection of its own (it borrows one from the pool for
each command), so threads can share it.
"""

import logging

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError)


def _fail_open(default):
    def decorate(method):
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except _UNREACHABLE as exc:
                logger.warning("cache unreachable, %s skipped: %s", method.__name__, exc)
                return default() if callable(default) else default

        wrapper.__name__ = method.__name__
        wrapper.__doc__ = method.__doc__
        return wrapper

    return decorate


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class FailOpenRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except _UNREACHABLE as exc:
            logger.warning("cache unreachable, get skipped: %s", exc)
            return default

    get_many = _fail_open(dict)(RedisCache.get_many)
    set = _fail_open(None)(RedisCache.set)
    set_many = _fail_open(list)(RedisCache.set_many)
    add = _fail_open(False)(RedisCache.add)
    delete = _fail_open(False)(RedisCache.delete)
    touch = _fail_open(False)(RedisCache.touch)
    has_key = _fail_open(False)(RedisCache.has_key)
