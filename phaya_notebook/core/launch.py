"""The embedded sandbox: the only place core reaches the sandbox (lazily, once per process).

``connect()`` without a key calls :func:`embedded_sandbox`: an offline Phaya starts on
127.0.0.1 in a background thread, is stopped at exit, and its speed settings are
remembered so clients talking to it time their polls right (:func:`settings_for`).
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

__all__ = ["EMBEDDED_SPEED", "embedded_sandbox", "register", "settings_for", "stop_embedded", "unregister"]

#: Jobs in the embedded sandbox run this much faster than the real services (a demo).
EMBEDDED_SPEED = 10.0
EMBEDDED_CREDITS = 100.0

_lock = threading.Lock()
_sandbox: Any = None
_settings: dict[str, dict[str, float]] = {}


def embedded_sandbox(*, speed: float = EMBEDDED_SPEED, credits: float = EMBEDDED_CREDITS) -> tuple[str, str]:
    """Start (once per process) the offline sandbox; returns (base_url, api_key)."""
    global _sandbox
    with _lock:
        if _sandbox is None:
            from ..sandbox import start  # type: ignore[attr-defined,unused-ignore]  # lazy: only without a key

            _sandbox = start(speed=speed, credits=credits)
            _settings[_sandbox.base_url.rstrip("/")] = {"speed": float(speed), "time_scale": 1.0}
            atexit.register(stop_embedded)
        return _sandbox.base_url, _sandbox.api_key


def settings_for(base_url: str) -> dict[str, float] | None:
    """Speed settings of an embedded sandbox at ``base_url`` (None for anything else)."""
    return _settings.get(base_url.rstrip("/"))


def register(base_url: str, *, speed: float = 1.0, time_scale: float = 1.0) -> None:
    """Tell clients how fast a sandbox at ``base_url`` runs (used by tests and benchmarks)."""
    _settings[base_url.rstrip("/")] = {"speed": float(speed), "time_scale": float(time_scale)}


def unregister(base_url: str) -> None:
    """Forget a sandbox's speed settings (it stopped; its port may be reused)."""
    _settings.pop(base_url.rstrip("/"), None)


def stop_embedded() -> None:
    global _sandbox
    with _lock:
        if _sandbox is not None:
            try:
                _sandbox.stop()
            finally:
                _settings.pop(_sandbox.base_url.rstrip("/"), None)
                _sandbox = None
