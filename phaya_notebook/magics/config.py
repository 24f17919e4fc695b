"""``%phaya config``: where requests go and which limits and default models apply.

Never the key itself: only whether one is set and where it came from.
"""

from __future__ import annotations

import os
from typing import Any

from .status import credits_text


def config_text(session: Any, limits: tuple[float | None, float, float],
                models: dict[str, tuple[str, str]], chat_model: str) -> str:
    """The text: ``session`` is the connected session or None, ``limits`` is (max_credits,
    confirm_above, committed), ``models`` maps a model trait to (its value, its kind)."""
    if session is not None:
        aio = getattr(session, "aio", session)
        base = getattr(aio, "base_url", None) or getattr(session, "base_url", "?")
        sandbox = bool(getattr(aio, "is_sandbox", getattr(session, "is_sandbox", False)))
        mode = "sandbox (offline, play credits)" if sandbox else "live Phaya"
        key = "set (sandbox key)" if sandbox else "set"
        state = "connected"
    else:
        from urllib.parse import urlsplit

        has_key = bool(os.environ.get("PHAYA_API_KEY"))
        base = os.environ.get("PHAYA_BASE") or ("(client default)" if has_key else "(sandbox, on first use)")
        local = urlsplit(os.environ.get("PHAYA_BASE") or "").hostname in ("127.0.0.1", "localhost", "::1")
        mode = ("sandbox (a local server)" if local else "live Phaya") if has_key \
            else "sandbox (starts on first use: no PHAYA_API_KEY)"
        key = "set (PHAYA_API_KEY)" if has_key else "not set"
        state = "not connected yet"
    max_credits, confirm_above, committed = limits
    lines = [
        f"base URL:      {base}",
        f"mode:          {mode}",
        f"API key:       {key}",
        f"session:       {state}",
        f"committed:     {credits_text(committed)}"
        + ("" if max_credits is None else f" of max_credits {max_credits:g}"),
        f"confirm_above: {credits_text(confirm_above)}",
    ]
    for name, (value, kind) in models.items():
        lines.append(f"{name + ':':<15}{value or '(default: ' + kind + ')'}")
    lines.append(f"{'chat_model:':<15}{chat_model or '(server default)'}")
    return "\n".join(lines)
