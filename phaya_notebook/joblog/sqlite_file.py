"""Opening a SQLite job log file: refuse what is not ours untouched, create or upgrade what is.

The order matters and is tested: the file header is checked before SQLite opens it, the
identity (application id + schema version, :func:`~phaya_notebook.joblog.schema.check_identity`)
before anything is written (WAL mode included), and again inside the ``BEGIN IMMEDIATE`` that
creates the tables, because another kernel may be initialising the same new file. An
older log gains the columns added since, its rows untouched.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

from .schema import (
    APP_NAME,
    APPLICATION_ID,
    COLUMNS,
    SCHEMA_VERSION,
    JobLogError,
    check_identity,
    jobs_tables,
)
from .shared import SCHEMA as SHARED_SCHEMA

__all__ = ["SQLITE_SCHEMA", "open_sqlite"]

_SQLITE_HEADER = b"SQLite format 3\x00"
#: the request window and daily cap every process on a key shares (joblog.shared) live beside jobs
SQLITE_SCHEMA = [*jobs_tables(), *SHARED_SCHEMA]


def open_sqlite(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """An autocommit connection to the log at ``path``, retrying while another process holds the lock.

    SQLite skips the busy handler for some lock upgrades (switching a new file to WAL
    while another process initialises it), so "database is locked" can come back at
    once; retry until ``busy_timeout``.
    """
    deadline = time.monotonic() + busy_timeout
    delay = 0.01
    while True:
        try:
            return _open_once(path, busy_timeout)
        except JobLogError as exc:
            cause = exc.__cause__
            transient = isinstance(cause, sqlite3.OperationalError) and any(
                word in str(cause).lower() for word in ("locked", "busy"))
            if not transient or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def _check_header(path: Path) -> None:
    """Refuse a non-SQLite file before SQLite touches it."""
    if not path.exists():
        return
    if path.is_dir():
        raise JobLogError(path, "is a directory, not a job log file")
    with open(path, "rb") as fh:
        head = fh.read(len(_SQLITE_HEADER))
    if head and head != _SQLITE_HEADER:
        raise JobLogError(path, "is not an SQLite database (foreign or corrupt file)")


def _open_once(path: Path, busy_timeout: float) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    _check_header(path)
    conn = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        _check_identity(conn, path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        _init_schema(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise JobLogError(path, f"cannot be read as a job log ({exc})") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _check_identity(conn: sqlite3.Connection, path: Path) -> None:
    """Read-only checks: our application id and a schema we know, or an empty file."""
    # One statement, so all three come from one snapshot even while another
    # process is initialising the file.
    app_id, version, tables = conn.execute(
        "SELECT (SELECT application_id FROM pragma_application_id),"
        " (SELECT user_version FROM pragma_user_version),"
        " (SELECT count(*) FROM sqlite_master)").fetchone()
    check_identity(path, empty=app_id == 0 and version == 0 and tables == 0, ours=app_id == APPLICATION_ID,
                   version=version, foreign="is an SQLite database of another application, not a phaya job log")


def _init_schema(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-check inside the write lock: another process may have initialised it.
        _check_identity(conn, path)
        for stmt in SQLITE_SCHEMA:
            conn.execute(stmt)
        # an older log gains the columns added since, its rows untouched
        have = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
        for name, sql_type in COLUMNS.items():
            if name not in have:
                conn.execute(f"ALTER TABLE jobs ADD COLUMN {name} {sql_type}")
        conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('app', ?)", (APP_NAME,))
        conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('created_at', ?)",
                     (datetime.now(timezone.utc).isoformat(),))
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
