"""The import's yardstick on MySQL/MariaDB: how long LOAD DATA LOCAL INFILE alone takes for the event rows.

Writes every event row of the data set to a TSV file (the same rows and
format the importer loads), creates an empty copy of the event table (same
columns and indexes), times one LOAD DATA LOCAL INFILE into it, and drops it.
Usage (DATABASE_URL pointing at the MySQL/MariaDB football database):

    .venv/bin/python scripts/import_baseline.py [DATA_PATH] [TSV_PATH]
"""

import os
import sys
import time
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django.setup()

from django.db import connections  # noqa: E402

from football.importer.rows import EVENT_COLUMNS, event_row  # noqa: E402
from football.importer.sources import WyscoutSource, open_container  # noqa: E402
from football.importer.writers import local_infile_allow, tsv_lines  # noqa: E402
from football.models import Event  # noqa: E402
from football.routers import football_db  # noqa: E402


def main(data: Path, tsv: Path) -> None:
    started = time.monotonic()
    source = WyscoutSource(open_container(data))
    competitions = source.competitions()
    match_ids = {m["wyId"] for c in competitions for m in c.matches}
    rows = 0
    with open(tsv, "w", encoding="ascii", newline="\n") as out:
        for chunk in source.iter_events(competitions, match_ids):
            batch = [event_row(e) for e in chunk.events]
            out.write(tsv_lines(batch))
            rows += len(batch)
    print(f"wrote {rows} rows to {tsv} in {time.monotonic() - started:.1f} s")

    connection = connections[football_db()]
    local_infile_allow(connection)
    table = Event._meta.db_table
    copy = f"{table}_load_baseline"
    columns = ", ".join(EVENT_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {copy}")
        cursor.execute(f"CREATE TABLE {copy} LIKE {table}")
        try:
            started = time.monotonic()
            cursor.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE {copy} CHARACTER SET ascii "
                f"FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' ({columns})",
                [str(tsv)],
            )
            loaded = cursor.rowcount
            connection.commit() if not connection.get_autocommit() else None
            elapsed = time.monotonic() - started
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {copy}")
    print(f"LOAD DATA LOCAL INFILE: {loaded} rows in {elapsed:.1f} s ({loaded / elapsed:,.0f} rows/s)")


if __name__ == "__main__":
    main(
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).resolve().parent.parent.parent / "shared/data/wyscout-2017-18",
        Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/wyscout-events.tsv"),
    )
