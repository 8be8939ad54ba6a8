"""The Redis cache (django-redis with IGNORE_EXCEPTIONS) fails open: a refused connection is a miss, never an error."""

import pytest
from django_redis.cache import RedisCache

from conftest import port_open

FAIL_OPEN = {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1, "IGNORE_EXCEPTIONS": True}


def unreachable_cache() -> RedisCache:
    # Port 1 on localhost refuses at once: Redis "down".
    assert not port_open("127.0.0.1", 1, timeout=0.2)
    return RedisCache("redis://127.0.0.1:1/0", {"OPTIONS": FAIL_OPEN})


def test_the_configured_cache_fails_open(settings):
    """The settings themselves ask for it: without IGNORE_EXCEPTIONS every request would 500 while Redis is down."""
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set: the cache is local memory")
    assert settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache"
    assert settings.CACHES["default"]["OPTIONS"]["IGNORE_EXCEPTIONS"] is True


def test_reads_miss_and_writes_are_dropped_while_redis_is_down():
    cache = unreachable_cache()
    assert cache.get("throttle_user_1") is None
    assert cache.get("missing", "fallback") == "fallback"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.set("a", 1) is None
    assert not cache.add("a", 1)
    assert not cache.delete("a")


def test_a_reachable_redis_still_works(require_service):
    require_service("redis")
    cache = RedisCache("redis://127.0.0.1:6379/15", {"OPTIONS": FAIL_OPEN})
    cache.set("fail-open-check", 42, 10)
    assert cache.get("fail-open-check") == 42
    cache.delete("fail-open-check")


def test_threads_share_one_client_and_each_command_borrows_a_connection(require_service):
    """Django's own backend builds a redis-py client per operation (0.2 ms each); django-redis keeps one."""
    require_service("redis")
    import threading

    cache = RedisCache("redis://127.0.0.1:6379/15", {"OPTIONS": FAIL_OPEN})
    client = cache.client.get_client(write=True)
    assert cache.client.get_client(write=False) is client
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
    assert cache.client.get_client(write=True) is client
    cache.delete_many([f"shared-client-{index}" for index in range(8)])


@pytest.mark.django_db
def test_api_answers_while_the_cache_is_down(settings, auth_client):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": FAIL_OPEN,
        }
    }
    assert auth_client.get("/api/reports/").status_code == 200
