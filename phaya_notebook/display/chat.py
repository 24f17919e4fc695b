"""Chat replies: Markdown for the notebook, HTML (raw HTML escaped) for widgets and reports."""

from __future__ import annotations

from typing import Any

from ..catalog import credits_text
from ..core.escape import esc

__all__ = ["chat_footer", "chat_markdown", "markdown_to_html"]

_markdown: Any = None


def markdown_to_html(text: str) -> str:
    """Markdown → HTML with raw HTML escaped (mistune when installed, else preformatted text)."""
    global _markdown
    if _markdown is None:
        try:
            import mistune
        except ImportError:  # pragma: no cover - mistune ships with nbconvert/jupyterlab
            _markdown = False
        else:
            _markdown = mistune.create_markdown(escape=True, plugins=["strikethrough", "table"])
    if _markdown is False:  # pragma: no cover
        return f'<div style="white-space:pre-wrap">{esc(text)}</div>'
    return str(_markdown(text))


def _markdown_escape(text: str) -> str:
    """Markdown that renders the text, with any raw HTML neutralised."""
    return esc(text, quote=False)


def chat_footer(reply: Any) -> str:
    """"model · N tokens · X credits" of a chat reply (plain text)."""
    usage = getattr(reply, "usage", None) or {}
    tokens = usage.get("total_tokens")
    foot = [str(getattr(reply, "model", "") or "")]
    if tokens is not None:
        foot.append(f"{tokens} tokens")
    credits = getattr(reply, "credits", None)
    if credits is not None:
        foot.append(credits_text(credits))
    return " · ".join(f for f in foot if f)


def chat_markdown(reply: Any) -> str:
    """A chat reply as Markdown (its raw HTML neutralised), the footer in italics."""
    tail = chat_footer(reply)
    return _markdown_escape(str(getattr(reply, "text", ""))) + (f"\n\n*{_markdown_escape(tail)}*" if tail else "")
