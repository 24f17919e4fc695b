"""The widgets clicked in JupyterLab 4, in headless Chromium, against the embedded sandbox.

One studio page does everything a visitor would: type, change the model (the cost label
follows), Generate (the progress bar moves, an image appears), switch to a video model
(a <video> that the browser can play), and an HTML/script prompt that must stay text.
"""

from __future__ import annotations

import os
import re
import shutil
import time

from .harness import REPO, open_and_run_all, report_failure, require_chromium, save_shot

require_chromium()

from playwright.sync_api import expect  # noqa: E402

from .widgets import (  # noqa: E402
    JS_RECORD_WIDTHS,
    JS_STOP_RECORDING,
    choose_model,
    expect_no_widget_errors,
    progress_moved,
)

XSS = "<img src=x onerror=window.__xss=1><script>window.__xss=2</script> tide pool"
# Readme picture: refreshed only on request, so a test run never dirties the repo.
UPDATE_SCREENSHOT = os.environ.get("UPDATE_SCREENSHOT") == "1"


def _results(studio):
    return studio.locator(".phaya-gallery .phaya-result")


def test_studio_in_jupyterlab(lab, page) -> None:
    t0 = time.monotonic()
    try:
        open_and_run_all(page, lab, "/lab/tree/studio.ipynb")
        studio = page.locator(".phaya-studio")
        expect(studio).to_be_visible()
        expect_no_widget_errors(page, studio)
        cost = studio.locator(".phaya-cost")
        generate = studio.locator("button.phaya-generate")
        expect(studio.locator(".phaya-balance")).to_contain_text("credits")  # balance fetched

        # type a prompt, change the model: the cost label follows (Z-Image 1 -> Nano Banana 2)
        studio.locator(".phaya-prompt textarea").fill("a lighthouse at dawn, watercolor")
        expect(cost).to_contain_text(re.compile(r"\b1 credit\b"))
        choose_model(studio, "nano-banana")
        expect(cost).to_contain_text(re.compile(r"\b2 credits"))
        expect(generate).to_be_enabled()

        # Generate: the progress bar moves, then an image appears in the gallery
        studio.evaluate(JS_RECORD_WIDTHS)
        generate.click()
        expect(studio.locator(".phaya-jobcard .phaya-progress")).not_to_have_count(0)
        expect(_results(studio)).to_have_count(1)
        img = _results(studio).first.locator("img")
        expect(img).to_be_visible()
        assert img.evaluate("i => i.complete && i.naturalWidth > 0"), "image did not decode"
        assert (img.get_attribute("src") or "").startswith("data:image/")
        expect(_results(studio).first).to_contain_text("credits")
        page.wait_for_timeout(200)
        widths = page.evaluate(JS_STOP_RECORDING)
        assert progress_moved(widths), f"progress bar did not move: {sorted(set(widths))}"
        save_shot(page, "lab-studio-image.png")
        readme = _studio_picture(page, studio)

        # HTML and script in a prompt are shown as text; nothing executes
        choose_model(studio, "text-to-image")
        studio.locator(".phaya-prompt textarea").fill(XSS)
        expect(generate).to_be_enabled()
        generate.click()
        expect(_results(studio)).to_have_count(2)
        card = _results(studio).first
        expect(card).to_contain_text("<script>window.__xss=2</script>")
        assert page.evaluate("() => window.__xss") is None, "a prompt's script ran"
        assert studio.locator('img[src="x"]').count() == 0, "a prompt's <img> was rendered"
        assert studio.locator("script").count() == 0

        # a video model: the result is a <video> the browser can play
        choose_model(studio, "sora2-text-to-video")
        studio.locator(".phaya-prompt textarea").fill("waves rolling onto a beach at dusk")
        expect(cost).to_contain_text(re.compile(r"\b8 credits"))
        generate.click()
        expect(_results(studio)).to_have_count(3, timeout=90_000)
        video = _results(studio).first.locator("video")
        expect(video).to_have_count(1)
        video.scroll_into_view_if_needed()
        page.wait_for_function(
            "v => v.readyState >= 1 || v.duration > 0", arg=video.element_handle(), polling=100)
        duration = video.evaluate("v => v.duration")
        assert duration > 0, f"video has no duration ({duration})"
        source = video.evaluate("v => v.currentSrc.slice(0, 60)")  # /files/... or the data: fallback
        expect_no_widget_errors(page, studio)
        assert page.evaluate("() => window.__xss") is None

        shot = save_shot(page, "lab-studio.png")
        if UPDATE_SCREENSHOT:
            _readme_picture(readme)
        print(f"studio test {time.monotonic() - t0:.1f}s; video {duration:.1f}s from {source!r}; {shot}")
    except Exception:
        report_failure(page, lab, "lab-studio")
        raise


def _studio_picture(page, studio):
    """The studio alone on a tall page (file browser hidden): the README's picture."""
    page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
    page.set_viewport_size({"width": 1100, "height": 1250})
    studio.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    path = save_shot(page, "lab-studio-readme.png")
    page.set_viewport_size({"width": 1280, "height": 900})
    return path


def _readme_picture(src) -> None:
    """docs/screenshot.png for the README, kept under 300 KB."""
    from PIL import Image

    dest = REPO / "docs" / "screenshot.png"
    with Image.open(src) as im:
        im = im.convert("RGB")
        im.thumbnail((1000, 1400))
        im = im.quantize(colors=128)
        im.save(dest, optimize=True)
    if dest.stat().st_size > 300_000:
        shutil.copy(src, dest.with_suffix(".too-big.png"))
        raise AssertionError(f"{dest} is {dest.stat().st_size} bytes")


def test_compare_grid_in_jupyterlab(lab, page) -> None:
    try:
        open_and_run_all(page, lab, "/lab/tree/compare.ipynb")
        grid = page.locator("div.phaya-compare")  # the Comparison table is table.phaya-compare
        expect(grid).to_be_visible()
        expect(grid.locator(".phaya-cost")).to_contain_text("8 jobs")  # 2 prompts x 4 models (GPT Image 2 too)
        grid.locator("button.phaya-generate").click()       # "Compare…": shows the total
        grid.locator("button.phaya-confirm").click()        # confirm the total
        cells = grid.locator(".phaya-compare-cell")
        expect(cells).to_have_count(8)
        expect(grid.locator(".phaya-compare-cell .phaya-result")).to_have_count(8)
        for img in grid.locator(".phaya-compare-cell .phaya-result img").all():
            expect(img).to_be_visible()
        assert grid.locator(".phaya-compare-cell .phaya-result img").count() == 8
        # the notebook's own analysis: the comparison table and the matplotlib plot
        expect(page.locator(".jp-RenderedImage img").first).to_be_visible()
        expect_no_widget_errors(page, grid)
        save_shot(page, "lab-compare.png")
    except Exception:
        report_failure(page, lab, "lab-compare")
        raise


def test_quickstart_media_in_jupyterlab(lab, page) -> None:
    """The Binder landing notebook after Run All: every result visible, the players load."""
    try:
        open_and_run_all(page, lab, "/lab/tree/quickstart.ipynb")
        outputs = page.locator(".jp-Notebook .jp-OutputArea-output")
        img = outputs.locator(".phaya-render img").first
        expect(img).to_be_visible()
        assert img.evaluate("i => i.complete && i.naturalWidth > 0"), "image did not decode"
        players = page.locator(".phaya-render video, .phaya-render audio")
        expect(page.locator(".phaya-render video")).to_have_count(1)
        expect(page.locator(".phaya-render audio")).to_have_count(3)  # 2 music takes + speech
        for el in players.all():
            el.scroll_into_view_if_needed()
            page.wait_for_function("m => m.readyState >= 1 && m.duration > 0",
                                   arg=el.element_handle(), polling=100)
            # served by Jupyter from the cache beside the notebook, not the embedded fallback
            src = el.evaluate("m => m.currentSrc")
            assert "/files/" in src and "phaya-media/" in src, src
        expect(page.get_by_text("cost: 0.5 credits")).to_be_visible()  # the video's price
        save_shot(page, "lab-quickstart.png")
    except Exception:
        report_failure(page, lab, "lab-quickstart")
        raise
