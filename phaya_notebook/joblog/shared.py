"""What every process using one key shares through the job log: its request window and its daily cap.

Phaya's limits belong to the key (60 requests a minute, one balance), so kernels that
share a key must share their bookkeeping. The log is already the file (or database)
they share, with short write transactions that serialise them; these tables live
beside ``jobs``:

- ``rate_slots`` / ``rate_pause``: every request slot taken with the key in the last
  window, and the latest Retry-After pause (the ``SharedWindow`` of ``core.budget``).
- ``spend_cap``: credits reserved or charged with the key per UTC day, so a
  ``PHAYA_DAILY_CAP`` holds for all processes together.

The key itself is never stored: rows are keyed by :func:`key_id`, a truncated SHA-256 of
the base URL and key. Times are this machine's clock (``time.time()``); PostgreSQL's
store uses the server's clock instead (see ``joblog.postgres``).

Why a table in the log rather than a lock file: the cap needs a transaction anyway, the
log already has one writer discipline (``BEGIN IMMEDIATE``), and PostgreSQL gets the
same design for free. ``tests/benchmarks/bench_shared.py --claims`` measures a claim
both ways.
"""

from __future__ import annotations

import os
import random
import time
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from ..core.budget import key_id

__all__ = ["SCHEMA", "SharedStore", "SqliteShared", "key_id", "utc_day"]

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS rate_slots (id INTEGER PRIMARY KEY AUTOINCREMENT, key_id TEXT NOT NULL, "
    "t REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS rate_slots_key ON rate_slots(key_id, t)",
    "CREATE TABLE IF NOT EXISTS rate_pause (key_id TEXT PRIMARY KEY, until REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS spend_cap (id INTEGER PRIMARY KEY AUTOINCREMENT, key_id TEXT NOT NULL, "
    "day TEXT NOT NULL, amount REAL NOT NULL, state TEXT NOT NULL, job_id TEXT, pid INTEGER, "
    "created_at REAL, updated_at REAL)",
    "CREATE INDEX IF NOT EXISTS spend_cap_key_day ON spend_cap(key_id, day)",
    "CREATE TABLE IF NOT EXISTS poll_obs (id INTEGER PRIMARY KEY AUTOINCREMENT, key_id TEXT NOT NULL, "
    "service TEXT NOT NULL, factor REAL NOT NULL, origin INTEGER, t REAL)",
]
#: Shared duration observations kept per key (older ones are dropped as new ones arrive).
OBS_KEEP = 500
_ORIGIN = [0, 0]  # [pid, a random id of this process]: pids repeat across machines, this does not


def _origin() -> int:
    """This process's id in shared rows (new after a fork)."""
    if _ORIGIN[0] != os.getpid():
        _ORIGIN[:] = [os.getpid(), random.getrandbits(62)]
    return _ORIGIN[1]


def utc_day(epoch: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if epoch is None else epoch, timezone.utc).strftime("%Y-%m-%d")


class SharedStore(Protocol):
    """What these tables need of a store: its public transaction surface (``JobLog`` is one)."""

    @property
    def path(self) -> Path | str: ...

    #: SQL's two-argument maximum in this store's dialect (``max`` / ``greatest``)
    GREATEST: str

    def write(self) -> AbstractContextManager[Any]:
        """One short write transaction; yields the connection."""

    def read(self) -> AbstractContextManager[Any]:
        """The connection, for reads outside a transaction."""

    def now(self, conn: Any) -> float:
        """The clock shared rows are timed by."""

    def lock_key(self, conn: Any, name: str) -> None:
        """Serialise writers of one key's rows inside a write transaction."""


class SqliteShared:
    """The shared window and daily cap of one key in a job log (SQLite, or PostgreSQL through
    the store's public hooks: ``write``, ``read``, ``now``, ``lock_key``, ``GREATEST``)."""

    def __init__(self, log: SharedStore, key: str):
        self.log = log
        self.key = key

    def __repr__(self) -> str:
        return f"<SqliteShared {self.key} in {str(self.log.path)!r}>"

    # ------------------------------------------------------------- the request window

    def claim(self, limit: int, window: float) -> tuple[int | None, float]:
        with self.log.write() as conn:
            self.log.lock_key(conn, self.key)
            now = self.log.now(conn)
            conn.execute("DELETE FROM rate_slots WHERE key_id = ? AND t <= ?", (self.key, now - window))
            row = conn.execute("SELECT until FROM rate_pause WHERE key_id = ?", (self.key,)).fetchone()
            if row is not None and row[0] > now:
                return None, float(row[0]) - now
            times = [r[0] for r in conn.execute(
                "SELECT t FROM rate_slots WHERE key_id = ? ORDER BY t", (self.key,))]
            if len(times) >= limit:
                return None, times[len(times) - limit] + window - now
            row = conn.execute("INSERT INTO rate_slots(key_id, t) VALUES (?, ?) RETURNING id",
                               (self.key, now)).fetchone()
            return int(row[0]), 0.0

    def settle(self, slot: int) -> None:
        with self.log.write() as conn:
            conn.execute(f"UPDATE rate_slots SET t = {self.log.GREATEST}(t, ?) WHERE id = ?",
                         (self.log.now(conn), slot))

    def pause(self, seconds: float) -> None:
        with self.log.write() as conn:
            until = self.log.now(conn) + seconds
            conn.execute("INSERT INTO rate_pause(key_id, until) VALUES (?, ?) ON CONFLICT(key_id) "
                         f"DO UPDATE SET until = {self.log.GREATEST}(rate_pause.until, excluded.until)",
                         (self.key, until))

    def state(self, window: float) -> tuple[int, float]:
        with self.log.read() as conn:
            now = self.log.now(conn)
            used = conn.execute("SELECT count(*) FROM rate_slots WHERE key_id = ? AND t > ?",
                                (self.key, now - window)).fetchone()[0]
            row = conn.execute("SELECT until FROM rate_pause WHERE key_id = ?", (self.key,)).fetchone()
        return int(used), max(0.0, float(row[0]) - now) if row else 0.0

    # ------------------------------------------------------------- what durations were observed

    def observe(self, service: str, factor: float) -> None:
        """A finished job's actual/typical duration, for every process's poll timing."""
        with self.log.write() as conn:
            row = conn.execute("INSERT INTO poll_obs(key_id, service, factor, origin, t) VALUES (?, ?, ?, ?, ?) "
                               "RETURNING id", (self.key, service, factor, _origin(), self.log.now(conn))).fetchone()
            if int(row[0]) % 100 == 0:
                conn.execute("DELETE FROM poll_obs WHERE key_id = ? AND id <= ?", (self.key, int(row[0]) - OBS_KEEP))

    def observations(self, after: int) -> list[tuple[int, str, float]]:
        """Other processes' observations newer than row ``after`` (the first call: the latest 50)."""
        with self.log.read() as conn:
            if after <= 0:
                rows = conn.execute("SELECT id, service, factor FROM poll_obs WHERE key_id = ? AND origin != ? "
                                    "ORDER BY id DESC LIMIT 50", (self.key, _origin())).fetchall()
                rows.reverse()
            else:
                rows = conn.execute("SELECT id, service, factor FROM poll_obs WHERE key_id = ? AND origin != ? "
                                    "AND id > ? ORDER BY id", (self.key, _origin(), after)).fetchall()
        return [(int(i), str(svc), float(f)) for i, svc, f in rows]

    # ------------------------------------------------------------- the daily cap

    def reserve(self, amount: float, cap: float) -> tuple[int | None, float]:
        """Reserve ``amount`` credits of today's cap in one write transaction: (id, spent before),
        or (None, spent) when it would pass the cap."""
        with self.log.write() as conn:
            self.log.lock_key(conn, self.key)
            now = self.log.now(conn)
            day = utc_day(now)
            spent = float(conn.execute("SELECT coalesce(sum(amount), 0) FROM spend_cap WHERE key_id = ? "
                                       "AND day = ?", (self.key, day)).fetchone()[0])
            if spent + amount > cap + 1e-9:
                return None, spent
            row = conn.execute("INSERT INTO spend_cap(key_id, day, amount, state, pid, created_at, updated_at) "
                               "VALUES (?, ?, ?, 'reserved', ?, ?, ?) RETURNING id",
                               (self.key, day, amount, os.getpid(), now, now)).fetchone()
            return int(row[0]), spent

    def settle_spend(self, reservation: int, charged: float, job_id: str | None = None) -> None:
        """The server charged ``charged`` for this reservation (it replaces the estimate)."""
        with self.log.write() as conn:
            conn.execute("UPDATE spend_cap SET amount = ?, state = 'settled', job_id = coalesce(?, job_id), "
                         "updated_at = ? WHERE id = ?", (charged, job_id, self.log.now(conn), reservation))

    def attach(self, reservation: int, job_id: str) -> None:
        """The create returned: the reservation belongs to this job (so a later process can settle it)."""
        with self.log.write() as conn:
            conn.execute("UPDATE spend_cap SET job_id = ? WHERE id = ?", (job_id, reservation))

    def settle_job(self, job_id: str, charged: float | None, only_reserved: bool = True) -> None:
        """Settle (or release, None) what was reserved for a job, found by its id: a job re-attached
        after a restart finished; or (``only_reserved=False``) its real charge became known."""
        state = " AND state = 'reserved'" if only_reserved else ""
        with self.log.write() as conn:
            if charged is None:
                conn.execute(f"DELETE FROM spend_cap WHERE job_id = ? AND key_id = ?{state}", (job_id, self.key))
            else:
                conn.execute(f"UPDATE spend_cap SET amount = ?, state = 'settled', updated_at = ? WHERE job_id = ? "
                             f"AND key_id = ?{state}", (charged, self.log.now(conn), job_id, self.key))

    def release(self, reservation: int) -> None:
        """Nothing was charged (the create failed, the job was refunded): the credits are free again."""
        with self.log.write() as conn:
            conn.execute("DELETE FROM spend_cap WHERE id = ?", (reservation,))

    def spent_today(self) -> float:
        with self.log.read() as conn:
            row = conn.execute("SELECT coalesce(sum(amount), 0) FROM spend_cap WHERE key_id = ? "
                               "AND day = ?", (self.key, utc_day(self.log.now(conn)))).fetchone()
        return round(float(row[0]), 6)

    def describe(self) -> dict[str, Any]:
        return {"store": type(self.log).__name__, "path": str(self.log.path), "key_id": self.key}
