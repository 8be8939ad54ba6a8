"""The project's Celery app with faults injected by environment, for reports/tests/test_faults.py only.

A worker started with `-A reports.tests.fault_app` runs the real tasks of the
real app. In each pool process it may wrap one real section's compute:

- FAULT_HOLD=<section>:<player id>: the compute records its pid in
  FAULT_DIR/entered, then waits while the file FAULT_DIR/hold exists, so that
  a test can act (kill the process, stop a server) while the task is running;
- FAULT_CRASH=<section>:<player id>: the compute kills its own process with
  SIGKILL, every time: a poison task;
- FAULT_CRASH_COUNTING=<section>:<player id>[,...]: the process kills itself
  once per player (a marker file in FAULT_DIR) at the moment the runner
  moves the report's counters for that section after a reuse or a failure,
  after the task's terminal UPDATE: a worker killed between the two.

Production code has no hook for this: the wrapping happens here, in the test
worker's processes only, and the section keeps its name and version, so the
task records, keys and partials are exactly those of a normal run.
"""

import dataclasses
import os
import signal
import time
from pathlib import Path

from celery.signals import worker_process_init

from config.celery_app import app

__all__ = ["app"]

# How long the pool waits for the result of a process that died before it
# calls the job lost and rejects (requeues) its message: 10 s by default
# (Celery's worker_lost_wait). The fault tests kill many processes and wait
# for each; only the wait is shorter, the outcome is the same.
app.conf.worker_lost_wait = 1.0

# A held task goes on by itself after this long, so a failed test leaves no worker stuck.
HOLD_LIMIT_S = 120
HOLD_POLL_S = 0.05


def _target(variable: str) -> tuple[str, int] | None:
    value = os.environ.get(variable, "")
    if not value:
        return None
    section, player_id = value.split(":")
    return section, int(player_id)


def _holding(compute, player_id: int, control: Path):
    def compute_when_released(context):
        if context.player_id == player_id:
            with (control / "entered").open("a") as entered:
                entered.write(f"{os.getpid()}\n")
            deadline = time.monotonic() + HOLD_LIMIT_S
            while (control / "hold").exists() and time.monotonic() < deadline:
                time.sleep(HOLD_POLL_S)
        return compute(context)

    return compute_when_released


def _crashing(compute, player_id: int, control: Path):
    def compute_or_crash(context):
        if context.player_id == player_id:
            with (control / "crashed").open("a") as crashed:
                crashed.write(f"{os.getpid()}\n")
            os.kill(os.getpid(), signal.SIGKILL)
        return compute(context)

    return compute_or_crash


def _crash_while_counting(control: Path, targets: set[tuple[str, int]]):
    from reports import runner

    count_terminal = runner.report_count_terminal

    def count_or_crash(*, report_id, queue: str, failed: bool, reused: bool = False) -> None:
        from reports.models import ReportTask

        if failed or reused:
            # Which record this count is for: the one of this report just ended.
            for section, player_id in targets:
                marker = control / f"count-crashed-{section}-{player_id}"
                ended = ReportTask.objects.filter(
                    report_id=report_id, section=section, player_id=player_id, state__in=["done", "failed"]
                ).exists()
                if ended and not marker.exists():
                    marker.write_text(f"{os.getpid()}\n")
                    os.kill(os.getpid(), signal.SIGKILL)
        count_terminal(report_id=report_id, queue=queue, failed=failed, reused=reused)

    # reports.runner looks the function up in its own module at run time.
    runner.report_count_terminal = count_or_crash


@worker_process_init.connect
def _inject_faults(**kwargs):
    from reports.sections import SECTIONS

    counting = os.environ.get("FAULT_CRASH_COUNTING", "")
    if counting:
        targets = set()
        for item in counting.split(","):
            section, player_id = item.split(":")
            targets.add((section, int(player_id)))
        _crash_while_counting(Path(os.environ.get("FAULT_DIR", ".")), targets)

    control = Path(os.environ.get("FAULT_DIR", "."))
    for variable, wrap in (("FAULT_HOLD", _holding), ("FAULT_CRASH", _crashing)):
        target = _target(variable)
        if target is None:
            continue
        name, player_id = target
        # reports.runner looks sections up in this same dict at run time.
        SECTIONS[name] = dataclasses.replace(
            SECTIONS[name], compute=wrap(SECTIONS[name].compute, player_id, control)
        )
