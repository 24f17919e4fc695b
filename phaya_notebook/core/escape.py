"""THE HTML escape of the package: every piece of text shown in HTML goes through ``esc``.

It lives in ``core`` (pure text, no IPython) so every layer that writes HTML can share it:
the job log's tables, display (which re-exports it as ``display.esc``), progress, compare,
reports and widgets.
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["esc"]


def esc(text: Any, *, quote: bool = True) -> str:
    """``text`` as HTML text (None is empty): ``&``, ``<``, ``>`` and, unless ``quote=False``
    (Markdown text, where quotes would show as entities), the quotes."""
    return "" if text is None else html.escape(str(text), quote=quote)
