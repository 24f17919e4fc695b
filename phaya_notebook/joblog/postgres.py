"""The job log on PostgreSQL: one log, request window and daily cap for a team.

``PHAYA_LOG=postgresql://user@host/db`` (or ``JobLog("postgresql://...")``) opens this
store instead of the SQLite file (this module registers itself with
:meth:`JobLog.register_store <phaya_notebook.joblog.store.JobLog.register_store>`, so the
SQLite store never imports it): same tables, same :class:`~phaya_notebook.joblog.store.JobLog`
API and DataFrames, same resume and reconcile, so kernels on several machines share one
key's 60/min window and spend cap. psycopg 3 is needed (``pip install
'phaya-notebook[postgres]'``).

How it differs from SQLite, and why:

- SQL goes through :class:`_Conn`, which turns the log's ``?`` placeholders into
  psycopg's ``%s`` and ``BEGIN IMMEDIATE`` into ``BEGIN`` (autocommit connection, explicit
  short transactions, as for SQLite).
- Writers of one key's shared rows take ``pg_advisory_xact_lock`` first: under READ
  COMMITTED two reservations could both read the same total and overshoot the cap.
- Shared rows are timed by the server's clock (``clock_timestamp()``), so machines whose
  clocks differ still agree on the window.
- The password never appears in ``repr``, errors or logs (:func:`mask_url`).
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .schema import (
    APP_NAME,
    COLUMNS,
    SCHEMA_VERSION,
    JobLogError,
    check_identity,
    is_postgres_url,
    jobs_tables,
)
from .shared import SqliteShared
from .store import JobLog

__all__ = ["PgJobLog", "PgShared", "mask_url"]

#: advisory lock id (any constant) taken while creating or upgrading the tables
_SCHEMA_LOCK = 0x50485941


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (safe to print)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def _pg_type(sql_type: str) -> str:
    """SQLite column types as PostgreSQL's (REAL is 4 bytes there: epoch seconds need 8)."""
    return sql_type.replace("REAL", "DOUBLE PRECISION").replace("INTEGER", "BIGINT")


_SCHEMA = [
    *jobs_tables(_pg_type),
    "CREATE TABLE IF NOT EXISTS rate_slots (id BIGSERIAL PRIMARY KEY, key_id TEXT NOT NULL, "
    "t DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS rate_slots_key ON rate_slots(key_id, t)",
    "CREATE TABLE IF NOT EXISTS rate_pause (key_id TEXT PRIMARY KEY, until DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS spend_cap (id BIGSERIAL PRIMARY KEY, key_id TEXT NOT NULL, day TEXT NOT NULL, "
    "amount DOUBLE PRECISION NOT NULL, state TEXT NOT NULL, job_id TEXT, pid BIGINT, "
    "created_at DOUBLE PRECISION, updated_at DOUBLE PRECISION)",
    "CREATE INDEX IF NOT EXISTS spend_cap_key_day ON spend_cap(key_id, day)",
    "CREATE TABLE IF NOT EXISTS poll_obs (id BIGSERIAL PRIMARY KEY, key_id TEXT NOT NULL, service TEXT NOT NULL, "
    "factor DOUBLE PRECISION NOT NULL, origin BIGINT, t DOUBLE PRECISION)",
    # A slot claim in one round trip (it runs before every request): the same steps as
    # SqliteShared.claim, under the key's advisory lock, timed by the server's clock.
    """CREATE OR REPLACE FUNCTION phaya_claim(k text, lim int, win float8) RETURNS float8[] AS $$
    DECLARE now_ float8; until_ float8; n int; tk float8; sid bigint;
    BEGIN
      PERFORM pg_advisory_xact_lock(hashtext(k));
      now_ := extract(epoch FROM clock_timestamp());
      DELETE FROM rate_slots WHERE key_id = k AND t <= now_ - win;
      SELECT until INTO until_ FROM rate_pause WHERE key_id = k;
      IF until_ IS NOT NULL AND until_ > now_ THEN RETURN ARRAY[NULL, until_ - now_]; END IF;
      SELECT count(*) INTO n FROM rate_slots WHERE key_id = k;
      IF n >= lim THEN
        SELECT t INTO tk FROM rate_slots WHERE key_id = k ORDER BY t OFFSET n - lim LIMIT 1;
        RETURN ARRAY[NULL, tk + win - now_];
      END IF;
      INSERT INTO rate_slots(key_id, t) VALUES (k, now_) RETURNING id INTO sid;
      RETURN ARRAY[sid::float8, 0];
    END $$ LANGUAGE plpgsql""",
]


class _Conn:
    """A psycopg connection speaking the log's SQLite-flavoured SQL (``?`` placeholders)."""

    def __init__(self, raw: Any):
        self.raw = raw
        self._sql: dict[str, str] = {}

    def _q(self, sql: str) -> str:
        """``?`` -> ``%s`` (and a literal ``%`` -> ``%%``); only for statements with arguments."""
        q = self._sql.get(sql)
        if q is None:
            q = sql.replace("%", "%%").replace("?", "%s")
            self._sql[sql] = q
        return q

    def execute(self, sql: str, args: Any = ()) -> Any:
        if not args:  # no placeholders: psycopg reads the text as it is
            return self.raw.execute("BEGIN" if sql == "BEGIN IMMEDIATE" else sql)
        return self.raw.execute(self._q(sql), list(args))

    def executemany(self, sql: str, rows: Any) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(self._q(sql), [list(r) for r in rows])

    def close(self) -> None:
        self.raw.close()


class PgShared(SqliteShared):
    """The shared tables on PostgreSQL: the per-request steps in one round trip each."""

    def claim(self, limit: int, window: float) -> tuple[int | None, float]:
        with self.log.read() as conn:
            slot, wait = conn.execute("SELECT phaya_claim(?, ?, ?)", (self.key, limit, window)).fetchone()[0]
        return (None, float(wait)) if slot is None else (int(slot), 0.0)

    def settle(self, slot: int) -> None:
        with self.log.read() as conn:  # one statement: its own transaction
            conn.execute("UPDATE rate_slots SET t = greatest(t, extract(epoch FROM clock_timestamp())) "
                                  "WHERE id = ?", (slot,))


class PgJobLog(JobLog):
    """The job log in a PostgreSQL database (``postgresql://`` URL)."""

    _CHR = "chr"
    _DAY_SQL = "to_char(to_timestamp(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    _TAG_SQL = ("EXISTS (SELECT 1 FROM jsonb_array_elements_text(jobs.tags::jsonb) AS tag(v) "
                "WHERE tag.v = ?)")
    GREATEST = "greatest"
    _ROWID = "job_id"

    def __init__(self, path: Any = None, *, busy_timeout: float = 30.0):
        try:
            import psycopg
        except ImportError:
            raise JobLogError("PHAYA_LOG", "is a PostgreSQL URL but psycopg is not installed "
                                           "(pip install 'phaya-notebook[postgres]')") from None
        self._psycopg = psycopg
        self.errors = (psycopg.Error, OSError)
        self.url = str(path) if path is not None else os.environ.get("PHAYA_LOG", "")
        self.path = mask_url(self.url)  # type: ignore[assignment]  # what repr and errors show
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn = None
        self._pid = 0
        self._connect()

    def __repr__(self) -> str:
        return f"JobLog({self.path!r})"

    def _problem(self, exc: BaseException) -> str:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = urlsplit(self.url).password
        return text.replace(password, "***") if password else text

    def _connect(self) -> None:
        psycopg = self._psycopg
        try:
            raw = psycopg.connect(self.url, autocommit=True, connect_timeout=max(1, int(self.busy_timeout)))
        except psycopg.Error as exc:
            raise JobLogError(self.path, f"cannot connect to PostgreSQL ({self._problem(exc)})") from None
        conn = _Conn(raw)
        try:
            raw.execute(f"SET lock_timeout = '{int(self.busy_timeout * 1000)}ms'")
            self._init_schema(conn)
        except JobLogError:
            raw.close()
            raise
        except psycopg.Error as exc:
            raw.close()
            raise JobLogError(self.path, f"cannot be used as a job log ({self._problem(exc)})") from None
        self._conn, self._pid = conn, os.getpid()  # type: ignore[assignment]

    def _check_identity(self, conn: Any) -> None:
        """A database whose ``jobs`` table is not ours (or is newer) is refused, untouched."""
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_name IN ('meta', 'jobs')")}
        app = version = None
        if "meta" in tables:
            rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('app', 'schema')").fetchall())
            app, version = rows.get("app"), rows.get("schema")
        check_identity(self.path, empty=not tables, ours=app == APP_NAME,
                       version=None if version is None else int(version),
                       foreign="has a jobs table of another application, not a phaya job log")

    def _init_schema(self, conn: Any) -> None:
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            self._check_identity(conn)
            for stmt in _SCHEMA:
                conn.execute(stmt)
            for name, sql_type in COLUMNS.items():  # an older log gains the columns added since
                conn.execute(f"ALTER TABLE jobs ADD COLUMN IF NOT EXISTS {name} {_pg_type(sql_type)}")
            conn.execute("INSERT INTO meta(key, value) VALUES ('app', ?) ON CONFLICT (key) DO NOTHING",
                         (APP_NAME,))
            conn.execute("INSERT INTO meta(key, value) VALUES ('created_at', now()::text) "
                         "ON CONFLICT (key) DO NOTHING")
            conn.execute("INSERT INTO meta(key, value) VALUES ('schema', ?) ON CONFLICT (key) "
                         "DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------ hooks of the shared tables

    def shared(self, key_id: str) -> PgShared:
        return PgShared(self, key_id)

    def now(self, conn: Any) -> float:
        """The server's clock: machines whose clocks differ still agree on the window."""
        return float(conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()[0])

    def lock_key(self, conn: Any, name: str) -> None:
        """Under READ COMMITTED, writers of one key's rows must queue on an advisory lock."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (name,))


JobLog.register_store(is_postgres_url, PgJobLog)
