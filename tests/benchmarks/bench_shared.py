"""Many processes, one key: the shared request budget against one sandbox (a script, not a test).

    .venv/bin/python tests/benchmarks/bench_shared.py [--time-scale 10] [--jobs 60] [--procs 1,2,4,8] [--speed 1]
    .venv/bin/python tests/benchmarks/bench_shared.py --postgres    # the same with the log on PostgreSQL
    .venv/bin/python tests/benchmarks/bench_shared.py --claims      # SQLite table vs lock file

1. For 1, 2, 4 and 8 processes (tests/shared_worker.py, each a Session on one key and one
   SQLite log), each submits its share of bench_core's 60-job mixed sweep at the same
   moment against ONE sandbox process (a fresh one per row). Printed per row: 429s
   received, API requests per completed job (as the sandbox counted them), wall time from
   the common start to the last job's end over the bound (2 requests per job at 60/min,
   or the longest job as the server timed it). Targets: 0 x 429, <= 2.3, <= 1.15 x.
2. ``--claims``: the cost of one slot claim, in the log's SQLite table (what the budget
   uses) and in a flock'ed lock file (the alternative), alone and with 4 processes
   claiming at once.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from bench_core import KEY, Sandbox, sweep  # noqa: E402
from shared_worker import run_workers  # noqa: E402


def run_row(n: int, jobs: list[tuple[str, dict[str, Any]]], scale: float, speed: float = 1.0,
            pg: Any = None) -> dict[str, Any]:
    sb = Sandbox(scale, speed)
    try:
        shares = [jobs[i::n] for i in range(n)]
        log = pg.database() if pg is not None else os.path.join(sb.dir, "jobs.sqlite3")
        cfgs = [{"base_url": sb.base_url, "key": KEY, "log": log,
                 "time_scale": scale, "speed": speed, "cache": os.path.join(sb.dir, "media"),
                 "jobs": [[svc, p] for svc, p in share]} for share in shares]
        go, answers = run_workers(cfgs, timeout=600)
        requests = sb.api_requests()
    finally:
        sb.stop()
    done = sum(a["done"] for a in answers)
    wall = max(a["t_end"] for a in answers) - go
    longest = max(a["longest"] for a in answers)
    bound = max(2 * len(jobs) / 60 * 60 / scale, longest)
    return {"procs": n, "done": done, "r429": sum(a["r429"] for a in answers), "per_job": requests / max(done, 1),
            "requests": requests, "wall": wall, "bound": bound, "ratio": wall / bound,
            "waits": sum(a["shared_waits"] for a in answers)}


# ---------------------------------------------------------------- claim cost: table vs lock file

def _claim_file(path: str, limit: int, window: float) -> bool:
    """The lock-file alternative: flock, read the slot times, prune, append, write back."""
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.seek(0)
            text = fh.read()
            now = time.time()
            times = [t for t in (json.loads(text) if text else []) if t > now - window]
            ok = len(times) < limit
            if ok:
                times.append(now)
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(times))
            fh.flush()
            return ok
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _claims(kind: str, where: str, count: int, out: Any) -> None:
    if kind == "sqlite":
        from phaya_notebook.joblog import JobLog

        log = JobLog(os.path.join(where, "jobs.sqlite3"))
        store = log.shared("bench")
        t0 = time.perf_counter()
        for _ in range(count):
            slot, _wait = store.claim(100_000, 60.0)
            if slot is not None:
                store.settle(slot)
        out.put(time.perf_counter() - t0)
        log.close()
    else:
        path = os.path.join(where, "budget.json")
        t0 = time.perf_counter()
        for _ in range(count):
            _claim_file(path, 100_000, 60.0)
        out.put(time.perf_counter() - t0)


def bench_claims(count: int = 400) -> None:
    print(f"claim cost ({count} granted claims per process, window not full; SQLite: claim + settle, "
          "two transactions)")
    for kind in ("sqlite", "lockfile"):
        for procs in (1, 4):
            where = tempfile.mkdtemp(prefix="phaya-claims-")
            if kind == "sqlite":  # the log exists before the clock starts
                from phaya_notebook.joblog import JobLog

                JobLog(os.path.join(where, "jobs.sqlite3")).close()
            q: Any = mp.get_context("fork").Queue()
            ps = [mp.get_context("fork").Process(target=_claims, args=(kind, where, count, q)) for _ in range(procs)]
            t0 = time.perf_counter()
            for p in ps:
                p.start()
            times = [q.get() for _ in ps]
            for p in ps:
                p.join()
            total = time.perf_counter() - t0
            print(f"  {kind:>8} x{procs}: {1000 * sum(times) / (count * procs):.3f} ms per claim "
                  f"(each process), {count * procs / total:.0f} claims/s together")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-scale", type=float, default=10.0)
    ap.add_argument("--jobs", type=int, default=60)
    ap.add_argument("--procs", default="1,2,4,8")
    ap.add_argument("--speed", type=float, default=1.0,
                    help="sandbox job speed: above 1 the 60/min request bound, not the longest job, is the bound")
    ap.add_argument("--claims", action="store_true")
    ap.add_argument("--postgres", action="store_true",
                    help="the log (and so the shared window) in a throw-away PostgreSQL cluster (tests/pg.py)")
    args = ap.parse_args()
    if args.claims:
        bench_claims()
        return
    if args.postgres:
        from pg import postgres_server

        with postgres_server() as pg:
            sweep_table(args, pg)
    else:
        sweep_table(args, None)


def sweep_table(args: Any, pg: Any) -> None:
    jobs = sweep(args.jobs)
    print(f"sweep: {len(jobs)} jobs, time scale {args.time_scale:g} (a minute lasts {60 / args.time_scale:.1f} s), "
          f"job speed {args.speed:g}, one key, one {'PostgreSQL' if pg else 'SQLite'} log, one sandbox")
    print(f"{'procs':>5} | {'done':>5} | {'429s':>4} | {'req/job':>7} | {'wall s':>6} | {'bound s':>7} | "
          f"{'wall/bound':>10} | shared waits")
    for n in (int(x) for x in args.procs.split(",")):
        r = run_row(n, jobs, args.time_scale, args.speed, pg)
        print(f"{r['procs']:>5} | {r['done']:>2}/{len(jobs):<2} | {r['r429']:>4} | {r['per_job']:>7.2f} | "
              f"{r['wall']:>6.1f} | {r['bound']:>7.1f} | {r['ratio']:>9.2f}x | {r['waits']}", flush=True)


if __name__ == "__main__":
    main()
