"""Smoke tests: the studio in Notebook 7 (/tree, /notebooks/) and app.ipynb served by Voila."""

from __future__ import annotations

import re

import pytest

from .harness import jupyter_server, open_and_run_all, report_failure, require_chromium, save_shot

require_chromium()

from playwright.sync_api import expect  # noqa: E402

from .widgets import expect_no_widget_errors  # noqa: E402


def _generate_image(page, studio) -> None:
    """Type, Generate, and see an image land in the gallery."""
    studio.locator(".phaya-prompt textarea").fill("a paper boat on a puddle")
    expect(studio.locator(".phaya-cost")).to_contain_text(re.compile(r"cost: 1 credit\b"))  # singular since issue 14
    studio.locator("button.phaya-generate").click()
    img = studio.locator(".phaya-gallery .phaya-result img")
    expect(img).to_have_count(1)
    expect(img).to_be_visible()
    assert img.evaluate("i => i.complete && i.naturalWidth > 0"), "image did not decode"
    expect_no_widget_errors(page, studio)


@pytest.fixture(scope="module")
def notebook7():
    with jupyter_server("notebook", ["studio.ipynb"]) as server:
        yield server


@pytest.fixture(scope="module")
def voila():
    with jupyter_server("voila", ["app.ipynb"], serve="app.ipynb") as server:
        yield server


def test_studio_in_notebook7(notebook7, page) -> None:
    try:
        page.goto(notebook7.url("/tree"))
        expect(page.get_by_text("studio.ipynb")).to_be_visible()
        open_and_run_all(page, notebook7, "/notebooks/studio.ipynb")
        studio = page.locator(".phaya-studio")
        expect(studio).to_be_visible()
        _generate_image(page, studio)
        save_shot(page, "notebook7-studio.png")
    except Exception:
        report_failure(page, notebook7, "notebook7")
        raise


def test_app_in_voila(voila, page) -> None:
    try:
        page.goto(voila.url("/"))
        studio = page.locator(".phaya-studio")
        expect(studio).to_be_visible()
        expect(studio.locator(".phaya-balance")).to_contain_text("credits")
        # Voila shows outputs only: the code of the cell is not on the page
        expect(page.get_by_text("connect().studio()")).to_have_count(0)
        _generate_image(page, studio)
        save_shot(page, "voila-app.png")
    except Exception:
        report_failure(page, voila, "voila")
        raise
