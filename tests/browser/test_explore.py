"""Prompt exploration in real JupyterLab (headless Chromium, embedded sandbox).

- ``phaya.generate`` of a Sora job: a progress line within 1 s of the call, updated while
  the cell is busy, then replaced by the video.
"""

from __future__ import annotations

import json

import nbformat

from .harness import JS_KERNEL_IDLE, report_failure, require_chromium, save_shot

require_chromium()

from playwright.sync_api import expect  # noqa: E402

SETUP = """\
from phaya_notebook.core.launch import embedded_sandbox
embedded_sandbox(speed=30)  # Sora: 180 s at speed 30 = 6 s
import phaya_notebook
phaya = phaya_notebook.connect()"""
SORA = 'video = phaya.generate("sora2-text-to-video", prompt="waves rolling onto a beach at dusk")'

# Watch the notebook's DOM: every distinct text of the live line, with ms since the call.
JS_WATCH_AND_RUN = """() => {
  window.__live = [];
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  const seen = () => {
    const el = nb.querySelector('.phaya-live');
    const text = el ? el.textContent : null;
    const video = nb.querySelectorAll('.jp-OutputArea video').length;
    const last = window.__live[window.__live.length - 1];
    if (!last || last.text !== text || last.video !== video)
      window.__live.push({ms: performance.now() - window.__t0, text, video});
  };
  new MutationObserver(seen).observe(nb, {subtree: true, childList: true, characterData: true});
  window.__t0 = performance.now();
  window.jupyterapp.commands.execute('notebook:run-cell');
}"""
JS_RUN_CELL_AND_NEXT = """async () => {
  const app = window.jupyterapp;
  await app.shell.currentWidget.sessionContext.ready;
  return await app.commands.execute('notebook:run-cell-and-select-next');
}"""


def write_notebook(root, name: str, cells: list[str]) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / name)
    return name


def open_notebook(page, server, name: str) -> None:
    page.goto(server.url(f"/lab/tree/{name}?reset"))
    page.wait_for_function(JS_KERNEL_IDLE, arg=name, polling=250)


def test_generate_shows_live_progress_replaced_by_the_video(lab, page) -> None:
    name = write_notebook(lab.root, "live-progress.ipynb", [SETUP, SORA])
    try:
        open_notebook(page, lab, name)
        page.locator(".jp-Notebook .jp-Cell").first.click()
        assert page.evaluate(JS_RUN_CELL_AND_NEXT) is not False  # connect: the sandbox is up
        page.wait_for_function(JS_KERNEL_IDLE, arg=name, polling=250)
        page.evaluate(JS_WATCH_AND_RUN)  # run the Sora cell, watching its output
        video = page.locator(".jp-Notebook .jp-OutputArea video")
        expect(video).to_have_count(1, timeout=90_000)
        page.wait_for_timeout(300)
        seen = page.evaluate("() => window.__live")
        lines = [s for s in seen if s["text"]]
        assert lines, json.dumps(seen)[:2000]
        assert lines[0]["ms"] < 1000, f"first progress line after {lines[0]['ms']:.0f} ms"
        assert "Sora 2" in lines[0]["text"]
        running = [s for s in lines if "s / ~" in s["text"] and s["video"] == 0]
        assert len({s["text"] for s in running}) >= 3, json.dumps(seen)[:3000]  # it moved
        assert running[-1]["ms"] - running[0]["ms"] > 2000  # over seconds, while the cell ran
        assert "8 credits" in running[0]["text"]
        end = seen[-1]
        assert end["text"] is None and end["video"] == 1, end  # the line became the video
        expect(page.locator(".phaya-live")).to_have_count(0)
        page.wait_for_function("v => v.readyState >= 1 && v.duration > 0", arg=video.element_handle(),
                               polling=100)
        save_shot(page, "lab-live-progress.png")
        print(f"live line at {lines[0]['ms']:.0f} ms, {len(running)} updates, video at {end['ms']:.0f} ms")
    except Exception:
        report_failure(page, lab, "lab-live-progress")
        raise
