"""DOM helpers for the phaya widgets (ipywidgets 8 markup; CSS hooks from widgets/)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

# Record every progress-bar width seen in a container, every 50 ms, into window.__phayaWidths.
JS_RECORD_WIDTHS = """(root) => {
  window.__phayaWidths = [];
  const tick = () => {
    for (const bar of root.querySelectorAll('.phaya-progress .progress-bar')) {
      const m = /width:\\s*([0-9.]+)%/.exec(bar.getAttribute('style') || '');
      if (m) window.__phayaWidths.push(parseFloat(m[1]));
    }
  };
  tick();
  window.__phayaTimer = setInterval(tick, 50);
}"""
JS_STOP_RECORDING = "() => { clearInterval(window.__phayaTimer); return window.__phayaWidths; }"


def choose_model(root: Any, service: str) -> str:
    """Pick the model dropdown entry of ``service`` (labels end with ``(service-name) — price``)."""
    select = root.locator(".phaya-model select").first
    labels = select.evaluate("s => Array.from(s.options).map(o => o.textContent)")
    matches = [t for t in labels if f"({service})" in t]
    assert matches, f"{service} not offered; options: {labels}"
    select.select_option(label=matches[0])
    return str(matches[0])


def progress_moved(widths: list[float]) -> bool:
    """The bar showed at least one value strictly between empty and full, then full."""
    return any(0 < w < 100 for w in widths) and bool(widths) and max(widths) == 100


def expect_no_widget_errors(page: Any, root: Any | None = None) -> None:
    """No widget failed to render; no task error surfaced in the widget's error line."""
    expect(page.get_by_text("Error displaying widget")).to_have_count(0)
    if root is not None:
        for el in root.locator(".phaya-error").all():
            assert not el.inner_text().strip(), f"widget error: {el.inner_text()}"
