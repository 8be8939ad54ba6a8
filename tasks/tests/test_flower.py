"""Flower refuses to start without basic auth, and asks for it when it runs."""

import base64
import os
import subprocess
import urllib.error
import urllib.request

import pytest

from tasks.tests.conftest import CELERY, RABBITMQ_URL, REPO, free_port, wait_until

pytestmark = pytest.mark.services

FLOWER = [CELERY, "-A", "config", "flower", "--conf=flowerconfig.py"]


def get(url: str, credentials: str | None = None) -> int:
    request = urllib.request.Request(url)
    if credentials:
        request.add_header("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


@pytest.mark.parametrize("value", [None, "admin", ":secret"])
def test_flower_exits_without_usable_basic_auth(value):
    env = {key: v for key, v in os.environ.items() if key != "FLOWER_BASIC_AUTH"}
    if value is not None:
        env["FLOWER_BASIC_AUTH"] = value
    env["FLOWER_PORT"] = str(free_port())

    finished = subprocess.run(FLOWER, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)

    assert finished.returncode != 0
    assert "FLOWER_BASIC_AUTH" in finished.stderr


def test_plain_celery_flower_in_the_repository_reads_the_same_configuration():
    """The contract's `celery -A config flower`, without --conf, is guarded too."""
    env = {key: v for key, v in os.environ.items() if key != "FLOWER_BASIC_AUTH"}
    env["FLOWER_PORT"] = str(free_port())
    finished = subprocess.run(
        [CELERY, "-A", "config", "flower"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode != 0
    assert "FLOWER_BASIC_AUTH" in finished.stderr


def test_flower_requires_basic_auth_and_leaves_health_and_metrics_open(processes, require_service):
    require_service("rabbitmq")
    port = free_port()
    credentials = "ops:flower-test-password"
    flower = processes.start(
        "flower",
        FLOWER,
        {
            "CELERY_BROKER_URL": RABBITMQ_URL,
            "FLOWER_BASIC_AUTH": credentials,
            "FLOWER_PORT": str(port),
            "FLOWER_ADDRESS": "127.0.0.1",
        },
    )
    base = f"http://127.0.0.1:{port}"

    def answering():
        assert flower.poll() is None, f"Flower exited:\n{processes.log(flower)}"
        return get(f"{base}/healthcheck") == 200

    wait_until(answering, timeout=60, what="Flower to answer on /healthcheck")

    assert get(f"{base}/") == 401
    assert get(f"{base}/workers") == 401
    assert get(f"{base}/api/workers") == 401
    assert get(f"{base}/", "ops:wrong-password") == 401
    assert get(f"{base}/", credentials) == 200
    assert get(f"{base}/api/tasks", credentials) == 200
    # Flower serves these without authentication (see docs/operations.md).
    assert get(f"{base}/metrics") == 200
