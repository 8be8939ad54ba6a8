"""The import figures: the full Wyscout import into an empty database, against LOAD DATA of the same rows.

The full import takes minutes; when the football database already holds the
data version that was last measured, the stored figures are reused (and say
so), unless `--full` asks to measure again. A measurement imports into a
bench-only database (created, migrated, dropped), so a loaded football
database is never rewritten, and the LOAD DATA baseline is the script
`scripts/import_baseline.py`, run against that database.

On a fresh machine the football database is empty (or missing): then the
measured import goes into it and stays, followed by the analytics refresh
(xG, xT, aggregates) that the sections need, so `make bench` needs nothing
loaded by hand. The import is timed with `--no-analytics` either way: the
figure is compared with LOAD DATA of the same rows, and the refit is reported
apart (`analytics_refresh_s`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from . import stack
from .results import ratio, rounded

# Where a measurement is kept: the var folder's copy first, then the copy in
# the repository, so a fresh clone on a machine with the data loaded reuses it.
STORED = (
    stack.REPO / "var" / "bench" / "import.json",
    Path(__file__).resolve().parent / "import_reference.json",
)
IMPORT_DATABASE = "football_bench_import"
UNKNOWN_DATABASE = 1049  # MySQL's ER_BAD_DB_ERROR
BASELINE_LINE = re.compile(r"LOAD DATA LOCAL INFILE: (\d+) rows in ([\d.]+) s")


def data_path() -> Path:
    return Path(
        os.environ.get("BENCH_DATA_PATH") or stack.REPO.parent / "shared" / "data" / "wyscout-2017-18"
    )


def database_data_version(url: str) -> str:
    """The data version held by the football database at `url`, '' when none."""
    import MySQLdb

    try:
        connection = stack.mysql_connect(url)
    except MySQLdb.OperationalError as exc:
        if exc.args and exc.args[0] == UNKNOWN_DATABASE:
            return ""
        raise
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT version FROM football_dataset WHERE id = 1")
        row = cursor.fetchone()
        return row[0] if row else ""
    except MySQLdb.Error:
        return ""
    finally:
        connection.close()


def stored_figures(version: str) -> dict | None:
    """The last measurement made for this data version, if one is kept."""
    for path in STORED:
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if stored.get("data_version") == version:
            return {
                **stored,
                "import_source": f"stored: {path.relative_to(stack.REPO)} ({stored.get('measured_at')})",
            }
    return None


def _manage(args: list[str], env: dict[str, str], log: Path) -> float:
    started = time.perf_counter()
    with log.open("ab") as out:
        subprocess.run(
            [sys.executable, *args], cwd=stack.REPO, env=env, stdout=out, stderr=subprocess.STDOUT, check=True
        )
    return time.perf_counter() - started


def import_measure(*, football_url: str, log_dir: Path, load_football: bool = False) -> dict:
    """Import the full data set into an empty database, then time LOAD DATA of its event rows there.

    The database is a bench-only one, dropped afterwards; with `load_football`
    (the football database holds no data yet) it is the football database
    itself, which keeps the data and gets its analytics refreshed.
    """
    if load_football:
        url = football_url
        stack.mysql_database_create(url)
    else:
        url = stack.mysql_url_with_database(football_url, IMPORT_DATABASE)
        stack.mysql_database_recreate(url)
    env = {
        **{
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_URL", "FOOTBALL_"))
        },
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_VAR_DIR": str(stack.REPO / "var" / "bench" / "import"),
        "PYTHONPATH": str(stack.REPO),
    }
    log = log_dir / "import.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        _manage(["manage.py", "migrate", "--noinput", "-v", "0"], env, log)
        database = urlsplit(url).path.lstrip("/")
        print(f"  full import of {data_path()} into {database} (log: {log})...", flush=True)
        # The command's own start-up (about a second) is inside the figure: it is what an operator waits for.
        seconds = _manage(["manage.py", "import_wyscout", "--no-analytics", str(data_path())], env, log)
        version = database_data_version(url)
        events = _event_count(url)
        print("  LOAD DATA baseline of the same event rows (scripts/import_baseline.py)...", flush=True)
        tsv = stack.REPO / "var" / "bench" / "import" / "events.tsv"
        tsv.parent.mkdir(parents=True, exist_ok=True)
        answer = subprocess.run(
            [sys.executable, "scripts/import_baseline.py", str(data_path()), str(tsv)],
            cwd=stack.REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        tsv.unlink(missing_ok=True)
        with log.open("a") as out:
            out.write(answer.stdout + answer.stderr)
        found = BASELINE_LINE.search(answer.stdout)
        if not found:
            raise RuntimeError(f"scripts/import_baseline.py printed no timing: {answer.stdout[-500:]}")
        loaded, baseline = int(found.group(1)), float(found.group(2))
        if loaded != events:
            raise RuntimeError(f"LOAD DATA loaded {loaded} rows, the import {events}: not the same rows")
        analytics = None
        if load_football:
            print("  fitting xG and xT and refreshing the aggregates (refresh_analytics)...", flush=True)
            analytics = _manage(["manage.py", "refresh_analytics"], env, log)
    finally:
        if not load_football:
            stack.mysql_database_drop(url)
    return {
        "data_version": version,
        "events": events,
        "import_full_s": rounded(seconds),
        "import_events_per_s": round(events / seconds),
        "load_data_baseline_s": rounded(baseline),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpu_count": os.cpu_count(),
        **({"analytics_refresh_s": rounded(analytics)} if analytics is not None else {}),
    }


def _event_count(url: str) -> int:
    connection = stack.mysql_connect(url)
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT COUNT(*) FROM football_event")
        return int(cursor.fetchone()[0])
    finally:
        connection.close()


def import_figures(*, football_url: str, full: bool, log_dir: Path) -> dict:
    """The four import figures, measured or reused; `import_source` says which."""
    version = database_data_version(football_url)
    stored = None if (full or not version) else stored_figures(version)
    if stored is None:
        if not version:
            print("  the football database holds no data: loading it (import, then analytics)", flush=True)
        measured = import_measure(football_url=football_url, log_dir=log_dir, load_football=not version)
        if version and measured["data_version"] != version:
            raise RuntimeError(
                f"the import gave data version {measured['data_version'][:12]}, the football database holds "
                f"{version[:12]}: {data_path()} is not the data the database was loaded from"
            )
        STORED[0].parent.mkdir(parents=True, exist_ok=True)
        STORED[0].write_text(json.dumps(measured, indent=2, sort_keys=True) + "\n")
        stored = {**measured, "import_source": f"measured now ({measured['measured_at']})"}
    figures = {
        "import_full_s": stored["import_full_s"],
        "import_events_per_s": stored["import_events_per_s"],
        "load_data_baseline_s": stored["load_data_baseline_s"],
        "import_vs_load_data": rounded(ratio(stored["import_full_s"], stored["load_data_baseline_s"]) or 0),
        "import_events": stored["events"],
        "import_source": stored["import_source"],
        "import_data_version": stored["data_version"][:12],
    }
    if "analytics_refresh_s" in stored:
        figures["analytics_refresh_s"] = stored["analytics_refresh_s"]
    return figures
