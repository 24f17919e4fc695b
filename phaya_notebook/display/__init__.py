"""Render finished results inline, from the local cache.

Provider URLs expire and, on Binder, the browser cannot reach the kernel's localhost, so
everything renders from the cached file (``media``); images as small embedded previews
(``thumbnails``: THE thumbnail helper), so fifty images stay well under 5 MB of notebook.
Every piece of text is HTML-escaped by THE escape helper ``esc`` (``core/escape.py``, so the
job log's tables can use it too; re-exported here). Chat replies render as Markdown (``chat``).

Results are duck-typed (see docs/interfaces.md): ``media``, ``urls``, ``paths``, ``fields``,
``credits``, ``character_id``, ``mime_types``, ``job_id``, ``service``. Chat replies
(``text``, ``model``, ``usage``, ``credits``) render as Markdown.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any

from ..core.escape import esc
from .chat import chat_footer, chat_markdown, markdown_to_html
from .media import DATA_URI_MAX_BYTES, caption, media_html, relative_src
from .thumbnails import PREVIEW_MAX_B64, PREVIEW_MAX_SIDE, cached_thumbnail, data_uri, thumbnail_data_uri

__all__ = [
    "DATA_URI_MAX_BYTES",
    "PREVIEW_MAX_B64",
    "PREVIEW_MAX_SIDE",
    "Rendered",
    "bundle_size",
    "cached_thumbnail",
    "chat_footer",
    "chat_markdown",
    "data_uri",
    "esc",
    "mark_shown",
    "markdown_to_html",
    "media_html",
    "relative_src",
    "render",
    "thumbnail_data_uri",
]


class Rendered:
    """A mimebundle holder: what ``IPython.display.display`` and widgets show."""

    def __init__(self, data: dict[str, str], metadata: dict[str, Any] | None = None):
        self.data = data
        self.metadata = metadata or {}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict[str, str], dict]:
        data = dict(self.data)
        if include:
            data = {k: v for k, v in data.items() if k in include}
        if exclude:
            data = {k: v for k, v in data.items() if k not in exclude}
        return data, dict(self.metadata)

    def _repr_html_(self) -> str | None:
        return self.data.get("text/html")

    def __repr__(self) -> str:
        return self.data.get("text/plain", "<Rendered>")

    def output(self) -> dict[str, Any]:
        """The nbformat display_data dict, for ``Output.outputs``."""
        return {"output_type": "display_data", "data": dict(self.data), "metadata": dict(self.metadata)}


def bundle_size(obj: Any) -> int:
    """Bytes the object's mimebundle adds to a notebook (UTF-8)."""
    data, _ = obj._repr_mimebundle_()
    return sum(len(v.encode("utf-8")) if isinstance(v, str) else len(str(v)) for v in data.values())


# ---------------------------------------------------------------- entry point

#: id(result) -> (a weak reference to it, the cell that showed it): see ``mark_shown``.
_shown_in: dict[int, tuple[weakref.ref[Any], int | None]] = {}


def _execution_count() -> int | None:
    """The running cell's number (None outside IPython; IPython is never imported here)."""
    mod = sys.modules.get("IPython")
    shell = mod.get_ipython() if mod is not None else None
    return getattr(shell, "execution_count", None) if shell is not None else None


def mark_shown(result: Any) -> None:
    """The running cell already shows this result (a live progress line was replaced by it).

    Kept here, by the result's identity, as long as the result lives: nothing is written
    on the result itself.
    """
    key = id(result)
    try:
        ref = weakref.ref(result, lambda _, key=key: _shown_in.pop(key, None))
    except TypeError:  # pragma: no cover - a result type that cannot be weakly referenced
        return
    _shown_in[key] = (ref, _execution_count())


def _shown_here(result: Any) -> bool:
    ref, mark = _shown_in.get(id(result), (None, None))
    return ref is not None and ref() is result and mark is not None and mark == _execution_count()


def render(result: Any) -> Rendered:
    """A result (or chat reply) as a mimebundle holder, rendered from the local cache."""
    if not hasattr(result, "media") and hasattr(result, "text"):
        md = chat_markdown(result)
        return Rendered({
            "text/markdown": md,
            "text/html": markdown_to_html(str(result.text)) + f"<small>{esc(chat_footer(result))}</small>",
            "text/plain": str(result.text),
        })
    line = caption(result)
    if _shown_here(result):  # the cell's Out[] after its progress line became the result: one line
        return Rendered({"text/plain": f"<{line or 'result'} (shown above)>"})
    body = media_html(result)
    html_doc = (f'<div class="phaya-render" style="max-width:640px">{body}'
                f'<div><small>{esc(line)}</small></div></div>')
    plain_lines = [f"<{line or 'result'}>"]
    cid = getattr(result, "character_id", None)
    if cid:
        plain_lines.append(f"character_id: {cid}")
    elif getattr(result, "media", None) == "text" and getattr(result, "text", None):
        plain_lines.append(str(result.text))
    for p in getattr(result, "paths", None) or []:
        plain_lines.append(str(p))
    return Rendered({"text/html": html_doc, "text/plain": "\n".join(plain_lines)})
