"""The job log's store: one SQLite file per log by default, opened safely and written briefly.

Why SQLite: embedded (no server), crash-safe (WAL: a kernel killed mid-write leaves the
last committed state), and safe with two kernels writing the same file (``BEGIN
IMMEDIATE`` + ``busy_timeout``, short transactions). A file that is not a log of ours
(another SQLite database, a corrupt file, a newer schema) is reported with
:class:`~phaya_notebook.joblog.schema.JobLogError` naming it and is never written to
(``joblog.sqlite_file`` opens, checks and upgrades the file).

One row per job id (``kind='job'``) or chat call (``kind='chat'``), upserted on every state
change (``joblog.recorder`` writes them). :class:`JobLog` is the one API of both stores;
``JobLog("postgresql://...")`` returns the PostgreSQL store, which registers itself
(``joblog.postgres``) so this module never imports it. The store's public transaction
surface (:meth:`JobLog.write`, :meth:`JobLog.read`, :meth:`JobLog.now`,
:meth:`JobLog.lock_key`, ``GREATEST``) is what ``joblog.shared`` builds on.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .queries import browse_where, check_rating, decode_row, to_json, where
from .reconcile import TRUSTED_SQL, reconcile_amounts
from .recorder import JobRecorder
from .schema import COLUMNS, JSON_COLUMNS, KEEP_FIRST, TERMINAL_SQL, default_log_path
from .shared import SqliteShared
from .sqlite_file import open_sqlite

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["JobLog"]


class JobLog:
    """The job log: SQLite by default; a ``postgresql://`` URL (argument or ``PHAYA_LOG``)
    opens the PostgreSQL store instead (:class:`~phaya_notebook.joblog.postgres.PgJobLog`),
    same API. One instance per process; open it after forking."""

    #: what a failing store raises (the recorder logs these instead of stopping a job)
    errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)
    #: SQL's two-argument maximum (PostgreSQL: ``greatest``); the shared tables use it
    GREATEST = "max"
    # SQL that differs between stores (PostgreSQL overrides these)
    _CHR = "char"
    _DAY_SQL = "date(created_at, 'unixepoch')"
    _TAG_SQL = "EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE json_each.value = ?)"
    _ROWID = "rowid"  # insertion order, to break ties (PostgreSQL has none: the job id)
    #: other stores, chosen by the path given: (accepts(path text), class); see register_store
    _stores: ClassVar[list[tuple[Callable[[str], bool], type[JobLog]]]] = []

    @staticmethod
    def register_store(accepts: Callable[[str], bool], store: type[JobLog]) -> None:
        """``JobLog(path)`` opens ``store`` when ``accepts(str(path))`` (``joblog.postgres`` registers
        PostgreSQL URLs when the package is imported)."""
        JobLog._stores.append((accepts, store))

    def __new__(cls, path: Any = None, **kw: Any) -> JobLog:
        if cls is JobLog:
            where_to = str(path) if path is not None else os.environ.get("PHAYA_LOG")
            for accepts, store in JobLog._stores:
                if where_to is not None and accepts(where_to):
                    return super().__new__(store)
        return super().__new__(cls)

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = 30.0):
        self.path = Path(path) if path is not None else default_log_path()
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._connect()

    def _connect(self) -> None:
        self._conn, self._pid = open_sqlite(self.path, self.busy_timeout), os.getpid()

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

    # ------------------------------------------------------------ transactions (joblog.shared uses these)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
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

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """This process's connection, held by this thread: statements outside a transaction."""
        with self._lock:
            yield self.conn

    def now(self, conn: Any) -> float:
        """The clock shared rows are timed by (this machine's; PostgreSQL uses the server's)."""
        return time.time()

    def lock_key(self, conn: Any, name: str) -> None:
        """Serialise writers of one key's shared rows (SQLite's BEGIN IMMEDIATE already does)."""

    def shared(self, key_id: str) -> SqliteShared:
        """The request window and daily cap of one key (by its hash) in this log, for every process."""
        return SqliteShared(self, key_id)

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
                sets.append(f"status = CASE WHEN jobs.status IN ({TERMINAL_SQL}) "
                            "THEN jobs.status ELSE excluded.status END")
            elif n in KEEP_FIRST:
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
            if k in JSON_COLUMNS and v is not None and not isinstance(v, str):
                v = to_json(list(v) if isinstance(v, tuple) else v)
            row[k] = v
        row.setdefault("updated_at", time.time())
        return row

    def record(self, job_id: str, **fields: Any) -> None:
        """Insert or update one row; only the given columns change."""
        row = self._row(job_id, fields)
        with self.write() as conn:
            conn.execute(self._upsert_sql(list(row)), list(row.values()))

    def record_many(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Upsert many rows (each with ``job_id``) in one transaction; rows must share columns."""
        prepared = [self._row(r["job_id"], {k: v for k, v in r.items() if k != "job_id"}) for r in rows]
        if not prepared:
            return 0
        names = list(prepared[0])
        with self.write() as conn:
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

    def rate(self, job_id: str, rating: int) -> None:
        """Keep (1), reject (-1) or clear (0) a logged job's result: the ``rating`` column.

        Raises ValueError naming the field for a rating other than 1, -1, 0, and KeyError
        for a job id this log has never seen (a rating is never a row of its own).
        """
        value = check_rating(rating)
        with self.read() as conn:
            found = conn.execute("SELECT 1 FROM jobs WHERE job_id = ?", (str(job_id),)).fetchone()
        if found is None:
            raise KeyError(f"job_id: {job_id!r} is not in the job log {str(self.path)!r}")
        self.record(str(job_id), rating=value)

    def attach(self, client: Any, *, session: str | None = None) -> JobRecorder:
        """Subscribe to an AsyncPhaya's (or Phaya's) JobEvents: every job it runs gets a row.

        Returns the listener (``client.remove_listener(it)`` detaches it).
        """
        recorder = JobRecorder(self, session or uuid.uuid4().hex[:12], getattr(client, "base_url", None),
                               getattr(client, "key_id", None))
        client.add_listener(recorder)
        return recorder

    # ------------------------------------------------------------ reading rows

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self.read() as conn:
            r = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return None if r is None else decode_row(r)

    def __len__(self) -> int:
        with self.read() as conn:
            return int(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])

    def _jobs(self, condition: str, base_url: str | None, order: str = "") -> list[dict[str, Any]]:
        """Whole job rows (not chat calls) matching ``condition``, of one server when ``base_url``
        is given, in one query."""
        sql = f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE kind = 'job' AND {condition}"
        args: list[Any] = []
        if base_url is not None:
            sql += " AND base_url = ?"
            args.append(base_url)
        with self.read() as conn:
            rows = conn.execute(sql + (f" ORDER BY {order}" if order else ""), args).fetchall()
        return [decode_row(r) for r in rows]

    def unfinished(self, base_url: str | None = None) -> list[dict[str, Any]]:
        """Rows that were not terminal (the kernel died or the wait was interrupted)."""
        return self._jobs(f"status NOT IN ({TERMINAL_SQL})", base_url, "created_at")

    def pending_downloads(self, base_url: str | None = None) -> list[dict[str, Any]]:
        """Completed (paid) jobs whose media is not on disk yet: a download failed."""
        return self._jobs("status = 'completed' AND download = 'pending'", base_url, "created_at")

    def unreconciled(self, base_url: str | None = None) -> list[dict[str, Any]]:
        """Terminal jobs whose charge has not been checked against the credits history yet."""
        return self._jobs(f"status IN ({TERMINAL_SQL}) AND (charge_source IS NULL OR charge_source NOT IN "
                          f"{TRUSTED_SQL})", base_url)

    def observed_rows(self, base_url: str | None = None) -> list[dict[str, Any]]:
        """Completed jobs whose charge the server confirmed (history or balance), oldest first:
        what ``core/observed.py`` learns prices from."""
        return self._jobs(f"status = 'completed' AND charge_source IN {TRUSTED_SQL}", base_url,
                          "coalesce(finished_at, created_at)")

    def ratings(self, job_ids: Iterable[str]) -> dict[str, int]:
        """{job_id: 1 or -1} for the rated ones among ``job_ids`` (one query per 500 ids)."""
        ids = [str(i) for i in job_ids if i]
        out: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            sql = (f"SELECT job_id, rating FROM jobs WHERE rating IS NOT NULL AND job_id IN "
                   f"({', '.join('?' for _ in chunk)})")
            with self.read() as conn:
                out.update((r[0], int(r[1])) for r in conn.execute(sql, chunk))
        return out

    # ------------------------------------------------------------ the gallery's pages

    def browse(self, *, service: str | Iterable[str] | None = None, tag: str | None = None, rating: Any = None,
               text: str | None = None, limit: int = 24, offset: int = 0) -> list[dict[str, Any]]:
        """One page of jobs, newest first: ``LIMIT``/``OFFSET`` in SQL, so a page costs the
        same with 100 or 100,000 rows (the gallery never loads the whole log)."""
        cond, args = browse_where(service, tag, rating, text, tag_sql=self._TAG_SQL)
        sql = (f"SELECT {', '.join(COLUMNS)} FROM jobs{cond} ORDER BY created_at DESC, {self._ROWID} DESC "
               "LIMIT ? OFFSET ?")
        with self.read() as conn:
            rows = conn.execute(sql, [*args, int(limit), int(offset)]).fetchall()
        return [decode_row(r) for r in rows]

    def count(self, *, service: str | Iterable[str] | None = None, tag: str | None = None, rating: Any = None,
              text: str | None = None) -> int:
        """How many jobs :meth:`browse` would page through."""
        cond, args = browse_where(service, tag, rating, text, tag_sql=self._TAG_SQL)
        with self.read() as conn:
            return int(conn.execute(f"SELECT count(*) FROM jobs{cond}", args).fetchone()[0])

    def services(self) -> list[str]:
        """The services that have jobs in this log (the gallery's filter)."""
        with self.read() as conn:
            rows = conn.execute("SELECT DISTINCT service FROM jobs WHERE kind = 'job' AND service IS NOT NULL "
                                "ORDER BY service").fetchall()
        return [r[0] for r in rows]

    # ------------------------------------------------------------ DataFrames (shaped in joblog.dataframes)

    def to_dataframe(self, service: str | Iterable[str] | None = None, status: str | Iterable[str] | None = None,
                     since: Any = None, tag: str | None = None, *, kind: str | None = None,
                     session: str | None = None) -> pd.DataFrame:
        """All matching rows, oldest first, with real dtypes.

        Times are ``datetime64[ns, UTC]``, money is float, service/status/model are
        categories; JSON columns (params, urls, paths, tags) stay JSON text so a
        100,000-row load stays well under a second (``json.loads`` them as needed).
        """
        from .dataframes import KEY_COLUMNS, OTHER_COLUMNS, jobs_frame

        cond, args = where(service, status, since, tag, kind, session, tag_sql=self._TAG_SQL)
        key = f" || {self._CHR}(31) || ".join(f"coalesce({c}, {self._CHR}(30))" for c in KEY_COLUMNS)
        with self.read() as conn:  # rowid order: a cheap scan (jobs_frame sorts by created_at)
            rows = conn.execute(f"SELECT {key}, {', '.join(OTHER_COLUMNS)} FROM jobs{cond}", args).fetchall()
        return jobs_frame(rows)

    def spend(self, by: str | Sequence[str] = "service", *, since: Any = None,
              session: str | None = None) -> pd.DataFrame:
        """Credits summed by service, by day (UTC) or both: estimated, charged, refunded, net."""
        from .dataframes import spend_frame

        keys = [by] if isinstance(by, str) else list(by)
        exprs = {"service": "service", "day": self._DAY_SQL, "kind": "kind",
                 "status": "status", "session": "session"}
        bad = [k for k in keys if k not in exprs]
        if bad or not keys:
            raise ValueError(f"spend(by=...): {bad or by!r} is not allowed (allowed: {', '.join(exprs)})")
        cond, args = where(None, None, since, None, None, session, tag_sql=self._TAG_SQL)
        group = ", ".join(exprs[k] for k in keys)
        sql = (f"SELECT {group}, count(*), sum(coalesce(estimated, 0)), sum(coalesce(charged, 0)), "
               f"sum(coalesce(refunded, 0)), sum(coalesce(charged, 0) - coalesce(refunded, 0)) "
               f"FROM jobs{cond} GROUP BY {group} ORDER BY {group}")
        with self.read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return spend_frame(rows, keys)
