"""make bench: the benchmark suite of CONTRACT section 9 and the performance issue.

    python -m bench [--full] [--stack production|embedded|all] [--only GROUPS] [--out PATH]

`--only sections,tasks,squad,pollers,big,fair` measures only those groups (bench.phase.GROUPS), for a quick
look while working on one figure; the figures of record come from a whole `make bench`.

Measures the import (or reuses its stored figures), then each stack in a
process of its own (bench.phase), writes every figure with the machine's
details to var/bench/results.json and prints them as a table beside their
targets. Figures of the embedded stack are prefixed `embedded.`.
Exits non-zero only when a measurement could not be made; a missed target is
printed (and listed under `targets_missed`), since it is a finding, not a crash.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from . import importing, stack
from .machine import machine_details
from .phase import DEFAULT_FOOTBALL_DATABASE_URL, ONLY_HELP, groups_parse
from .results import (
    FAST_SECTION_P95_MS,
    results_write,
    rounded,
    table_format,
    targets_for,
    targets_missed,
)

RESULTS = stack.REPO / "var" / "bench" / "results.json"
FAST_SECTIONS = ("profile", "season_stats", "match_log", "shot_map", "heatmap")
NOTES = {
    "status_p99_ms": "100 pollers x 1/s x 20 s, conditional GETs, on a running 500-player report",
    "status_server_p99_ms": "the same requests, time inside gunicorn (its access log)",
    "import_full_s": "see import_source",
    "live_merge_ms": "p50 of data reads while slow sections run",
    "merged_read_ms": "p50 of data reads served from the merged file",
    "tasks_per_s": "no-op tasks, fast queue",
    "parallel_vs_serial": "the same fast sections on 6 local processes, no broker: what 2 cores give the work",
    "ready_vs_parallel": "what the pipeline adds to that (25 players)",
    "overhead_vs_compute_cpu": "fast worker CPU per section beyond the compute, over the compute's own",
    "big_ready_vs_parallel": "the same for 500 players, fast sections",
    "big_ready_s": "500 most-played players, cold, POST to ready",
}


def _phase(name: str, work: Path, only: str | None) -> dict:
    out = work / f"{name}.json"
    out.unlink(missing_ok=True)
    print(f"== {name} stack", flush=True)
    command = [sys.executable, "-m", "bench.phase", name, "--out", str(out)]
    if only:
        command += ["--only", only]
    subprocess.run(command, cwd=stack.REPO, check=True)
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--full", action="store_true", help="measure the full import even if figures are stored"
    )
    parser.add_argument("--stack", choices=["production", "embedded", "all"], default="all")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--only", type=groups_parse, help=ONLY_HELP)
    args = parser.parse_args(argv)
    only = ",".join(sorted(args.only)) if args.only else None

    started = time.monotonic()
    work = stack.REPO / "var" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    figures: dict = {**machine_details(), "run.started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if args.stack in ("production", "all"):
        football = os.environ.get("FOOTBALL_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
        football = football if football.startswith("mysql") else DEFAULT_FOOTBALL_DATABASE_URL
        print("== import", flush=True)
        figures.update(importing.import_figures(football_url=football, full=args.full, log_dir=work / "logs"))
        figures.update(_phase("production", work, only))
    if args.stack in ("embedded", "all"):
        figures.update({f"embedded.{key}": value for key, value in _phase("embedded", work, only).items()})
    figures["run.seconds"] = rounded(time.monotonic() - started)

    targets = targets_for(figures, FAST_SECTIONS)
    missed = targets_missed(figures, targets)
    figures["targets_missed"] = ", ".join(missed) if missed else "none"
    results_write(args.out, figures)
    print()
    notes = {
        **NOTES,
        **{
            f"section_ms.{name}.p95": f"fast section, target {FAST_SECTION_P95_MS:g}"
            for name in FAST_SECTIONS
        },
    }
    print(table_format(figures, targets, notes))
    print(f"\nwrote {args.out} ({len(figures)} figures) in {figures['run.seconds']:.0f} s")
    print(f"targets missed: {figures['targets_missed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
