"""Throttles that count requests instead of listing them: one small cache round trip per request.

They keep DRF's scopes, rates, cache keys and 429 answers, but count in fixed
windows (the current window, plus the previous one weighted by how much of it
the sliding period still covers) instead of DRF's list of every request's
time. On Redis the count is one pipeline; elsewhere three cache calls. A
refused request is taken back, so retrying early does not prolong a wait.
The estimate assumes the previous window's requests were even: after a burst,
Retry-After can say up to a period plus a period/limit. Like the cache
(django-redis with IGNORE_EXCEPTIONS) they fail open while Redis is down.
Why: docs/performance.md, "Why the code is as it is".
"""

import logging
import math

from django.core.cache import cache as default_cache
from django.core.cache import caches
from django_redis.cache import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import throttling

logger = logging.getLogger(__name__)


class CountingRateThrottle(throttling.SimpleRateThrottle):
    cache = default_cache
    # Set by SimpleRateThrottle from the rate ("6000/min": 6000 requests, 60 s), and per request here.
    num_requests: int
    duration: int
    now: float
    current: int
    previous: int

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        try:
            self.current, self.previous = self._count(f"{self.key}:{window}", f"{self.key}:{window - 1}")
        except (RedisConnectionError, RedisTimeoutError) as exc:
            logger.warning("throttle not counted, cache unreachable: %s", exc)
            return True
        # This request included: the limit is reached, not passed, by the last one allowed.
        if self._estimate() <= self.num_requests:
            return True
        self._uncount(f"{self.key}:{window}")
        self.current -= 1
        return False

    def _overlap(self, now: float) -> float:
        """How much of the previous window the sliding period ending at `now` still covers."""
        return 1 - (now % self.duration) / self.duration

    def _estimate(self) -> float:
        return self.previous * self._overlap(self.now) + self.current

    def _count(self, current_key: str, previous_key: str) -> tuple[int, int]:
        """Add this request to the current window; the current and previous windows' counts."""
        # `default_cache` is Django's proxy of this thread's default cache, not the backend itself.
        backend = caches["default"] if self.cache is default_cache else self.cache
        if isinstance(backend, RedisCache):
            current_key = backend.make_and_validate_key(current_key)
            previous_key = backend.make_and_validate_key(previous_key)
            pipeline = backend.client.get_client(write=True).pipeline(transaction=False)
            pipeline.incr(current_key)
            pipeline.expire(current_key, 2 * self.duration)
            pipeline.get(previous_key)
            current, _, previous = pipeline.execute()
            return int(current), int(previous or 0)
        self.cache.add(current_key, 0, 2 * self.duration)
        try:
            current = self.cache.incr(current_key)
        except ValueError:  # expired between add and incr
            self.cache.set(current_key, 1, 2 * self.duration)
            current = 1
        return current, int(self.cache.get(previous_key, 0))

    def _uncount(self, current_key: str) -> None:
        try:
            self.cache.decr(current_key)
        except ValueError:  # the window's counter expired meanwhile: nothing to take back
            pass
        except (RedisConnectionError, RedisTimeoutError) as exc:
            logger.warning("refused request not taken back, cache unreachable: %s", exc)

    def wait(self) -> float:
        """Seconds until the next request would be allowed (the Retry-After header)."""
        elapsed = self.now % self.duration
        room = self.num_requests - self.current - 1  # what the next request would leave in this window
        if room >= 0:
            if not self.previous:
                return 1.0
            # The previous window's weight fades until previous * overlap + current + 1 fits the limit.
            return max(1.0, math.ceil(self.duration * (1 - room / self.previous) - elapsed))
        # This window alone is full: in the next one it is the previous window, fading the same way.
        fits_at = self.duration * (1 - (self.num_requests - 1) / self.current)
        return max(1.0, math.ceil(self.duration - elapsed + fits_at))


class UserRateThrottle(CountingRateThrottle, throttling.UserRateThrottle):
    """DRF's per-user (or, without credentials, per-address) `user` scope, counted."""


class AnonRateThrottle(CountingRateThrottle, throttling.AnonRateThrottle):
    """DRF's per-address `anon` scope for requests without credentials, counted."""
