"""The job log on its own: rows, upserts, dtypes, filters, spend, bad files, two writers."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from phaya_notebook.joblog import COLUMNS, SCHEMA_VERSION, JobLog, JobLogError, reconcile_amounts


def _digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _assert_refused_untouched(path: Path, match: str) -> None:
    """Opening ``path`` raises JobLogError matching ``match`` and leaves the file as it was."""
    before = _digest(path)
    with pytest.raises(JobLogError, match=match):
        JobLog(path)
    assert _digest(path) == before


@pytest.fixture(params=["sqlite", "postgres"])
def log(request: pytest.FixtureRequest, tmp_path: Path):
    """The same log API on both stores: an SQLite file, and a real PostgreSQL database."""
    where = tmp_path / "jobs.sqlite3" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with JobLog(where) as jl:
        yield jl


def test_default_path_is_next_to_the_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with JobLog() as jl:
        assert jl.path == tmp_path / ".phaya" / "jobs.sqlite3"
        assert jl.path.exists()
    monkeypatch.setenv("PHAYA_LOG", str(tmp_path / "elsewhere.db"))
    with JobLog() as jl:
        assert jl.path == tmp_path / "elsewhere.db"


def test_upsert_keeps_first_facts_and_terminal_status_is_final(log: JobLog) -> None:
    log.record("j1", service="text-to-image", model="Z-Image", prompt="a cat", params={"prompt": "a cat"},
               estimated=1.0, status="pending", created_at=100.0, tags=["a"], session="s1", base_url="u")
    log.record("j1", status="processing")
    # a re-attached job knows less: it must not blank out what the first writer knew
    log.record("j1", prompt=None, params=None, estimated=None, session="s2", created_at=999.0, status="processing")
    log.record("j1", status="completed", charged=1.0, refunded=0.0, urls=["http://x/a.png"], paths=["a.png"])
    log.record("j1", status="processing")  # a late event never re-opens a finished job
    row = log.get("j1")
    assert row is not None
    assert row["status"] == "completed"
    assert (row["prompt"], row["params"], row["estimated"]) == ("a cat", {"prompt": "a cat"}, 1.0)
    assert (row["session"], row["created_at"], row["tags"]) == ("s1", 100.0, ["a"])
    assert (row["urls"], row["paths"]) == (["http://x/a.png"], ["a.png"])
    assert len(log) == 1
    with pytest.raises(ValueError, match="unknown column.*nope.*allowed: job_id"):
        log.record("j1", nope=1)


def test_dataframe_dtypes_and_filters(log: JobLog) -> None:
    now = time.time()
    log.record("a", service="text-to-image", status="completed", estimated=1.0, charged=1.0, refunded=0.0,
               created_at=now - 3 * 86400, finished_at=now - 3 * 86400 + 5, tags=["x", "y"])
    log.record("b", service="seedream", status="failed", estimated=1.5, charged=0.0, refunded=0.0,
               created_at=now - 60, tags=["y"])
    log.record("c", service="text-to-image", status="processing", estimated=1.0, created_at=now - 30)
    log.record_chat(model="phaya-gpt", prompt="hi", tokens=42, credits=0.002)
    df = log.to_dataframe()
    assert list(df.columns) == list(COLUMNS)
    assert list(df["job_id"][:3]) == ["a", "b", "c"]  # oldest first
    assert str(df["created_at"].dtype) == "datetime64[ns, UTC]"
    assert str(df["finished_at"].dtype) == "datetime64[ns, UTC]"
    assert df["finished_at"].isna().sum() == 2
    assert df["charged"].dtype == "float64" and pd.isna(df.loc[2, "charged"])
    assert isinstance(df["service"].dtype, pd.CategoricalDtype)
    assert isinstance(df["status"].dtype, pd.CategoricalDtype)
    assert str(df["tokens"].dtype) == "Int64" and df["tokens"].iloc[3] == 42
    assert df.loc[0, "created_at"] == pd.Timestamp(now - 3 * 86400, unit="s", tz="UTC")
    assert list(log.to_dataframe(service="text-to-image")["job_id"]) == ["a", "c"]
    assert list(log.to_dataframe(status="FAILED")["job_id"]) == ["b"]
    assert list(log.to_dataframe(status=["failed", "processing"])["job_id"]) == ["b", "c"]
    assert list(log.to_dataframe(tag="x")["job_id"]) == ["a"]
    assert list(log.to_dataframe(tag="y")["job_id"]) == ["a", "b"]
    assert set(log.to_dataframe(since=timedelta(hours=1))["job_id"]) == {"b", "c", df.loc[3, "job_id"]}
    since = datetime.fromtimestamp(now - 45, tz=timezone.utc)
    assert list(log.to_dataframe(since=since, kind="job")["job_id"]) == ["c"]
    assert list(log.to_dataframe(kind="chat")["service"]) == ["chat"]
    with pytest.raises(ValueError, match="status: 'complete' is not allowed.*completed"):
        log.to_dataframe(status="complete")
    with pytest.raises(ValueError, match="since: 'yesterday' is not a date"):
        log.to_dataframe(since="yesterday")
    empty = log.to_dataframe(service="veo31-video")
    assert len(empty) == 0 and list(empty.columns) == list(COLUMNS)
    assert str(empty["created_at"].dtype) == "datetime64[ns, UTC]"


def test_unsorted_inserts_come_back_oldest_first(log: JobLog) -> None:
    for i, t in enumerate([50.0, 10.0, 30.0]):
        log.record(f"j{i}", service="text-to-image", status="completed", created_at=t)
    assert list(log.to_dataframe()["job_id"]) == ["j1", "j2", "j0"]


def test_spend_by_service_and_day(log: JobLog) -> None:
    day1 = datetime(2026, 1, 1, 10, tzinfo=timezone.utc).timestamp()
    day2 = datetime(2026, 1, 2, 10, tzinfo=timezone.utc).timestamp()
    log.record("a", service="text-to-image", status="completed", estimated=1, charged=1, refunded=0, created_at=day1)
    log.record("b", service="text-to-image", status="failed", estimated=1, charged=1, refunded=1, created_at=day1)
    log.record("c", service="nano-banana", status="completed", estimated=3, charged=3, refunded=0, created_at=day2)
    by_service = log.spend()
    assert by_service.loc["text-to-image", "net"] == 1.0
    assert by_service.loc["text-to-image", "refunded"] == 1.0
    assert by_service.loc["text-to-image", "jobs"] == 2
    assert by_service.loc["nano-banana", "charged"] == 3.0
    by_day = log.spend("day")
    assert [str(d) for d in by_day.index] == ["2026-01-01", "2026-01-02"]
    assert list(by_day["net"]) == [1.0, 3.0]
    both = log.spend(["day", "service"])
    assert both.loc[(by_day.index[1], "nano-banana"), "net"] == 3.0
    with pytest.raises(ValueError, match="allowed: service, day"):
        log.spend("week")


def test_reconcile_rule() -> None:
    assert reconcile_amounts("completed", 1.0, 1.0, 0.0)[0] == "ok"
    assert reconcile_amounts("failed", 1.0, 1.0, 1.0)[0] == "ok"          # refunded in full
    assert reconcile_amounts("failed", 1.5, 0.0, 0.0)[0] == "ok"          # Seedream: never charged
    verdict, delta, note = reconcile_amounts("completed", 1.0, 1.5, 0.0)
    assert (verdict, delta) == ("mismatch", -0.5) and "off by -0.5" in note
    assert reconcile_amounts("failed", 1.0, 1.0, 0.0)[:2] == ("mismatch", -1.0)  # charged, not refunded


def test_reconcile_row_flags_a_mismatch(log: JobLog) -> None:
    log.record("j", service="text-to-image", status="completed", estimated=1.0)
    assert log.reconcile_row("j", charged=2.0, refunded=0.0, source="credits history") == "mismatch"
    row = log.get("j")
    assert row is not None and row["reconcile"] == "mismatch" and row["delta"] == -1.0
    assert "from credits history" in row["reconcile_note"]
    assert log.unreconciled() == []


def test_unfinished_rows_by_base_url(log: JobLog) -> None:
    log.record("a", service="text-to-image", status="processing", base_url="http://one", created_at=1)
    log.record("b", service="text-to-image", status="completed", base_url="http://one", created_at=2)
    log.record("c", service="text-to-image", status="pending", base_url="http://two", created_at=3)
    assert [r["job_id"] for r in log.unfinished("http://one")] == ["a"]
    assert [r["job_id"] for r in log.unfinished()] == ["a", "c"]


def test_a_non_sqlite_file_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    path.write_bytes(b"this is my thesis, not a database\n" * 100)
    _assert_refused_untouched(path, r"jobs\.sqlite3.*not an SQLite database.*left unchanged")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs.sqlite3"]


def test_a_foreign_sqlite_database_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE jobs (id INTEGER, name TEXT)")
    conn.execute("INSERT INTO jobs VALUES (1, 'mine')")
    conn.commit()
    conn.close()
    _assert_refused_untouched(path, r"other\.db.*another application")


def test_a_corrupt_log_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    with JobLog(path) as jl:
        jl.record("a", service="text-to-image", status="completed")
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # smash the first page after the header
    path.write_bytes(bytes(data))
    _assert_refused_untouched(path, r"jobs\.sqlite3.*left unchanged")


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    JobLog(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    _assert_refused_untouched(path, "schema 99, newer")


@pytest.mark.parametrize("pragma,match", [
    ("user_version = 99", "schema 99, newer"),
    ("application_id = 1234", "another application"),
])
def test_a_log_in_rollback_journal_mode_is_refused_before_any_change(tmp_path: Path, pragma: str,
                                                                       match: str) -> None:
    # A file that is not in WAL mode shows whether it was switched (the header changes)
    # before it was checked: a refused file must not be touched, not even its journal mode.
    path = tmp_path / "jobs.sqlite3"
    with JobLog(path) as jl:
        jl.record("a", service="text-to-image", status="completed")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode = DELETE").fetchone() == ("delete",)
    conn.execute(f"PRAGMA {pragma}")
    conn.close()
    _assert_refused_untouched(path, match)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()


def test_reopening_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    with JobLog(path) as jl:
        jl.record("a", service="text-to-image", status="processing", created_at=1.0)
    with JobLog(path) as jl:
        assert jl.get("a") is not None and len(jl) == 1


def _writer(path: str, prefix: str, n: int) -> None:
    jl = JobLog(path)
    for i in range(n):
        jid = f"{prefix}-{i}"
        jl.record(jid, service="text-to-image", status="pending", estimated=1.0, created_at=time.time(),
                  session=prefix, tags=[prefix])
        jl.record(jid, status="processing")
        jl.record(jid, status="completed", charged=1.0, refunded=0.0, finished_at=time.time())
    jl.close()


def _exit_codes(target: Any, arg_sets: list[tuple[Any, ...]], timeout: float) -> list[int | None]:
    """Run ``target`` once per argument tuple, each in its own spawned process, all at once."""
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=target, args=args) for args in arg_sets]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
    return [p.exitcode for p in procs]


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    JobLog(path).close()  # both start from an initialised file, as two kernels would
    assert _exit_codes(_writer, [(str(path), name, 300) for name in ("k1", "k2")], 60) == [0, 0]
    with JobLog(path) as jl:
        assert jl.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        df = jl.to_dataframe()
        assert len(df) == 600
        assert set(df["job_id"]) == {f"k{k}-{i}" for k in (1, 2) for i in range(300)}
        assert (df["status"] == "completed").all()
        assert df.groupby("session", observed=True).size().to_dict() == {"k1": 300, "k2": 300}
        assert jl.spend().loc["text-to-image", "net"] == 600.0


def _racer(paths: list[str], barrier: Any, name: str) -> None:
    for path in paths:
        barrier.wait(60)
        jl = JobLog(path)
        jl.record(name, service="text-to-image", status="pending", estimated=1.0, created_at=time.time())
        jl.close()


def test_many_processes_race_to_initialise_new_files(tmp_path: Path) -> None:
    """Six kernels opening the same fresh log at the same instant, 15 times over.

    Before the fix about a third of such openings failed with "database is
    locked" or "another application" (a torn read of a half-initialised file).
    """
    paths = [str(tmp_path / f"race{i}.sqlite3") for i in range(15)]
    barrier = mp.get_context("spawn").Barrier(6)
    assert _exit_codes(_racer, [(paths, barrier, f"k{k}") for k in range(6)], 120) == [0] * 6
    for path in paths:
        with JobLog(path) as jl:
            assert len(jl) == 6


def test_two_processes_initialise_a_new_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    assert _exit_codes(_writer, [(str(path), name, 20) for name in ("a", "b")], 60) == [0, 0]
    with JobLog(path) as jl:
        assert len(jl) == 40


def test_a_writer_killed_mid_burst_leaves_a_sound_log(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    JobLog(path).close()
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=_writer, args=(str(path), "crash", 100_000))
    proc.start()
    deadline = time.monotonic() + 30
    with JobLog(path) as jl:
        while len(jl) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.kill()  # SIGKILL: no cleanup, possibly inside a transaction
        proc.join(10)
        assert proc.exitcode is not None and proc.exitcode < 0
        assert jl.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n = len(jl)
        assert 200 <= n < 100_000
        df = jl.to_dataframe()
        assert df["status"].isin(["pending", "processing", "completed"]).all()
        assert (df["status"] != "completed").sum() <= 1  # at most the job being written when killed
        jl.record("after", service="text-to-image", status="pending")  # still writable
        assert len(jl) == n + 1


def test_a_version_1_log_gains_the_output_column_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    conn = sqlite3.connect(path)  # the schema 1 layout, as phaya-notebook 0.1 wrote it
    v1 = {k: v for k, v in COLUMNS.items() if k not in ("output", "key_id", "download")}
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("CREATE TABLE jobs (" + ", ".join(f"{k} {v}" for k, v in v1.items()) + ")")
    conn.execute("INSERT INTO jobs(job_id, service, status, estimated, created_at) "
                 "VALUES ('old', 'text-to-image', 'completed', 1.0, 5.0)")
    conn.execute(f"PRAGMA application_id = {0x50485941}")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with JobLog(path) as jl:
        assert jl.get("old")["estimated"] == 1.0
        assert jl.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        jl.record("new", service="media/transcribe", status="completed", output="hello there")
        df = jl.to_dataframe()
        assert df.set_index("job_id").loc["new", "output"] == "hello there"
        assert pd.isna(df.set_index("job_id").loc["old", "output"])


def test_resume_queries_read_whole_rows_in_one_statement(tmp_path: Path) -> None:
    """unfinished / pending_downloads / unreconciled / observed_rows: one SELECT each, not one per row."""
    with JobLog(tmp_path / "jobs.sqlite3") as jl:
        for i in range(3):
            jl.record(f"open{i}", status="processing", base_url="u", created_at=float(i), params={"i": i})
            jl.record(f"paid{i}", status="completed", download="pending", base_url="u", created_at=float(i),
                      charge_source="credits history", finished_at=10.0 - i)
        statements: list[str] = []
        jl.conn.set_trace_callback(statements.append)
        try:
            assert [r["job_id"] for r in jl.unfinished("u")] == ["open0", "open1", "open2"]
            assert jl.unfinished("u")[1]["params"] == {"i": 1}  # JSON columns still loaded
            assert [r["job_id"] for r in jl.pending_downloads("u")] == ["paid0", "paid1", "paid2"]
            assert [r["job_id"] for r in jl.observed_rows("u")] == ["paid2", "paid1", "paid0"]
            assert jl.unreconciled("u") == [] and jl.unfinished("other") == []
        finally:
            jl.conn.set_trace_callback(None)
    assert len(statements) == 6, statements


@pytest.mark.parametrize("text", ["2026-01-02T03:04:05", "2026-01-02T03:04:05Z", "2026-01-02T10:04:05+07:00"])
def test_parse_time_reads_api_times_as_utc_whatever_the_machine_zone(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from phaya_notebook.joblog import parse_time

    monkeypatch.setenv("TZ", "Asia/Bangkok")  # a naive API time is UTC, not this machine's local time
    time.tzset()
    try:
        assert parse_time(text) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp()
        assert parse_time(12.5) == 12.5 and parse_time("") is None and parse_time("soon") is None
        assert parse_time(None) is None and parse_time(True) is None
    finally:
        monkeypatch.undo()
        time.tzset()
