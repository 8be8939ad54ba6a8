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


def test_threads_share_one_client_and_each_command_borrows_a_connection(require_service):
    """Django would build a redis-py client per operation; this cache builds one per pool."""
    require_service("redis")
    import threading

    cache = FailOpenRedisCache("redis://127.0.0.1:6379/15", {})
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client("any-key", write=True) is client
    errors = []

    def work(index: int) -> None:
        try:
            for step in range(200):
                cache.set(f"shared-client-{index}", step, 10)
                assert cache.get(f"shared-client-{index}") == step
        except Exception as exc:  # collected: an assertion in a thread would not fail the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert cache._cache.get_client(write=True) is client
    cache.delete_many([f"shared-client-{index}" for index in range(8)])


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
