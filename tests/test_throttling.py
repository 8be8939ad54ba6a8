"""The counting throttles (config/throttling.py): the limit, the sliding window, an honest Retry-After.

Each case runs on the local-memory cache (the embedded default) and on a real
Redis through the project's cache backend (the pipeline path).
"""

import os
import uuid

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.test import RequestFactory
from django_redis.cache import RedisCache

from config.throttling import UserRateThrottle

# A Redis database no other test uses (see tests/test_security.py), with a key prefix per run.
REDIS_URL = "redis://127.0.0.1:6379/10"


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["locmem", "redis"])
def cache(request):
    if request.param == "locmem":
        yield LocMemCache(f"throttle-{uuid.uuid4().hex}", {})
        return
    request.getfixturevalue("require_service")("redis")
    redis_cache = RedisCache(
        REDIS_URL,
        {
            "KEY_PREFIX": f"throttle-test-{os.getpid()}-{uuid.uuid4().hex}",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True},
        },
    )
    yield redis_cache
    redis_cache.clear()


def throttle_for(cache, clock: Clock, rate: str) -> UserRateThrottle:
    throttle = UserRateThrottle()
    throttle.cache, throttle.timer = cache, clock
    throttle.rate = rate
    throttle.num_requests, throttle.duration = throttle.parse_rate(rate)
    return throttle


def request_by(user_id: int):
    request = RequestFactory().get("/api/reports/")
    request.user = type("User", (), {"is_authenticated": True, "pk": user_id})()
    return request


def test_allows_the_rate_then_refuses(cache):
    clock = Clock(600.0 * 1000 + 10)  # 10 s into a minute's window, the previous one empty
    throttle = throttle_for(cache, clock, "5/min")
    answers = [throttle.allow_request(request_by(1), None) for _ in range(6)]
    assert answers == [True] * 5 + [False]
    # Retrying early is refused without prolonging the wait.
    wait = throttle.wait()
    assert not any(throttle.allow_request(request_by(1), None) for _ in range(10))
    assert throttle.wait() == wait
    # Another user has a count of their own.
    assert throttle_for(cache, clock, "5/min").allow_request(request_by(2), None)


def test_the_previous_window_weighs_in_as_the_period_slides(cache):
    clock = Clock(60.0 * 1000 + 50)  # 50 s into window 1000
    throttle = throttle_for(cache, clock, "6/min")
    assert all(throttle.allow_request(request_by(1), None) for _ in range(6))

    clock.now += 20  # 10 s into window 1001: the sliding minute still holds 5/6 of window 1000
    assert throttle.allow_request(request_by(1), None)  # 6 * 5/6 + 1 = 6
    assert not throttle.allow_request(request_by(1), None)  # 5 + 2 > 6

    clock.now += 40  # 50 s in: 1/6 of window 1000 is left, 1 + 3 = 4
    assert throttle.allow_request(request_by(1), None)


@pytest.mark.parametrize("burst, offset", [(7, 5.0), (7, 55.0), (12, 30.0), (20, 1.0)])
def test_retry_after_is_when_the_next_request_is_allowed(cache, burst, offset):
    # Refused requests count too, so the early probe and the on-time one are
    # made by two users with the same history.
    clock = Clock(60.0 * 2000 + offset)
    waits = []
    for user_id in (1, 2):
        throttle = throttle_for(cache, clock, "6/min")
        answers = [throttle.allow_request(request_by(user_id), None) for _ in range(burst)]
        assert answers.count(True) == 6 and answers[-1] is False
        waits.append(throttle.wait())
    wait = waits[0]
    assert wait == waits[1] and wait >= 1

    # One second early is still refused (unless the hint is the one-second minimum) ...
    if wait > 1:
        early = throttle_for(cache, Clock(clock.now + wait - 1), "6/min")
        assert not early.allow_request(request_by(1), None)
    # ... and on time it is allowed.
    later = throttle_for(cache, Clock(clock.now + wait), "6/min")
    assert later.allow_request(request_by(2), None)


def test_fails_open_while_redis_is_unreachable():
    unreachable = RedisCache(
        "redis://127.0.0.1:1/0", {"OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True}}
    )
    throttle = throttle_for(unreachable, Clock(1000.0), "1/min")
    assert all(throttle.allow_request(request_by(1), None) for _ in range(3))
