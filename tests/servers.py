"""Real web server processes (gunicorn) over the test database, for tests that need more than one process.

A server started here sees only committed rows: tests that use it need
`transactional_db`. It runs the test settings against the same database, var
folder (broker folders, media) and services as the test process.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from conftest import REPO, free_port

SERVER_START_TIMEOUT_S = 60


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a process that must use this test run's database (as the test workers do)."""
    database = settings.DATABASES["default"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    if database["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{database['NAME']}"
        env["TEST_DATABASE"] = "sqlite"
    else:
        env["TEST_MYSQL_URL"] = (
            f"mysql://{database['USER']}:{database['PASSWORD']}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 3306}/{database['NAME']}"
        )
        env["TEST_DATABASE"] = "mysql"
    return {**env, **extra}


class WebServer:
    """`gunicorn config.wsgi` on a free port; `url` is its base address."""

    def __init__(self, *, env: dict[str, str], workers: int = 1, threads: int = 1, name: str = "web"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log_dir = Path(settings.VAR_DIR) / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}-{self.port}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "config.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(workers),
                    "--threads",
                    str(threads),
                    "--timeout",
                    "60",
                ],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not self._healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"gunicorn did not start; see {self.log_path}")
            time.sleep(0.1)

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            # gunicorn's master stops its workers on SIGTERM.
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> "WebServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
