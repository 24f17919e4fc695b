"""Benchmark of the async core against a time-scaled sandbox (a script, not a test).

    .venv/bin/python tests/benchmarks/bench_core.py [--time-scale 10] [--jobs 60]

1. A 60-job mixed sweep (images, videos, music, speech) submitted at once: our client
   versus the seed's naive loop (every job polled every 4 s, time-scaled the same way),
   each against its own sandbox process. Printed: requests per completed job (API
   requests seen by the sandbox), 429s received, wall time over the lower bound
   (2 requests per job at 60/min, or the longest job as the server timed it).
   Targets: <= 2.3 requests per job, zero 429s, wall time <= 1.15 x the bound.
2. Event-loop lag p99 with 20 jobs in flight (target < 20 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from typing import Any

import httpx

from phaya_notebook.core.client import AsyncPhaya

KEY = "sk-bench-0000000000000000beef"

MIX: list[tuple[str, dict[str, Any], int]] = [
    ("text-to-image", {"prompt": "bench image"}, 14),
    ("seedream", {"prompt": "bench seedream"}, 7),
    ("nano-banana", {"prompt": "bench banana"}, 7),
    ("sora2-text-to-video", {"prompt": "bench sora"}, 6),
    ("seedance-video", {"prompt": "bench seedance", "resolution": "480p", "duration": "4"}, 4),
    ("veo31-video", {"prompt": "bench veo"}, 2),
    ("text-to-music", {"prompt": "bench music"}, 10),
    ("text-to-speech", {"prompt": "bench speech"}, 10),
]


def sweep(n: int) -> list[tuple[str, dict[str, Any]]]:
    """The mix, interleaved (a sweep over services, not one service after another)."""
    out = [(svc, {**params, "prompt": f"{params['prompt']} {i}"})
           for i in range(max(k for _, _, k in MIX)) for svc, params, k in MIX if i < k]
    return (out * (n // len(out) + 1))[:n]


class Sandbox:
    """A sandbox in its own process (so its CPU work does not distort our loop lag)."""

    def __init__(self, time_scale: float, speed: float = 1.0):
        self.dir = tempfile.mkdtemp(prefix="phaya-bench-")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "phaya_notebook.sandbox", "--port", "0", "--speed", str(speed),
             "--time-scale", str(time_scale), "--credits", "100000", "--api-key", KEY, "--data-dir", self.dir],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        info: dict[str, str] = {}
        assert self.proc.stdout is not None
        while "PHAYA_SANDBOX_ADMIN" not in info:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("sandbox did not start")
            m = re.match(r"(PHAYA_\w+)=(\S+)", line)
            if m:
                info[m.group(1)] = m.group(2)
        self.base_url, self.admin = info["PHAYA_BASE"], info["PHAYA_SANDBOX_ADMIN"]
        self.root = self.base_url.rsplit("/api/v1", 1)[0]
        for _ in range(200):
            try:
                if httpx.get(self.root + "/_sandbox/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(self.root + "/_sandbox/stats", headers={"X-Sandbox-Admin": self.admin}).json())

    def api_requests(self) -> int:
        """Requests the sandbox saw under /api/ from anyone (media files under /files/ excluded)."""
        paths = self.stats()["by_path"]
        return sum(n for p, n in paths.items() if p.startswith("/api/"))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def run_ours(sb: Sandbox, jobs: list[tuple[str, dict[str, Any]]], scale: float) -> dict[str, Any]:
    c = AsyncPhaya(KEY, sb.base_url, time_scale=scale, job_speed=1.0, cache_dir=os.path.join(sb.dir, "cache"))
    t0 = time.monotonic()
    submitted = await asyncio.gather(*(c.submit(svc, confirm=True, **p) for svc, p in jobs))
    results = await asyncio.gather(*(j.wait() for j in submitted), return_exceptions=True)
    wall = time.monotonic() - t0
    done = [j for j, r in zip(submitted, results, strict=True) if not isinstance(r, BaseException)]
    longest = max(ts(j.fields["updated_at"]) - ts(j.fields["created_at"]) for j in done)
    files = sum(len(j.result.paths) for j in done if j.result)
    await c.aclose()
    return {"wall": wall, "done": len(done), "r429": c.stats["rate_limited"], "longest": longest,
            "files": files}


async def run_naive(sb: Sandbox, jobs: list[tuple[str, dict[str, Any]]], scale: float) -> dict[str, Any]:
    """The seed's pattern: create, then poll each job every 4 s until terminal (no budget)."""
    from phaya_notebook import catalog

    r429 = 0
    longest = 0.0
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=sb.base_url, headers=headers, timeout=60) as http:
        async def one(svc_name: str, params: dict[str, Any]) -> bool:
            nonlocal r429, longest
            svc = catalog.resolve_service(svc_name)
            while True:
                r = await http.post(svc.create_path, json=params)
                if r.status_code == 429:
                    r429 += 1
                    await asyncio.sleep(4 / scale)
                    continue
                r.raise_for_status()
                job_id = r.json()["job_id"]
                break
            while True:
                await asyncio.sleep(4 / scale)
                r = await http.get(svc.status_url(job_id))
                if r.status_code == 429:
                    r429 += 1
                    continue
                data = r.json()
                if catalog.is_terminal(data.get("status")):
                    longest = max(longest, ts(data["updated_at"]) - ts(data["created_at"]))
                    return data["status"].lower() == "completed"

        t0 = time.monotonic()
        oks = await asyncio.gather(*(one(s, p) for s, p in jobs))
        wall = time.monotonic() - t0
    return {"wall": wall, "done": sum(oks), "r429": r429, "longest": longest, "files": 0}


async def loop_lag(scale: float) -> tuple[float, float, int]:
    sb = Sandbox(scale)
    try:
        c = AsyncPhaya(KEY, sb.base_url, time_scale=scale, cache_dir=os.path.join(sb.dir, "cache"))
        lags: list[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                t = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - t - 0.005)

        tick = asyncio.create_task(ticker())
        jobs = await asyncio.gather(*(c.submit(s, confirm=True, **p) for s, p in sweep(20)))
        await asyncio.gather(*(j.wait() for j in jobs))
        stop.set()
        await tick
        await c.aclose()
        lags.sort()
        return lags[int(0.99 * (len(lags) - 1))] * 1000, statistics.median(lags) * 1000, len(lags)
    finally:
        sb.stop()


def report(name: str, res: dict[str, Any], requests: int, n_jobs: int, scale: float) -> None:
    bound = max(2 * n_jobs / 60 * 60 / scale, res["longest"])
    per_job = requests / max(res["done"], 1)
    print(f"{name:>6}: {res['done']}/{n_jobs} completed | {per_job:.2f} requests/job ({requests} API requests) | "
          f"{res['r429']} x 429 | wall {res['wall']:.1f} s vs bound {bound:.1f} s = {res['wall'] / bound:.2f} x"
          + (f" | {res['files']} files cached" if res["files"] else ""))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-scale", type=float, default=10.0)
    ap.add_argument("--jobs", type=int, default=60)
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args()
    scale, jobs = args.time_scale, sweep(args.jobs)
    print(f"sweep: {len(jobs)} jobs, time scale {scale:g} (a minute lasts {60 / scale:.1f} s)")
    runs = [("ours", run_ours)] + ([] if args.skip_naive else [("naive", run_naive)])
    for name, fn in runs:
        sb = Sandbox(scale)
        try:
            res = await fn(sb, jobs, scale)
            requests = sb.api_requests()
        finally:
            sb.stop()
        report(name, res, requests, len(jobs), scale)
    p99, p50, n = await loop_lag(scale)
    print(f"event-loop lag with 20 jobs in flight: p99 {p99:.1f} ms, median {p50:.2f} ms ({n} ticks)")


if __name__ == "__main__":
    asyncio.run(main())
