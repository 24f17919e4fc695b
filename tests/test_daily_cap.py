"""PHAYA_DAILY_CAP holds for every process on one key together (issue 13).

Eight real processes (tests/shared_worker.py) on one key and one log, each trying to spend
9 credits (three 3-credit music jobs) under a cap of 10, at the same moment, against one
real sandbox. What the server charged (its balance) stays within the cap; every refused
job sent no create request; every refusal names the cap and what is left.
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from shared_worker import run_workers  # noqa: E402

from phaya_notebook.core.budget import key_id  # noqa: E402
from phaya_notebook.core.errors import BudgetExceeded, InsufficientCredits  # noqa: E402
from phaya_notebook.session import Session  # noqa: E402

SCALE, SPEED = 20.0, 30.0
KEY = "sk-daily-cap-test-9a8b7c6d5e4f"
POOR = "sk-daily-cap-poor-1a2b3c4d"  # 1 credit: the server refuses a 3-credit create


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from phaya_notebook.sandbox import start

    sb = start(speed=SPEED, time_scale=SCALE, credits=1000.0, api_keys=[KEY, f"{POOR}:1"])
    try:
        yield sb
    finally:
        sb.stop()


def _balance(sb: Any) -> float:
    r = httpx.get(f"{sb.base_url}/user/credits", headers={"Authorization": f"Bearer {KEY}"})
    r.raise_for_status()
    data = r.json()
    return float(data.get("credits_balance", data.get("credits", data.get("balance"))))


def _creates(sb: Any) -> int:
    root = sb.base_url.rsplit("/api/v1", 1)[0]
    stats = httpx.get(f"{root}/_sandbox/stats", headers={"X-Sandbox-Admin": sb.admin_token}).json()
    paths = stats["by_key"].get(sb.key_id(KEY), {}).get("paths", {})
    return sum(n for p, n in paths.items() if p.endswith("/text-to-music/generate"))


def run_capped(sb: Any, log: str, tmp: pathlib.Path, procs: int = 8) -> None:
    """The issue's check, for any log (SQLite path or PostgreSQL URL)."""
    before, creates_before = _balance(sb), _creates(sb)
    cfgs = [{"base_url": sb.base_url, "key": KEY, "log": log, "time_scale": SCALE, "speed": SPEED,
             "cache": str(tmp / "media"), "env": {"PHAYA_DAILY_CAP": "10"},
             "jobs": [["text-to-music", {"prompt": f"cap {w} {i}"}] for i in range(3)]} for w in range(procs)]
    _, answers = run_workers(cfgs)
    charged = round(before - _balance(sb), 6)
    done = sum(a["done"] for a in answers)
    refusals = [r for a in answers for r in a["refused"]]
    assert charged <= 10, (charged, answers)
    assert charged == 3 * done  # what ran was charged; nothing else was
    assert done == 3  # 3 + 3 + 3 fits under 10, a fourth would not
    assert len(refusals) == 3 * procs - done
    assert _creates(sb) - creates_before == done  # refused jobs sent no create request
    for r in refusals:
        assert r.startswith("BudgetExceeded:"), r
        assert "daily cap PHAYA_DAILY_CAP=10" in r and "1 left today" in r, r
    assert not any(a["failed"] for a in answers)


@pytest.mark.slow
def test_eight_processes_share_the_cap_sqlite(sandbox: Any, tmp_path: pathlib.Path) -> None:
    run_capped(sandbox, str(tmp_path / "jobs.sqlite3"), tmp_path)


@pytest.mark.slow
def test_eight_processes_share_the_cap_postgres(sandbox: Any, pg_url: str, tmp_path: pathlib.Path) -> None:
    """The same on a real PostgreSQL server: eight processes, eight connections, one database."""
    run_capped(sandbox, pg_url, tmp_path)
    import psycopg

    with psycopg.connect(pg_url) as conn:  # the reservations are in the database, by key hash only
        rows = conn.execute("SELECT key_id, state, amount FROM spend_cap").fetchall()
        keys = {r[0] for r in conn.execute("SELECT key_id FROM rate_slots").fetchall()}
    assert sorted(r[1:] for r in rows) == [("settled", 3.0)] * 3
    assert {r[0] for r in rows} == keys == {key_id(sandbox.base_url, KEY)}


def test_cap_is_reserved_settled_and_released(sandbox: Any, tmp_path: pathlib.Path) -> None:
    """One process: a refusal names the cap; a failed create gives its reservation back."""
    log = str(tmp_path / "jobs.sqlite3")
    with Session(KEY, sandbox.base_url, log_path=log, daily_cap=4, time_scale=SCALE, job_speed=SPEED,
                 cache_dir=tmp_path / "m") as s:
        assert s.daily_left == 4
        s.generate("text-to-music", prompt="one")
        assert s.daily_left == 1
        with pytest.raises(BudgetExceeded, match=r"daily cap daily_cap=4 credits of this key: 1 left today"):
            s.submit("text-to-music", prompt="two")
        table = s.spend()
        assert "1 left" in repr(table) and table.attrs["daily_cap"]["left"] == 1
        assert float(table["charged"].sum()) == 3  # still a plain table of numbers
    # a second session on the same log and key sees the same day
    with Session(KEY, sandbox.base_url, log_path=log, daily_cap=10, time_scale=SCALE, job_speed=SPEED,
                 cache_dir=tmp_path / "m") as s2:
        assert s2.daily_left == 7
    # a create the server refuses (not enough credits) gives its reservation back
    with Session(POOR, sandbox.base_url, log_path=log, daily_cap=10, time_scale=SCALE, job_speed=SPEED,
                 cache_dir=tmp_path / "m") as s3:
        with pytest.raises(InsufficientCredits):
            s3.submit("text-to-music", prompt="too dear")
        assert s3.daily_left == 10


def test_bad_cap_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    from phaya_notebook import connect

    monkeypatch.setenv("PHAYA_DAILY_CAP", "ten")
    with pytest.raises(ValueError, match=r"PHAYA_DAILY_CAP='ten' is not a number of credits"):
        connect("k", "http://127.0.0.1:9/api/v1", log_path=tmp_path / "j.sqlite3")
    assert not (tmp_path / "j.sqlite3").exists()  # refused before anything was opened
    monkeypatch.delenv("PHAYA_DAILY_CAP")
    with pytest.raises(ValueError, match=r"daily_cap=-1 is not allowed"):
        connect("k", "http://127.0.0.1:9/api/v1", log_path=tmp_path / "j.sqlite3", daily_cap=-1)


def test_the_cap_counts_the_real_charge_when_the_answer_says_0(tmp_path: pathlib.Path) -> None:
    """The live API answers credits_used 0: the cap keeps the estimate reserved, then takes the
    charge the credits history shows (here 12 for a 6-credit estimate), never 0."""
    from tests.sandboxes import running_sandbox

    seedance = {"prompt": "waves at dusk", "resolution": "720p", "duration": "8"}  # catalog 6, live 12
    with running_sandbox(speed=60.0, time_scale=10.0, credits=100.0, api_keys=["k-cap-quirk"],
                         quirks={"zero_credits_used": True, "price_multipliers": {"seedance-video": 2.0}}) as sb, \
            Session("k-cap-quirk", sb.base_url, log_path=tmp_path / "j.sqlite3", daily_cap=30,
                    cache_dir=tmp_path / "m") as s:
        result = s.generate("seedance-video", **seedance)
        assert result.fields["credits_used"] == 0
        assert s.daily_left == 18  # 30 - 12, as the server charged
        rows = s.log.conn.execute("SELECT state, amount FROM spend_cap").fetchall()
        assert [tuple(r) for r in rows] == [("settled", 12.0)]
