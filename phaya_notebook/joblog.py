"""A durable job log: every job and every credit, on disk, as a pandas view.

Why SQLite: embedded (no server), crash-safe (WAL: a kernel killed mid-write
leaves the last committed state), and safe with two kernels writing the same
file (``BEGIN IMMEDIATE`` + ``busy_timeout``, short transactions).

One row per job id (``kind='job'``) or chat call (``kind='chat'``). The row is
inserted when the create request returns (the client's ``created`` event,
before any polling) and upserted on every later state change. A file that is
not a log of ours (another SQLite database, a corrupt file, a newer schema) is
reported with :class:`JobLogError` naming it and is never written to.

Money columns: ``estimated`` (catalog price at submit), ``charged`` (what the
server took: credits history when reconciled, else the status answer),
``refunded``. ``delta`` = billable estimate − charged + refunded, where the
billable estimate is the estimate for a completed job and 0 otherwise; it must be
0, and ``reconcile`` says ``ok`` / ``mismatch`` / ``unverified``.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import catalog

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["COLUMNS", "TERMINAL", "JobLog", "JobLogError", "JobRecorder", "default_log_path", "parse_time",
           "reconcile_amounts"]

#: PRAGMA application_id of our files ("PHYA"): a foreign SQLite file has another one.
APPLICATION_ID = 0x50485941
SCHEMA_VERSION = 3  # 2: the ``output`` column (results that are not files); 3: ``key_id``, ``download``, ``processing_time_ms``, ``rating``
#: Row statuses that end a job: the catalog's, plus "lost" (the server no longer knows it).
TERMINAL = (*catalog.TERMINAL, "lost")
#: Every status a row can have.
STATUSES = ("pending", "queued", "processing", *TERMINAL)
#: Columns that describe the job as submitted: the first value written wins (a resumed
#: job, which knows less, never blanks them out).
_KEEP_FIRST = ("kind", "service", "model", "prompt", "params", "estimated", "created_at", "tags",
               "session", "base_url", "key_id")
_log = logging.getLogger("phaya_notebook.joblog")
_SQLITE_HEADER = b"SQLite format 3\x00"
#: Tolerance when comparing credit amounts (prices have at most 6 decimals).
EPSILON = 1e-6

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
#: Where a row's ``charged`` came from. The first two are the server's word on the money;
#: a status answer's ``credits_used`` may lie (live: 0 on a Seedance job that cost 12).
CHARGE_SOURCES = ("credits history", "balance delta", "status answer", "chat answer", "unattributed")
_TRUSTED_SQL = "('credits history', 'balance delta')"
_JSON_COLUMNS = ("params", "urls", "paths", "tags")
_TIME_COLUMNS = ("created_at", "updated_at", "finished_at")
_FLOAT_COLUMNS = ("estimated", "charged", "refunded", "delta", "duration")
#: Low-cardinality text columns, read as categories.
_KEY_COLUMNS = ("kind", "service", "model", "status", "reconcile", "session", "base_url")
_OTHER_COLUMNS = tuple(c for c in COLUMNS if c not in _KEY_COLUMNS)
_TERMINAL_SQL = ", ".join(f"'{s}'" for s in TERMINAL)

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS jobs (" + ", ".join(f"{k} {v}" for k, v in COLUMNS.items()) + ")",
    "CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at)",
    # Small partial index: resume() only looks at rows that are not terminal.
    f"CREATE INDEX IF NOT EXISTS jobs_open ON jobs(base_url) WHERE status NOT IN ({_TERMINAL_SQL})",
]


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


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=isinstance(value, Mapping))


def _epoch(value: Any) -> float:
    """since= accepts a datetime, date, ISO text, epoch seconds or a timedelta (that long ago)."""
    if isinstance(value, timedelta):
        return time.time() - value.total_seconds()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"since: {value!r} is not a date (allowed: datetime, ISO 8601 text, "
                             "epoch seconds or a timedelta)") from exc
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    raise ValueError(f"since: {value!r} is not a date (allowed: datetime, ISO 8601 text, "
                     "epoch seconds or a timedelta)")


def _as_list(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


class JobLog:
    """The SQLite job log. One instance per process; open it after forking."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = 30.0):
        self.path = Path(path) if path is not None else default_log_path()
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._connect()

    # ------------------------------------------------------------ opening

    def _check_header(self) -> None:
        """Refuse a non-SQLite file before SQLite touches it."""
        if not self.path.exists():
            return
        if self.path.is_dir():
            raise JobLogError(self.path, "is a directory, not a job log file")
        with open(self.path, "rb") as fh:
            head = fh.read(len(_SQLITE_HEADER))
        if head and head != _SQLITE_HEADER:
            raise JobLogError(self.path, "is not an SQLite database (foreign or corrupt file)")

    def _connect(self) -> None:
        """Open, retrying while another process holds the lock.

        SQLite skips the busy handler for some lock upgrades (switching a new
        file to WAL while another process initialises it), so "database is
        locked" can come back at once; retry until ``busy_timeout``.
        """
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.01
        while True:
            try:
                self._connect_once()
                return
            except JobLogError as exc:
                cause = exc.__cause__
                transient = isinstance(cause, sqlite3.OperationalError) and any(
                    word in str(cause).lower() for word in ("locked", "busy"))
                if not transient or time.monotonic() >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def _connect_once(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._check_header()
        conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self._check_identity(conn)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._init_schema(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise JobLogError(self.path, f"cannot be read as a job log ({exc})") from exc
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()

    def _check_identity(self, conn: sqlite3.Connection) -> None:
        """Read-only checks: our application id and a schema we know, or an empty file."""
        # One statement, so all three come from one snapshot even while another
        # process is initialising the file.
        app_id, version, tables = conn.execute(
            "SELECT (SELECT application_id FROM pragma_application_id),"
            " (SELECT user_version FROM pragma_user_version),"
            " (SELECT count(*) FROM sqlite_master)").fetchone()
        if app_id == 0 and version == 0 and tables == 0:
            return  # a new (or empty) file: ours to initialise
        if app_id != APPLICATION_ID:
            raise JobLogError(self.path, "is an SQLite database of another application, not a phaya job log")
        if version > SCHEMA_VERSION:
            raise JobLogError(self.path, f"has job log schema {version}, newer than this version "
                                         f"of phaya-notebook understands ({SCHEMA_VERSION})")
        if version < 1:
            raise JobLogError(self.path, f"has an unknown job log schema version {version}")

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-check inside the write lock: another process may have initialised it.
            self._check_identity(conn)
            for stmt in _SCHEMA:
                conn.execute(stmt)
            # an older log gains the columns added since, its rows untouched
            have = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
            for name, sql_type in COLUMNS.items():
                if name not in have:
                    conn.execute(f"ALTER TABLE jobs ADD COLUMN {name} {sql_type}")
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('app', 'phaya-notebook job log')")
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('created_at', ?)",
                         (datetime.now(timezone.utc).isoformat(),))
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection of this process (a forked child opens its own)."""
        if self._conn is None or self._pid != os.getpid():
            self._connect()
        assert self._conn is not None
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> JobLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JobLog({str(self.path)!r})"

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taking the write lock up front (no upgrade deadlocks)."""
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # ------------------------------------------------------------ writing

    @staticmethod
    def _upsert_sql(names: Sequence[str]) -> str:
        cols = ", ".join(names)
        marks = ", ".join("?" for _ in names)
        sets = []
        for n in names:
            if n == "job_id":
                continue
            if n == "status":
                # A terminal status is final: a late event never re-opens a row.
                sets.append(f"status = CASE WHEN jobs.status IN ({_TERMINAL_SQL}) "
                            "THEN jobs.status ELSE excluded.status END")
            elif n in _KEEP_FIRST:
                sets.append(f"{n} = COALESCE(jobs.{n}, excluded.{n})")
            else:
                sets.append(f"{n} = excluded.{n}")
        return (f"INSERT INTO jobs ({cols}) VALUES ({marks}) "
                f"ON CONFLICT(job_id) DO UPDATE SET {', '.join(sets)}")

    @staticmethod
    def _row(job_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        bad = [k for k in fields if k not in COLUMNS]
        if bad:
            raise ValueError(f"JobLog.record: unknown column(s) {', '.join(bad)} "
                             f"(allowed: {', '.join(COLUMNS)})")
        row: dict[str, Any] = {"job_id": str(job_id)}
        for k, v in fields.items():
            if k in _JSON_COLUMNS and v is not None and not isinstance(v, str):
                v = _json(list(v) if isinstance(v, tuple) else v)
            row[k] = v
        row.setdefault("updated_at", time.time())
        return row

    def record(self, job_id: str, **fields: Any) -> None:
        """Insert or update one row; only the given columns change."""
        row = self._row(job_id, fields)
        with self._write() as conn:
            conn.execute(self._upsert_sql(list(row)), list(row.values()))

    def record_many(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Upsert many rows (each with ``job_id``) in one transaction; rows must share columns."""
        prepared = [self._row(r["job_id"], {k: v for k, v in r.items() if k != "job_id"}) for r in rows]
        if not prepared:
            return 0
        names = list(prepared[0])
        with self._write() as conn:
            conn.executemany(self._upsert_sql(names), [[r.get(n) for n in names] for r in prepared])
        return len(prepared)

    def record_chat(self, *, model: str | None, prompt: str | None, tokens: int | None,
                    credits: float | None, session: str | None = None, base_url: str | None = None,
                    chat_id: str | None = None, duration: float | None = None,
                    tags: Sequence[str] = ()) -> str:
        """One row for a chat call: tokens and credits used (charged at once, nothing to refund)."""
        now = time.time()
        job_id = chat_id or f"chat-{uuid.uuid4()}"
        self.record(job_id, kind="chat", service="chat", model=model, prompt=prompt, status="completed",
                    tokens=tokens, estimated=credits, charged=credits, refunded=0.0, delta=0.0,
                    reconcile="ok", charge_source="chat answer", created_at=now - (duration or 0.0), finished_at=now,
                    duration=duration, tags=list(tags), session=session, base_url=base_url)
        return job_id

    def reconcile_row(self, job_id: str, *, charged: float, refunded: float, source: str,
                      how: str | None = None) -> str:
        """Store server-side amounts for a terminal job and flag any mismatch; returns the verdict."""
        row = self.get(job_id)
        if row is None:
            raise KeyError(job_id)
        verdict, delta, note = reconcile_amounts(row.get("status"), row.get("estimated"), charged, refunded)
        self.record(job_id, charged=charged, refunded=refunded, delta=delta, reconcile=verdict,
                    reconcile_note=f"{note} (from {source}{': ' + how if how else ''})", charge_source=source)
        return verdict

    def unattributed(self, job_id: str, why: str) -> None:
        """Say plainly that a job's charge could not be attributed (its amounts stay unknown)."""
        self.record(job_id, reconcile="unverified", charge_source="unattributed",
                    reconcile_note=f"charge not attributed: {why}")

    def observed_rows(self, base_url: str | None = None) -> list[dict[str, Any]]:
        """Completed jobs whose charge the server confirmed (history or balance), oldest first:
        what ``core/observed.py`` learns prices from."""
        sql = (f"SELECT job_id FROM jobs WHERE kind = 'job' AND status = 'completed' "
               f"AND charge_source IN {_TRUSTED_SQL}")
        args: list[Any] = []
        if base_url is not None:
            sql += " AND base_url = ?"
            args.append(base_url)
        with self._lock:
            ids = [r[0] for r in self.conn.execute(sql + " ORDER BY coalesce(finished_at, created_at)", args)]
        return [row for i in ids if (row := self.get(i)) is not None]

    def rate(self, job_id: str, rating: int) -> None:
        """Keep (1), reject (-1) or clear (0) a logged job's result: the ``rating`` column.

        Raises ValueError naming the field for a rating other than 1, -1, 0, and KeyError
        for a job id this log has never seen (a rating is never a row of its own).
        """
        value = check_rating(rating)
        with self._lock:
            found = self.conn.execute("SELECT 1 FROM jobs WHERE job_id = ?", (str(job_id),)).fetchone()
        if found is None:
            raise KeyError(f"job_id: {job_id!r} is not in the job log {str(self.path)!r}")
        self.record(str(job_id), rating=value)

    def ratings(self, job_ids: Iterable[str]) -> dict[str, int]:
        """{job_id: 1 or -1} for the rated ones among ``job_ids`` (one query per 500 ids)."""
        ids = [str(i) for i in job_ids if i]
        out: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            sql = (f"SELECT job_id, rating FROM jobs WHERE rating IS NOT NULL AND job_id IN "
                   f"({', '.join('?' for _ in chunk)})")
            with self._lock:
                out.update((r[0], int(r[1])) for r in self.conn.execute(sql, chunk))
        return out

    def attach(self, client: Any, *, session: str | None = None) -> JobRecorder:
        """Subscribe to an AsyncPhaya's (or Phaya's) JobEvents: every job it runs gets a row.

        Returns the listener (``client.remove_listener(it)`` detaches it).
        """
        recorder = JobRecorder(self, session or uuid.uuid4().hex[:12], getattr(client, "base_url", None),
                               getattr(client, "key_id", None))
        client.add_listener(recorder)
        return recorder

    # ------------------------------------------------------------ reading

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            cur = self.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE job_id = ?", (job_id,))
            r = cur.fetchone()
        if r is None:
            return None
        out = dict(zip(COLUMNS, r, strict=True))
        for k in _JSON_COLUMNS:
            if out[k] is not None:
                out[k] = json.loads(out[k])
        return out

    def __len__(self) -> int:
        with self._lock:
            return int(self.conn.execute("SELECT count(*) FROM jobs").fetchone()[0])

    def unfinished(self, base_url: str | None = None) -> list[dict[str, Any]]:
        """Rows that were not terminal (the kernel died or the wait was interrupted)."""
        sql = f"SELECT job_id FROM jobs WHERE kind = 'job' AND status NOT IN ({_TERMINAL_SQL})"
        args: list[Any] = []
        if base_url is not None:
            sql += " AND base_url = ?"
            args.append(base_url)
        with self._lock:
            ids = [r[0] for r in self.conn.execute(sql + " ORDER BY created_at", args)]
        return [row for i in ids if (row := self.get(i)) is not None]

    def pending_downloads(self, base_url: str | None = None) -> list[dict[str, Any]]:
        """Completed (paid) jobs whose media is not on disk yet: a download failed."""
        sql = "SELECT job_id FROM jobs WHERE kind = 'job' AND status = 'completed' AND download = 'pending'"
        args: list[Any] = []
        if base_url is not None:
            sql += " AND base_url = ?"
            args.append(base_url)
        with self._lock:
            ids = [r[0] for r in self.conn.execute(sql + " ORDER BY created_at", args)]
        return [row for i in ids if (row := self.get(i)) is not None]

    def unreconciled(self, base_url: str | None = None) -> list[dict[str, Any]]:
        """Terminal jobs whose charge has not been checked against the credits history yet."""
        sql = (f"SELECT job_id FROM jobs WHERE kind = 'job' AND status IN ({_TERMINAL_SQL}) "
               f"AND (charge_source IS NULL OR charge_source NOT IN {_TRUSTED_SQL})")
        args: list[Any] = []
        if base_url is not None:
            sql += " AND base_url = ?"
            args.append(base_url)
        with self._lock:
            ids = [r[0] for r in self.conn.execute(sql, args)]
        return [row for i in ids if (row := self.get(i)) is not None]

    def _where(self, service: str | Iterable[str] | None, status: str | Iterable[str] | None,
               since: Any, tag: str | None, kind: str | None, session: str | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        for col, values in (("service", _as_list(service)), ("status", _as_list(status))):
            if values is not None:
                if col == "status":
                    values = [v.lower() for v in values]
                    bad = [v for v in values if v not in STATUSES]
                    if bad:
                        raise ValueError(f"status: {bad[0]!r} is not allowed (allowed: {', '.join(STATUSES)})")
                clauses.append(f"{col} IN ({', '.join('?' for _ in values)})")
                args.extend(values)
        if since is not None:
            clauses.append("created_at >= ?")
            args.append(_epoch(since))
        if tag is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE json_each.value = ?)")
            args.append(tag)
        if kind is not None:
            clauses.append("kind = ?")
            args.append(kind)
        if session is not None:
            clauses.append("session = ?")
            args.append(session)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def _browse_where(self, service: str | Iterable[str] | None, tag: str | None, rating: Any,
                      text: str | None) -> tuple[str, list[Any]]:
        """Jobs (not chat calls) by service, tag, rating (1, -1, "unrated") and prompt text."""
        where, args = self._where(service, None, None, tag, "job", None)
        clauses = [where.removeprefix(" WHERE ")] if where else []
        if rating is not None:
            if rating in ("unrated", 0):
                clauses.append("rating IS NULL")
            elif rating in (1, -1) and not isinstance(rating, bool):
                clauses.append("rating = ?")
                args.append(int(rating))
            else:
                raise ValueError(f"rating: {rating!r} is not allowed (allowed: 1, -1, 'unrated' or None)")
        if text:
            clauses.append("(prompt LIKE ? ESCAPE '\\' OR model LIKE ? ESCAPE '\\')")
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            args += [like, like]
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def browse(self, *, service: str | Iterable[str] | None = None, tag: str | None = None, rating: Any = None,
               text: str | None = None, limit: int = 24, offset: int = 0) -> list[dict[str, Any]]:
        """One page of jobs, newest first: ``LIMIT``/``OFFSET`` in SQL, so a page costs the
        same with 100 or 100,000 rows (the gallery never loads the whole log)."""
        where, args = self._browse_where(service, tag, rating, text)
        sql = (f"SELECT {', '.join(COLUMNS)} FROM jobs{where} ORDER BY created_at DESC, rowid DESC "
               "LIMIT ? OFFSET ?")
        with self._lock:
            rows = self.conn.execute(sql, [*args, int(limit), int(offset)]).fetchall()
        out = []
        for r in rows:
            row = dict(zip(COLUMNS, r, strict=True))
            for k in _JSON_COLUMNS:
                if row[k] is not None:
                    row[k] = json.loads(row[k])
            out.append(row)
        return out

    def count(self, *, service: str | Iterable[str] | None = None, tag: str | None = None, rating: Any = None,
              text: str | None = None) -> int:
        """How many jobs :meth:`browse` would page through."""
        where, args = self._browse_where(service, tag, rating, text)
        with self._lock:
            return int(self.conn.execute(f"SELECT count(*) FROM jobs{where}", args).fetchone()[0])

    def services(self) -> list[str]:
        """The services that have jobs in this log (the gallery's filter)."""
        with self._lock:
            rows = self.conn.execute("SELECT DISTINCT service FROM jobs WHERE kind = 'job' AND service IS NOT NULL "
                                     "ORDER BY service").fetchall()
        return [r[0] for r in rows]

    def to_dataframe(self, service: str | Iterable[str] | None = None, status: str | Iterable[str] | None = None,
                     since: Any = None, tag: str | None = None, *, kind: str | None = None,
                     session: str | None = None) -> pd.DataFrame:
        """All matching rows, oldest first, with real dtypes.

        Times are ``datetime64[ns, UTC]``, money is float, service/status/model are
        categories; JSON columns (params, urls, paths, tags) stay JSON text so a
        100,000-row load stays well under a second (``json.loads`` them as needed).
        """
        import numpy as np
        import pandas as pd

        where, args = self._where(service, status, since, tag, kind, session)
        # The low-cardinality columns travel as one joined key per row: fewer Python
        # objects to build, and one factorize gives every category's codes.
        key = " || char(31) || ".join(f"ifnull({c}, char(30))" for c in _KEY_COLUMNS)
        sql = f"SELECT {key}, {', '.join(_OTHER_COLUMNS)} FROM jobs{where}"
        with self._lock:
            rows = self.conn.execute(sql, args).fetchall()  # rowid order: a cheap scan
        grid = np.array(rows, dtype=object) if rows else np.empty((0, 1 + len(_OTHER_COLUMNS)), dtype=object)
        del rows
        data: dict[str, Any] = {}
        codes, uniques = pd.factorize(grid[:, 0])
        parts = [str(u).split("\x1f") for u in uniques]
        for i, name in enumerate(_KEY_COLUMNS):
            labels = [None if p[i] == "\x1e" else p[i] for p in parts]
            cats = sorted({v for v in labels if v is not None})
            index = {c: k for k, c in enumerate(cats)}
            mapping = np.array([-1 if v is None else index[v] for v in labels] or [0], dtype="int64")
            data[name] = pd.Categorical.from_codes(mapping[codes] if len(codes) else codes, cats)
        for j, name in enumerate(_OTHER_COLUMNS, start=1):
            values = grid[:, j]
            if name in _FLOAT_COLUMNS:
                data[name] = _floats(values)
            elif name in _TIME_COLUMNS:
                data[name] = pd.to_datetime(_floats(values), unit="s", utc=True).as_unit("ns")
            elif name in ("tokens", "processing_time_ms", "rating"):
                data[name] = pd.array(_floats(values)).astype("Int64")
            else:
                data[name] = pd.Series(np.array(values, dtype=object), dtype=object, copy=False)
        df = pd.DataFrame({c: data[c] for c in COLUMNS}, copy=False)
        created = _floats(grid[:, 1 + _OTHER_COLUMNS.index("created_at")])
        if len(created) > 1 and not bool(np.all(created[1:] >= created[:-1])):
            df = df.iloc[np.argsort(created, kind="stable")].reset_index(drop=True)
        return df

    def spend(self, by: str | Sequence[str] = "service", *, since: Any = None,
              session: str | None = None) -> pd.DataFrame:
        """Credits summed by service, by day (UTC) or both: estimated, charged, refunded, net."""
        import pandas as pd

        keys = [by] if isinstance(by, str) else list(by)
        exprs = {"service": "service", "day": "date(created_at, 'unixepoch')", "kind": "kind",
                 "status": "status", "session": "session"}
        bad = [k for k in keys if k not in exprs]
        if bad or not keys:
            raise ValueError(f"spend(by=...): {bad or by!r} is not allowed (allowed: {', '.join(exprs)})")
        where, args = self._where(None, None, since, None, None, session)
        group = ", ".join(exprs[k] for k in keys)
        sql = (f"SELECT {group}, count(*), sum(coalesce(estimated, 0)), sum(coalesce(charged, 0)), "
               f"sum(coalesce(refunded, 0)), sum(coalesce(charged, 0) - coalesce(refunded, 0)) "
               f"FROM jobs{where} GROUP BY {group} ORDER BY {group}")
        with self._lock:
            rows = self.conn.execute(sql, args).fetchall()
        cols = [*keys, "jobs", "estimated", "charged", "refunded", "net"]
        df = pd.DataFrame.from_records(rows, columns=cols)
        for c in ("estimated", "charged", "refunded", "net"):
            df[c] = df[c].astype("float64").round(6)
        if "day" in keys:
            df["day"] = pd.to_datetime(df["day"]).dt.date
        return df.set_index(keys if len(keys) > 1 else keys[0])


RATINGS = {1: "keep", -1: "reject", 0: "clear"}


def check_rating(rating: Any) -> int | None:
    """1 / -1 stored as is, 0 clears (NULL); anything else is refused, naming the allowed values."""
    if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATINGS:
        raise ValueError(f"rating: {rating!r} is not allowed (allowed: 1 (keep), -1 (reject), 0 (clear))")
    return None if rating == 0 else int(rating)


def _floats(values: Any) -> Any:
    """An object column (floats and None) as float64 with NaN, in C."""
    import numpy as np

    try:
        return values.astype("float64")
    except TypeError:  # None present
        mask = values == None  # noqa: E711 - elementwise
        out = np.where(mask, np.nan, values).astype("float64")
        return out


#: Fields that say what a job was about, for the log's ``prompt`` column.
# ---------------------------------------------------------------- recording a client's jobs

#: Fields that say what a job was about, for the ``prompt`` column.
_PROMPT_FIELDS = ("prompt", "character_prompt", "script", "url", "image_url", "media_url", "video_url")


def parse_time(value: Any) -> float | None:
    """ISO 8601 text or epoch seconds -> epoch seconds (None when unreadable)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _prompt_of(params: dict[str, Any]) -> str | None:
    for name in _PROMPT_FIELDS:
        if isinstance(params.get(name), str):
            return str(params[name])
    return None


def _model_of(job: Any) -> str:
    model = job.params.get("model") if isinstance(job.params, dict) else None
    return f"{job.service.label} ({model})" if isinstance(model, str) else job.service.label


class JobRecorder:
    """The JobEvent listener: one upsert per event; ``created`` comes before any poll.

    Duck-typed on core's Job (``id, service, params, estimate, status, charged,
    refunded, error, tags, created_at, finished_at, elapsed, done, fields, result``).
    """

    def __init__(self, joblog: JobLog, session_id: str | None, base_url: str | None, key_id: str | None = None):
        self.log = joblog
        self.session_id = session_id
        self.base_url = base_url
        self.key_id = key_id

    def __call__(self, event: Any) -> None:
        if getattr(event, "kind", None) == "chat":  # a ChatEvent: the session logs those
            return
        try:
            self.log.record(event.job.id, **self.fields(event))
        except (sqlite3.Error, OSError) as exc:  # the job must go on; say loudly that the log missed it
            _log.error("job log %s could not record %s of job %s: %s", self.log.path, event.kind, event.job.id, exc)

    def fields(self, event: Any) -> dict[str, Any]:
        job = event.job
        f: dict[str, Any] = {
            "kind": "job", "service": job.service.name, "model": _model_of(job),
            "prompt": _prompt_of(job.params), "params": job.params or None,
            "estimated": job.estimate.credits if job.estimate.basis != "resumed" else None,
            "status": job.status, "created_at": job.created_at, "tags": list(job.tags) or None,
            "session": self.session_id, "base_url": self.base_url, "key_id": self.key_id,
        }
        if job.charged is not None:
            f["charged"] = job.charged
        if event.kind == "timeout":
            f["error"] = f"timed out waiting after {job.elapsed:.0f} s (still {job.status}; resumable)"
        if job.done:
            fields = job.fields or {}
            start, end = parse_time(fields.get("created_at")), parse_time(fields.get("updated_at"))
            f["finished_at"] = end if end is not None else (job.finished_at or time.time())
            f["duration"] = (end - start) if (start is not None and end is not None and end >= start) \
                else job.elapsed
            f["error"] = job.error
            charged = float(job.charged or 0.0)
            f["charged"] = charged
            f["refunded"] = charged if job.refunded else 0.0
            ms = fields.get("processing_time_ms")
            if isinstance(ms, (int, float)) and not isinstance(ms, bool):
                f["processing_time_ms"] = int(ms)
            if (job.status == "completed" and charged <= 0 and job.estimate.credits > 0
                    and job.estimate.basis != "resumed"):
                # live quirk: credits_used 0 for a job that cost money. Unknown, not free.
                f.update(charged=None, refunded=0.0, delta=None, reconcile="unverified",
                         charge_source="status answer",
                         reconcile_note="the status answer said credits_used 0 for a priced job: charge unknown "
                                        "until reconcile() reads the credits history or the balance")
            elif job.estimate.basis != "resumed":  # provisional until reconcile() reads the history
                verdict, delta, note = reconcile_amounts(job.status, job.estimate.credits, charged, f["refunded"])
                f.update(reconcile=verdict, delta=delta, reconcile_note=f"{note} (from the status answer)",
                         charge_source="status answer")
            if job.result is not None:
                f["urls"] = list(job.result.urls)
                f["paths"] = [str(p) for p in job.result.paths]
                if getattr(job.result, "text", None):  # a transcript or character id: paid for, kept
                    f["output"] = job.result.text
                if job.result.download_errors:
                    f["error"] = "; ".join(job.result.download_errors)
                    f["download"] = "pending"  # paid for, not on disk yet: retried, and resume() collects it
                elif job.result.paths:
                    f["download"] = "cached"
        return f


def reconcile_amounts(status: str | None, estimated: float | None, charged: float,
                      refunded: float) -> tuple[str, float, str]:
    """(verdict, delta, note): billable estimate − charged + refunded must be 0.

    The billable estimate is the estimate for a completed job, 0 for a failed or
    cancelled one (it is refunded in full, or never charged).
    """
    if estimated is None:
        return "unverified", 0.0, "no estimate recorded"
    billable = estimated if status == "completed" else 0.0
    delta = round(billable - charged + refunded, 6)
    if abs(delta) <= EPSILON:
        return "ok", 0.0, f"estimated {estimated:g}, charged {charged:g}, refunded {refunded:g}"
    return "mismatch", delta, (f"estimated {estimated:g} ({status}), charged {charged:g}, "
                               f"refunded {refunded:g}: off by {delta:+g}")
