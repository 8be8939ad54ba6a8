"""`.ci/run`: valid bash, strict, and with the services up it runs `make test`, then `make test-cluster`, with REQUIRE_SERVICES=1."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import SERVICES, port_open

REPO = Path(__file__).resolve().parent.parent
CI_RUN = REPO / ".ci" / "run"


def test_the_script_parses_and_is_strict():
    checked = subprocess.run(["bash", "-n", str(CI_RUN)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    text = CI_RUN.read_text()
    assert "set -euo pipefail" in text
    assert "REQUIRE_SERVICES=1 make test" in text


def test_with_services_running_it_runs_make_test_and_returns_its_status(tmp_path, require_service):
    for name in SERVICES:
        require_service(name)
    if not all(
        subprocess.run(["dpkg-query", "-W", pkg], capture_output=True).returncode == 0
        for pkg in ("libmariadb-dev", "pkg-config")
    ) or not shutil.which("mysqladmin"):
        pytest.skip("system packages missing here: the script would install them (needs root and apt)")
    assert all(port_open(*address) for address in SERVICES.values())

    # A stand-in for make that records how it was called and fails with 3.
    record = tmp_path / "make-called"
    fake_make = tmp_path / "bin" / "make"
    fake_make.parent.mkdir()
    fake_make.write_text(f'#!/bin/sh\necho "$@ REQUIRE_SERVICES=$REQUIRE_SERVICES" >> {record}\nexit 3\n')
    fake_make.chmod(0o755)

    finished = subprocess.run(
        ["bash", str(CI_RUN)],
        env={**os.environ, "PATH": f"{fake_make.parent}:{os.environ['PATH']}", "CI": "true"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert finished.returncode == 3
    # The cluster test runs even when the suite failed; the suite's status wins.
    assert record.read_text().splitlines() == ["test REQUIRE_SERVICES=1", "test-cluster REQUIRE_SERVICES=1"]
    for service in ("mariadb", "redis", "rabbitmq"):
        assert f"{service} already running" in finished.stdout
    assert "make test exited with 3" in finished.stdout
    assert "make test-cluster exited with 3" in finished.stdout
