"""One process of a many-kernels run: a Session on a shared key and log submits its share of jobs.

    python tests/shared_worker.py '<json config>'

Prints ``ready`` once connected, waits for a line on stdin (so every process starts
together), submits its jobs at once, waits for them and prints one JSON line: 429s
received, requests sent, jobs done, refusals, wall-clock end. Used by
tests/core/test_shared_budget.py, tests/test_daily_cap.py and tests/benchmarks/bench_shared.py.

Config keys: base_url, key, log, time_scale, speed, jobs ([[service, params], ...]),
cache, shared (default true: false runs the process on its own budget, as before
issue 13), daily_cap, confirm_above, env (extra environment variables).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime
from typing import Any


def _ts(value: Any) -> float:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


async def _run(s: Any, jobs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    from phaya_notebook.core.errors import PhayaError

    async def one(svc: str, params: dict[str, Any]) -> tuple[str, Any]:
        try:
            job = await s.aio.submit(svc, confirm=True, **params)
        except PhayaError as exc:
            return "refused", f"{type(exc).__name__}: {exc}"
        try:
            await job.wait()
        except PhayaError as exc:
            return "failed", f"{type(exc).__name__}: {exc}"
        f = job.fields or {}
        return "done", _ts(f["updated_at"]) - _ts(f["created_at"])

    outcomes = await asyncio.gather(*(one(svc, p) for svc, p in jobs))
    return {"done": sum(1 for k, _ in outcomes if k == "done"),
            "longest": max((v for k, v in outcomes if k == "done"), default=0.0),
            "refused": [v for k, v in outcomes if k == "refused"],
            "failed": [v for k, v in outcomes if k == "failed"]}


def main() -> None:
    cfg = json.loads(sys.argv[1])
    from phaya_notebook.session import Session

    kw: dict[str, Any] = {}
    if cfg.get("daily_cap") is not None:
        kw["daily_cap"] = cfg["daily_cap"]
    s = Session(cfg["key"], cfg["base_url"], log_path=cfg["log"], time_scale=cfg.get("time_scale", 1.0),
                job_speed=cfg.get("speed", 1.0), cache_dir=cfg.get("cache"),
                confirm_above=cfg.get("confirm_above", 10.0), **kw)
    if not cfg.get("shared", True):
        s.aio.budget.share(None)
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.time()
    out = s._run(_run(s, [(svc, p) for svc, p in cfg["jobs"]]))
    out.update(t0=t0, t_end=time.time(), r429=s.aio.stats["rate_limited"], requests=s.aio.stats["requests"],
               shared_waits=getattr(s.aio.budget, "shared_waits", 0),
               shared_alive=getattr(s.aio.budget, "shared", None) is not None)
    s.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()


def run_workers(configs: list[dict[str, Any]], timeout: float = 240.0) -> tuple[float, list[dict[str, Any]]]:
    """Start one worker per config, release them together; (go time, each one's JSON answer).

    Only to be called from the tests and benchmarks (imports subprocess lazily).
    """
    import os
    import subprocess

    here = os.path.abspath(__file__)
    procs = [subprocess.Popen([sys.executable, here, json.dumps(c)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, **c.get("env", {})}) for c in configs]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"worker did not start: {line!r} {p.stderr.read() if p.stderr else ''}")
        go = time.time()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        answers = []
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            if p.returncode != 0:
                raise RuntimeError(f"worker failed ({p.returncode}): {err[-3000:]}")
            answers.append(json.loads(out.strip().splitlines()[-1]))
        return go, answers
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
