"""Sandbox under a burst: do quick jobs still finish on time behind heavy ones?

Run: ``.venv/bin/python tests/benchmarks/bench_sandbox_burst.py [--videos 20] [--speech 5]``.
Creates N Sora 2 videos (10 s each), then M speech jobs, at the demo speed, and prints
for each kind how late jobs finished against their scheduled duration (which already
carries the ±30 % jitter). Finish times are read from the sandbox's own job records,
so polling does not disturb the figures.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from phaya_notebook.sandbox import start


def burst(videos: int, speech: int, speed: float) -> dict[str, list[tuple[float, float]]]:
    with start(speed=speed, credits=1e6, rate_limit=10**9, status_cache_seconds=0.0) as sb:
        headers = {"Authorization": f"Bearer {sb.api_key}"}
        bodies = [("/sora2-text-to-video/create", {"prompt": f"burst video {i}"}) for i in range(videos)]
        bodies += [("/text-to-speech/generate", {"prompt": f"quick speech number {i}"}) for i in range(speech)]
        with httpx.Client(base_url=sb.base_url, headers=headers, timeout=60) as c:
            def post(item: tuple[str, dict[str, Any]]) -> str:
                r = c.post(item[0], json=item[1])
                r.raise_for_status()
                return str(r.json()["job_id"])

            with ThreadPoolExecutor(8) as pool:  # videos first, speech right behind them
                ids = list(pool.map(post, bodies))
        jobs = [sb.sandbox.state.jobs[i] for i in ids]
        deadline = time.monotonic() + 600
        while not all(j.terminal for j in jobs) and time.monotonic() < deadline:
            time.sleep(0.05)
        out: dict[str, list[tuple[float, float]]] = {}
        for j in jobs:
            assert j.terminal == "completed", (j.service.name, j.terminal, j.error)
            actual = j.updated_at - j.created_at
            out.setdefault(j.service.name, []).append((j.duration, actual))
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=20)
    ap.add_argument("--speech", type=int, default=5)
    ap.add_argument("--speed", type=float, default=30.0)
    a = ap.parse_args()
    t0 = time.perf_counter()
    res = burst(a.videos, a.speech, a.speed)
    print(f"burst: {a.videos} sora2 videos + {a.speech} speech jobs at speed {a.speed:g} "
          f"(wall {time.perf_counter() - t0:.1f} s)")
    for name, rows in res.items():
        late = [act - sched for sched, act in rows]
        ratio = [act / sched for sched, act in rows]
        on_time = sum(1 for x in late if x <= 0.25)
        print(f"  {name:22s} n={len(rows):2d} scheduled {min(s for s, _ in rows):5.2f}-{max(s for s, _ in rows):5.2f} s"
              f" | late median {statistics.median(late):6.2f} s, max {max(late):6.2f} s"
              f" | actual/scheduled max {max(ratio):5.2f} | within 0.25 s: {on_time}/{len(rows)}")


if __name__ == "__main__":
    main()
