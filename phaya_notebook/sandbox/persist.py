"""The sandbox's state on disk: accounts, credit transactions, jobs and hosted files.

Why: the embedded sandbox is one persistent process per machine, shared by kernels. A
kernel restart, or a sandbox restart (even ``kill -9``), must lose no job and no credit,
and a job must keep its real-time schedule. So every change is written, in one short
SQLite transaction (WAL), before the answer that reports it leaves the server; times are
kept as wall-clock epochs and turned back into ``time.monotonic()`` on load.

The file holds the sandbox's play keys, so it is created 0600 (the directory 0700).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS accounts (key TEXT PRIMARY KEY, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS transactions (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL,"
    " data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, key TEXT NOT NULL, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS files (token TEXT PRIMARY KEY, data TEXT NOT NULL)",
)


def wall_of(mono: float) -> float:
    """A ``time.monotonic()`` instant as epoch seconds."""
    return time.time() - (time.monotonic() - mono)


def mono_of(wall: float) -> float:
    """Epoch seconds as a ``time.monotonic()`` instant (may lie in the past or future)."""
    return time.monotonic() - (time.time() - wall)


class Store:
    """One SQLite file per state directory; every write is its own committed transaction."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        for stmt in _SCHEMA:
            self._conn.execute(stmt)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _exec(self, sql: str, args: tuple[Any, ...]) -> None:
        with self._lock:
            self._conn.execute(sql, args)

    # ------------------------------------------------------------ meta

    def meta(self) -> dict[str, Any]:
        with self._lock:
            rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def set_meta(self, **values: Any) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            for k, v in values.items():
                self._conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (k, json.dumps(v)))
            self._conn.execute("COMMIT")

    # ------------------------------------------------------------ writes

    def save_account(self, acct: Any) -> None:
        data = {"user_id": acct.user_id, "balance": acct.balance, "created_at": acct.created_at,
                "characters": acct.characters}
        self._exec("INSERT OR REPLACE INTO accounts(key, data) VALUES (?, ?)", (acct.key, json.dumps(data)))

    def charged(self, acct: Any, transaction: dict[str, Any]) -> None:
        """A balance change and its transaction, together (one transaction on disk)."""
        data = {"user_id": acct.user_id, "balance": acct.balance, "created_at": acct.created_at,
                "characters": acct.characters}
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("INSERT OR REPLACE INTO accounts(key, data) VALUES (?, ?)",
                               (acct.key, json.dumps(data)))
            self._conn.execute("INSERT INTO transactions(key, data) VALUES (?, ?)",
                               (acct.key, json.dumps(transaction)))
            self._conn.execute("COMMIT")

    def save_job(self, job: Any) -> None:
        data = {"service": job.service.name, "params": job.params, "created_at": job.created_at,
                "due_at": wall_of(job.started + job.duration), "duration": job.duration, "price": job.price,
                "charged": job.charged, "refunded": job.refunded, "terminal": job.terminal, "error": job.error,
                "result": job.result, "updated_at": job.updated_at, "fail": job.fail, "stuck": job.stuck,
                "slow": job.slow, "task_id": getattr(job, "task_id", None)}
        self._exec("INSERT OR REPLACE INTO jobs(id, key, data) VALUES (?, ?, ?)",
                   (job.id, job.account.key, json.dumps(data, default=str)))

    def save_file(self, rec: Any, root: Path) -> None:
        try:
            rel = str(rec.path.relative_to(root))
        except ValueError:
            rel = str(rec.path)
        data = {"name": rec.name, "path": rel, "mime": rec.mime, "created": wall_of(rec.created),
                "meta": rec.meta}
        self._exec("INSERT OR REPLACE INTO files(token, data) VALUES (?, ?)", (rec.token, json.dumps(data)))

    # ------------------------------------------------------------ reads (once, at start)

    def accounts(self) -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
        """(key, account data, transactions oldest first) for every account."""
        with self._lock:
            accts = self._conn.execute("SELECT key, data FROM accounts").fetchall()
            txs = self._conn.execute("SELECT key, data FROM transactions ORDER BY seq").fetchall()
        by_key: dict[str, list[dict[str, Any]]] = {}
        for key, data in txs:
            by_key.setdefault(key, []).append(json.loads(data))
        return [(k, json.loads(d), by_key.get(k, [])) for k, d in accts]

    def jobs(self) -> list[tuple[str, str, dict[str, Any]]]:
        with self._lock:
            rows = self._conn.execute("SELECT id, key, data FROM jobs").fetchall()
        return [(i, k, json.loads(d)) for i, k, d in rows]

    def files(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            rows = self._conn.execute("SELECT token, data FROM files").fetchall()
        return [(t, json.loads(d)) for t, d in rows]
