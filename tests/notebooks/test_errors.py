"""A user's mistake in a real kernel shows a short error block naming the field, not 40 frames.

The notebook is built here and run by nbclient on the embedded sandbox; the test reads the
``error`` outputs the kernel sent (what JupyterLab shows). ``%tb`` must still give the full
traceback, frames of the sync facade included.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import nbformat
import pytest

from .nbrun import execute

pytestmark = pytest.mark.timeout(240)

ANSI = re.compile(r"\x1b\[[0-9;]*m")
INTERNAL = ("asyncio", "nest_asyncio", "core/sync.py", "run_until_complete", "File ")

CELLS = [
    "import phaya_notebook\nphaya = phaya_notebook.connect()",
    'phaya.compare(["a paper boat", "a lighthouse"], ["nano-banana", "nano-banana"])',
    'phaya.generate("nano-banana", prompt="a paper boat", aspect_ratio="7:5")',
    "%tb",
    "print(len(phaya.jobs()), 'jobs')",
]


def _error_text(cell) -> str:
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert len(errors) == 1, cell.outputs
    return ANSI.sub("", "\n".join(errors[0].traceback))


def test_mistakes_show_a_short_block_naming_the_field() -> None:
    with tempfile.TemporaryDirectory(prefix="phaya-errors-") as tmp:
        work = Path(tmp)
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
        path = work / "errors.ipynb"
        nbformat.write(nb, path)
        done = execute(path, work, allow_errors=True)

    twice = _error_text(done.cells[1])
    assert "InvalidParams" in twice and "models" in twice and "'nano-banana' is listed twice" in twice, twice
    ratio = _error_text(done.cells[2])
    assert "aspect_ratio" in ratio and "'7:5'" in ratio and "16:9" in ratio, ratio  # field, value, allowed
    for text in (twice, ratio):
        assert len(text.splitlines()) <= 4, text
        for word in INTERNAL:
            assert word not in text, f"{word!r} in the short block:\n{text}"
        assert "%tb" in text and "→" in text  # the fix, and where the frames went

    full = _error_text(done.cells[3])  # %tb: the whole traceback, facade frames and all
    assert "Traceback" in full or "File " in full, full
    assert "sync.py" in full and "aspect_ratio" in full, full[-2000:]
    # nothing was sent: no job in the log
    out = "".join(o.get("text", "") for o in done.cells[4].outputs)
    assert out.strip() == "0 jobs", out
