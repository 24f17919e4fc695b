"""Benchmark: the kernel does no sandbox media work — its RSS over 50 sandbox images.

Run: ``.venv/bin/python tests/benchmarks/bench_kernel_rss.py [N] [--ipykernel]`` (default 50
images; ``--ipykernel`` runs the same code in a real IPython kernel via jupyter_client instead
of a plain Python process).

A kernel (stand-in) process runs ``connect()`` without a key (the embedded default: the
persistent sandbox, started as its own process in a temp ``PHAYA_SANDBOX_DIR``), makes one
image to warm up (imports, first connection), then N images through the usual path
(submit, poll, download into the media cache). It prints its RSS before and after and its
peak, and whether it ever imported the sandbox (FastAPI, Pillow's encoders); the sandbox
is stopped at the end. Target: growth < 50 MB (the issue measured 462 MB peak in-thread).
The run takes about 2-3 minutes: N images cost ~3 requests each at the key's 60/min.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

KERNEL = textwrap.dedent("""
    import sys, time
    from phaya_notebook import connect

    def rss(field="VmRSS"):
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    n = N
    s = connect(log_path="jobs.sqlite3")
    s.generate("text-to-image", prompt="warm up")
    before = rss()
    t0 = time.monotonic()
    jobs = [s.submit("text-to-image", prompt=f"image {i}") for i in range(n)]
    results = [j.wait() for j in jobs]
    after, peak = rss(), rss("VmHWM")
    cached = sum(1 for r in results if r.path is not None and r.path.is_file())
    heavy = [m for m in ("fastapi", "uvicorn", "phaya_notebook.sandbox") if m in sys.modules]
    print(f"images: {n} ({cached} cached) in {time.monotonic() - t0:.0f} s")
    print(f"kernel RSS: {before:.1f} MB before, {after:.1f} MB after: growth {after - before:+.1f} MB "
          f"(peak {peak:.1f} MB); sandbox modules imported in the kernel: {heavy or 'none'}")
    s.close()
""")


def in_ipykernel(code: str, work: str, env: dict[str, str]) -> int:
    """Run ``code`` in a real ipykernel; print its stdout; 0 when the cell succeeded."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=work, env=env)
    try:
        reply = kc.execute_interactive(code, timeout=1200,
                                       output_hook=lambda m: m["msg_type"] == "stream" and
                                       print(m["content"]["text"], end=""))
        return 0 if reply["content"]["status"] == "ok" else 1
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main(n: int = 50, ipykernel: bool = False) -> int:
    with tempfile.TemporaryDirectory(prefix="phaya-rss-") as work:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PHAYA_")}
        env.update(PHAYA_SANDBOX_DIR=str(Path(work) / "sandbox"), PYTHONPATH=str(REPO))
        code = f"N = {int(n)}\n" + KERNEL
        try:
            if ipykernel:
                print("in a real ipykernel:")
                return in_ipykernel(code, work, env)
            out = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, text=True,
                                 capture_output=True, timeout=1200)
            print(out.stdout, end="")
            if out.returncode:
                print(out.stderr[-3000:], file=sys.stderr)
            return out.returncode
        finally:
            subprocess.run([sys.executable, "-m", "phaya_notebook.sandbox", "stop", "--state-dir",
                            str(Path(work) / "sandbox")], env=env, capture_output=True, timeout=60)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    raise SystemExit(main(int(args[0]) if args else 50, ipykernel="--ipykernel" in sys.argv))
