"""Execute a notebook headless with nbclient, the way every notebook test here does.

Why a shared helper: three details decide whether notebook runs are quick and honest.
- nbclient's stand-in Output widget echoes a comm_msg on the shell socket while awaiting
  execute_reply; the wake-up is sometimes lost and a cell stalls for its whole timeout
  (jupyter/nbclient#312). ``QuietOutputWidget`` drops the echo; captured outputs still
  reach the saved widget state.
- ``shutdown_kernel="immediate"``: graceful shutdown sometimes waits 2.5 s for nothing.
- The kernel runs in a temp copy of the notebook's folder with no ``PHAYA_*`` variables,
  so ``connect()`` starts the embedded sandbox and ``.phaya/`` never lands in the repo;
  that sandbox's directory is in the same folder, and the sandbox is stopped afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.output_widget import OutputWidget

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
IMG_HTML = re.compile(r'<img[^>]+src="data:image/(png|jpeg)', re.I)
VIDEO_HTML = re.compile(r"<video\b[^>]*>\s*<source", re.I)
AUDIO_HTML = re.compile(r"<audio\b[^>]*>\s*<source", re.I)


def tracked_notebooks() -> list[Path]:
    """The notebooks git tracks in notebooks/ (in a checkout), else every ``*.ipynb`` there.

    Files a run leaves next to them (an executed copy, ``.phaya/``, ``phaya-media/``) are
    not the repository's notebooks; the tests judge only what is committed.
    """
    import subprocess

    if (REPO / ".git").exists():
        out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--", "notebooks/*.ipynb"],
                             capture_output=True, text=True, check=True).stdout
        return sorted(REPO / name for name in out.split("\0") if name)
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def untracked_in_notebooks() -> list[str]:
    """Files in notebooks/ that git neither tracks nor ignores (what a run wrongly left there)."""
    import subprocess

    if not (REPO / ".git").exists():
        return []
    out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--others", "--", "notebooks"],
                         capture_output=True, text=True, check=True).stdout
    return sorted(name for name in out.split("\0") if name)


class QuietOutputWidget(OutputWidget):
    """nbclient's Output-widget stand-in without the comm echo that can stall a cell."""

    def sync_state(self) -> None:  # noqa: D102 - see the class docstring
        pass


def kernel_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment without any PHAYA_* variable (no key: embedded sandbox), except the
    test's own sandbox directory (conftest), so a kernel never uses the machine's sandbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHAYA_") or k == "PHAYA_SANDBOX_DIR"}
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    env.update(extra or {})
    return env


def workdir_copy(dest: Path, names: Iterable[str] | None = None) -> Path:
    """Copy the notebooks (all, or the named ones) into ``dest``; returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for nb in sorted(NOTEBOOKS.glob("*.ipynb")):
        if names is None or nb.name in set(names):
            shutil.copy(nb, dest / nb.name)
    return dest


def execute(
    path: Path,
    cwd: Path,
    *,
    extra_cells: Iterable[str] = (),
    timeout: int = 120,
    env: Mapping[str, str] | None = None,
    allow_errors: bool = False,
) -> Any:
    """Run ``path`` top to bottom in ``cwd``; returns the executed NotebookNode.

    ``extra_cells`` are appended code cells (used to drive widgets from the kernel).
    Raises ``nbclient.exceptions.CellExecutionError`` on the first failing cell (unless
    ``allow_errors``: then every cell runs and errors stay in the outputs).
    """
    nb = nbformat.read(path, as_version=4)
    for src in extra_cells:
        nb.cells.append(nbformat.v4.new_code_cell(src))
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        startup_timeout=120,
        shutdown_kernel="immediate",
        store_widget_state=True,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.widget_registry["@jupyter-widgets/output"]["OutputModel"] = QuietOutputWidget
    kenv = kernel_env(env)
    # the kernel's persistent sandbox lives in the run's folder and is stopped after it
    sandbox_dir = Path((env or {}).get("PHAYA_SANDBOX_DIR") or cwd / ".phaya-sandbox")
    kenv["PHAYA_SANDBOX_DIR"] = str(sandbox_dir)
    try:
        return client.execute(env=kenv, cwd=str(cwd))
    finally:
        from phaya_notebook.core import launch

        launch.stop_embedded(state_dir=sandbox_dir)


def outputs(nb: Any) -> list[Any]:
    """Every output of every code cell, in order."""
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def _widget_state(nb: Any) -> dict[str, Any]:
    return dict(nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {}))


def texts(nb: Any) -> list[str]:
    """HTML / Markdown / plain text of every output, including Output widgets and HTML widgets."""
    blobs: list[str] = []

    def take(data: dict[str, Any]) -> None:
        for key in ("text/html", "text/markdown", "text/plain"):
            if key in data:
                v = data[key]
                blobs.append(v if isinstance(v, str) else "".join(v))

    for o in outputs(nb):
        take(o.get("data", {}))
        if o.get("output_type") == "stream":
            blobs.append(o.get("text", ""))
    state = _widget_state(nb)
    for model in state.values():
        st = model.get("state", {})
        for o in st.get("outputs", []) or []:
            take(o.get("data", {}))
        if model.get("model_name") == "HTMLModel":
            blobs.append(str(st.get("value", "")))
    return blobs


def mimes(nb: Any) -> set[str]:
    """Every MIME type shown, including those captured inside Output widgets."""
    found = {k for o in outputs(nb) for k in o.get("data", {})}
    state = _widget_state(nb)
    for model in state.values():
        for o in model.get("state", {}).get("outputs", []) or []:
            found.update(o.get("data", {}))
    return found


def count(pattern: re.Pattern[str], nb: Any) -> int:
    """Matches of ``pattern`` across every output text."""
    return sum(len(pattern.findall(t)) for t in texts(nb))


def images(nb: Any) -> int:
    """Inline images: image/png|jpeg outputs plus HTML previews with a data: source."""
    raw = sum(1 for o in outputs(nb) for k in o.get("data", {}) if k in ("image/png", "image/jpeg"))
    return raw + count(IMG_HTML, nb)


def widget_views(nb: Any) -> int:
    return sum(1 for o in outputs(nb) if WIDGET_VIEW in o.get("data", {}))


def widget_classes(nb: Any) -> set[str]:
    state = _widget_state(nb)
    return {c for m in state.values() for c in (m.get("state", {}).get("_dom_classes") or [])}
