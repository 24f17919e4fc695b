"""Job log figures: append cost per job as the log grows, the 100,000-row DataFrame load, and
kernels racing to open one fresh log.

An "append" is what one job costs the log in real use: the insert at create time
plus two status updates and the terminal update, each its own short
``BEGIN IMMEDIATE`` transaction. Run: ``.venv/bin/python tests/benchmarks/bench_joblog.py``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
import uuid
from pathlib import Path

from phaya_notebook.joblog import JobLog

SERVICES = ("text-to-image", "seedream", "nano-banana", "sora2-text-to-video", "text-to-music")


def _row(i: int, now: float) -> dict[str, object]:
    return {
        "job_id": str(uuid.UUID(int=i)), "kind": "job", "service": SERVICES[i % len(SERVICES)],
        "model": "Z-Image", "prompt": f"a lighthouse at dusk, take {i}", "params": '{"aspect_ratio": "1:1"}',
        "status": "completed", "estimated": 1.0, "charged": 1.0, "refunded": 0.0, "delta": 0.0,
        "reconcile": "ok", "created_at": now - 30 * 86400 + i * 25.0, "finished_at": now - 30 * 86400 + i * 25.0 + 10,
        "duration": 10.0, "urls": '["http://127.0.0.1/files/x/a.png"]', "paths": '["phaya-media/ab.png"]',
        "tags": '["bench"]', "session": "bench", "base_url": "http://127.0.0.1:1/api/v1",
    }


def fill_to(log: JobLog, target: int, now: float) -> None:
    """Grow the log to ``target`` rows in bulk (filling is not what we measure)."""
    start = len(log)
    batch = 5000
    for lo in range(start, target, batch):
        log.record_many(_row(i, now) for i in range(lo, min(target, lo + batch)))


def append_cost(log: JobLog, n: int) -> float:
    """Seconds per job for n jobs, each created then updated three times."""
    t0 = time.perf_counter()
    for _ in range(n):
        jid = str(uuid.uuid4())
        log.record(jid, kind="job", service="text-to-image", model="Z-Image", prompt="bench",
                   params={"prompt": "bench"}, status="pending", estimated=1.0, created_at=time.time(),
                   tags=["bench"], session="bench", base_url="http://127.0.0.1:1/api/v1")
        log.record(jid, status="queued")
        log.record(jid, status="processing")
        log.record(jid, status="completed", charged=1.0, refunded=0.0, finished_at=time.time(),
                   duration=1.0, urls=["http://127.0.0.1/files/x/a.png"], paths=["phaya-media/ab.png"])
    return (time.perf_counter() - t0) / n


def _open_and_record(path: str, barrier: object) -> None:
    barrier.wait(60)  # type: ignore[attr-defined]
    log = JobLog(path)
    log.record(f"k{os.getpid()}", service="text-to-image", status="pending", estimated=1.0,
               created_at=time.time())
    log.close()


def race_fresh_logs(rounds: int, kernels: int) -> tuple[int, float]:
    """``kernels`` processes open the same new log at one instant, ``rounds`` times over:
    (processes that failed, slowest round in seconds)."""
    ctx = mp.get_context("fork")
    failed, slowest = 0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            path = str(Path(tmp) / f"race{r}.sqlite3")
            barrier = ctx.Barrier(kernels)
            procs = [ctx.Process(target=_open_and_record, args=(path, barrier)) for _ in range(kernels)]
            t0 = time.perf_counter()
            for p in procs:
                p.start()
            for p in procs:
                p.join(120)
            slowest = max(slowest, time.perf_counter() - t0)
            failed += sum(p.exitcode != 0 for p in procs)
            with JobLog(path) as log:
                assert failed or len(log) == kernels
    return failed, slowest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=300, help="jobs appended at each size")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = JobLog(Path(tmp) / "jobs.sqlite3")
        now = time.time()
        for size in (1_000, 10_000, 100_000):
            fill_to(log, size - args.samples, now)
            per_job = append_cost(log, args.samples)
            print(f"append at {size:>7,} rows: {per_job * 1e3:6.3f} ms per job "
                  f"(1 insert + 3 updates, {per_job / 4 * 1e6:6.1f} us per write)")
        fill_to(log, 100_000, now)
        assert len(log) == 100_000, len(log)
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            df = log.to_dataframe()
            best = min(best, time.perf_counter() - t0)
        print(f"to_dataframe() of {len(df):,} rows: {best:.3f} s (best of 3); dtypes: "
              f"created_at={df['created_at'].dtype}, charged={df['charged'].dtype}, "
              f"service={df['service'].dtype}")
        t0 = time.perf_counter()
        spend = log.spend("day")
        print(f"spend(by='day') over 100,000 rows: {time.perf_counter() - t0:.3f} s ({len(spend)} days)")
        log.close()
    rounds, kernels = 100, 6
    failed, slowest = race_fresh_logs(rounds, kernels)
    print(f"{kernels} processes opening one fresh log at once, {rounds} times: {failed} of "
          f"{rounds * kernels} failed; slowest round {slowest:.2f} s")


if __name__ == "__main__":
    main()
