"""make demo: from a fresh clone to a finished report, on the embedded default, with real workers.

Migrates the SQLite database, collects the static files, imports the World Cup 2018 demo data shipped in
demo/, fits the models (xG, xT) and the per-player aggregates, starts one Celery worker per queue, builds a report
of France's squad through the same service as the API with a progress bar,
prints a summary and where the merged file is, and stops the workers.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_DATA = REPO / "demo" / "wyscout-world-cup-2018.tar.xz"
WORLD_CUP = 28
WORKER_START_TIMEOUT_S = 90


def manage(*args: str) -> None:
    print(f"$ manage.py {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, check=True)


def start_worker(queue: str, log_dir: Path) -> tuple[subprocess.Popen, Path]:
    log = log_dir / f"demo-worker-{queue}.log"
    handle = log.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "--autoscale=6,1",
            "-n",
            f"{queue}-demo@%h",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
        ],
        cwd=REPO,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return process, log


def wait_ready(process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    while b" ready." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"a worker did not start; see {log}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    # SIGTERM to the main process only: it shuts its pool down itself (a warm
    # shutdown). Signalling the whole group kills the pool processes under it,
    # and the main process then waits for them forever.
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    var_dir = Path(os.environ.get("DJANGO_VAR_DIR", REPO / "var"))
    log_dir = var_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    manage("migrate", "--noinput", "-v", "0")
    # The admin, the API docs and the report pages are styled by these files
    # (WhiteNoise serves them); cheap when nothing changed.
    manage("collectstatic", "--noinput", "-v", "0")
    # A changed import also fits xG and xT and refreshes the per-player aggregates.
    manage("import_wyscout", str(DEMO_DATA))
    workers = []
    try:
        print("starting a worker for each queue (fast, slow)...", flush=True)
        workers = [start_worker(queue, log_dir) for queue in ("fast", "slow")]
        for process, log in workers:
            wait_ready(process, log)
        manage(
            "create_report",
            "--team",
            "France",
            "--competition",
            str(WORLD_CUP),
            "--name",
            "France at the 2018 World Cup",
            "--wait",
        )
    finally:
        for process, _ in workers:
            stop(process)
        print("workers stopped.", flush=True)


if __name__ == "__main__":
    main()
