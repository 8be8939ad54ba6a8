"""The processes a benchmark runs against: a moto S3 server, Celery workers, gunicorn; and their places.

Everything started here is stopped by the caller's ExitStack, so a run leaves
nothing behind, also when it fails half-way. Nothing here imports Django: the
bench chooses the environment first and sets Django up in it afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 90
# The RabbitMQ virtual host of the bench: its `fast` and `slow` queues are
# apart from those of `make run` and of the tests (which purge theirs), so a
# test run on the same machine neither eats nor drops the bench's messages.
BENCH_VHOST = "bench"
# Web server for the HTTP figures. gthread workers keep connections alive, as
# a browser's poller expects; two processes for two cores, four threads each
# so a request waiting on the database does not hold a core.
WEB_WORKERS = 2
WEB_THREADS = 4
# Celery pools as CONTRACT section 6 runs them.
WORKER_CONCURRENCY = "--autoscale=6,1"
ACCESS_LOG = "access.log"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _wait(condition, *, process: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not condition():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}; see {log}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {START_TIMEOUT_S} s; see {log}")
        time.sleep(0.1)


class Process:
    """A child process in its own session, stopped with SIGTERM (then SIGKILL) to its whole group."""

    def __init__(self, args: list[str], *, env: dict[str, str], log: Path):
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.node: str | None = None  # a Celery worker's node name
        self._handle = log.open("ab")
        self.offset = log.stat().st_size
        self.popen = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=self._handle, stderr=subprocess.STDOUT, start_new_session=True
        )

    def logged(self, marker: bytes) -> bool:
        return marker in self.log.read_bytes()[self.offset :]

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        self._handle.close()


def moto_start(log_dir: Path) -> tuple[Process, str]:
    """A moto S3 server on a free port; returns the process and its endpoint URL."""
    port = free_port()
    process = Process(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        env=dict(os.environ),
        log=log_dir / "moto.log",
    )
    _wait(lambda: port_open("127.0.0.1", port), process=process.popen, what="moto_server", log=process.log)
    return process, f"http://127.0.0.1:{port}"


def s3_bucket_create(*, endpoint: str, bucket: str) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)


def rabbitmq_bench_url(url: str) -> tuple[str, str]:
    """The broker URL with the bench's own virtual host, created with rabbitmqctl when it is missing.

    Returns the URL and a note. Without rabbitmqctl (a remote broker, no
    rights) the configured virtual host is used as it is, and the note says so.
    """
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost") or not shutil.which("rabbitmqctl"):
        return url, "configured virtual host (no local rabbitmqctl to create one for the bench)"
    user = parts.username or "guest"
    try:
        listed = subprocess.run(
            ["rabbitmqctl", "-q", "list_vhosts"], capture_output=True, text=True, timeout=60, check=True
        ).stdout.split()
        if BENCH_VHOST not in listed:
            subprocess.run(["rabbitmqctl", "-q", "add_vhost", BENCH_VHOST], check=True, timeout=60)
        subprocess.run(
            ["rabbitmqctl", "-q", "set_permissions", "-p", BENCH_VHOST, user, ".*", ".*", ".*"],
            check=True,
            timeout=60,
            capture_output=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return url, f"configured virtual host (rabbitmqctl failed: {exc})"
    return urlunsplit(parts._replace(path=f"/{BENCH_VHOST}")), f"virtual host /{BENCH_VHOST}"


def mysql_url_with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def mysql_connect(url: str, *, select_database: bool = True):
    """A MySQLdb connection to the server of a mysql:// URL, with the URL's database selected unless told not to."""
    import MySQLdb

    parts = urlsplit(url)
    database = {"database": parts.path.lstrip("/")} if select_database else {}
    return MySQLdb.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        **database,
    )


def _mysql_server(url: str):
    """A connection to the server of a mysql:// URL (no database selected) and the URL's database name."""
    name = urlsplit(url).path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    return mysql_connect(url, select_database=False), name


def mysql_database_create(url: str, *, drop_first: bool = False) -> None:
    """Create the database named in a mysql:// URL when it is missing (`drop_first`: empty, for bench-only ones)."""
    connection, name = _mysql_server(url)
    try:
        cursor = connection.cursor()
        if drop_first:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(
            f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    finally:
        connection.close()


def mysql_database_recreate(url: str) -> None:
    """Drop and create the database named in a mysql:// URL: a bench-only database, empty each run."""
    mysql_database_create(url, drop_first=True)


def mysql_database_drop(url: str) -> None:
    connection, name = _mysql_server(url)
    try:
        connection.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        connection.close()


def worker_start(queue: str, *, env: dict[str, str], log_dir: Path) -> Process:
    """A Celery worker for one queue, as CONTRACT section 6 runs it; returns once it consumes.

    Its node name (for remote control) is the returned process's `node`.
    """
    name = f"{queue}-bench-{uuid.uuid4().hex[:6]}"
    process = Process(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            WORKER_CONCURRENCY,
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
        ],
        env=env,
        log=log_dir / f"worker-{queue}.log",
    )
    # "<node> ready." is logged once the worker consumes; a message sent before would just wait.
    _wait(
        lambda: process.logged(b" ready."), process=process.popen, what=f"the {queue} worker", log=process.log
    )
    # Celery expands %h to the host name as socket.gethostname() gives it.
    process.node = f"{name}@{socket.gethostname()}"
    return process


def access_log_offset(log_dir: Path) -> int:
    """Where the web server's access log ends now: read from there for the requests that follow."""
    log = log_dir / ACCESS_LOG
    return log.stat().st_size if log.exists() else 0


def server_times_ms(log_dir: Path, *, offset: int, method: str, path: str) -> list[float]:
    """Time in the server of each `method path` request logged after `offset`."""
    times = []
    with (log_dir / ACCESS_LOG).open("rb") as log:
        log.seek(offset)
        for line in log:
            fields = line.decode("latin-1").split()
            if len(fields) == 4 and fields[0] == method and fields[1] == path:
                times.append(float(fields[3]))
    return times


def web_start(*, env: dict[str, str], log_dir: Path) -> tuple[Process, str]:
    """gunicorn serving the project on a free local port; returns the process and its base URL."""
    port = free_port()
    process = Process(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WEB_WORKERS),
            "--worker-class",
            "gthread",
            "--threads",
            str(WEB_THREADS),
            "--keep-alive",
            "30",
            # Each request's method, path, status and time in the server (ms), to set beside what a
            # client measured: the difference is the network, the accept queue and the client itself.
            "--access-logfile",
            str(log_dir / ACCESS_LOG),
            "--access-logformat",
            "%(m)s %(U)s %(s)s %(M)s",
        ],
        env=env,
        log=log_dir / "gunicorn.log",
    )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    _wait(healthy, process=process.popen, what="gunicorn", log=process.log)
    return process, base
