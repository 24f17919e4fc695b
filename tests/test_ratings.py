"""Ratings in the job log, and the tables that decide from them (sandbox over real HTTP).

A rating is the ``rating`` column (1 kept, -1 rejected, empty), written at once, kept by a
new process on the same log, and counted by ``leaderboard()`` and ``comparison.summary()``.
"""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from phaya_notebook.core.errors import InvalidParams, PhayaError
from phaya_notebook.decide import SUMMARY_COLUMNS, summarize
from phaya_notebook.joblog import JobLog
from phaya_notebook.session import Session


@pytest.fixture()
def session(sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    s = Session(sandbox.api_key, sandbox.base_url)
    try:
        yield s
    finally:
        s.close()


def test_rate_writes_the_log_and_survives_a_new_process(session: Session, sandbox, tmp_path: Path) -> None:
    a = session.generate("text-to-image", prompt="a paper boat")
    b = session.generate("text-to-image", prompt="a kite")
    c = session.generate("nano-banana", prompt="a kite")
    a.rate(1)                      # result.rate
    session.rate(b.job_id, -1)     # by id
    session.rate(c, 1)             # a Result works as the id too
    session.rate(c, 0)             # ... and 0 clears it
    df = session.jobs()
    assert str(df["rating"].dtype) == "Int64"
    got = dict(zip(df["job_id"], df["rating"], strict=True))
    assert got[a.job_id] == 1 and got[b.job_id] == -1 and got[c.job_id] is pd.NA
    # a late event of the job (a re-recorded completion) must not erase the rating
    session.log.record(a.job_id, status="completed")
    assert session.log.get(a.job_id)["rating"] == 1

    # another process (a restarted kernel) opening the same log sees the ratings
    code = textwrap.dedent(f"""
        from phaya_notebook.session import Session
        s = Session({sandbox.api_key!r}, {sandbox.base_url!r})
        df = s.jobs()
        print(sorted(int(v) for v in df["rating"].dropna()))
        lb = s.leaderboard()
        print(int(lb["kept"].sum()), int(lb["rejected"].sum()))
        s.close()
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[-1, 1]", "1 1"], out.stdout


def test_bad_ratings_are_refused_naming_the_field(session: Session) -> None:
    r = session.generate("text-to-image", prompt="a paper boat")
    for bad in (2, "1", True, None, 0.5):
        with pytest.raises(InvalidParams, match=r"rating: .* is not allowed \(allowed: 1 \(keep\), -1"):
            session.rate(r.job_id, bad)
    with pytest.raises(InvalidParams, match="job_id: 'nope' is not in the job log"):
        session.rate("nope", 1)
    assert len(session.log) == 1  # no row made up for the unknown id
    assert session.log.get(r.job_id)["rating"] is None


def test_a_result_without_a_log_says_so(sandbox) -> None:
    from phaya_notebook.core.sync import Phaya

    with Phaya(sandbox.api_key, sandbox.base_url) as p:
        r = p.generate("text-to-image", prompt="x")
        with pytest.raises(PhayaError, match="connect"):
            r.rate(1)


def test_schema_2_log_gains_the_rating_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with JobLog(path) as log:
        log.record("j1", service="text-to-image", status="completed")
    conn = sqlite3.connect(path)  # make it look like a schema-2 file: no rating column
    conn.execute("ALTER TABLE jobs DROP COLUMN rating")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with JobLog(path) as log:
        assert log.get("j1")["rating"] is None
        log.rate("j1", -1)
        assert log.get("j1")["rating"] == -1


def test_summarize_arithmetic() -> None:
    rows = pd.DataFrame({
        "model": ["A", "A", "A", "A", "B", "B", "C"],
        "prompt": ["p", "q", "p", "q", "p", "q", "p"],
        "status": ["completed", "completed", "completed", "failed", "completed", "completed", "completed"],
        "credits": [2.0, 2.0, 2.0, 0.0, 1.0, 1.0, 5.0],
        "duration": [10.0, 20.0, 30.0, None, 4.0, 6.0, 9.0],
        "rating": [1, 1, -1, None, 1, None, None],
    })
    s = summarize(rows)
    assert tuple(s.columns) == SUMMARY_COLUMNS
    assert list(s.index) == ["B", "A", "C"]  # cheapest per kept result first; nothing kept last
    a, b, c = s.loc["A"], s.loc["B"], s.loc["C"]
    assert (a.jobs, a.completed, a.kept, a.rejected) == (4, 3, 2, 1)
    assert a.keep_rate == pytest.approx(2 / 3) and a.credits == 6.0 and a.credits_per_kept == 3.0
    assert a.median_seconds == 20.0  # completed only
    assert b.credits_per_kept == 2.0 and b.keep_rate == 0.5
    assert c.kept == 0 and math.isnan(c.credits_per_kept) and c.keep_rate == 0.0
    per_prompt = summarize(rows, by="prompt")
    assert per_prompt.loc["p"].kept == 2 and per_prompt.loc["q"].kept == 1
    both = summarize(rows, by=["model", "prompt"])
    assert both.loc[("A", "p")].jobs == 2
    with pytest.raises(ValueError, match="by: .* is not allowed"):
        summarize(rows, by="colour")


def test_leaderboard_and_comparison_summary_count_ratings(session: Session) -> None:
    comp = session.compare(["a paper boat", "a kite"], ["text-to-image", "nano-banana"])
    ids = {(c.prompt, c.service): c.job_id for c in comp.cells}
    session.rate(ids[("a paper boat", "text-to-image")], 1)
    session.rate(ids[("a kite", "text-to-image")], -1)
    session.rate(ids[("a kite", "nano-banana")], 1)
    s = comp.summary()
    assert list(s.index) == ["text-to-image", "nano-banana"]  # 2 credits per kept vs 4
    assert s.loc["text-to-image", "kept"] == 1 and s.loc["text-to-image", "credits_per_kept"] == 2.0
    assert s.loc["nano-banana", "credits"] == 4.0 and s.loc["nano-banana", "keep_rate"] == 0.5
    assert (s["median_seconds"] > 0).all()
    lb = session.leaderboard()
    assert set(lb.index) == {"Z-Image", "Nano Banana 2"}  # the log's model labels
    assert int(lb["kept"].sum()) == 2 and int(lb["rejected"].sum()) == 1 and int(lb["jobs"].sum()) == 4
    assert set(session.leaderboard(by="prompt").index) == {"a paper boat", "a kite"}
    ax = comp.plot_summary()
    assert len(ax.patches) == 2
    assert len(session.plot_leaderboard().patches) == 2
