"""One persistent sandbox per state directory: found, started (detached), stopped.

Why: the embedded sandbox is shared by every kernel of a user on a machine (one key, one
play balance) and outlives them, so it runs as its own process with its state on disk.

Files in the state directory (created 0700; files holding the key are 0600):

- ``server.json`` — pid, URLs, key and admin token of the running server; written once it
  answers, removed when it stops. ``core/launch.py`` reads it (the kernel never imports the
  sandbox: the folder rule and this name are ``catalog/embedded.py``, which both import; the
  layout is a contract);
- ``run.lock`` — held (``flock``) by the server for its whole life: a second server on the
  same directory refuses to start, and "is it running" is a lock test, not a pid guess;
- ``start.lock`` — held while one starter checks and starts, so two kernels connecting at
  the same moment start one server;
- ``state.sqlite3`` (accounts, jobs, files, settings) and ``media/``; ``server.log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..catalog.embedded import INFO, RUN_LOCK

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locks (one server per directory is then up to you)
    fcntl = None  # type: ignore[assignment]

START_LOCK, LOG = "start.lock", "server.log"


def _prepare(state_dir: Path) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return state_dir


@contextlib.contextmanager
def flock(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold ``path``'s exclusive lock for the block; yields False (not held) if ``wait`` is off and it is taken."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        if fcntl is None:  # pragma: no cover
            yield True
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def running(state_dir: Path) -> bool:
    """True while a server holds this directory's run lock."""
    if not (state_dir / RUN_LOCK).exists():
        return False
    with flock(state_dir / RUN_LOCK, wait=False) as got:
        return not got


def read_info(state_dir: Path) -> dict[str, Any] | None:
    """The running server's ``server.json`` (None when no server runs here)."""
    try:
        info = json.loads((state_dir / INFO).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and running(state_dir) else None


def _write_info(state_dir: Path, info: dict[str, Any]) -> None:
    tmp = state_dir / f".{INFO}.{os.getpid()}"
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(info, fh)
    os.replace(tmp, state_dir / INFO)


# ---------------------------------------------------------------- the server process


def serve(state_dir: Path, *, speed: float = 10.0, credits: float = 100.0, time_scale: float = 1.0,
          host: str = "127.0.0.1", port: int = 0, quiet: bool = False) -> int:
    """Run the persistent sandbox of ``state_dir`` in this process until SIGTERM / Ctrl-C.

    Settings (speed, credits, key, admin token, port) are those of the directory's first
    start; later starts reuse them, so the key, the balance and the URLs stay the same.
    """
    from .config import SandboxConfig, new_key
    from .launcher import SandboxServer
    from .persist import Store

    state_dir = _prepare(state_dir)
    with flock(state_dir / RUN_LOCK, wait=False) as got:
        if not got:
            print(f"phaya sandbox: a server already runs on {state_dir}", file=sys.stderr)
            return 1
        store = Store(state_dir / "state.sqlite3")
        meta = store.meta()
        if "instance" not in meta:
            meta = {"instance": secrets.token_hex(8), "admin_token": secrets.token_hex(16), "keys": [new_key()],
                    "speed": speed, "credits": credits, "time_scale": time_scale, "port": port}
            store.set_meta(**meta)
        store.close()
        config = SandboxConfig(speed=float(meta["speed"]), credits=float(meta["credits"]),
                               keys={k: float(meta["credits"]) for k in meta["keys"]},
                               time_scale=float(meta["time_scale"]), state_dir=str(state_dir),
                               instance=str(meta["instance"]), admin_token=str(meta["admin_token"]))
        want = int(port or meta.get("port") or 0)
        try:
            server = SandboxServer(config, host, want)
        except OSError:  # the port of the last run is taken: a new one (resume() says so)
            server = SandboxServer(config, host, 0)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        server.start()
        try:
            urls = [u for u in meta.get("former_urls", []) if u != server.base_url]
            if meta.get("base_url") and meta["base_url"] != server.base_url:
                urls.append(meta["base_url"])
            store = Store(state_dir / "state.sqlite3")
            store.set_meta(port=server.port, base_url=server.base_url, former_urls=urls[-20:])
            store.close()
            _write_info(state_dir, {
                "pid": os.getpid(), "base_url": server.base_url, "root_url": server.root_url,
                "api_key": server.api_key, "admin_token": server.admin_token, "instance": config.instance,
                "speed": config.speed, "time_scale": config.time_scale, "credits": config.credits,
                "former_urls": urls[-20:],
                "state_dir": str(state_dir), "started_at": time.time()})
            if not quiet:
                print(f"phaya sandbox: serving {server.base_url} from {state_dir} (pid {os.getpid()})", flush=True)
            # a test's temp directory removed under a forgotten server ends it (no orphans)
            while not stop.wait(2.0):
                if not (state_dir / RUN_LOCK).exists():
                    break
        finally:
            with contextlib.suppress(OSError):
                info = json.loads((state_dir / INFO).read_text())
                if info.get("pid") == os.getpid():
                    (state_dir / INFO).unlink()
            server.stop()
    return 0


# ---------------------------------------------------------------- start / stop / status


def start(state_dir: Path, *, speed: float = 10.0, credits: float = 100.0, time_scale: float = 1.0,
          timeout: float = 60.0) -> dict[str, Any]:
    """The running server of ``state_dir``, started detached first if none runs (one at a time)."""
    state_dir = _prepare(state_dir)
    with flock(state_dir / START_LOCK):
        info = read_info(state_dir)
        if info is not None:
            return info
        with contextlib.suppress(FileNotFoundError):
            (state_dir / INFO).unlink()  # a killed server's leftover
        log = open(state_dir / LOG, "ab")  # noqa: SIM115 - handed to the child
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "phaya_notebook.sandbox", "serve", "--quiet", "--state-dir", str(state_dir),
                 "--speed", str(speed), "--credits", str(credits), "--time-scale", str(time_scale)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True, start_new_session=True,
                cwd=str(state_dir))
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = read_info(state_dir)
            if info is not None and info.get("pid") == proc.pid:
                return info
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        tail = (state_dir / LOG).read_text(errors="replace")[-2000:]
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise RuntimeError(f"the Phaya sandbox did not start (log {state_dir / LOG}):\n{tail}")


def stop(state_dir: Path, timeout: float = 15.0) -> bool:
    """Stop the server of ``state_dir`` (SIGTERM, then SIGKILL); False if none was running."""
    info = read_info(state_dir)
    if info is None:
        return False
    pid = int(info["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running(state_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    if running(state_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while running(state_dir) and time.monotonic() < deadline + 5:
            time.sleep(0.05)
    with contextlib.suppress(FileNotFoundError):
        (state_dir / INFO).unlink()
    return True


def status(state_dir: Path) -> str:
    """One line: running where (pid, URL) or not running; never the key."""
    info = read_info(state_dir)
    if info is None:
        return f"phaya sandbox: not running (state in {state_dir})"
    return (f"phaya sandbox: running, pid {info['pid']}, {info['base_url']} "
            f"(speed {info['speed']:g}, state in {state_dir})")
