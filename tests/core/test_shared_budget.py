"""Several processes on one key share one request window through the job log (issue 13).

Real processes (tests/shared_worker.py), one real sandbox over HTTP, one SQLite log. The
same run with each process on its own budget (as before the shared window) is the control:
it must get 429s, or this test proves nothing.
"""

from __future__ import annotations

import pathlib
import sqlite3
import sys
from collections.abc import Iterator
from typing import Any

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from shared_worker import run_workers  # noqa: E402

from phaya_notebook.core.budget import RequestBudget, key_id  # noqa: E402
from phaya_notebook.joblog import JobLog  # noqa: E402

pytestmark = pytest.mark.slow

SCALE, SPEED = 20.0, 30.0  # a minute lasts 3 s
KEY = "sk-shared-budget-5e1f0c9a7b3d2e4f"
CONTROL_KEY = "sk-shared-control-00aa11bb22cc"  # its own server-side window, so runs do not mix
PG_KEY = "sk-shared-postgres-33dd44ee55ff"  # likewise: a new log knows nothing of another log's requests


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from phaya_notebook.sandbox import start

    sb = start(speed=SPEED, time_scale=SCALE, credits=100000.0, api_keys=[KEY, CONTROL_KEY, PG_KEY])
    try:
        yield sb
    finally:
        sb.stop()


def _configs(sb: Any, tmp: pathlib.Path, n: int, per: int, shared: bool) -> list[dict[str, Any]]:
    return [{"base_url": sb.base_url, "key": KEY if shared else CONTROL_KEY, "log": str(tmp / "jobs.sqlite3"), "time_scale": SCALE,
             "speed": SPEED, "cache": str(tmp / "media"), "shared": shared,
             "jobs": [["text-to-image", {"prompt": f"p{w} {i}"}] for i in range(per)]} for w in range(n)]


def test_three_processes_share_the_window(sandbox: Any, tmp_path: pathlib.Path) -> None:
    # the control: each process alone (the old behaviour) runs into the server's limit
    _, alone = run_workers(_configs(sandbox, tmp_path / "alone", 3, 24, shared=False))
    assert sum(a["r429"] for a in alone) > 0, alone
    assert sum(a["done"] for a in alone) == 72

    _, together = run_workers(_configs(sandbox, tmp_path / "shared", 3, 24, shared=True))
    assert sum(a["done"] for a in together) == 72, together
    assert [a["r429"] for a in together] == [0, 0, 0], together
    assert sum(a["shared_waits"] for a in together) > 0  # they did wait for each other's slots

    # the shared tables name the key by its hash only: no file written (log, WAL, media) holds it
    files = [p for p in (tmp_path / "shared").rglob("*") if p.is_file()]
    assert any(p.name == "jobs.sqlite3" for p in files)
    assert not [p for p in files if KEY.encode() in p.read_bytes()]
    con = sqlite3.connect(tmp_path / "shared" / "jobs.sqlite3")
    ids = {r[0] for r in con.execute("SELECT key_id FROM rate_slots")}
    con.close()
    assert ids <= {key_id(sandbox.base_url, KEY)}


def test_three_processes_share_the_window_on_postgres(sandbox: Any, pg_url: str, tmp_path: pathlib.Path) -> None:
    """The team log: three processes, three connections, one PostgreSQL window."""
    cfgs = _configs(sandbox, tmp_path, 3, 24, shared=True)
    for c in cfgs:
        c["log"], c["key"] = pg_url, PG_KEY
    _, together = run_workers(cfgs)
    assert sum(a["done"] for a in together) == 72, together
    assert [a["r429"] for a in together] == [0, 0, 0], together
    assert sum(a["shared_waits"] for a in together) > 0


async def test_a_pause_in_one_budget_holds_another(tmp_path: pathlib.Path) -> None:
    """A Retry-After seen by one process stops every process on the key (two budgets, one log)."""
    import time

    a_log, b_log = JobLog(tmp_path / "j.sqlite3"), JobLog(tmp_path / "j.sqlite3")
    a, b = RequestBudget(100, time_scale=1.0), RequestBudget(100, time_scale=1.0)
    a.share(a_log.shared("k"))
    b.share(b_log.shared("k"))
    a.pause(0.5)
    t0 = time.monotonic()
    await b.acquire()
    assert time.monotonic() - t0 >= 0.45
    assert b.rate_limited == 0  # b was told, it did not get a 429 itself
    a_log.close()
    b_log.close()


async def test_window_is_counted_across_budgets(tmp_path: pathlib.Path) -> None:
    import time

    logs = [JobLog(tmp_path / "j.sqlite3") for _ in range(2)]
    budgets = [RequestBudget(4, time_scale=60.0) for _ in range(2)]  # 4 per ~1 s, together
    for b, lg in zip(budgets, logs, strict=True):
        b.share(lg.shared("k"))
    t0 = time.monotonic()
    for _ in range(2):
        for b in budgets:
            await b.acquire()
    assert time.monotonic() - t0 < 0.3
    assert budgets[0].remaining == 0 and budgets[1].remaining == 0
    await budgets[0].acquire()  # the fifth of the key waits for the window
    assert time.monotonic() - t0 >= 0.95
    for lg in logs:
        lg.close()


def test_a_broken_store_leaves_the_budget_working(tmp_path: pathlib.Path) -> None:
    class Broken:
        def claim(self, limit: int, window: float) -> tuple[int | None, float]:
            raise sqlite3.OperationalError("disk I/O error")

    b = RequestBudget(5)
    b.share(Broken())  # type: ignore[arg-type]
    assert b.try_acquire()
    assert b.shared is None


def test_duration_observations_reach_the_other_processes(tmp_path: pathlib.Path) -> None:
    """A job timed in one process times the first poll of the same service in another."""
    import multiprocessing as mp

    from phaya_notebook.core.scheduler import PollScheduler

    b = RequestBudget(60, time_scale=1000.0)  # PEER_EVERY lasts 1 ms
    log = JobLog(tmp_path / "j.sqlite3")
    b.share(log.shared("k"))
    sched = PollScheduler(b, 1000.0)
    assert sched.upper_factor("sora2-text-to-video") == pytest.approx(1.15)  # nothing known yet
    ctx = mp.get_context("spawn")
    p = ctx.Process(target=_observe_in_another_process, args=(str(tmp_path / "j.sqlite3"),))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    sched._read_peers()
    assert sched.upper_factor("sora2-text-to-video") == pytest.approx(0.5 * 1.03)  # their three at 0.5
    sched.observe("sora2-text-to-video", 10.0, 5.0)  # ours goes to the store, not back to us twice
    sched._read_peers()
    assert len(sched._own("sora2-text-to-video")) == 4
    log.close()


def _observe_in_another_process(path: str) -> None:
    from phaya_notebook.core.scheduler import PollScheduler

    b = RequestBudget(60, time_scale=1000.0)
    log = JobLog(path)
    b.share(log.shared("k"))
    sched = PollScheduler(b, 1000.0)
    for _ in range(3):
        sched.observe("sora2-text-to-video", 10.0, 5.0)
    log.close()
