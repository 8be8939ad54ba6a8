"""/healthz and /readyz (config.health): unauthenticated, cheap, and honest about each dependency."""

import socket
import threading
import time

import pytest

from config import health
from config.celery_app import app as celery_app

CHECKED = {"database", "broker", "result_backend", "storage"}


@pytest.fixture(autouse=True)
def fresh_readiness():
    """Each test checks afresh: an answer kept from another test's broker would be the wrong one."""
    health.readiness_forget()
    yield
    health.readiness_forget()


def test_healthz_is_up_without_auth_or_io(client):
    # No django_db mark: any database access in the view would raise here.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.mysql
def test_readyz_reports_every_dependency_ok(client):
    response = client.get("/readyz")
    body = response.json()
    assert body == dict.fromkeys(CHECKED, "ok")
    assert response.status_code == 200


@pytest.fixture
def point_broker_at(monkeypatch):
    """Make the Celery app's broker another URL for one test (Celery prefers the environment's)."""

    def point(url: str) -> None:
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        monkeypatch.setitem(celery_app.conf, "broker_url", url)

    return point


@pytest.mark.django_db
def test_readyz_is_503_naming_a_refused_broker(client, admin_client, point_broker_at):
    # A port nothing listens on: bind one, read its number, close it.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    point_broker_at(f"amqp://guest:guest@127.0.0.1:{port}//")
    response = admin_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["broker"].startswith("error: ")
    assert {name for name, value in body.items() if value == "ok"} == CHECKED - {"broker"}
    # Terse to anyone else: which check failed, not the driver's words.
    anonymous = client.get("/readyz")
    assert anonymous.status_code == 503
    assert anonymous.json() == {**dict.fromkeys(CHECKED, "ok"), "broker": "error"}


@pytest.mark.django_db
def test_readyz_keeps_its_answer_for_a_few_seconds(client, settings, monkeypatch):
    settings.READYZ_CACHE_S = 60
    runs = []
    monkeypatch.setitem(health.CHECKS, "database", lambda: runs.append(1))
    for _ in range(5):
        assert client.get("/readyz").json()["database"] == "ok"
    assert len(runs) == 1
    health.readiness_forget()
    client.get("/readyz")
    assert len(runs) == 2


@pytest.mark.django_db
def test_readyz_answers_within_the_timeout_when_a_broker_hangs(client, settings, point_broker_at):
    """A server that accepts the connection and never speaks: the check must give up, not hang."""
    settings.HEALTH_CHECK_TIMEOUT_S = 0.5
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    accepted = []
    stop = threading.Event()

    def accept_and_say_nothing():
        silent.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(silent.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept_and_say_nothing, daemon=True)
    thread.start()
    point_broker_at(f"amqp://guest:guest@127.0.0.1:{silent.getsockname()[1]}//")
    try:
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        silent.close()
    assert response.status_code == 503
    assert response.json()["broker"] == "error"
    assert accepted, "the broker check never reached the silent server"
    assert elapsed < 2.0
