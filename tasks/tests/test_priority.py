"""A worker's lower CPU priority holds against processes in other sessions (Linux autogroups)."""

import subprocess
import sys
from pathlib import Path

import pytest

AUTOGROUP = Path("/proc/self/autogroup")
pytestmark = pytest.mark.skipif(not AUTOGROUP.exists(), reason="no Linux autogroups on this kernel")

PROBE = (
    "import os; from tasks.priority import priority_lower; priority_lower(7); "
    "print(os.nice(0)); print(open('/proc/self/autogroup').read().strip())"
)


def probe(*, new_session: bool) -> tuple[int, str]:
    answer = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        start_new_session=new_session,
        cwd=Path(__file__).resolve().parents[2],
    )
    niceness, group = answer.stdout.splitlines()
    return int(niceness), group


def test_a_worker_leading_its_session_lowers_its_group():
    niceness, group = probe(new_session=True)
    assert niceness >= 7
    assert group.endswith("nice 7")


def test_a_worker_sharing_a_session_leaves_the_group_alone():
    ours = AUTOGROUP.read_text().strip()
    niceness, group = probe(new_session=False)
    assert niceness >= 7
    assert group == ours
    assert AUTOGROUP.read_text().strip() == ours
