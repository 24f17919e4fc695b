"""How many module-to-module hops one ``phaya.generate("text-to-image", ...)`` takes (a script).

    .venv/bin/python tests/benchmarks/trace_hops.py [--list]

Connects to a fresh embedded sandbox (its own process, in a temporary folder), runs one
warm-up generate (imports, sandbox start, first balance read), then traces a second one
with ``sys.setprofile`` in this process: every call from a function of one package module
into a function of another package module is a hop. Printed: the hops (every crossing, in
order; a coroutine's every resumption counts), the distinct crossings (caller function ->
callee function), how many of those enter a private function of the other module (a name
with one leading underscore: the reach into another module's internals issue 11 removes),
and the modules the job's life touched. Run it on another tree with ``PYTHONPATH=TREE``. ``--list`` prints the distinct crossings. Readability figure for
issue 11 (a job's life readable from core/jobs.py down through public names).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from collections import Counter
from types import FrameType
from typing import Any

PKG = "phaya_notebook"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="print every distinct crossing")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="phaya-hops-")
    os.environ.pop("PHAYA_API_KEY", None)
    os.environ["PHAYA_SANDBOX_DIR"] = os.path.join(tmp, "sandbox")
    os.environ["PHAYA_CACHE_DIR"] = os.path.join(tmp, "cache")
    import phaya_notebook as phaya

    s = phaya.connect(log_path=os.path.join(tmp, "jobs.sqlite"))
    try:
        s.generate("text-to-image", prompt="warm-up")
        hops: list[tuple[str, str]] = []

        def prof(frame: FrameType, event: str, arg: Any) -> None:
            if event != "call":
                return
            callee = frame.f_globals.get("__name__", "")
            caller_frame = frame.f_back
            if caller_frame is None or not callee.startswith(PKG):
                return
            caller = caller_frame.f_globals.get("__name__", "")
            if caller.startswith(PKG) and caller != callee:
                hops.append((f"{caller}.{caller_frame.f_code.co_name}", f"{callee}.{frame.f_code.co_name}"))

        threading.setprofile(prof)
        sys.setprofile(prof)
        try:
            r = s.generate("text-to-image", prompt="a lighthouse at dusk")
        finally:
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]
        distinct = Counter(hops)
        private = [h for h in distinct if _private(h[1].rsplit(".", 1)[1])]
        mods = sorted({m.rsplit(".", 1)[0] for h in hops for m in h})
        print(f"result: {getattr(r, 'status', r)!s:.40}")
        print(f"hops (every crossing between package modules): {len(hops)}")
        print(f"distinct crossings (caller -> callee function): {len(distinct)}")
        print(f"distinct crossings into another module's private function: {len(private)}")
        print(f"modules touched: {len(mods)}: {', '.join(m.removeprefix(PKG + '.') for m in mods)}")
        if args.list:
            for (a, b), n in sorted(distinct.items()):
                mark = "  (private)" if (a, b) in private else ""
                print(f"  {n:4d}  {a.removeprefix(PKG + '.')} -> {b.removeprefix(PKG + '.')}{mark}")
    finally:
        s.close() if hasattr(s, "close") else None
        from phaya_notebook.sandbox.__main__ import main as sandbox_main  # stop the embedded sandbox

        sys.argv = ["sandbox", "stop"]
        try:
            sandbox_main()
        except SystemExit:
            pass


if __name__ == "__main__":
    main()
