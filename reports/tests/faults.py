"""Throwaway servers and processes for the fault tests (reports/tests/test_faults.py).

Each server runs on free ports with its data in the test run's var folder, so
a test can stop, pause, flush or restart it without touching the services the
rest of the suite uses: a RabbitMQ node with its own node name, ports and
data folder; a redis-server without persistence; a moto S3 server. Every
process is started in its own session, so stopping it takes its children too.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import REPO, port_open

from .conftest import free_port

SERVER_START_TIMEOUT_S = 60
SERVER_STOP_TIMEOUT_S = 30
WORKER_START_TIMEOUT_S = 60


class Process:
    """One command in its own session, its output in a log file."""

    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log_dir: Path, cwd: Path = REPO):
        self.name = name
        self.args = args
        self.env = env
        self.cwd = cwd
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.args,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal_group(self, signum: int) -> None:
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)

    def terminate(self) -> None:
        """Ask the process to end (SIGTERM to the whole session); `stop` waits for it."""
        if self.popen is not None and self.popen.poll() is None:
            self.signal_group(signal.SIGCONT)  # a paused process cannot act on SIGTERM
            self.signal_group(signal.SIGTERM)

    def stop(self, *, timeout: float = SERVER_STOP_TIMEOUT_S) -> None:
        """SIGTERM, then SIGKILL to the whole session if it has not ended within `timeout`."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.popen.wait(timeout=10)
        # Children that outlived their leader (a prefork worker's pool) go too.
        self.signal_group(signal.SIGKILL)
        self.popen = None

    def kill(self) -> None:
        """SIGKILL to the whole session at once: what a crash of the machine or container does."""
        if self.popen is None:
            return
        self.signal_group(signal.SIGKILL)
        self.popen.wait(timeout=10)
        self.popen = None


class Server(Process):
    """A server listening on `port` once started."""

    port: int

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not self.ready():
            if not self.running or time.monotonic() > deadline:
                pytest.fail(f"{self.name} did not start; see {self.log_path}:\n{self.log()[-2000:]}")
            time.sleep(0.1)

    def ready(self) -> bool:
        return port_open("127.0.0.1", self.port, timeout=0.2)

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections but nothing answers (a hung server)."""
        self.signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal_group(signal.SIGCONT)


class RabbitMQNode(Server):
    """A RabbitMQ node of its own: node name, AMQP and distribution ports, data and log folders.

    Started through /usr/lib/rabbitmq/bin/rabbitmq-server, not the Debian
    wrapper in /usr/sbin, which switches to the `rabbitmq` user and could not
    write to the test's folders. Restarting keeps the data folder, so durable
    queues and persistent messages survive, as on a real restart.
    """

    SCRIPT = "/usr/lib/rabbitmq/bin/rabbitmq-server"

    def __init__(self, base: Path, log_dir: Path):
        self.port = free_port()
        dist_port = free_port()
        base.mkdir(parents=True, exist_ok=True)
        (base / "enabled_plugins").write_text("[].\n")
        env = {
            **os.environ,
            "RABBITMQ_NODENAME": f"rmq-test-{os.getpid()}-{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_LOGS": "-",
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(base / "feature_flags"),
            "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
            # No configuration of the machine's own node applies to this one.
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        }
        super().__init__("rabbitmq", [self.SCRIPT], env=env, log_dir=log_dir, cwd=base)
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @staticmethod
    def available() -> bool:
        return Path(RabbitMQNode.SCRIPT).is_file()

    def ready(self) -> bool:
        # The port opens a moment before the node accepts logins: ask over AMQP.
        if not super().ready():
            return False
        from kombu import Connection

        try:
            with Connection(self.url, connect_timeout=1) as connection:
                connection.ensure_connection(max_retries=1)
            return True
        except Exception:
            return False


class RedisServer(Server):
    def __init__(self, base: Path, log_dir: Path):
        self.port = free_port()
        base.mkdir(parents=True, exist_ok=True)
        args = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(base),
        ]
        super().__init__("redis", args, env=dict(os.environ), log_dir=log_dir)
        self.url = f"redis://127.0.0.1:{self.port}"

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def flushall(self) -> None:
        import redis

        redis.Redis.from_url(self.url, socket_timeout=5).flushall()


class MotoServer(Server):
    """An S3 endpoint; it keeps objects in memory, so a restart forgets them (pause it instead)."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        args = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)]
        super().__init__("moto", args, env=dict(os.environ), log_dir=log_dir)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
            config=Config(connect_timeout=5, read_timeout=30, retries={"total_max_attempts": 1}),
        )

    def new_bucket(self) -> dict[str, str]:
        """A fresh versioned bucket (versions count the writes of each key); its settings as environment."""
        bucket = f"faults-{uuid.uuid4().hex[:10]}"
        client = self.client()
        client.create_bucket(Bucket=bucket)
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        return {
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_S3_REGION_NAME": "us-east-1",
        }


class Worker(Process):
    """A Celery worker of the fault app (reports.tests.fault_app) on one queue, one pool process.

    One process per queue makes the order of events certain: while a task is
    held, nothing else of its queue runs beside it, and a message redelivered
    meanwhile waits for the held one to end instead of running in parallel.
    """

    def __init__(self, queue: str, *, env: dict[str, str], log_dir: Path, name: str | None = None):
        self.queue = queue
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "reports.tests.fault_app",
            "worker",
            "-Q",
            queue,
            "--concurrency=1",
            "-n",
            f"{queue}-fault-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
        ]
        super().__init__(name or f"worker-{queue}", args, env=env, log_dir=log_dir)

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        super().start()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        # The worker logs "<node> ready." once it consumes.
        while b" ready." not in self.log_path.read_bytes()[self._offset :]:
            if not self.running or time.monotonic() > deadline:
                pytest.fail(f"the {self.queue} worker did not start; see {self.log_path}")
            time.sleep(0.1)

    def terminate(self) -> None:
        # The main process only: it shuts its pool down itself. A SIGTERM to the
        # pool processes too would make it wait for results they never send.
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)

    def pool_pids(self) -> list[int]:
        """The pids of the worker's pool processes (children of its main process)."""
        assert self.popen is not None
        children = Path(f"/proc/{self.popen.pid}/task/{self.popen.pid}/children")
        return [int(pid) for pid in children.read_text().split()]
