"""The Redis cache fails open: a refused connection is a miss, never an error."""

import pytest

from config.cache import FailOpenRedisCache
from conftest import port_open


def unreachable_cache() -> FailOpenRedisCache:
    # Port 1 on localhost refuses at once: Redis "down".
    assert not port_open("127.0.0.1", 1, timeout=0.2)
    return FailOpenRedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 1}})


def test_reads_miss_and_writes_are_dropped_while_redis_is_down():
    cache = unreachable_cache()
    assert cache.get("throttle_user_1") is None
    assert cache.get("missing", "fallback") == "fallback"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.set("a", 1) is None
    assert cache.add("a", 1) is False
    assert cache.delete("a") is False


def test_a_reachable_redis_still_works(require_service):
    require_service("redis")
    cache = FailOpenRedisCache("redis://127.0.0.1:6379/15", {})
    cache.set("fail-open-check", 42, 10)
    assert cache.get("fail-open-check") == 42
    cache.delete("fail-open-check")


@pytest.mark.django_db
def test_api_answers_while_the_cache_is_down(settings, auth_client):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    assert auth_client.get("/api/reports/").status_code == 200
