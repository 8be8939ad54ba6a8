"""Load (issue 6, item 4): concurrent report creation and status polling against a real server.

50 clients each create a report of 10 World Cup players (fast sections) at
once, while 100 pollers read the reports' status for a bounded time, through gunicorn, with real
workers draining the queue. Every creation must be accepted (202) or
deliberately throttled (429); every accepted report must complete, with every
task record done and exactly one partial per (player, section). The create and
status latencies (p50, p99) are printed and recorded as test properties.
"""

import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.conf import settings
from rest_framework.authtoken.models import Token

from conftest import need
from football.models import Player
from reports.models import Partial, Report, ReportStatus, ReportTask, TaskState
from reports.sections import REGISTRY
from reports.tests.conftest import Workers, wait_for
from reports.tests.faults import RabbitMQNode
from tests.servers import WebServer, process_env

CREATORS = 50
PLAYERS_PER_REPORT = 10
POLLERS = 100
# A frontend polls about once a second; the pollers pace themselves like it.
POLL_INTERVAL_S = 1.0
# The pollers run for this long (or until every report is complete), then the
# queue drains without them: long enough to overlap every creation and the
# busiest part of the run.
POLL_WINDOW_S = 45
COMPLETION_TIMEOUT_S = 480
FAST_SECTIONS = [section.name for section in REGISTRY if section.queue == "fast"]
USERS = 10

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    # Above the completion timeout plus the stack's start and the demo data's import.
    pytest.mark.timeout(COMPLETION_TIMEOUT_S + 240),
]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(1000 * statistics.median(values), 1),
        "p99_ms": round(1000 * _percentile(values, 0.99), 1),
        "max_ms": round(1000 * max(values), 1),
    }


@pytest.fixture
def private_broker():
    """The broker URL for the load's server and worker, used by nothing else.

    The embedded broker folder is this test run's own already. RabbitMQ's
    `fast` queue on the machine's node is shared with any other test session
    or benchmark running at the time, whose workers would take this test's
    messages (and find no such task in their database): the load runs on a
    RabbitMQ node of its own.
    """
    if not settings.CELERY_BROKER_URL.startswith("amqp"):
        yield {}
        return
    need(RabbitMQNode.available(), "rabbitmq-server is not installed")
    log_dir = Path(settings.VAR_DIR) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    node = RabbitMQNode(Path(settings.VAR_DIR) / "load-rabbitmq", log_dir)
    node.start()
    try:
        yield {"CELERY_BROKER_URL": node.url}
    finally:
        node.stop()


@pytest.fixture
def load_stack(world_cup, django_user_model, private_broker):
    """gunicorn (2 processes x 8 threads) and a fast worker, over the test database."""
    users = [django_user_model.objects.create_user(username=f"load-{n}") for n in range(USERS)]
    tokens = [Token.objects.create(user=user).key for user in users]
    env = process_env(**private_broker)
    log_dir = Path(settings.VAR_DIR) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    workers = Workers(env, log_dir)
    workers.start("fast", concurrency="--concurrency=2")
    try:
        with WebServer(env=env, workers=2, threads=8, name="load") as server:
            yield server, tokens
    finally:
        workers.stop_all()


def test_concurrent_creations_and_pollers_lose_nothing(load_stack, record_property, capsys):
    server, tokens = load_stack
    player_ids = list(
        Player.objects.order_by("pk").values_list("pk", flat=True)[: CREATORS * PLAYERS_PER_REPORT]
    )
    assert len(player_ids) == CREATORS * PLAYERS_PER_REPORT
    create_latencies: list[float] = []
    status_latencies: list[float] = []
    report_ids: list[str] = []
    owner_token: dict[str, str] = {}
    lock = threading.Lock()
    start = threading.Barrier(CREATORS)

    def create(index: int) -> int:
        body = {
            "name": f"Load {index}",
            "players": player_ids[index * PLAYERS_PER_REPORT : (index + 1) * PLAYERS_PER_REPORT],
            "sections": FAST_SECTIONS,
        }
        headers = {"Authorization": f"Token {tokens[index % USERS]}"}
        start.wait()  # all 50 at once
        began = time.monotonic()
        response = requests.post(f"{server.url}/api/reports/", json=body, headers=headers, timeout=60)
        with lock:
            create_latencies.append(time.monotonic() - began)
            if response.status_code == 202:
                report_ids.append(response.json()["id"])
                owner_token[report_ids[-1]] = headers["Authorization"]
        return response.status_code

    finished = threading.Event()

    def poll(index: int) -> int:
        """Poll one report's status, as its owner, with ETags, until every report has completed."""
        session = requests.Session()
        etags: dict[str, str] = {}
        polls = 0
        deadline = time.monotonic() + POLL_WINDOW_S
        while not finished.is_set() and time.monotonic() < deadline:
            with lock:
                known = list(report_ids)
            if known:
                report_id = known[index % len(known)]
                headers = {"Authorization": owner_token[report_id]}
                if report_id in etags:
                    headers["If-None-Match"] = etags[report_id]
                began = time.monotonic()
                response = session.get(f"{server.url}/api/reports/{report_id}/", headers=headers, timeout=60)
                elapsed = time.monotonic() - began
                assert response.status_code in (200, 304), response.text
                etags[report_id] = response.headers["ETag"]
                with lock:
                    status_latencies.append(elapsed)
                polls += 1
            # Pacing, not synchronisation: a poller waits like a browser between reads.
            finished.wait(POLL_INTERVAL_S)
        return polls

    began = time.monotonic()
    with (
        ThreadPoolExecutor(max_workers=POLLERS) as pollers,
        ThreadPoolExecutor(max_workers=CREATORS) as creators,
    ):
        polling = [pollers.submit(poll, n) for n in range(POLLERS)]
        codes = list(creators.map(create, range(CREATORS)))
        try:
            assert set(codes) <= {202, 429}, codes
            accepted = codes.count(202)
            assert accepted == len(report_ids) == Report.objects.count()
            wait_for(
                lambda: not Report.objects.filter(pk__in=report_ids, completed_at__isnull=True).exists(),
                timeout=COMPLETION_TIMEOUT_S,
                interval=0.5,
                message="every accepted report to complete",
            )
            drained = time.monotonic() - began
        finally:
            finished.set()
        polls = sum(future.result() for future in polling)

    # Nothing lost: every task of every accepted report is done, each (player, section) computed once.
    tasks = ReportTask.objects.filter(report_id__in=report_ids)
    assert tasks.count() == accepted * PLAYERS_PER_REPORT * len(FAST_SECTIONS)
    assert set(tasks.values_list("state", flat=True)) == {TaskState.DONE}
    assert set(Report.objects.filter(pk__in=report_ids).values_list("status", flat=True)) == {
        ReportStatus.COMPLETE
    }
    partials = Partial.objects.filter(tasks__report_id__in=report_ids).distinct()
    assert partials.count() == accepted * PLAYERS_PER_REPORT * len(FAST_SECTIONS)
    assert set(partials.values_list("writes", flat=True)) == {1}

    figures = {
        "created": accepted,
        "throttled": codes.count(429),
        "status_polls": polls,
        "create": _summary(create_latencies),
        "status": _summary(status_latencies),
        "drain_s": round(drained, 1),
    }
    record_property("load", figures)
    with capsys.disabled():
        print(f"\nload: {json.dumps(figures)}")
