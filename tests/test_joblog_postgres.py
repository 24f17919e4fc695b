"""The team log on a real PostgreSQL server: refusals, secrets, concurrent writers, a Session on it.

The store-independent job-log checks run on both stores in tests/test_joblog.py (its
``log`` fixture); these are the ones that only make sense for a server.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phaya_notebook.joblog import JobLog, JobLogError
from phaya_notebook.session import Session

from .sandboxes import running_sandbox
from .test_joblog import _exit_codes, _writer

psycopg = pytest.importorskip("psycopg")

KEY = "sk-pg-session-test-1234abcd"


def _with_password(url: str, password: str) -> str:
    return url.replace("postgresql://phaya@", f"postgresql://phaya:{password}@")


def test_phaya_log_url_opens_the_postgres_store(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHAYA_LOG", pg_url)
    with JobLog() as jl:
        assert type(jl).__name__ == "PgJobLog"
        jl.record("a", service="text-to-image", status="processing", created_at=1.0)
    with JobLog(pg_url) as jl:  # reopening keeps rows
        assert jl.get("a") is not None and len(jl) == 1


def test_a_foreign_jobs_table_is_refused_and_left_alone(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE jobs (id INT PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO jobs VALUES (1, 'theirs')")
    with pytest.raises(JobLogError, match="another application"):
        JobLog(pg_url)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT * FROM jobs").fetchall() == [(1, "theirs")]
        tables = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables "
                                             "WHERE table_schema = 'public'")}
    assert tables == {"jobs"}  # nothing of ours was created beside it


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    JobLog(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(JobLogError, match="newer than this version"):
        JobLog(pg_url)


def test_the_password_is_never_shown(pg_url: str) -> None:
    secret = "s3cret-Pa55word"
    with JobLog(_with_password(pg_url, secret)) as jl:  # trust auth: any password is accepted
        assert secret not in repr(jl) and "***" in repr(jl)
        assert secret not in str(jl.path)
    bad = _with_password(pg_url.rsplit("/", 1)[0] + "/no_such_db", secret)
    with pytest.raises(JobLogError) as err:
        JobLog(bad)
    assert secret not in str(err.value) and "no_such_db" in str(err.value)
    assert secret not in "".join(traceback.format_exception(err.value))  # as a notebook would show it


def test_two_processes_write_at_once(pg_url: str) -> None:
    JobLog(pg_url).close()
    assert _exit_codes(_writer, [(pg_url, name, 150) for name in ("k1", "k2")], 120) == [0, 0]
    with JobLog(pg_url) as jl:
        df = jl.to_dataframe()
        assert len(df) == 300 and (df["status"] == "completed").all()
        assert df.groupby("session", observed=True).size().to_dict() == {"k1": 150, "k2": 150}
        assert jl.spend().loc["text-to-image", "net"] == 300.0


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    with running_sandbox(speed=30.0, time_scale=10.0, credits=1000.0, api_keys=[KEY]) as sb:
        yield sb


def test_a_session_on_postgres_logs_reconciles_and_frames_like_sqlite(sandbox: Any, pg_url: str,
                                                                      tmp_path: Path) -> None:
    frames = {}
    for name, where in (("sqlite", tmp_path / "jobs.sqlite3"), ("postgres", pg_url)):
        with Session(KEY, sandbox.base_url, log_path=where, cache_dir=tmp_path / "media") as s:
            s.generate("text-to-image", prompt="a red fox", tags=("fox",))
            s.generate("text-to-music", prompt="a tune")
            s.chat("hello")
            assert set(s.reconcile().values()) <= {"ok"}
            df = s.jobs()
            assert len(df) == 3 and set(df["reconcile"].dropna()) == {"ok"}
            assert list(s.jobs(tag="fox")["service"]) == ["text-to-image"]
            by_day = s.spend("day")
            assert len(by_day) == 1 and by_day["jobs"].iloc[0] == 3
            frames[name] = df
    sq, pg = frames["sqlite"], frames["postgres"]
    assert list(sq.columns) == list(pg.columns)
    assert sq.dtypes.astype(str).to_dict() == pg.dtypes.astype(str).to_dict()
    cols = ["service", "status", "estimated", "charged", "refunded", "delta", "reconcile", "kind"]
    assert sq[cols].astype(str).to_dict("list") == pg[cols].astype(str).to_dict("list")
