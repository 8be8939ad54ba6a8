"""Faults: processes killed, servers stopped, paused or flushed, connections cut, a poison task, two beats.

Each test runs a real report through real workers, injects one fault while a
task is running, and ends with `assert_invariants` over every report the API
accepted: every section done, or failed with its error; one partial per
(player, section) written once; one merged file per generation; no storage key
outside `reports/`.

On the production-like stack (TEST_STACK=production) the tests start their
own RabbitMQ node, redis-server and moto server on free ports (see
reports/tests/faults.py), so they can stop and restart them without
disturbing the servers the rest of the suite uses; the database is the run's
own MariaDB test database. The workers get those servers' URLs in their
environment; this process publishes to the same broker by switching its
Celery app's broker URL for the test (`publishing_to`).

A task is held in the middle of its section by the test worker's fault app
(reports/tests/fault_app.py), which is what lets a test act at a known moment
without sleeping: it waits for the held task's pid, acts, then releases it.
"""

import os
import signal
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import kombu.pools
import orjson
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import OperationalError, connection
from django.utils import timezone

from config.celery_app import app as celery_app
from reports.models import Partial, Report, ReportStatus, ReportTask, TaskState
from reports.services import report_tasks_reap
from tests.pipeline import broker_purge

from .builders import small_league
from .conftest import PRODUCTION, wait_for
from .faults import MotoServer, Process, RabbitMQNode, RedisServer, Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

production_only = pytest.mark.skipif(
    not PRODUCTION, reason="needs the production-like stack (TEST_STACK=production): RabbitMQ, Redis, S3"
)

# Bounds for each wait: generous for a loaded CI machine, far below the test timeout.
REPORT_TIMEOUT_S = 120
STEP_TIMEOUT_S = 60
# While the broker is down, creating a report must answer within this long.
BROKER_DOWN_ANSWER_S = 10
# MariaDB's ER_NO_SUCH_THREAD: KILL of a connection that closed since it was listed.
UNKNOWN_THREAD_ID = 1094


# --- The stack: throwaway servers, workers, and this process's view of them --------


class Servers:
    def __init__(self, base: Path):
        log_dir = base / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.rabbitmq = RabbitMQNode(base / "rabbitmq", log_dir)
        self.redis = RedisServer(base / "redis", log_dir)
        self.moto = MotoServer(log_dir)

    def start(self) -> None:
        for server in (self.rabbitmq, self.redis, self.moto):
            server.start()

    def stop(self) -> None:
        for server in (self.rabbitmq, self.redis, self.moto):
            server.stop()


@pytest.fixture(scope="module")
def servers():
    if not PRODUCTION:
        yield None
        return
    if not (RabbitMQNode.available() and RedisServer.available()):
        pytest.skip("rabbitmq-server or redis-server is not installed")
    started = Servers(Path(settings.VAR_DIR) / "faults" / "servers")
    try:
        started.start()
        yield started
    finally:
        started.stop()


def _reset_producers() -> None:
    # The app builds its connection pool and producer pool from the broker URL
    # on first use and keeps them, and kombu keeps pools per connection in a
    # registry of its own: all closed and forgotten here, the next publish
    # builds them again from the URL configured now.
    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextmanager
def publishing_to(broker_url: str):
    """This process's Celery app publishes to `broker_url` (and checks it for the 503) meanwhile.

    `broker_write_url`, not `broker_url`: Celery reads CELERY_BROKER_URL from
    the environment before its configuration, and the test settings put the
    suite's RabbitMQ there; the write URL is what publishing, the broker check
    and revokes connect to.
    """
    previous = celery_app.conf.get("broker_write_url")
    _reset_producers()
    celery_app.conf["broker_write_url"] = broker_url
    try:
        yield
    finally:
        _reset_producers()
        celery_app.conf["broker_write_url"] = previous


class Stack:
    """The workers of one test and the control folder of the fault app."""

    def __init__(self, env: dict[str, str], base: Path, servers: Servers | None, bucket: dict[str, str]):
        self.base = base
        self.control = base / "control"
        self.control.mkdir(parents=True, exist_ok=True)
        self.log_dir = base / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = {**env, "FAULT_DIR": str(self.control)}
        self.servers = servers
        self.bucket = bucket
        self.workers: dict[str, Worker] = {}
        self.beats: list[Process] = []

    def start_worker(self, queue: str, **fault_env: str) -> Worker:
        return self.start_workers({queue: fault_env})[queue]

    def start_workers(self, queues: dict[str, dict[str, str]]) -> dict[str, Worker]:
        """Start a worker per queue, with its fault environment; they boot side by side."""
        for queue in queues:
            self.stop_worker(queue)
        for queue, fault_env in queues.items():
            self.workers[queue] = Worker(queue, env={**self.env, **fault_env}, log_dir=self.log_dir)
            self.workers[queue].launch()
        for queue in queues:
            self.workers[queue].wait_ready()
        return {queue: self.workers[queue] for queue in queues}

    def start_beat(self, number: int) -> Process:
        beat = Process(
            f"beat-{number}",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
                "--pidfile",
                str(self.base / f"beat-{number}.pid"),
                "-l",
                "INFO",
            ],
            env=self.env,
            log_dir=self.log_dir,
        )
        beat.start()
        self.beats.append(beat)
        return beat

    def stop_worker(self, queue: str) -> None:
        worker = self.workers.pop(queue, None)
        if worker is not None:
            worker.stop()

    def stop_all(self) -> None:
        processes = [*self.beats, *self.workers.values()]
        for process in processes:  # all asked at once, so they shut down side by side
            process.terminate()
        for process in processes:
            process.stop()
        self.workers.clear()

    # The fault app's control files.
    def hold(self) -> None:
        (self.control / "hold").touch()

    def release(self) -> None:
        (self.control / "hold").unlink(missing_ok=True)

    def pids(self, name: str) -> list[int]:
        path = self.control / name
        return [int(line) for line in path.read_text().split()] if path.exists() else []

    def wait_held(self, count: int = 1) -> int:
        """Wait for the `count`-th process to enter the held section; its pid."""
        pids = wait_for(
            lambda: len(self.pids("entered")) >= count and self.pids("entered"),
            timeout=STEP_TIMEOUT_S,
            message=f"a process to enter the held section (time {count})",
        )
        return pids[count - 1]

    def worker_log(self, queue: str) -> str:
        path = self.log_dir / f"worker-{queue}.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def stack(worker_pool, servers, settings, report_storage, request):
    # The session's own workers (other test modules) consume the same queues
    # on the embedded stack: stopped, so only this test's workers run tasks.
    worker_pool.ensure()
    base = Path(settings.VAR_DIR) / "faults" / request.node.name
    env = dict(worker_pool.env)
    bucket: dict[str, str] = {}
    if servers is None:
        # Partial keys repeat across tests (factory ids restart): start from empty storage.
        for folder in ("reports",):
            path = Path(settings.MEDIA_ROOT) / folder
            if path.exists():
                import shutil

                shutil.rmtree(path)
        stack = Stack(env, base, None, bucket)
        yield stack
        stack.stop_all()
        return

    bucket = servers.moto.new_bucket()
    env.update(bucket)
    env.update(
        {
            "CELERY_BROKER_URL": servers.rabbitmq.url,
            "CELERY_RESULT_BACKEND": f"{servers.redis.url}/0",
            "REDIS_URL": f"{servers.redis.url}/1",
            # Bounded S3 calls, so a paused endpoint is seen within seconds.
            "AWS_S3_CONNECT_TIMEOUT_S": "2",
            "AWS_S3_READ_TIMEOUT_S": "2",
        }
    )
    settings.AWS_STORAGE_BUCKET_NAME = bucket["AWS_STORAGE_BUCKET_NAME"]
    settings.AWS_S3_ENDPOINT_URL = bucket["AWS_S3_ENDPOINT_URL"]
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "reports.storage.ReportS3Storage"}}
    settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": env["REDIS_URL"]}}
    stack = Stack(env, base, servers, bucket)
    with publishing_to(servers.rabbitmq.url):
        # The fault tests share this broker: what an earlier test left in a queue
        # would run on this test's one-process workers before its own messages.
        broker_purge()
        yield stack
        stack.stop_all()


# --- Reading the outcome -------------------------------------------------------------


def create(client, player_ids, sections) -> str:
    response = client.post("/api/reports/", {"players": player_ids, "sections": sections}, format="json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def ended(report_id) -> Report | None:
    report = Report.objects.get(pk=report_id)
    return report if report.completed_at else None


def task(report_id, player_id: int, section: str) -> ReportTask:
    return ReportTask.objects.get(report_id=report_id, player_id=player_id, section=section)


def storage_versions(stack: Stack) -> dict[str, int]:
    """Every stored key and how many times it was written.

    On S3, the versions of each key in the test's versioned bucket; on the
    file system, 1 per file (a rewrite is seen through Partial.writes there).
    """
    if stack.servers is None:
        root = Path(settings.MEDIA_ROOT)
        return {path.relative_to(root).as_posix(): 1 for path in root.rglob("*") if path.is_file()}
    client = stack.servers.moto.client()
    counts: dict[str, int] = {}
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=stack.bucket["AWS_STORAGE_BUCKET_NAME"]):
        for version in page.get("Versions", []):
            counts[version["Key"]] = counts.get(version["Key"], 0) + 1
        for marker in page.get("DeleteMarkers", []):
            counts[marker["Key"]] = counts.get(marker["Key"], 0) + 1
    return counts


def assert_invariants(
    client, stack: Stack, report_ids: list[str], *, rewrites_of_same_bytes: bool = False
) -> None:
    """What must hold after any fault, over every report the API accepted.

    `rewrites_of_same_bytes`: for a fault between a section's storage write
    and its database record (the database connection killed), where the
    retry writes the object again; then every version of it must hold the
    same bytes, and the database still counts one write.
    """
    written_keys: set[str] = set()
    for report_id in report_ids:
        report = wait_for(lambda rid=report_id: ended(rid), timeout=REPORT_TIMEOUT_S, message="every report")
        tasks = list(ReportTask.objects.filter(report=report))
        assert tasks, "a report without tasks"
        for record in tasks:
            assert record.state in (TaskState.DONE, TaskState.FAILED), record.__dict__
            if record.state == TaskState.FAILED:
                assert record.error, f"{record.section} of {record.player_id} failed without an error"
            else:
                assert record.partial_id is not None
                if not record.reused:
                    written_keys.add(record.partial_key)
        for queue in ("fast", "slow"):
            queued = [record for record in tasks if record.queue == queue]
            assert getattr(report, f"{queue}_total") == len(queued)
            assert getattr(report, f"{queue}_done") == sum(r.state == TaskState.DONE for r in queued)
            assert getattr(report, f"{queue}_failed") == sum(r.state == TaskState.FAILED for r in queued)
        any_failed = any(record.state == TaskState.FAILED for record in tasks)
        assert report.status == (ReportStatus.FAILED if any_failed else ReportStatus.COMPLETE)
        status = client.get(f"/api/reports/{report_id}/").json()
        assert status["status"] == report.status

        # The completion's outbox row writes the merged file, once per generation; reads serve it.
        wait_for(lambda rid=report_id: merged_written(rid), timeout=STEP_TIMEOUT_S, message="the merged file")
        first = client.get(f"/api/reports/{report_id}/data/")
        second = client.get(f"/api/reports/{report_id}/data/")
        assert first.status_code == second.status_code == 200
        assert first["X-Report-Source"] == second["X-Report-Source"] == "merged"
        report.refresh_from_db()
        assert report.merge_count == report.generation
        assert report.merged_generation == report.generation
        document = first.json()
        for record in tasks:
            if record.state == TaskState.DONE:
                assert document["players"][str(record.player_id)][record.section]["section"] == record.section
        assert {(item["player"], item["section"]) for item in document["failed"]} == {
            (r.player_id, r.section) for r in tasks if r.state == TaskState.FAILED
        }

    # One partial per (player, section) key, written once, whole.
    for key in written_keys:
        partial = Partial.objects.get(key=key)
        assert partial.writes == 1, f"{key} written {partial.writes} times"
        with default_storage.open(key, "rb") as stored:
            body = stored.read()
        assert len(body) == partial.size
        assert orjson.loads(body)["section"] == partial.section
    versions = storage_versions(stack)
    assert versions, "nothing stored"
    outside = [key for key in versions if not key.startswith("reports/")]
    assert outside == [], f"keys outside reports/: {outside}"
    assert not [key for key in versions if "/.tmp-" in key], "a temporary file was left behind"
    rewritten = {key: count for key, count in versions.items() if count != 1}
    if rewrites_of_same_bytes and stack.servers is not None:
        for key in list(rewritten):
            if len(set(object_versions(stack, key))) == 1:
                del rewritten[key]
    assert rewritten == {}, f"objects written more than once: {rewritten}"


def object_versions(stack: Stack, key: str) -> list[bytes]:
    """The bytes of every version of an S3 object."""
    assert stack.servers is not None
    client = stack.servers.moto.client()
    bucket = stack.bucket["AWS_STORAGE_BUCKET_NAME"]
    listed = client.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    return [
        client.get_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])["Body"].read()
        for version in listed
        if version["Key"] == key
    ]


# --- The faults ------------------------------------------------------------------------


@pytest.mark.mysql
def test_worker_killed_mid_task_then_its_main_process_the_task_runs_again(stack, auth_client):
    """SIGKILL the pool process running a section, then the whole worker; restart; it completes.

    RabbitMQ redelivers the unacknowledged message both times. The embedded
    filesystem transport gives a rejected message back (the pool process's
    death) but loses the one its dead main process held: there the reaper
    re-enqueues it.
    """
    league = small_league()
    held, other = league.player_ids[0], league.player_ids[1]
    stack.hold()
    worker = stack.start_workers({"fast": {"FAULT_HOLD": f"shot_map:{held}"}, "slow": {}})["fast"]
    report_id = create(auth_client, [held, other], ["profile", "shot_map", "visuals"])

    first = stack.wait_held(1)
    assert first in worker.pool_pids()
    os.kill(first, signal.SIGKILL)
    # The message of the killed process is delivered again, to a new pool process.
    second = stack.wait_held(2)
    assert second != first
    assert task(report_id, held, "shot_map").attempts == 2

    worker.kill()  # main process and pool at once, with the message unacknowledged
    record = task(report_id, held, "shot_map")
    assert record.state == TaskState.RUNNING and record.attempts == 2
    stack.release()

    if not PRODUCTION:
        # The filesystem transport took the message file when it was fetched.
        assert not _message_waiting(record.pk)
    stack.start_worker("fast")
    if not PRODUCTION:
        # The other fast sections end; the lost one stays running until the reaper
        # finds it, and both players' visuals wait for the report to be ready.
        wait_for(
            lambda: (
                set(
                    ReportTask.objects.filter(report_id=report_id)
                    .exclude(state__in=[TaskState.DONE, TaskState.FAILED])
                    .values_list("player_id", "section", "state")
                )
                == {
                    (held, "shot_map", TaskState.RUNNING),
                    (held, "visuals", TaskState.QUEUED),
                    (other, "visuals", TaskState.QUEUED),
                }
            ),
            timeout=REPORT_TIMEOUT_S,
            message="the other fast sections to end",
        )
        assert not ReportTask.objects.filter(report_id=report_id, queue="slow", dispatched_at__isnull=False)
        later = timezone.now() + timedelta(seconds=settings.REPORT_TASK_DEADLINE_S + 1)
        assert report_tasks_reap(now=later) == 1  # the lost shot_map; the held-back visuals are not lost

    report = wait_for(lambda: ended(report_id), timeout=REPORT_TIMEOUT_S, message="the report")
    assert report.status == ReportStatus.COMPLETE
    record = task(report_id, held, "shot_map")
    assert record.state == TaskState.DONE and record.attempts == 3
    assert task(report_id, held, "visuals").state == TaskState.DONE
    assert_invariants(auth_client, stack, [report_id])


@pytest.mark.mysql
def test_a_worker_killed_mid_report_under_the_window_still_ends_each_section_once(stack, auth_client):
    """The same kills on a report dispatched through its window (reports.fairshare), in several refills.

    The held section is past the first window: a refill published it. Its
    slot stays taken while it is lost (on the embedded transport, until the
    reaper), and the refills go on around it.
    """
    players = small_league().player_ids
    held = players[5]
    stack.hold()
    worker = stack.start_workers({"fast": {"FAULT_HOLD": f"shot_map:{held}"}, "slow": {}})["fast"]
    report_id = create(auth_client, players, ["profile", "shot_map"])
    first = stack.wait_held(1)
    record = task(report_id, held, "shot_map")
    first_window = ReportTask.objects.filter(report_id=report_id).order_by("pk")[
        : settings.REPORT_WINDOW_SECTIONS
    ]
    assert record.pk not in {row.pk for row in first_window}
    os.kill(first, signal.SIGKILL)
    stack.wait_held(2)
    worker.kill()
    stack.release()
    stack.start_worker("fast")
    if not PRODUCTION:
        wait_for(
            lambda: (
                set(
                    ReportTask.objects.filter(report_id=report_id)
                    .exclude(state=TaskState.DONE)
                    .values_list("player_id", "section", "state")
                )
                == {(held, "shot_map", TaskState.RUNNING)}
            ),
            timeout=REPORT_TIMEOUT_S,
            message="every other section to end through the refills",
        )
        later = timezone.now() + timedelta(seconds=settings.REPORT_TASK_DEADLINE_S + 1)
        assert report_tasks_reap(now=later) == 1
    report = wait_for(lambda: ended(report_id), timeout=REPORT_TIMEOUT_S, message="the report")
    assert report.status == ReportStatus.COMPLETE
    assert task(report_id, held, "shot_map").attempts == 3
    assert_invariants(auth_client, stack, [report_id])


@pytest.mark.mysql
def test_poison_task_fails_after_bounded_attempts_while_other_work_goes_on(stack, auth_client):
    """A section that kills its process every time ends failed after REPORT_TASK_MAX_ATTEMPTS."""
    league = small_league()
    poison, healthy = league.player_ids[0], league.player_ids[1]
    stack.start_workers({"fast": {"FAULT_CRASH": f"profile:{poison}"}, "slow": {}})
    report_id = create(auth_client, [poison, healthy], ["profile", "season_stats", "percentiles"])

    report = wait_for(lambda: ended(report_id), timeout=REPORT_TIMEOUT_S, message="the report")
    record = task(report_id, poison, "profile")
    assert record.state == TaskState.FAILED
    assert record.attempts == settings.REPORT_TASK_MAX_ATTEMPTS + 1
    assert f"gave up after {settings.REPORT_TASK_MAX_ATTEMPTS} attempts" in record.error
    # Each attempt killed its process; the last one was refused before computing.
    assert len(stack.pids("crashed")) == settings.REPORT_TASK_MAX_ATTEMPTS
    # The other player's sections, and the poison player's others, all ran.
    others = ReportTask.objects.filter(report_id=report_id).exclude(pk=record.pk)
    assert set(others.values_list("state", flat=True)) == {TaskState.DONE}
    assert report.status == ReportStatus.FAILED
    assert_invariants(auth_client, stack, [report_id])


def _message_waiting(report_task_pk: int) -> bool:
    """Whether the embedded broker's queue folder holds a message for this task record."""
    queue_folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
    celery_id = f"report-task-{report_task_pk}"
    return any(celery_id in path.read_text(errors="replace") for path in queue_folder.iterdir())


@production_only
@pytest.mark.mysql
def test_rabbitmq_restarted_mid_report_503_while_down_then_completes(stack, auth_client):
    league = small_league()
    held, other, later_player = league.player_ids[:3]
    stack.hold()
    stack.start_workers({"fast": {"FAULT_HOLD": f"profile:{held}"}, "slow": {}})
    sections = ["profile", "season_stats", "percentiles"]
    report_id = create(auth_client, [held, other], sections)
    stack.wait_held()

    stack.servers.rabbitmq.stop()
    reports_before = Report.objects.count()
    started = time.monotonic()
    refused = auth_client.post("/api/reports/", {"players": [later_player]}, format="json")
    elapsed = time.monotonic() - started
    assert refused.status_code == 503, refused.content
    assert "broker" in refused.json()["detail"]
    assert refused["Retry-After"]
    assert elapsed < BROKER_DOWN_ANSWER_S, f"answered after {elapsed:.1f}s"
    assert Report.objects.count() == reports_before

    stack.servers.rabbitmq.start()  # the same node and data folder: durable queues come back
    stack.release()
    after = create(auth_client, [later_player], sections)

    report = wait_for(lambda: ended(report_id), timeout=REPORT_TIMEOUT_S, message="the report")
    assert report.status == ReportStatus.COMPLETE
    assert_invariants(auth_client, stack, [report_id, after])


@production_only
@pytest.mark.mysql
def test_redis_flushed_and_restarted_mid_report_status_stays_right(stack, auth_client):
    league = small_league()
    held, other = league.player_ids[:2]
    stack.hold()
    stack.start_workers({"fast": {"FAULT_HOLD": f"shot_map:{held}"}, "slow": {}})
    report_id = create(auth_client, [held, other], ["profile", "shot_map", "visuals", "percentiles"])
    stack.wait_held()

    redis = stack.servers.redis
    redis.flushall()
    redis.stop()
    stack.release()
    # The held section ends while the result backend is gone: its state is in the database.
    wait_for(
        lambda: task(report_id, held, "shot_map").state == TaskState.DONE,
        timeout=STEP_TIMEOUT_S,
        message="the held section to end without Redis",
    )
    redis.start()  # empty: nothing of the report was kept there

    report = wait_for(lambda: ended(report_id), timeout=REPORT_TIMEOUT_S, message="the report")
    assert report.status == ReportStatus.COMPLETE
    status = auth_client.get(f"/api/reports/{report_id}/").json()
    assert status["status"] == "complete"
    assert status["progress"]["percent"] == 100.0
    assert status["progress"]["fast"]["done"] == status["progress"]["fast"]["total"] == 4
    assert_invariants(auth_client, stack, [report_id])


@production_only
@pytest.mark.mysql
def test_s3_unreachable_for_seconds_tasks_retry_with_backoff_and_complete(stack, auth_client):
    league = small_league()
    held, other = league.player_ids[:2]
    stack.hold()
    stack.start_workers({"fast": {"FAULT_HOLD": f"profile:{held}"}, "slow": {}})
    report_id = create(auth_client, [held, other], ["profile", "season_stats", "shot_map", "visuals"])
    stack.wait_held()

    moto = stack.servers.moto
    moto.pause()
    try:
        stack.release()
        # The held section's write times out and the task goes back to wait, with its error.
        retrying = wait_for(
            lambda: ReportTask.objects.filter(report_id=report_id, state=TaskState.RETRYING).first(),
            timeout=STEP_TIMEOUT_S,
            message="a task to retry while S3 is unreachable",
        )
        assert "Timeout" in retrying.error or "timeout" in retrying.error
    finally:
        moto.resume()

    report = wait_for(lambda: ended(report_id), timeout=REPORT_TIMEOUT_S, message="the report")
    assert report.status == ReportStatus.COMPLETE
    assert ReportTask.objects.filter(report_id=report_id, attempts__gt=1).exists()
    assert "Retry in" in stack.worker_log("fast")
    assert_invariants(auth_client, stack, [report_id])


@production_only
@pytest.mark.mysql
def test_database_connection_killed_mid_task_the_task_retries(stack, auth_client):
    league = small_league()
    held, other = league.player_ids[:2]
    stack.hold()
    stack.start_workers({"fast": {"FAULT_HOLD": f"season_stats:{held}"}, "slow": {}})
    report_id = create(auth_client, [held, other], ["profile", "season_stats", "percentiles"])
    stack.wait_held()

    # Every connection to this run's test database but this process's own:
    # the workers', the held task's among them.
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        (own,) = cursor.fetchone()
        cursor.execute(
            "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> %s", [own]
        )
        killed = 0
        for (victim,) in cursor.fetchall():
            try:
                cursor.execute(f"KILL CONNECTION {int(victim)}")
                killed += 1
            except OperationalError as exc:
                if exc.args[0] != UNKNOWN_THREAD_ID:
                    raise  # anything but "that connection has just ended by itself"
        assert killed, "no worker connection to kill"
    stack.release()

    report = wait_for(lambda: ended(report_id), timeout=REPORT_TIMEOUT_S, message="the report")
    assert report.status == ReportStatus.COMPLETE
    record = task(report_id, held, "season_stats")
    assert record.state == TaskState.DONE and record.attempts == 2
    assert "Retry in" in stack.worker_log("fast")
    # An idle worker's killed connection fails its next claim: retried too, never dropped.
    assert "raised unexpected" not in stack.worker_log("fast") + stack.worker_log("slow")
    # A section whose connection died after its S3 write but before its record
    # (an idle worker's, killed too) writes the same object again on retry.
    assert_invariants(auth_client, stack, [report_id], rewrites_of_same_bytes=True)


@pytest.mark.mysql
def test_two_beats_at_once_each_job_runs_once(stack):
    """Two real `celery beat` processes send the same job; the (job, period) claim lets one run through.

    tasks/tests/test_jobs.py races the claim between threads of one process;
    here the senders are two beat processes and the runs happen in a worker.
    """
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from tasks.jobs import DAILY_REAP_SECTIONS
    from tasks.models import JobRun

    period = f"two-beats-{os.getpid()}"
    name = f"fault test: {period}"
    every_second = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name=name,
        task=DAILY_REAP_SECTIONS,
        interval=every_second,
        kwargs=orjson.dumps({"period": period}).decode(),
        queue="slow",
    )
    worker = stack.start_worker("slow")
    beats = [stack.start_beat(number) for number in (1, 2)]
    sent_line = f"Sending due task {name}"
    wait_for(
        lambda: all(beat.log().count(sent_line) >= 3 for beat in beats),
        timeout=STEP_TIMEOUT_S,
        message="each beat to send the job three times",
    )
    for beat in beats:
        beat.stop()
    sent = sum(beat.log().count(sent_line) for beat in beats)

    def handled() -> int:
        log = worker.log()
        return log.count(f"period {period} claimed: running") + log.count(f"period {period} already claimed")

    wait_for(
        lambda: handled() >= sent, timeout=STEP_TIMEOUT_S, message=f"the worker to take all {sent} sends"
    )
    log = worker.log()
    assert log.count(f"period {period} claimed: running") == 1
    assert log.count(f"job {DAILY_REAP_SECTIONS} period {period} done") == 1
    assert log.count(f"period {period} already claimed") == sent - 1
    run = JobRun.objects.get(job=DAILY_REAP_SECTIONS, period=period)
    assert (run.status, run.attempts, run.result) == (JobRun.Status.DONE, 1, {"reenqueued": 0})


# --- Issue 16: transitions split over two commits, storage lost under the database ------------


def data_document(client, report_id) -> dict:
    """The data answer's content, without what differs between equal reports: ids and signed URLs."""
    response = client.get(f"/api/reports/{report_id}/data/")
    assert response.status_code == 200, response.content
    document = response.json()
    for sections in document["players"].values():
        sections.get("visuals", {}).pop("image_urls", None)
    return {key: document[key] for key in ("players", "pending", "failed", "complete")}


def merged_written(report_id) -> Report | None:
    report = Report.objects.get(pk=report_id)
    return report if report.completed_at and report.merged_generation == report.generation else None


def assert_counted_once(report_id) -> Report:
    """The report ended, its counters equal its records' states, and every done section's partial is stored."""
    report = wait_for(lambda: ended(report_id), timeout=REPORT_TIMEOUT_S, message="the report to end")
    tasks = list(ReportTask.objects.filter(report=report))
    for queue in ("fast", "slow"):
        queued = [record for record in tasks if record.queue == queue]
        assert getattr(report, f"{queue}_total") == len(queued)
        assert getattr(report, f"{queue}_done") == sum(r.state == TaskState.DONE for r in queued)
        assert getattr(report, f"{queue}_failed") == sum(r.state == TaskState.FAILED for r in queued)
        assert getattr(report, f"{queue}_reused") == sum(
            r.reused for r in queued if r.state == TaskState.DONE
        )
    for record in tasks:
        if record.state == TaskState.DONE:
            with default_storage.open(record.partial_key, "rb") as stored:
                assert orjson.loads(stored.read())["section"] == record.section
    return report


def storage_empty(stack: Stack) -> None:
    """Every report file gone, as with a bucket replaced by an empty one."""
    if stack.servers is None:
        import shutil

        shutil.rmtree(Path(settings.MEDIA_ROOT) / "reports", ignore_errors=True)
        return
    client = stack.servers.moto.client()
    bucket = stack.bucket["AWS_STORAGE_BUCKET_NAME"]
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            client.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])


@pytest.mark.mysql
def test_worker_killed_between_the_terminal_update_and_the_counters_the_report_still_completes(
    stack, auth_client
):
    """The two paths that once ended a task in one commit and counted it in another: reuse and failure.

    Report B reuses the partial report A stores just before it (the runner's
    reuse path); report C's only section fails (its player is gone). The fast
    worker's process kills itself once at each of those counts, after the
    task's terminal UPDATE. Before the fix the UPDATE had committed, the
    redelivery found the task ended and did nothing, and B and C stayed
    `running` for ever.
    """
    league = small_league()
    shared, lost = league.player_ids[:2]
    a = create(auth_client, [shared], ["profile"])
    b = create(auth_client, [shared], ["profile"])
    c = create(auth_client, [lost], ["profile"])
    from football.models import Player

    Player.objects.filter(pk=lost).delete()
    stack.start_workers({"fast": {"FAULT_CRASH_COUNTING": f"profile:{shared},profile:{lost}"}, "slow": {}})

    for report_id in (a, b, c):
        assert_counted_once(report_id)
    assert len(list(stack.control.glob("count-crashed-*"))) == 2, "both crashes happened"
    reused = task(b, shared, "profile")
    assert reused.state == TaskState.DONE and reused.reused and reused.attempts == 2
    failed = task(c, lost, "profile")
    assert failed.state == TaskState.FAILED and failed.attempts == 2 and failed.error
    assert Report.objects.get(pk=b).status == ReportStatus.COMPLETE
    assert Report.objects.get(pk=c).status == ReportStatus.FAILED
    assert data_document(auth_client, b) == data_document(auth_client, a)


@pytest.mark.mysql
def test_duplicate_delivery_while_the_section_runs_does_nothing_and_counts_no_attempt(stack, auth_client):
    """A second delivery of a running section's message, to another worker: within the hard time limit it
    neither runs the section beside the first nor uses up an attempt."""
    from celery import current_app

    from reports.dispatch import TASK_NAMES, celery_task_id

    league = small_league()
    held = league.player_ids[0]
    stack.hold()
    stack.start_workers({"fast": {"FAULT_HOLD": f"profile:{held}"}, "slow": {}})
    second = Worker("fast", env=stack.env, log_dir=stack.log_dir, name="worker-fast-second")
    try:
        report_id = create(auth_client, [held], ["profile"])
        stack.wait_held()
        # Started once the first holds the section, so that the duplicate is the one it gets.
        second.start()
        record = task(report_id, held, "profile")
        assert record.state == TaskState.RUNNING and record.attempts == 1
        current_app.send_task(
            TASK_NAMES["fast"],
            args=(None,),
            kwargs={"report_task_id": record.pk},
            queue="fast",
            task_id=celery_task_id(record.pk),
            ignore_result=True,
        )
        wait_for(
            lambda: "this delivery does nothing" in second.log(),
            timeout=STEP_TIMEOUT_S,
            message="the duplicate delivery to be handled",
        )
        record.refresh_from_db()
        assert record.state == TaskState.RUNNING and record.attempts == 1
        assert len(stack.pids("entered")) == 1, "the section ran a second time beside the first"
        stack.release()
        report = assert_counted_once(report_id)
        assert report.status == ReportStatus.COMPLETE
        record.refresh_from_db()
        assert record.attempts == 1
        assert Partial.objects.get(key=record.partial_key).writes == 1
    finally:
        stack.release()
        second.stop()


@pytest.mark.mysql
def test_storage_emptied_between_two_reports_both_heal_without_a_5xx(stack, auth_client):
    """The bucket replaced by an empty one between two reports of the same players.

    The second report checks at creation that the partials it would reuse
    still exist, finds them gone and computes them again; the first, read
    after that, finds its merged file gone, answers from the partials and has
    the file written again. Before the fix both answered 500.
    """
    league = small_league()
    players = league.player_ids[:2]
    sections = ["profile", "shot_map", "visuals"]
    stack.start_workers({"fast": {}, "slow": {}})
    first = create(auth_client, players, sections)
    assert_counted_once(first)
    clean = data_document(auth_client, first)
    wait_for(lambda: merged_written(first), timeout=STEP_TIMEOUT_S, message="the merged file")
    assert clean["complete"] and not clean["pending"]

    storage_empty(stack)
    second = create(auth_client, players, sections)
    report = assert_counted_once(second)
    assert report.status == ReportStatus.COMPLETE
    assert report.fast_reused == report.slow_reused == 0, "reused partials that are gone"
    assert data_document(auth_client, second) == clean

    assert data_document(auth_client, first) == clean  # from the partials, its merged file is gone
    wait_for(lambda: merged_written(first), timeout=STEP_TIMEOUT_S, message="the merged file written again")
    again = auth_client.get(f"/api/reports/{first}/data/")
    assert again.status_code == 200 and again["X-Report-Source"] == "merged"
    assert data_document(auth_client, first) == clean
    assert_counted_once(first)


def _read_concurrently(report_id, owner, readers: int = 20) -> list[tuple[int, dict]]:
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections
    from rest_framework.test import APIClient

    def read(_):
        client = APIClient()
        client.force_authenticate(owner)
        try:
            response = client.get(f"/api/reports/{report_id}/data/")
            return response.status_code, (response.json() if response.status_code == 200 else {})
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=readers) as pool:
        return list(pool.map(read, range(readers)))


@pytest.mark.mysql
def test_a_partial_deleted_while_20_readers_read_is_computed_again_once(stack, auth_client):
    league = small_league()
    player = league.player_ids[0]
    stack.start_workers({"fast": {}, "slow": {}})
    report_id = create(auth_client, [player], ["profile", "season_stats"])
    assert_counted_once(report_id)
    clean = data_document(auth_client, report_id)
    report = wait_for(lambda: merged_written(report_id), timeout=STEP_TIMEOUT_S, message="the merged file")
    lost = task(report_id, player, "season_stats")
    # The partial and the merged file, so that the readers go to the partials.
    default_storage.delete(lost.partial_key)
    default_storage.delete(report.merged_key)

    answers = _read_concurrently(report_id, report.owner)
    assert {code for code, _ in answers} == {200}, [code for code, _ in answers]
    for _, document in answers:
        assert document["pending"] in ([], [{"player": player, "section": "season_stats"}])
        if document["pending"]:
            assert "season_stats" not in document["players"][str(player)]

    report = assert_counted_once(report_id)
    assert report.status == ReportStatus.COMPLETE and report.generation == 2
    lost.refresh_from_db()
    # Re-enqueued once: one more run (attempts start again at 0) and one more write.
    assert lost.state == TaskState.DONE and lost.attempts == 1
    assert Partial.objects.get(key=lost.partial_key).writes == 2
    report = wait_for(
        lambda: merged_written(report_id), timeout=STEP_TIMEOUT_S, message="generation 2's merged file"
    )
    assert data_document(auth_client, report_id) == clean
    assert not default_storage.exists(report.merged_key.replace("/g2.json", "/g1.json"))


@pytest.mark.mysql
def test_the_merged_file_deleted_is_served_from_the_partials_and_written_again(stack, auth_client):
    league = small_league()
    stack.start_workers({"fast": {}, "slow": {}})
    report_id = create(auth_client, league.player_ids[:2], ["profile", "match_log"])
    assert_counted_once(report_id)
    clean = data_document(auth_client, report_id)
    report = wait_for(lambda: merged_written(report_id), timeout=STEP_TIMEOUT_S, message="the merged file")
    default_storage.delete(report.merged_key)

    answers = _read_concurrently(report_id, report.owner)
    assert {code for code, _ in answers} == {200}
    assert all({k: d[k] for k in clean} == clean for _, d in answers)
    report = wait_for(lambda: merged_written(report_id), timeout=STEP_TIMEOUT_S, message="it written again")
    assert report.merge_count == 2 and report.generation == 1  # written once more, by one outbox row
    again = auth_client.get(f"/api/reports/{report_id}/data/")
    assert again["X-Report-Source"] == "merged"
    assert data_document(auth_client, report_id) == clean


@production_only
@pytest.mark.mysql
def test_a_publish_failing_after_the_commit_is_retried_by_the_reconciler(stack, auth_client, monkeypatch):
    """RabbitMQ stops between the 503 pre-check and the publish: 202, nothing lost, done within a minute."""
    from reports import dispatch
    from reports.models import Outbox
    from tasks.tasks import minutely_reconcile_reports

    league = small_league()
    stack.start_workers({"fast": {}, "slow": {}})
    check = dispatch.broker_ensure_reachable

    def check_then_broker_dies() -> None:
        check()
        stack.servers.rabbitmq.stop()

    monkeypatch.setattr(dispatch, "broker_ensure_reachable", check_then_broker_dies)
    report_id = create(auth_client, league.player_ids[:2], ["profile", "heatmap"])
    monkeypatch.undo()
    assert not ReportTask.objects.filter(report_id=report_id, dispatched_at__isnull=False).exists()
    row = Outbox.objects.get(report_id=report_id, kind="publish")
    assert row.error and row.attempts == 1

    stack.servers.rabbitmq.start()
    # The reconciler's next minute (its row is due: grace over).
    Outbox.objects.filter(pk=row.pk).update(due_at=timezone.now())
    outcome = minutely_reconcile_reports(period=f"publish-test-{os.getpid()}")
    assert outcome["result"]["outbox"] >= 1
    assert not Outbox.objects.filter(pk=row.pk).exists()
    report = assert_counted_once(report_id)
    assert report.status == ReportStatus.COMPLETE
    assert_invariants(auth_client, stack, [report_id])
