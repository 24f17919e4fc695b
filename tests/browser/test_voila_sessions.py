"""Four visitors of the Voilà app at once: four kernels, one key, one persistent sandbox.

Each browser page is its own Voilà session (its own kernel). Every kernel's ``connect()``
finds the same persistent sandbox (same key, same balance); each visitor asks for
``PER_PAGE`` images at once. The sandbox counts its rate limiter's 429 answers: with the
per-key budget shared by the kernels there must be none.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from phaya_notebook.joblog import JobLog

from .harness import UI_TIMEOUT_MS, jupyter_server, report_failure, require_chromium, save_shot

require_chromium()

from playwright.sync_api import expect  # noqa: E402

from .widgets import expect_no_widget_errors  # noqa: E402

VISITORS, PER_PAGE = 4, 5


@pytest.fixture(scope="module")
def voila():
    with jupyter_server("voila", ["app.ipynb"], serve="app.ipynb") as server:
        yield server


def _stats(info: dict[str, object]) -> dict[str, object]:
    r = httpx.get(f"{info['root_url']}/_sandbox/stats", headers={"X-Sandbox-Admin": str(info["admin_token"])},
                  timeout=10)
    r.raise_for_status()
    return r.json()


@pytest.mark.xfail(not hasattr(JobLog, "shared"), strict=False,
                   reason="needs the request budget shared by the kernels of one key (issue 13, the shared "
                          "branch); measured without it: 26 x 429 in 109 requests")
def test_four_voila_sessions_on_one_key_generate_with_no_429(voila, page) -> None:
    pages = [page]
    try:
        for _ in range(VISITORS - 1):
            extra = page.context.new_page()
            extra.set_default_timeout(UI_TIMEOUT_MS)
            pages.append(extra)
        for p in pages:
            p.goto(voila.url("/"))
        studios = [p.locator(".phaya-studio") for p in pages]
        for s in studios:
            expect(s).to_be_visible()
            expect(s.locator(".phaya-balance")).to_contain_text("credits")
        state_dir = voila.root.parent / "sandbox"
        info = json.loads((state_dir / "server.json").read_text())
        before = _stats(info)
        assert len(before["by_key"]) == 1  # type: ignore[arg-type]  # four kernels, one key
        for i, s in enumerate(studios):
            s.locator(".phaya-prompt textarea").fill(f"visitor {i}: a paper boat on a puddle")
            expect(s.locator(".phaya-cost")).to_contain_text("credits")
        t0 = time.monotonic()
        for _ in range(PER_PAGE):  # every visitor asks at the same time
            for s in studios:
                s.locator("button.phaya-generate").click()
        for p, s in zip(pages, studios, strict=True):
            img = s.locator(".phaya-gallery .phaya-result img")
            expect(img).to_have_count(PER_PAGE)
            assert all(img.nth(k).evaluate("i => i.complete && i.naturalWidth > 0") for k in range(PER_PAGE))
            expect_no_widget_errors(p, s)
        seconds = time.monotonic() - t0
        after = _stats(info)
        limited = after["rate_limited"]["total"] - before["rate_limited"]["total"]  # type: ignore[index]
        requests = after["total"] - before["total"]  # type: ignore[operator]
        print(f"\n{VISITORS} Voilà sessions x {PER_PAGE} images: {requests} requests in {seconds:.0f} s, "
              f"{limited} x 429")
        save_shot(pages[-1], "voila-four-sessions.png")
        assert limited == 0, f"{limited} x 429 across {VISITORS} kernels on one key"
    except Exception:
        report_failure(page, voila, "voila-sessions")
        raise
    finally:
        for p in pages[1:]:
            p.close()
