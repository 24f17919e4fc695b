"""Run the upper-bound timing tests N times in a row on a machine kept busy on purpose.

Run: ``.venv/bin/python tests/benchmarks/stress_timing.py [--runs 20] [--busy 4]``.
``--busy`` processes spin (a pure-Python loop each) for the whole run, so on a 2-core
machine the tests get a fraction of a core, as on a loaded CI box. Every run is one pytest
process over TESTS; the script prints one line per run and a summary, and exits non-zero
if any run failed. The busy processes stop with the script (and after ``--max-minutes``).
Not part of the pytest run (the file name does not match ``test_*.py``).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Every test with an upper bound on time or on a count that timing can inflate.
TESTS = [
    "tests/core/test_sync.py",
    "tests/core/test_budget.py::test_window_limits_and_remaining",
    "tests/core/test_launch.py::test_clients_on_the_shared_fixture_know_its_speed",
    "tests/core/test_faults.py::test_stuck_job_times_out_resumes_and_cancels",
    "tests/widgets/test_studio.py::test_builds_fast_and_shows_balance",
    "tests/widgets/test_studio.py::test_generate_returns_at_once_then_the_job_fills_the_gallery",
    "tests/widgets/test_studio.py::test_balance_refreshes_coalesce",
    "tests/widgets/test_in_kernel.py",
    "tests/sandbox/test_timing.py",
]


def spin(until: float) -> None:
    """Burn one core until the monotonic deadline (bounded: never outlives the run)."""
    x = 0
    while time.monotonic() < until:
        for _ in range(100_000):
            x += 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--busy", type=int, default=4, help="busy-loop processes")
    ap.add_argument("--max-minutes", type=float, default=60.0, help="the busy loops stop after this anyway")
    ap.add_argument("tests", nargs="*", default=TESTS)
    args = ap.parse_args()

    deadline = time.monotonic() + args.max_minutes * 60
    ctx = mp.get_context("spawn")
    busy = [ctx.Process(target=spin, args=(deadline,), daemon=True) for _ in range(args.busy)]
    for p in busy:
        p.start()
    print(f"{args.busy} busy-loop processes on {os.cpu_count()} cores; {args.runs} runs of {len(args.tests)} "
          f"test ids; load average {os.getloadavg()[0]:.1f}", flush=True)
    failed_runs: list[int] = []
    t_all = time.monotonic()
    try:
        for i in range(1, args.runs + 1):
            t0 = time.monotonic()
            proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--tb=line",
                                   *args.tests], cwd=ROOT, capture_output=True, text=True)
            tail = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
            fails = [ln for ln in proc.stdout.splitlines() if re.match(r"^(/|E |FAILED|ERROR)", ln)]
            if proc.returncode != 0:
                failed_runs.append(i)
            print(f"run {i:2d}: {'ok  ' if proc.returncode == 0 else 'FAIL'} {time.monotonic() - t0:5.1f}s "
                  f"load {os.getloadavg()[0]:4.1f}  {tail}", flush=True)
            for ln in fails[:6]:
                print("         ", ln[:300], flush=True)
    finally:
        for p in busy:
            p.terminate()
        for p in busy:
            p.join(5)
    print(f"\n{args.runs - len(failed_runs)}/{args.runs} runs green in {time.monotonic() - t_all:.0f}s "
          f"with {args.busy} busy loops" + (f"; failed runs: {failed_runs}" if failed_runs else ""))
    return 1 if failed_runs else 0


if __name__ == "__main__":
    raise SystemExit(main())
