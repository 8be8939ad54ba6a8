"""Loading event rows: the fastest way each database offers, behind one small interface.

MySQL/MariaDB: rows go to a temporary tab-separated file that LOAD DATA LOCAL
INFILE reads on the same connection, so the load is part of the import's
transaction. SQLite: executemany of a plain INSERT in large batches.
"""

from __future__ import annotations

import os
import tempfile
import threading

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
    """Streams rows through temporary TSV files into LOAD DATA LOCAL INFILE.

    Two files take turns: while the server loads one, in a thread, the import
    goes on parsing and fills the other. mysqlclient releases the GIL while it
    waits for the server, so parsing (this process) and loading (the server)
    overlap on two cores. The thread uses the import's own connection, and
    only one statement runs on it at a time: the next load starts after the
    previous one ended, and nothing else touches the connection until
    `finish`. So the loads stay inside the import's transaction.

    Every value is a number, None, a period code or a list of digits and
    commas (rows.event_row makes sure of it), so no field needs escaping.
    """

    def __init__(self, connection: BaseDatabaseWrapper):
        super().__init__(connection)
        self.load_rows = settings.IMPORT_MYSQL_LOAD_ROWS
        self.sql = (
            f"LOAD DATA LOCAL INFILE %s INTO TABLE {self.table} CHARACTER SET ascii "
            f"FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' ({self.columns})"
        )
        connection.ensure_connection()
        self.raw = connection.connection  # the DB-API connection, usable from the load thread
        self.files = []
        for _ in range(2):
            fd, path = tempfile.mkstemp(prefix="wyscout-events-", suffix=".tsv")
            self.files.append((path, os.fdopen(fd, "w", encoding="ascii", newline="\n", buffering=1 << 20)))
        self.current = 0
        self.pending = 0
        self.loading: threading.Thread | None = None
        self.load_error: BaseException | None = None

    def write(self, rows: list[tuple]) -> None:
        self.files[self.current][1].write(tsv_lines(rows))
        self.pending += len(rows)
        if self.pending >= self.load_rows:
            self._start_load()

    def _start_load(self) -> None:
        if not self.pending:
            return
        path, file = self.files[self.current]
        file.flush()
        self._wait()
        self.loading = threading.Thread(target=self._load, args=(path, self.pending), daemon=True)
        self.loading.start()
        self.current = 1 - self.current
        self.pending = 0
        # The other file's load has ended (waited for above): reuse it.
        other = self.files[self.current][1]
        other.seek(0)
        other.truncate()

    def _load(self, path: str, expected: int) -> None:
        try:
            cursor = self.raw.cursor()
            try:
                cursor.execute(self.sql, (path,))
                loaded = cursor.rowcount
            finally:
                cursor.close()
            # With LOCAL, the server skips a duplicate key with a warning
            # instead of failing; a short count is how such a row shows.
            if loaded != expected:
                raise IntegrityError(
                    f"LOAD DATA stored {loaded} of {expected} event rows (duplicate event ids?)"
                )
            self.rows_written += loaded
        except BaseException as exc:  # handed to the importing thread by _wait
            self.load_error = exc

    def _wait(self) -> None:
        if self.loading is not None:
            self.loading.join()
            self.loading = None
        if self.load_error is not None:
            error, self.load_error = self.load_error, None
            if isinstance(error, self.connection.Database.IntegrityError):  # type: ignore[attr-defined]
                raise IntegrityError(str(error)) from error
            raise error

    def finish(self) -> None:
        self._start_load()
        self._wait()

    def close(self) -> None:
        # After a failure elsewhere the last load may still run: let it end
        # before the transaction is rolled back on this connection.
        if self.loading is not None:
            self.loading.join()
        for path, file in self.files:
            file.close()
            os.unlink(path)


def local_infile_allow(connection: BaseDatabaseWrapper) -> None:
    """Open this process's connection again with LOAD DATA LOCAL INFILE allowed; before the import's transaction.

    The settings turn it off, so web and worker connections never honour a
    server's request for a client file; an importer (a process of its own)
    asks for it here. A no-op off MySQL and where it is already allowed.
    """
    if connection.vendor != "mysql" or connection.settings_dict["OPTIONS"].get("local_infile"):
        return
    if connection.in_atomic_block:
        raise RuntimeError("LOAD DATA LOCAL INFILE must be allowed before the import's transaction opens")
    connection.close()
    connection.settings_dict["OPTIONS"] = {**connection.settings_dict["OPTIONS"], "local_infile": 1}


def event_writer_for(connection: BaseDatabaseWrapper) -> EventWriter:
    if connection.vendor == "mysql":
        return LoadDataEventWriter(connection)
    return InsertEventWriter(connection)
