"""Shared fixtures: service discovery, users, API clients, the demo data.

Tests that need a real server ask for it through `require_service`: where the
server is missing they are skipped with the reason, except with
REQUIRE_SERVICES=1 (CI), where a missing service fails the test.
"""

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent
SHARED_DATA = REPO.parent / "shared" / "data" / "wyscout-2017-18"
DEMO_DATA = REPO / "demo" / "wyscout-world-cup-2018.tar.xz"

# Real Celery workers and storage for pipeline tests, one set per session (tests/pipeline.py).
pytest_plugins = ["tests.pipeline"]

SERVICES = {
    "mariadb": ("127.0.0.1", 3306),
    "rabbitmq": ("127.0.0.1", 5672),
    "redis": ("127.0.0.1", 6379),
}


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, *, timeout: float = 60.0, interval: float = 0.1, message: str = "condition"):
    """Poll until `condition()` is truthy and return it; fail naming `message` after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {message}")
        time.sleep(interval)


def process_groups_stop(processes) -> None:
    """Stop processes started with start_new_session=True, each with its whole group (a prefork worker's children).

    SIGTERM to all first, so they shut down together; SIGKILL to any still there after 20 s.
    """
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def need(reason_ok: bool, reason: str) -> None:
    """Skip (or, with REQUIRE_SERVICES=1, fail) when a prerequisite is missing."""
    if reason_ok:
        return
    if services_required():
        pytest.fail(f"required: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def require_service():
    def check(name: str) -> None:
        host, port = SERVICES[name]
        need(port_open(host, port), f"{name} is not reachable on {host}:{port}")

    return check


@pytest.fixture(scope="session")
def shared_data() -> Path:
    need(SHARED_DATA.is_dir(), f"the full data set is not at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="analyst", password="pw-analyst-123")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="scout", password="pw-scout-123")


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def auth_client(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user=user)
    return client


def pytest_collection_modifyitems(config, items):
    """Tests on the World Cup data run last; on the production-like pass every test needs the servers.

    The `world_cup` data is committed once per session (see below) and stays
    for every later test: tests that count rows from an empty database must
    run before it.
    """
    items.sort(key=lambda item: "world_cup" in getattr(item, "fixturenames", ()))
    if os.environ.get("TEST_STACK") != "production":
        return
    missing = [name for name, (host, port) in SERVICES.items() if not port_open(host, port)]
    if not missing:
        return
    reason = f"production-like stack: {', '.join(missing)} not reachable"
    if services_required():
        raise pytest.UsageError(f"required: {reason}")
    for item in items:
        item.add_marker(pytest.mark.skip(reason=reason))


def pytest_sessionfinish(session, exitstatus):
    """A passing run leaves nothing behind; a failing one keeps its folder (worker logs) to read."""
    import shutil

    from django.conf import settings

    var_dir = Path(settings.VAR_DIR)
    if exitstatus == 0 and var_dir.parent.name == "test" and var_dir.name == str(os.getpid()):
        shutil.rmtree(var_dir, ignore_errors=True)


# --- World Cup 2018 demo data, imported once per test session -------------------
# pytest-django wraps each `db` test in a rolled-back transaction; data imported
# through django_db_blocker outside those transactions is committed to the test
# database and seen by every later test (which is why they run last, see
# pytest_collection_modifyitems). Any app's tests can ask for
# `world_cup` (it implies database access; add `db` or `@pytest.mark.django_db`
# as usual).


@pytest.fixture(scope="session")
def world_cup_import(django_db_setup, django_db_blocker):
    from football.importer.services import wyscout_import

    need(DEMO_DATA.is_file(), f"the demo data is not at {DEMO_DATA}")
    with django_db_blocker.unblock():
        return wyscout_import(path=DEMO_DATA)


@pytest.fixture
def world_cup(world_cup_import, django_db_blocker):
    """The World Cup 2018 (64 matches, 101,759 events) in the football tables; returns the ImportResult."""
    from football.importer.services import wyscout_import
    from football.models import Dataset

    with django_db_blocker.unblock():
        # A transactional test (transactional_db, live_server) flushes every
        # table when it ends: import again, once, for the tests after it.
        if not Dataset.objects.filter(version=world_cup_import.version).exists():
            wyscout_import(path=DEMO_DATA)
    return world_cup_import
