"""Real Celery workers and real storage for the pipeline tests: a pytest plugin, loaded by the root conftest.

One definition for the whole suite (reports/tests, web/tests, ...): the worker
pool and the storage (on the production-like pass, one moto bucket) are
session-wide, so two sets of workers never consume the same queues with
different storage. The autouse `report_storage` that points this process's
storage at the workers' is in the conftest of each folder that uses the workers.

On the embedded stack (TEST_STACK=embedded) the workers use the filesystem
transport, the file result backend and the local file system; on the
production-like stack (TEST_STACK=production) RabbitMQ, Redis, MariaDB and an
S3 server (moto, started here on a free port). No eager mode: messages are
serialised, routed and consumed exactly as in production.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from conftest import REPO, free_port, port_open, wait_for  # noqa: F401  (wait_for: imported by the tests)
from tests.servers import process_env

PRODUCTION = os.environ.get("TEST_STACK") == "production"
WORKER_START_TIMEOUT_S = 60


def s3_bucket_create(endpoint: str, bucket: str):
    """A bucket on the moto server at `endpoint`, with the tests' credentials; returns the boto3 client."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)
    return client


@pytest.fixture(scope="session")
def s3_server():
    """A moto S3 server: a real HTTP endpoint speaking the S3 protocol."""
    port = free_port()
    log = open(Path(settings.VAR_DIR) / "moto.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port, timeout=0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail("the moto S3 server did not start; see var/test/moto.log")
        time.sleep(0.1)
    yield {"endpoint": f"http://127.0.0.1:{port}", "process": process, "port": port}
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.fixture(scope="session")
def storage_env(request) -> dict[str, str]:
    """The storage configuration, as environment for the workers; empty storage at the start."""
    if not PRODUCTION:
        # Partial keys repeat across runs (same factory ids): start from nothing.
        shutil.rmtree(Path(settings.MEDIA_ROOT) / "reports", ignore_errors=True)
        return {}

    server = request.getfixturevalue("s3_server")
    bucket = f"reports-test-{uuid.uuid4().hex[:8]}"
    env = {
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": server["endpoint"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_S3_REGION_NAME": "us-east-1",
    }
    client = s3_bucket_create(server["endpoint"], bucket)
    # Versioning lets tests count the writes of an object.
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return env


def report_storage_point(settings, storage_env) -> dict[str, str]:
    """Point this process's default storage where the workers write (for an autouse `report_storage`)."""
    if storage_env:
        settings.AWS_STORAGE_BUCKET_NAME = storage_env["AWS_STORAGE_BUCKET_NAME"]
        settings.AWS_S3_ENDPOINT_URL = storage_env["AWS_S3_ENDPOINT_URL"]
        settings.AWS_ACCESS_KEY_ID = "testing"
        settings.AWS_SECRET_ACCESS_KEY = "testing"
        settings.AWS_S3_REGION_NAME = "us-east-1"
        settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "reports.storage.ReportS3Storage"}}
    return storage_env


class Workers:
    """Celery worker processes for the `fast` and `slow` queues, started and stopped on demand."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, queue: str, *, concurrency: str = "--autoscale=2,1") -> None:
        if queue in self.processes and self.processes[queue].poll() is None:
            return
        log = open(self.log_dir / f"worker-{queue}.log", "ab")  # noqa: SIM115
        node = f"{queue}-test-{uuid.uuid4().hex[:6]}@%h"
        self.processes[queue] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                queue,
                concurrency,
                "-n",
                node,
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ready_marker = b" ready."
        path = self.log_dir / f"worker-{queue}.log"
        offset = path.stat().st_size if path.exists() else 0
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        # The worker logs "<node> ready." once it consumes; before that a message would just wait.
        while ready_marker not in path.read_bytes()[offset:]:
            if self.processes[queue].poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the {queue} worker did not start; see {path}")
            time.sleep(0.1)

    def stop(self, queue: str) -> None:
        process = self.processes.pop(queue, None)
        if process is None or process.poll() is not None:
            return
        # SIGTERM to the main process only: it shuts its pool down itself (a
        # warm shutdown). Signalling the whole group kills the pool processes
        # under it, and the main process then waits for them forever.
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop_all(self) -> None:
        for queue in list(self.processes):
            self.stop(queue)

    def ensure(self, *queues: str) -> None:
        for queue in ("fast", "slow"):
            if queue in queues:
                self.start(queue)
            else:
                self.stop(queue)


def broker_purge() -> None:
    """Empty both queues (the filesystem transport's folder, or the RabbitMQ queues)."""
    from celery import current_app

    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        shutil.rmtree(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"], ignore_errors=True)
        os.makedirs(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"], exist_ok=True)
        return
    with current_app.connection_for_write() as connection:
        for queue in ("fast", "slow"):
            try:
                connection.default_channel.queue_purge(queue)
            except Exception:  # the queue does not exist yet
                connection.close()


@pytest.fixture(scope="session")
def worker_pool(django_db_setup, django_db_blocker, storage_env, require_service):
    """Session-wide worker manager; each test says which queues it wants served."""
    if PRODUCTION:
        for service in ("mariadb", "rabbitmq", "redis"):
            require_service(service)
    env = process_env(**storage_env)
    log_dir = Path(settings.VAR_DIR) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with django_db_blocker.unblock():
        broker_purge()
    workers = Workers(env, log_dir)
    yield workers
    workers.stop_all()


@pytest.fixture
def workers(worker_pool, transactional_db):
    """Both queues served by real workers (call .ensure("fast") to serve only one)."""
    worker_pool.ensure("fast", "slow")
    return worker_pool
