"""Loading event rows: the fastest way each database offers, behind one small interface.

MySQL/MariaDB: rows go to a temporary tab-separated file that LOAD DATA LOCAL
INFILE reads on the same connection, so the load is part of the import's
transaction. SQLite: executemany of a plain INSERT in large batches.
"""

from __future__ import annotations

import os
import tempfile

from django.conf import settings
from django.db import IntegrityError
from django.db.backends.base.base import BaseDatabaseWrapper

from football.models import Event

from .rows import EVENT_COLUMNS


class EventWriter:
    """Takes event rows (tuples in EVENT_COLUMNS order) and loads them; `finish` loads the rest."""

    def __init__(self, connection: BaseDatabaseWrapper):
        self.connection = connection
        self.rows_written = 0
        quote = connection.ops.quote_name
        self.table = quote(Event._meta.db_table)
        self.columns = ", ".join(quote(c) for c in EVENT_COLUMNS)

    def write(self, rows: list[tuple]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Releases what the writer holds, also after a failure."""


class InsertEventWriter(EventWriter):
    def __init__(self, connection: BaseDatabaseWrapper):
        super().__init__(connection)
        placeholders = ", ".join(["%s"] * len(EVENT_COLUMNS))
        self.sql = f"INSERT INTO {self.table} ({self.columns}) VALUES ({placeholders})"
        self.batch_rows = settings.IMPORT_SQLITE_BATCH_ROWS
        self.pending: list[tuple] = []

    def write(self, rows: list[tuple]) -> None:
        self.pending.extend(rows)
        if len(self.pending) >= self.batch_rows:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            with self.connection.cursor() as cursor:
                cursor.executemany(self.sql, self.pending)
            self.rows_written += len(self.pending)
            self.pending = []

    def finish(self) -> None:
        self._flush()


_NULL = "\\N"  # LOAD DATA's NULL


def tsv_lines(rows: list[tuple]) -> str:
    """Event rows as LOAD DATA reads them: tab-separated, \\N for NULL, one row a line."""
    n = _NULL
    return "".join(
        [
            f"{r[0]}\t{r[1]}\t{r[2]}\t{n if r[3] is None else r[3]}\t{r[4]}\t"
            f"{n if r[5] is None else r[5]}\t{r[6]}\t{r[7]!r}\t{n if r[8] is None else r[8]}\t"
            f"{n if r[9] is None else r[9]}\t{n if r[10] is None else r[10]}\t"
            f"{n if r[11] is None else r[11]}\t{r[12]}\n"
            for r in rows
        ]
    )


class LoadDataEventWriter(EventWriter):
    """Streams rows through a temporary TSV file into LOAD DATA LOCAL INFILE.

    Every value is a number, None, a period code or a list of digits and
    commas (rows.event_row makes sure of it), so no field needs escaping.
    """

    def __init__(self, connection: BaseDatabaseWrapper):
        super().__init__(connection)
        self.load_rows = settings.IMPORT_MYSQL_LOAD_ROWS
        fd, self.path = tempfile.mkstemp(prefix="wyscout-events-", suffix=".tsv")
        self.file = os.fdopen(fd, "w", encoding="ascii", newline="\n", buffering=1 << 20)
        self.pending = 0
        self.sql = (
            f"LOAD DATA LOCAL INFILE %s INTO TABLE {self.table} CHARACTER SET ascii "
            f"FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' ({self.columns})"
        )

    def write(self, rows: list[tuple]) -> None:
        self.file.write(tsv_lines(rows))
        self.pending += len(rows)
        if self.pending >= self.load_rows:
            self._load()

    def _load(self) -> None:
        if not self.pending:
            return
        self.file.flush()
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql, [self.path])
            loaded = cursor.rowcount
        # With LOCAL, the server skips a duplicate key with a warning instead
        # of failing; a short count is how such a row shows.
        if loaded != self.pending:
            raise IntegrityError(
                f"LOAD DATA stored {loaded} of {self.pending} event rows (duplicate event ids?)"
            )
        self.rows_written += loaded
        self.pending = 0
        self.file.seek(0)
        self.file.truncate()

    def finish(self) -> None:
        self._load()

    def close(self) -> None:
        self.file.close()
        os.unlink(self.path)


def event_writer_for(connection: BaseDatabaseWrapper) -> EventWriter:
    if connection.vendor == "mysql":
        return LoadDataEventWriter(connection)
    return InsertEventWriter(connection)
