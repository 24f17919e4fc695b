"""Cost truth under the live API's quirks: prints what a session logged vs what the balance did.

The sandbox charges Seedance at 2x its table and answers ``credits_used: 0`` (the live
quirks); with ``--anonymous`` its credits history names no job either, so charges come from
the balance delta. Prints the balance change, spend(), each row's source, the second
Seedance estimate, the refusal of a job that only the observed price does not fit, and the
requests reconciliation cost.

    .venv/bin/python tests/benchmarks/bench_live_money.py [--anonymous]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import httpx

from phaya_notebook.core import launch
from phaya_notebook.core.errors import BudgetExceeded
from phaya_notebook.sandbox import start
from phaya_notebook.session import Session

SEEDANCE = {"prompt": "waves at dusk", "resolution": "720p", "duration": "8"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--anonymous", action="store_true", help="credits history without job ids")
    args = ap.parse_args()
    quirks = {"zero_credits_used": True, "price_multipliers": {"seedance-video": 2.0},
              "anonymous_history": args.anonymous}
    with start(speed=12.0, time_scale=10.0, credits=100.0, api_keys=["k-bench"], quirks=quirks) as sb, \
            tempfile.TemporaryDirectory() as tmp:
        launch.register(sb.base_url, speed=12.0, time_scale=10.0)
        root, admin = sb.root_url, {"X-Sandbox-Admin": sb.admin_token}

        def paths() -> dict[str, int]:
            return dict(httpx.get(f"{root}/_sandbox/stats", headers=admin).json()["by_key"]
                        .get(sb.key_id("k-bench"), {}).get("paths", {}))

        s = Session("k-bench", sb.base_url, log_path=Path(tmp) / "jobs.sqlite3", max_credits=20.0,
                    confirm_above=100.0)
        before = s.credits()
        print(f"quirks: {quirks}")
        print(f"estimate 1: {s.estimate('seedance-video', **SEEDANCE).credits:g} credits")
        s.generate("seedance-video", **SEEDANCE)
        s.chat("hello", max_tokens=16)
        p0 = paths()
        s.generate("gpt-image-2", prompt="a boat", resolution="2K", aspect_ratio="16:9")
        p1 = paths()
        after = s.credits()
        net = float(s.spend(this_session=True)["net"].sum())
        df = s.jobs(this_session=True)
        for _, r in df.iterrows():
            print(f"  {r['service']:28s} estimated {r['estimated']!s:>9} charged {r['charged']!s:>9} "
                  f"source {r['charge_source']:15s} {r['reconcile']}")
        print(f"balance {before:g} -> {after:g}: change {before - after:.6f}; spend() net {net:.6f}; "
              f"difference {abs(before - after - net):.6f}")
        est = s.estimate("seedance-video", **SEEDANCE)
        print(f"estimate 2: {est.credits:g} credits ({est.basis})")
        sent = sum(paths().values())
        try:
            s.submit("seedance-video", confirm=True, **SEEDANCE)
            print("NOT refused")
        except BudgetExceeded as exc:
            print(f"refused: {exc}; requests sent for it: {sum(paths().values()) - sent}")
        per_job = {k.rsplit('/api/v1', 1)[-1]: p1.get(k, 0) - p0.get(k, 0) for k in p1 if p1.get(k, 0) != p0.get(k, 0)}
        print(f"requests for the gpt-image-2 job incl. its reconcile: {per_job}")
        print(s.prices().to_string())
        s.close()
        launch.unregister(sb.base_url)


if __name__ == "__main__":
    main()
