"""Settings that cannot work are refused when a process starts, naming the setting."""

import os
import subprocess
import sys

import pytest

from conftest import REPO


def _check(env: dict[str, str]) -> subprocess.CompletedProcess:
    """`manage.py check` in a process of its own, with `env`: the settings load as a process starting would."""
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("window", "refill", "refused"), [("6", "8", True), ("6", "0", True), ("6", "6", False)]
)
def test_a_window_refill_outside_the_window_is_refused_at_start_up(window, refill, refused):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "REPORT_WINDOW_SECTIONS": window,
        "REPORT_WINDOW_REFILL": refill,
    }
    answer = _check(env)
    assert (answer.returncode != 0) == refused
    named = f"REPORT_WINDOW_REFILL={refill} with REPORT_WINDOW_SECTIONS={window}"
    assert (named in answer.stderr) == refused


@pytest.mark.parametrize(("whole", "refused"), [("-1", True), ("0", False)])
def test_a_negative_whole_report_size_is_refused_at_start_up(whole, refused):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "REPORT_WINDOW_WHOLE": whole}
    answer = _check(env)
    assert (answer.returncode != 0) == refused
    assert (f"REPORT_WINDOW_WHOLE={whole}" in answer.stderr) == refused
