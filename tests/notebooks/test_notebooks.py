"""Every notebook in notebooks/ runs top to bottom on the embedded sandbox and shows its media.

Each kernel gets a temp copy of the notebooks as its working directory and no PHAYA_*
variable, so ``connect()`` starts the offline sandbox and ``.phaya/`` stays out of the repo.
A failing cell fails the test (nbclient raises ``CellExecutionError`` with the traceback).
Widgets are also driven from the kernel (extra cells) so their jobs really run headless.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from .nbrun import (
    AUDIO_HTML,
    NOTEBOOKS,
    VIDEO_HTML,
    count,
    execute,
    images,
    mimes,
    outputs,
    texts,
    tracked_notebooks,
    widget_classes,
    widget_views,
    workdir_copy,
)

pytestmark = pytest.mark.timeout(240)

# Cells appended to a notebook to click its widgets from the kernel and wait for the jobs.
STUDIO_DRIVE = """\
studio.prompt.value = "a lighthouse, headless check"
assert "1 credit" in studio.cost.value and "1 credits" not in studio.cost.value, studio.cost.value
studio.generate.click()
await studio.wait(90)
card = studio.cards[-1]
assert card.outcome == "completed", (card.outcome, card.info.value)
assert "1 credit ·" in card.info.value, card.info.value
"""
COMPARE_DRIVE = """\
grid.start_button.click()
grid.confirm_box.confirm_button.click()
await grid.wait(90)
outcomes = {k: c.outcome for k, c in grid.cards.items()}
assert len(outcomes) == len(prompts) * len(models), outcomes
assert set(outcomes.values()) == {"completed"}, outcomes
"""
CHAT_DRIVE = """\
box.ask("Say hello in five words.")
await box.wait(60)
assert box.history.children, "no chat turn shown"
"""


DRIVE = {"studio": (STUDIO_DRIVE,), "compare": (COMPARE_DRIVE,), "chat": (CHAT_DRIVE,)}
ORDER = ("compare", "quickstart", "explore", "magics", "studio", "chat", "app")  # longest first


@pytest.fixture(scope="module")
def executed() -> Iterator[dict[str, tuple[Path, Any]]]:
    """Run every notebook, three kernels at a time: they mostly wait on sandbox jobs.

    Each gets its own working directory (and so its own embedded sandbox and job log);
    an exception is kept and re-raised by that notebook's test only.
    """
    root = Path(tempfile.mkdtemp(prefix="phaya-notebooks-"))

    def one(name: str) -> tuple[Path, Any]:
        work = workdir_copy(root / name, [f"{name}.ipynb"])
        try:
            return work, execute(work / f"{name}.ipynb", work, extra_cells=DRIVE.get(name, ()))
        except Exception as exc:  # noqa: BLE001 - reported by the notebook's own test
            return work, exc

    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            yield dict(zip(ORDER, pool.map(one, ORDER), strict=True))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(name: str, executed: dict[str, tuple[Path, Any]]) -> tuple[Path, Any]:
    work, nb = executed[name]
    if isinstance(nb, BaseException):
        raise nb
    errors = [o for o in outputs(nb) if o.get("output_type") == "error"]
    assert not errors, errors
    return work, nb


def test_notebooks_are_generated_and_clean() -> None:
    """Committed notebooks match make_notebooks.py and carry no outputs."""
    check = subprocess.run([sys.executable, str(NOTEBOOKS / "make_notebooks.py"), "--check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    import nbformat

    names = sorted(p.stem for p in tracked_notebooks())
    assert names == ["app", "chat", "compare", "explore", "magics", "quickstart", "studio"]
    for name in names:
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs committed"


def test_quickstart(executed) -> None:
    workdir, nb = run("quickstart", executed)
    assert images(nb) >= 1, "no inline image"
    assert count(VIDEO_HTML, nb) >= 1, "no video player"
    assert count(AUDIO_HTML, nb) >= 3, "expected 2 music tracks + speech"
    text = "\n".join(texts(nb))
    assert text.count("cost:") >= 5, "each result should print its cost"
    assert "cost: 1 credit\n" in text and " 1 credits" not in text, "1 credit, not 1 credits"
    assert "text/markdown" in mimes(nb), "chat reply not shown as Markdown"
    assert "<table" in text, "jobs()/spend() DataFrame not shown"
    assert (workdir / ".phaya" / "jobs.sqlite3").exists(), "job log not next to the notebook"


def test_studio_generates_headless(executed) -> None:
    _, nb = run("studio", executed)
    assert widget_views(nb) >= 1
    assert "phaya-studio" in widget_classes(nb)
    assert images(nb) >= 1, "the generated image is not in the gallery's saved state"


def test_app_is_just_the_studio(executed) -> None:
    _, nb = run("app", executed)
    assert widget_views(nb) == 1
    assert "phaya-studio" in widget_classes(nb)


def test_magics(executed) -> None:
    _, nb = run("magics", executed)
    assert images(nb) >= 1, "%phaya image showed no image"
    assert count(AUDIO_HTML, nb) >= 2, "%%phaya speech / %phaya music showed no player"
    text = "\n".join(texts(nb))
    assert "<table" in text, "%phaya models/jobs/spend showed no table"
    assert "text-to-image" in text


def test_compare(executed) -> None:
    workdir, nb = run("compare", executed)
    assert "image/png" in mimes(nb), "no matplotlib plot"
    assert images(nb) >= 8 + 1, "comparison table thumbnails or grid images missing"
    text = "\n".join(texts(nb))
    assert "gpt-image-2-text-to-image" in text and "last_charged" in text, "GPT Image 2 or prices() missing"
    assert "phaya-compare" in widget_classes(nb)
    assert (workdir / "comparison.csv").exists() and (workdir / "comparison.parquet").exists()


def test_chat(executed) -> None:
    _, nb = run("chat", executed)
    assert "phaya-chat" in widget_classes(nb)
    text = "\n".join(texts(nb))
    assert "tokens" in text and "credits" in text
    assert "text/markdown" in mimes(nb)


def test_explore(executed) -> None:
    """rate -> summary -> leaderboard -> gallery -> reports, top to bottom on the sandbox."""
    workdir, nb = run("explore", executed)
    text = "\n".join(texts(nb))
    assert "credits_per_kept" in text and "keep_rate" in text, "no summary / leaderboard table"
    assert "image/png" in mimes(nb), "no summary plot"
    assert "phaya-history" in widget_classes(nb), "no gallery"
    assert "phaya-live" in text, "compare showed no live progress lines"
    report = (workdir / "comparison-report.html").read_text()
    assert report.count('<img src="data:image/') == 4 and "👍 kept" in report and "👎 rejected" in report
    history = (workdir / "history-report.html").read_text()
    assert history.count('class="card"') == 5 and "<script" not in history.lower()
