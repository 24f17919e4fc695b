"""A durable job log: every job and every credit, on disk (or in PostgreSQL), as a pandas view.

One row per job id (``kind='job'``) or chat call (``kind='chat'``). The row is inserted
when the create request returns (the client's ``created`` event, before any polling) and
upserted on every later state change. Money columns: ``estimated`` (catalog price at
submit), ``charged`` (what the server took: credits history when reconciled, else the
status answer), ``refunded``; ``delta`` and ``reconcile`` say whether they agree.

The package, one job per module (imports point down this list; no module imports this
``__init__``, which only re-exports):

- ``schema``: columns, statuses, schema version, :class:`JobLogError`, the one identity check;
- ``reconcile``: the money rule (``reconcile_amounts``) and which charge sources are trusted;
- ``queries``: ``WHERE`` clauses from the readers' arguments, checked before any SQL;
- ``recorder``: :class:`JobRecorder`, the JobEvent listener that writes rows;
- ``shared``: the request window and daily cap every process on one key shares;
- ``sqlite_file``: opening a SQLite log safely (identity, WAL, create / upgrade);
- ``store``: :class:`JobLog`, the store's API (write, read, resume's queries, gallery pages);
- ``postgres``: the same API on PostgreSQL for teams (registers itself with ``JobLog``);
- ``dataframes``: rows as typed DataFrames (``to_dataframe``, ``spend``), imported only when used;
- ``frames``: ``NotedFrame``, a DataFrame that shows a note under itself (the session's spend view).
"""

from __future__ import annotations

from . import postgres as postgres  # registers the PostgreSQL store: JobLog("postgresql://...")
from .queries import RATINGS, check_rating
from .reconcile import CHARGE_SOURCES, EPSILON, reconcile_amounts
from .recorder import JobRecorder, parse_time
from .schema import (
                     APPLICATION_ID,
                     COLUMNS,
                     SCHEMA_VERSION,
                     STATUSES,
                     TERMINAL,
                     JobLogError,
                     default_log_path,
                     is_postgres_url,
)
from .store import JobLog

__all__ = ["APPLICATION_ID", "CHARGE_SOURCES", "COLUMNS", "EPSILON", "RATINGS", "SCHEMA_VERSION", "STATUSES",
           "TERMINAL", "JobLog", "JobLogError", "JobRecorder", "check_rating", "default_log_path",
           "is_postgres_url", "parse_time", "reconcile_amounts"]
