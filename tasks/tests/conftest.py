"""Helpers for the tests that start real Flower and Celery worker processes."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from celery import Celery

from conftest import free_port, process_groups_stop, wait_for  # noqa: F401  (free_port: imported by the tests)

REPO = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


def wait_until(condition, *, timeout: float, what: str, interval: float = 0.2):
    """The root conftest's wait_for, under the name these tests use."""
    return wait_for(condition, timeout=timeout, interval=interval, message=what)


class Processes:
    """Starts processes with their output in a log file; stops every one at teardown."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                args,
                cwd=REPO,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.started.append((process, log))
        return process

    def start_worker(self, name: str, pool: str, env: dict[str, str] | None = None):
        """A worker of the project on a queue of its own, over RabbitMQ: (queue, node, a client app, process)."""
        queue = f"{name}-{uuid.uuid4().hex[:12]}"
        node = f"{queue}@localhost"
        # Not the current app: the project's dispatch publishes through current_app,
        # and a client app left current sent later tests' sections to RabbitMQ.
        client = Celery(name, broker=RABBITMQ_URL, set_as_current=False)
        process = self.start(
            "worker",
            [CELERY, "-A", "config", "worker", "-Q", queue, pool, "-n", node, "--loglevel=INFO"],
            {"CELERY_BROKER_URL": RABBITMQ_URL, **(env or {})},
        )
        return queue, node, client, process

    def log(self, process: subprocess.Popen) -> str:
        return next(log for p, log in self.started if p is process).read_text(errors="replace")

    def stop_all(self) -> None:
        process_groups_stop([process for process, _ in self.started])


@pytest.fixture
def processes(tmp_path):
    started = Processes(tmp_path)
    yield started
    started.stop_all()
