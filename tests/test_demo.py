"""The README's first command: ``phaya-demo`` opens or runs the quickstart on the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from phaya_notebook import demo


def test_lab_command_allows_root_only_for_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    root = demo.lab_command(tmp_path, port=8899, open_browser=False)
    assert "--allow-root" in root and "--port=8899" in root and "--no-browser" in root
    assert root[3] == "lab" and str(tmp_path / "quickstart.ipynb") in root
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "--allow-root" not in demo.lab_command(tmp_path)


def test_a_target_dir_gets_a_copy_of_every_notebook(tmp_path: Path) -> None:
    nbdir = demo.notebooks_dir(tmp_path, tmp_path / "nb")
    names = {p.name for p in nbdir.glob("*.ipynb")}
    assert {"quickstart.ipynb", "studio.ipynb", "compare.ipynb", "app.ipynb"} <= names


def test_the_default_dir_is_a_copy_outside_the_repos_notebooks(tmp_path: Path) -> None:
    nbdir = demo.notebooks_dir(tmp_path)
    assert nbdir == tmp_path / demo.DEMO_DIR and nbdir.resolve() != demo.REPO_NOTEBOOKS.resolve()
    assert (nbdir / "quickstart.ipynb").read_bytes() == (demo.REPO_NOTEBOOKS / "quickstart.ipynb").read_bytes()
    with pytest.raises(SystemExit, match="where the notebooks come from"):
        demo.notebooks_dir(tmp_path, demo.REPO_NOTEBOOKS)
    gitignore = (demo.REPO_NOTEBOOKS.parent / ".gitignore").read_text().split()
    assert f"{demo.DEMO_DIR}/" in gitignore  # run from the repo root, the copy is ignored


@pytest.mark.timeout(240)
def test_execute_runs_the_quickstart_without_a_key(tmp_path: Path) -> None:
    from .notebooks.nbrun import untracked_in_notebooks

    left = untracked_in_notebooks()
    env = dict(os.environ, PHAYA_API_KEY="sk-should-be-dropped", PHAYA_BASE="http://127.0.0.1:9/api/v1")
    out = subprocess.run(  # the README's form: no --dir
        [sys.executable, "-m", "phaya_notebook.demo", "--execute"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=220,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "offline sandbox" in out.stdout and "cost:" in out.stdout
    assert "cost: 1 credit\n" in out.stdout and " 1 credits" not in out.stdout  # the image: singular
    assert "quickstart ran on the sandbox" in out.stdout
    assert "sk-should-be-dropped" not in out.stdout + out.stderr
    nb = tmp_path / demo.DEMO_DIR
    assert (nb / "quickstart.executed.ipynb").exists()
    assert any((nb / "phaya-media").iterdir()) and (nb / ".phaya" / "jobs.sqlite3").exists()
    assert untracked_in_notebooks() == left  # nothing written into the repository's notebooks/


@pytest.mark.timeout(420)
def test_an_empty_sandbox_stops_the_demo_with_the_topup_command_and_topup_ends_it(tmp_path: Path) -> None:
    """The demo's persistent sandbox never refills: its 402 names the way out, and the way out works."""
    sandbox = [sys.executable, "-m", "phaya_notebook.sandbox"]
    started = subprocess.run([*sandbox, "start", "--credits", "1"], capture_output=True, text=True, timeout=90)
    assert started.returncode == 0, started.stderr  # in this test's own PHAYA_SANDBOX_DIR (conftest)

    def run_demo() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "phaya_notebook.demo", "--execute"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=220)

    out = run_demo()
    assert out.returncode == 1, out.stderr[-3000:]
    assert "cost: 1 credit\n" in out.stdout  # the image (1 credit) ran and is shown; the video found 0 left
    assert "InsufficientCredits" in out.stderr and "out of play credits" in out.stderr
    assert "python -m phaya_notebook.sandbox topup" in out.stderr
    assert "Traceback" not in out.stderr and "CellExecutionError" not in out.stderr  # one clear line, no frames
    top = subprocess.run([*sandbox, "topup", "100"], capture_output=True, text=True, timeout=90)
    assert top.returncode == 0 and "the balance is now 100 credits" in top.stdout, top.stdout + top.stderr
    again = run_demo()
    assert again.returncode == 0, again.stderr[-3000:]
    assert "quickstart ran on the sandbox" in again.stdout
