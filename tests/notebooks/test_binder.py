"""Repeat repo2docker's steps in a fresh virtual environment, then run the quickstart.

repo2docker, for this repo: install ``binder/requirements.txt`` from the repository root,
run ``binder/postBuild`` there, then start every session through ``binder/start``. This
test does the same with ``python -m venv`` (no Docker), and executes the quickstart with
the new environment's own Jupyter, started through ``binder/start`` with a bogus key and
base URL in the environment: ``start`` must drop them so the demo stays keyless.

It installs from the package index (the only notebook test that does), so it is marked
slow; ``PHAYA_SKIP_BINDER=1`` skips it. It took about 70 s here (2 cores).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from .nbrun import (
    AUDIO_HTML,
    NOTEBOOKS,
    REPO,
    VIDEO_HTML,
    count,
    images,
    outputs,
    texts,
    untracked_in_notebooks,
)

_SKIP = os.environ.get("PHAYA_SKIP_BINDER") == "1"  # read at import: PHAYA_* is cleared per test

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(420),
    pytest.mark.skipif(_SKIP, reason="PHAYA_SKIP_BINDER=1"),
]


def _run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path = REPO, timeout: float = 300) -> str:
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-4000:]}"
    print(f"{Path(cmd[0]).name} {' '.join(cmd[1:3])}: {time.monotonic() - t0:.1f}s")
    return out


@pytest.fixture()
def scratch() -> Iterator[Path]:
    """A temp dir removed afterwards (the venv is ~400 MB: not left to pytest's retention)."""
    path = Path(tempfile.mkdtemp(prefix="phaya-binder-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_binder_steps_in_fresh_venv(scratch: Path) -> None:
    venv, home, work = scratch / "venv", scratch / "home", scratch / "work"
    left_before = untracked_in_notebooks()
    home.mkdir()
    work.mkdir()
    _run([sys.executable, "-m", "venv", str(venv)])
    # 1. requirements (repo2docker: pip install -r binder/requirements.txt, cwd = repo root)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"])

    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("PHAYA_", "JUPYTER", "IPYTHON", "VIRTUAL_ENV", "PYTHON"))}
    env = dict(base, HOME=str(home), PATH=f"{venv / 'bin'}{os.pathsep}{base.get('PATH', '')}",
               VIRTUAL_ENV=str(venv), JUPYTER_PLATFORM_DIRS="1", MPLBACKEND="Agg")
    # 2. postBuild, from the repo root, in the new environment
    out = _run(["bash", "binder/postBuild"], env=env)
    assert "sandbox ok" in out, out
    settings = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
    assert (settings / "apputils-extension" / "notification.jupyterlab-settings").exists()

    # 3. a session: binder/start wraps the command; a leaked key/base must not be used
    shutil.copy(NOTEBOOKS / "quickstart.ipynb", work / "quickstart.ipynb")
    leaky = dict(env, PHAYA_API_KEY="sk-leaked-into-binder", PHAYA_BASE="http://127.0.0.1:9/api/v1")
    _run(["bash", str(REPO / "binder" / "start"), str(venv / "bin" / "jupyter"), "nbconvert",
          "--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=120",
          "--output", "executed.ipynb", "quickstart.ipynb"], env=leaky, cwd=work)

    nb = nbformat.read(work / "executed.ipynb", as_version=4)
    assert not [o for o in outputs(nb) if o.get("output_type") == "error"]
    assert images(nb) >= 1 and count(VIDEO_HTML, nb) >= 1 and count(AUDIO_HTML, nb) >= 3
    text = "\n".join(texts(nb))
    assert "sk-leaked-into-binder" not in text
    assert (work / ".phaya" / "jobs.sqlite3").exists()
    # judged against what was there before (a demo run may have left files; they are not ours)
    assert untracked_in_notebooks() == left_before, "the run wrote into the repo's notebooks/"
