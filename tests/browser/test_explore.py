"""Prompt exploration in real JupyterLab (headless Chromium, embedded sandbox).

- ``phaya.generate`` of a Sora job: a progress line within 1 s of the call, updated while
  the cell is busy, then replaced by the video.
- The compare grid: rate two results with 👍 / 👎, write the grid's HTML report, restart
  the kernel; ``jobs()`` shows both ratings and ``leaderboard()`` counts them; the report
  opens in Chromium from disk with every image decoded and a ``<script>`` prompt as text.
"""

from __future__ import annotations

import json
import re

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
    """In a folder of its own: the kernel runs there, so each test has its own job log."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder = root / name.removesuffix(".ipynb")
    folder.mkdir(exist_ok=True)
    nbformat.write(nb, folder / name)
    return name


def open_notebook(page, server, name: str) -> None:
    page.goto(server.url(f"/lab/tree/{name.removesuffix('.ipynb')}/{name}?reset"))
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


XSS_PROMPT = "<script>window.__xss=1</script> a kite over dunes"
GRID = f"""\
grid = phaya.compare_grid()
grid.prompts.value = "a paper boat on a pond\\n" + {XSS_PROMPT!r}
grid.models.value = ("text-to-image", "nano-banana")
grid"""
REPORT = """\
report = grid.comparison().to_html("grid-report.html", title="Grid report")
print("REPORT", report.resolve())"""
AFTER_RESTART = """\
import phaya_notebook
phaya = phaya_notebook.connect()
df = phaya.jobs()
lb = phaya.leaderboard()
print("RATINGS", sorted(int(v) for v in df["rating"].dropna()))
print("KEPT", int(lb["kept"].sum()), "REJECTED", int(lb["rejected"].sum()), "JOBS", int(lb["jobs"].sum()))"""
JS_RESTART = """async () => {
  const ctx = window.jupyterapp.shell.currentWidget.sessionContext;
  await ctx.session.kernel.restart();
  return true;
}"""


def _run_selected(page, name: str) -> None:
    assert page.evaluate(JS_RUN_CELL_AND_NEXT) is not False
    page.wait_for_function(JS_KERNEL_IDLE, arg=name, polling=250)


def test_grid_ratings_survive_a_restart_and_the_report_opens(lab, page) -> None:
    name = write_notebook(lab.root, "grid-rate.ipynb", [SETUP, GRID, REPORT, AFTER_RESTART])
    try:
        open_notebook(page, lab, name)
        page.locator(".jp-Notebook .jp-Cell").first.click()
        _run_selected(page, name)  # connect
        _run_selected(page, name)  # the grid
        grid = page.locator("div.phaya-compare")
        expect(grid.locator(".phaya-cost")).to_contain_text("4 jobs")
        grid.locator("button.phaya-generate").click()
        grid.locator("button.phaya-confirm").click()
        expect(grid.locator(".phaya-compare-cell .phaya-result")).to_have_count(4, timeout=90_000)
        ratings = grid.locator(".phaya-compare-cell .phaya-rating")
        expect(ratings).to_have_count(4)
        ratings.nth(0).locator("button.phaya-rate-up").click()
        ratings.nth(1).locator("button.phaya-rate-down").click()
        # the kernel wrote them and answered: the chosen buttons are marked
        expect(ratings.nth(0).locator("button.phaya-rate-up.phaya-rated")).to_have_count(1)
        expect(ratings.nth(1).locator("button.phaya-rate-down.phaya-rated")).to_have_count(1)
        save_shot(page, "lab-grid-rated.png")

        page.locator(".jp-Notebook .jp-Cell").nth(2).click()
        _run_selected(page, name)  # the report
        out = page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-OutputArea-output")
        expect(out).to_contain_text("REPORT")
        report = re.search(r"REPORT (\S+)", out.inner_text()).group(1)

        assert page.evaluate(JS_RESTART)
        page.wait_for_function(JS_KERNEL_IDLE, arg=name, polling=250)
        page.locator(".jp-Notebook .jp-Cell").nth(3).click()
        _run_selected(page, name)  # a new kernel reads the log
        after = page.locator(".jp-Notebook .jp-Cell").nth(3).locator(".jp-OutputArea-output")
        expect(after).to_contain_text("RATINGS [-1, 1]")
        expect(after).to_contain_text("KEPT 1 REJECTED 1 JOBS 4")

        page.goto("file://" + report)  # the shared file, opened from disk as a recipient would
        imgs = page.locator("img")
        expect(imgs).to_have_count(4)
        for img in imgs.all():
            img.scroll_into_view_if_needed()
            assert img.evaluate("i => i.complete && i.naturalWidth > 0"), "an image did not decode"
        expect(page.locator("th.prompt", has_text="<script>window.__xss=1</script>")).to_have_count(1)
        expect(page.get_by_text("👍 kept")).to_have_count(1)
        expect(page.get_by_text("👎 rejected")).to_have_count(1)
        assert page.evaluate("() => window.__xss") is None, "a prompt's script ran in the report"
        assert page.locator("script").count() == 0
        save_shot(page, "report-grid.png")
    except Exception:
        report_failure(page, lab, "lab-grid-rate")
        raise


FILL = """\
import time
seeds = [phaya.generate("text-to-image", prompt=f"seed image {i}") for i in range(3)]
now = time.time()
phaya.log.record_many([
    {"job_id": f"bulk-{i:05d}", "kind": "job", "service": "text-to-image", "model": "Z-Image",
     "prompt": f"bulk prompt {i}", "status": "completed", "estimated": 1.0, "charged": 1.0,
     "refunded": 0.0, "duration": 5.0, "created_at": now + 10 + i, "paths": [str(seeds[i % 3].path)]}
    for i in range(10_000)])
print("ROWS", len(phaya.log))"""
GALLERY = """\
gallery = phaya.gallery()
gallery"""
CHECK = """print("RATED", phaya.log.get("bulk-09999")["rating"])"""
JS_RUN_TIMED = """() => {
  window.__t0 = performance.now();
  window.jupyterapp.commands.execute('notebook:run-cell-and-select-next');
}"""
JS_PAGE_READY = """() => {
  const cards = document.querySelectorAll('.phaya-history-card');
  if (cards.length < 24) return false;
  for (const img of document.querySelectorAll('.phaya-history-card img'))
    if (!(img.complete && img.naturalWidth > 0)) return false;
  return performance.now() - window.__t0;
}"""


def test_gallery_of_10000_jobs_in_jupyterlab(lab, page) -> None:
    name = write_notebook(lab.root, "gallery.ipynb", [SETUP, FILL, GALLERY, CHECK])
    try:
        open_notebook(page, lab, name)
        page.locator(".jp-Notebook .jp-Cell").first.click()
        _run_selected(page, name)
        _run_selected(page, name)
        expect(page.locator(".jp-Notebook .jp-Cell").nth(1)).to_contain_text("ROWS 10003")
        page.evaluate(JS_RUN_TIMED)
        ms = page.wait_for_function(JS_PAGE_READY, polling=20).json_value()
        gallery = page.locator(".phaya-history")
        expect(gallery.locator(".phaya-page")).to_contain_text("of 10,003")
        print(f"gallery over 10,003 jobs: first page of 24 visible with images in {ms:.0f} ms")
        # the 1 s target is the kernel side (bench_gallery.py); JupyterLab drawing ~150 widget
        # models adds 0.7-1.4 s on this shared machine: a ceiling that catches a regression
        assert ms < 3000, f"first gallery page took {ms:.0f} ms in the browser"
        save_shot(page, "lab-gallery.png")
        gallery.locator(".phaya-history-card").first.locator("button.phaya-rate-up").click()
        expect(gallery.locator(".phaya-history-card").first.locator("button.phaya-rated")).to_have_count(1)
        page.wait_for_function(JS_KERNEL_IDLE, arg=name, polling=250)
        page.locator(".jp-Notebook .jp-Cell").nth(3).click()
        _run_selected(page, name)
        expect(page.locator(".jp-Notebook .jp-Cell").nth(3)).to_contain_text("RATED 1")
        gallery.locator("button", has_text="Older").click()
        expect(gallery.locator(".phaya-page")).to_contain_text("page 2 of 417")
    except Exception:
        report_failure(page, lab, "lab-gallery")
        raise
