"""The embedded sandbox: the only place core reaches the sandbox.

``connect()`` without a key calls :func:`embedded_sandbox`: it finds the machine's (the
user's) persistent offline Phaya, or starts it as its own detached process
(``python -m phaya_notebook.sandbox start``), and returns its URL and play key. Every
kernel gets the same server, key and balance; the server outlives the kernels and keeps
its state on disk, so a kernel restart or a sandbox restart loses no job. The kernel
does no sandbox work and never imports the sandbox (FastAPI, Pillow, FFmpeg stay out).

The server's directory is ``$PHAYA_SANDBOX_DIR``, else ``$XDG_STATE_HOME/phaya-notebook/
sandbox`` (``~/.local/state``): that rule and the file names are ``catalog/embedded.py``, the
one statement both sides import. Its ``server.json`` (0600; layout owned by
``sandbox/daemon.py``) says where it listens. ``python -m phaya_notebook.sandbox status``
/ ``stop`` manage it. Speed settings of sandboxes are remembered per URL so clients time
their polls right (:func:`settings_for`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from ..catalog.embedded import INFO, RUN_LOCK, sandbox_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: "running" falls back to the pid
    fcntl = None  # type: ignore[assignment]

__all__ = ["EMBEDDED_SPEED", "embedded_info", "embedded_sandbox", "is_embedded", "register", "revive",
           "sandbox_dir", "settings_for", "stop_embedded", "unregister"]

#: Jobs in the embedded sandbox run this much faster than the real services (a demo).
EMBEDDED_SPEED = 10.0
EMBEDDED_CREDITS = 100.0

_lock = threading.Lock()
_settings: dict[str, dict[str, float]] = {}
_embedded: dict[str, Any] | None = None  # server.json of the server this process uses


def _answers(info: dict[str, Any]) -> bool:
    """The server of ``info`` is up and is that sandbox (not another process on its port)."""
    try:
        r = httpx.get(str(info["root_url"]) + "/_sandbox/health", timeout=3.0)
        return r.status_code == 200 and r.json().get("instance") == info.get("instance")
    except (httpx.HTTPError, ValueError, KeyError):
        return False


def _read(state_dir: Path) -> dict[str, Any] | None:
    try:
        info = json.loads((state_dir / INFO).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _start(state_dir: Path, speed: float, credits: float) -> dict[str, Any]:
    """Run ``python -m phaya_notebook.sandbox start`` (it locks, checks, starts detached, waits)."""
    cmd = [sys.executable, "-m", "phaya_notebook.sandbox", "start", "--state-dir", str(state_dir),
           "--speed", str(speed), "--credits", str(credits)]
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    info = _read(state_dir)
    if out.returncode != 0 or info is None:
        raise RuntimeError(f"the Phaya sandbox did not start in {state_dir}: {(out.stderr or out.stdout)[-1500:]}")
    return info


def embedded_sandbox(*, speed: float = EMBEDDED_SPEED, credits: float = EMBEDDED_CREDITS) -> tuple[str, str]:
    """The persistent sandbox's (base_url, api_key), started first if none answers.

    ``speed`` and ``credits`` apply when the sandbox directory is new; a running or
    restarted sandbox keeps the settings (key, balance, speed) it was created with.
    """
    global _embedded
    with _lock:
        state_dir = sandbox_dir()
        info = _read(state_dir)
        if info is None or not _answers(info):
            info = _start(state_dir, speed, credits)
        _embedded = info
        _settings[str(info["base_url"]).rstrip("/")] = {"speed": float(info["speed"]),
                                                         "time_scale": float(info["time_scale"])}
        return str(info["base_url"]), str(info["api_key"])


def embedded_info() -> dict[str, Any] | None:
    """What this process knows of the embedded sandbox: URL, earlier URLs, instance (no key)."""
    info = _embedded
    if info is None:
        return None
    return {k: v for k, v in info.items() if k not in ("api_key", "admin_token")}


def is_embedded(base_url: str) -> bool:
    info = _embedded
    return info is not None and str(info["base_url"]).rstrip("/") == base_url.rstrip("/")


def revive(base_url: str) -> bool:
    """A request to the embedded sandbox found nobody listening: start it again (same port,
    key and state when free). True when it answers at ``base_url`` again."""
    if not is_embedded(base_url):
        return False
    try:
        return embedded_sandbox()[0].rstrip("/") == base_url.rstrip("/")
    except (RuntimeError, OSError, subprocess.SubprocessError):
        return False


def _running(state_dir: Path) -> bool:
    """A server holds the directory's run lock (``sandbox/daemon.py``)."""
    lock = state_dir / RUN_LOCK
    if not lock.exists():
        return False
    if fcntl is None:  # pragma: no cover
        info = _read(state_dir)
        return info is not None and _answers(info)
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def stop_embedded(timeout: float = 15.0, state_dir: Path | None = None) -> bool:
    """Stop the persistent sandbox of ``state_dir`` (default :func:`sandbox_dir`; what
    ``python -m phaya_notebook.sandbox stop`` does); False if none was running. Its state
    stays on disk for the next start."""
    global _embedded
    with _lock:
        state_dir = state_dir or sandbox_dir()
        info = _read(state_dir)
        if _embedded is not None:
            _settings.pop(str(_embedded["base_url"]).rstrip("/"), None)
            _embedded = None
        if info is None or not _running(state_dir):
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(info["pid"]), signal.SIGTERM)
        deadline, killed = time.monotonic() + timeout, False
        while _running(state_dir) and time.monotonic() < deadline + 5:
            if time.monotonic() > deadline and not killed:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(info["pid"]), signal.SIGKILL)
                killed = True
            time.sleep(0.05)
        _settings.pop(str(info["base_url"]).rstrip("/"), None)
        return True


def settings_for(base_url: str) -> dict[str, float] | None:
    """Speed settings of an embedded sandbox at ``base_url`` (None for anything else)."""
    return _settings.get(base_url.rstrip("/"))


def register(base_url: str, *, speed: float = 1.0, time_scale: float = 1.0) -> None:
    """Tell clients how fast a sandbox at ``base_url`` runs (used by tests and benchmarks)."""
    _settings[base_url.rstrip("/")] = {"speed": float(speed), "time_scale": float(time_scale)}


def unregister(base_url: str) -> None:
    """Forget a sandbox's speed settings (it stopped; its port may be reused)."""
    _settings.pop(base_url.rstrip("/"), None)
