"""How much ``%load_ext phaya_notebook`` adds to an IPython start (the target: at most 0.2 s).

Each run is a fresh interpreter: bare = start ``InteractiveShell.instance()``; loaded = the
same plus ``run_line_magic('load_ext', 'phaya_notebook')``. Prints the median wall time of
each (whole process and in-process), the difference, and the heavy modules the extension
pulled in (there should be none: no httpx, pandas, ipywidgets or phaya_notebook.core).

    .venv/bin/python tests/benchmarks/bench_load_ext.py [--runs 9]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

HEAVY = ("httpx", "pandas", "ipywidgets", "numpy", "phaya_notebook.core", "phaya_notebook.session",
         "phaya_notebook.magic_args", "phaya_notebook.catalog")

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
t1 = time.perf_counter()
before = set(sys.modules)
if {load}:
    shell.run_line_magic("load_ext", "phaya_notebook")
    assert "phaya" in shell.magics_manager.magics["line"], "phaya magic not registered"
t2 = time.perf_counter()
new = sorted(set(sys.modules) - before)
print(json.dumps({{"in_process": t2 - t0, "load_ext": t2 - t1, "new_modules": new}}))
"""


def run_once(load: bool) -> dict:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD.format(load=load)], capture_output=True, text=True,
                         check=True)
    wall = time.perf_counter() - start
    data = json.loads(out.stdout.strip().splitlines()[-1])
    data["wall"] = wall
    return data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    run_once(False)  # warm the file cache
    run_once(True)
    bare, loaded = [], []
    for _ in range(args.runs):  # interleaved, so drift hits both alike
        bare.append(run_once(False))
        loaded.append(run_once(True))

    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    heavy = sorted({m for r in loaded for m in r["new_modules"] if m.startswith(HEAVY)})
    print(f"runs: {args.runs} each (median)")
    print(f"bare IPython start, whole process:   {med(bare, 'wall'):.3f} s")
    print(f"with %load_ext phaya_notebook:        {med(loaded, 'wall'):.3f} s")
    print(f"added by %load_ext (whole process):  {med(loaded, 'wall') - med(bare, 'wall'):+.3f} s")
    print(f"added by %load_ext (in process):     {med(loaded, 'load_ext'):.4f} s")
    print(f"modules imported by %load_ext: {len(loaded[-1]['new_modules'])}: "
          f"{', '.join(loaded[-1]['new_modules'])}")
    print(f"heavy modules imported at load: {heavy or 'none'}")
    ok = med(loaded, "wall") - med(bare, "wall") <= 0.2 and not heavy
    print("target (<= 0.2 s, nothing heavy):", "met" if ok else "MISSED")


if __name__ == "__main__":
    main()
