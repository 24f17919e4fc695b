"""What a job log is, whichever store holds it: its columns, statuses, schema version and identity.

Both stores (SQLite in ``joblog.store``, PostgreSQL in ``joblog.postgres``) build their
tables from :data:`COLUMNS` and refuse a database that is not a log of ours through the
one :func:`check_identity`, so the two cannot drift apart. Data and small pure functions
only: no connection is opened here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import catalog

__all__ = ["APPLICATION_ID", "COLUMNS", "JSON_COLUMNS", "KEEP_FIRST", "SCHEMA_VERSION", "STATUSES", "TERMINAL",
           "TERMINAL_SQL", "JobLogError", "check_identity", "default_log_path", "is_postgres_url", "jobs_tables"]

#: PRAGMA application_id of our files ("PHYA"): a foreign SQLite file has another one.
APPLICATION_ID = 0x50485941
SCHEMA_VERSION = 3  # 2: the ``output`` column (results that are not files); 3: ``key_id``, ``download``, ``processing_time_ms``, ``rating``
#: The ``meta`` row (key 'app') that names a database as ours.
APP_NAME = "phaya-notebook job log"
#: Row statuses that end a job: the catalog's, plus "lost" (the server no longer knows it).
TERMINAL = (*catalog.TERMINAL, "lost")
#: Every status a row can have.
STATUSES = ("pending", "queued", "processing", *TERMINAL)
TERMINAL_SQL = ", ".join(f"'{s}'" for s in TERMINAL)
#: Columns that describe the job as submitted: the first value written wins (a resumed
#: job, which knows less, never blanks them out).
KEEP_FIRST = ("kind", "service", "model", "prompt", "params", "estimated", "created_at", "tags",
              "session", "base_url", "key_id")

#: Column name -> SQL type. Order is the DataFrame's column order.
COLUMNS: dict[str, str] = {
    "job_id": "TEXT PRIMARY KEY",
    "kind": "TEXT NOT NULL DEFAULT 'job'",
    "service": "TEXT",
    "model": "TEXT",
    "prompt": "TEXT",
    "params": "TEXT",
    "status": "TEXT",
    "estimated": "REAL",
    "charged": "REAL",
    "refunded": "REAL",
    "delta": "REAL",
    "reconcile": "TEXT",
    "reconcile_note": "TEXT",
    "charge_source": "TEXT",
    "tokens": "INTEGER",
    "error": "TEXT",
    "created_at": "REAL",
    "updated_at": "REAL",
    "finished_at": "REAL",
    "duration": "REAL",
    "urls": "TEXT",
    "paths": "TEXT",
    "output": "TEXT",
    "tags": "TEXT",
    "session": "TEXT",
    "base_url": "TEXT",
    #: a non-secret name of the key that created the job (resume() skips other keys' jobs)
    "key_id": "TEXT",
    #: media of a completed job: 'cached' (all files on disk) or 'pending' (a download failed; retried)
    "download": "TEXT",
    "processing_time_ms": "INTEGER",
    #: 1 kept, -1 rejected, NULL not rated (phaya.rate, the 👍/👎 on result cards)
    "rating": "INTEGER",
}
#: Columns stored as JSON text (lists and dicts).
JSON_COLUMNS = ("params", "urls", "paths", "tags")


class JobLogError(RuntimeError):
    """The log file cannot be used (foreign, corrupt, newer schema); it was left untouched."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        super().__init__(f"job log {str(path)!r}: {problem}; the file was left unchanged. "
                         "Pass another log_path (or set PHAYA_LOG) to start a new log.")


def default_log_path() -> Path:
    """``$PHAYA_LOG`` or ``./.phaya/jobs.sqlite3`` next to the notebook."""
    env = os.environ.get("PHAYA_LOG")
    return Path(env) if env else Path.cwd() / ".phaya" / "jobs.sqlite3"


def is_postgres_url(value: Any) -> bool:
    """A ``postgresql://`` (or ``postgres://``) URL: the team log on PostgreSQL."""
    return isinstance(value, str) and value.startswith(("postgresql://", "postgres://"))


def jobs_tables(column_type: Callable[[str], str] = str) -> list[str]:
    """The ``meta`` and ``jobs`` tables and their indexes; ``column_type`` maps SQLite types
    to the store's (PostgreSQL: 8-byte floats)."""
    return [
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS jobs (" + ", ".join(f"{k} {column_type(v)}" for k, v in COLUMNS.items()) + ")",
        "CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at)",
        # Small partial index: resume() only looks at rows that are not terminal.
        f"CREATE INDEX IF NOT EXISTS jobs_open ON jobs(base_url) WHERE status NOT IN ({TERMINAL_SQL})",
    ]


def check_identity(path: Path | str, *, empty: bool, ours: bool, version: int | None, foreign: str) -> None:
    """Refuse (:class:`JobLogError`) a database that is not a log of ours or has a schema we do
    not know. ``empty``: nothing there yet (ours to initialise); ``ours``: it carries our mark;
    ``version``: its schema version (None: not recorded); ``foreign``: how a foreign one is named."""
    if empty:
        return
    if not ours:
        raise JobLogError(path, foreign)
    if version is None:
        return
    if version > SCHEMA_VERSION:
        raise JobLogError(path, f"has job log schema {version}, newer than this version "
                                f"of phaya-notebook understands ({SCHEMA_VERSION})")
    if version < 1:
        raise JobLogError(path, f"has an unknown job log schema version {version}")
