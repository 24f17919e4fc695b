"""``phaya-demo``: open (or run) the quickstart notebook on the offline sandbox.

The README's first command ends here, so it has to work on a fresh machine as whoever runs
it: JupyterLab refuses to start as root without ``--allow-root`` (containers, CI, this
project's own machines), and a wheel install has no ``notebooks/`` folder beside the package.
With no ``PHAYA_API_KEY`` the notebooks' ``connect()`` starts the sandbox; a key is dropped
from the environment unless ``--live`` is given, so the demo never spends real credits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["DEMO_DIR", "lab_command", "main", "notebooks_dir"]

REPO_NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PACKAGED_NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
#: Where the demo runs by default, under the current folder: a copy of the notebooks, so
#: the executed notebook, the job log (``.phaya/``) and the media (``phaya-media/``) land
#: there and never in the repository's tracked ``notebooks/`` (the repo's .gitignore
#: lists this folder, and the notebook tests check ``notebooks/`` against what git tracks).
DEMO_DIR = "phaya-demo"


def notebooks_dir(workdir: Path, target: Path | None = None) -> Path:
    """A working copy of the demo notebooks: ``target``, else ``workdir/phaya-demo``.

    Notebooks already in the copy are kept (they may hold the user's edits).
    """
    repo_ok = (REPO_NOTEBOOKS / "quickstart.ipynb").exists()
    source = REPO_NOTEBOOKS if repo_ok else PACKAGED_NOTEBOOKS
    if not (source / "quickstart.ipynb").exists():
        raise SystemExit("phaya-demo: the demo notebooks are not installed (reinstall phaya-notebook)")
    target = target if target is not None else workdir / DEMO_DIR
    if target.resolve() == source.resolve():
        raise SystemExit(f"phaya-demo: --dir {target} is where the notebooks come from; pick another folder")
    target.mkdir(parents=True, exist_ok=True)
    for nb in source.glob("*.ipynb"):
        if not (target / nb.name).exists() and not nb.name.endswith(".executed.ipynb"):
            shutil.copy2(nb, target / nb.name)
    return target


def lab_command(nbdir: Path, *, port: int | None = None, open_browser: bool = True) -> list[str]:
    cmd = [sys.executable, "-m", "jupyter", "lab", str(nbdir / "quickstart.ipynb"),
           f"--ServerApp.root_dir={nbdir}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    if port:
        cmd.append(f"--port={port}")
    if not open_browser:
        cmd.append("--no-browser")
    return cmd


def _demo_env(live: bool) -> dict[str, str]:
    env = dict(os.environ)
    if not live:
        env.pop("PHAYA_API_KEY", None)
        env.pop("PHAYA_BASE", None)
    return env


def _execute(nbdir: Path, env: dict[str, str]) -> int:
    """Run the quickstart headless and print what each cell printed (costs, balance).

    A cell that raises ends the run with what ran before it and one line saying why, not
    nbclient's traceback; an empty sandbox (402) names the command that tops it up.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(nbdir / "quickstart.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(nbdir)}})
    try:
        client.execute(env=env)
    except CellExecutionError as exc:
        _print_outputs(nb)
        print(f"\nphaya-demo: the quickstart stopped: {exc.ename}: {exc.evalue}", file=sys.stderr)
        if exc.ename == "InsufficientCredits":
            print("phaya-demo: the offline sandbox is out of play credits. Add more (jobs and media are kept), "
                  "then run the demo again:\n    python -m phaya_notebook.sandbox topup", file=sys.stderr)
        return 1
    media = _print_outputs(nb)
    out_path = nbdir / "quickstart.executed.ipynb"
    nbformat.write(nb, out_path)
    print(f"\nphaya-demo: quickstart ran on the sandbox: {media} media outputs; saved {out_path}")
    return 0


def _print_outputs(nb: Any) -> int:
    """Write what the executed cells printed; the number of media outputs."""
    media = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                sys.stdout.write(out.get("text", ""))
            data = out.get("data", {})
            media += any(k.startswith(("image/", "video/", "audio/")) for k in data)
            html = data.get("text/html", "")
            media += html.count("<video") + html.count("<audio") + html.count("<img")
    sys.stdout.flush()
    return media


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="phaya-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--execute", action="store_true",
                        help="run the quickstart headless and print its costs instead of opening JupyterLab")
    parser.add_argument("--port", type=int, default=None, help="JupyterLab's port")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--dir", type=Path, default=None,
                        help=f"copy the notebooks here and run them from here (default: ./{DEMO_DIR}/)")
    parser.add_argument("--live", action="store_true",
                        help="keep PHAYA_API_KEY / PHAYA_BASE: use the real Phaya (costs real credits)")
    args = parser.parse_args(argv)
    nbdir = notebooks_dir(Path.cwd(), args.dir)
    env = _demo_env(args.live)
    was_running = _sandbox("status", env) == 0
    try:
        if args.execute:
            return _execute(nbdir, env)
        cmd = lab_command(nbdir, port=args.port, open_browser=not args.no_browser)
        print("phaya-demo: opening", nbdir / "quickstart.ipynb", "in JupyterLab (Ctrl-C to stop)", flush=True)
        try:
            return subprocess.call(cmd, env=env)
        except KeyboardInterrupt:
            return 0
    finally:
        if not was_running:  # the demo stops the persistent sandbox it started (its state stays on disk)
            _sandbox("stop", env)


def _sandbox(command: str, env: dict[str, str]) -> int:
    """``python -m phaya_notebook.sandbox status|stop`` (quietly): the kernels' persistent sandbox."""
    try:
        return subprocess.call([sys.executable, "-m", "phaya_notebook.sandbox", command], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=60)
    except (OSError, subprocess.SubprocessError):
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
