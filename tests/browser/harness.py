"""JupyterLab / Notebook 7 / Voila on 127.0.0.1 + Debian's Chromium driven by Playwright.

Adapted from the tested recipe in ``shared/e2e/``: same launch flags, readiness waits
(``/api/status`` polled, early failure with the log if the process exits), run-all command,
``expect`` auto-waits and teardown by PID (SIGTERM, SIGKILL after 20 s, then any kernel
whose connection file lives in our private runtime dir). Never runs ``playwright install``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", REPO / "artifacts" / "browser"))
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
SERVER_START_TIMEOUT = 90  # s until the server answers
UI_TIMEOUT_MS = 60_000     # every Playwright wait / expect


def require_chromium() -> None:
    """Call at the top of each browser test module: error in CI, skip elsewhere."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):  # never silently skip in CI
            raise RuntimeError(f"{CHROMIUM} missing: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} not installed", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kernel_pids(runtime_dir: Path) -> list[int]:
    """PIDs of kernels whose connection file is in *our* runtime dir."""
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "ipykernel" in cmd and str(runtime_dir) in cmd:
                pids.append(int(p.name))
    return pids


@dataclass
class Server:
    kind: str      # "lab" | "notebook" | "voila"
    base: str
    token: str
    root: Path
    log: Path
    pid: int

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path}{sep}token={self.token}" if self.token else f"{self.base}{path}"

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def _write_lab_settings(settings: Path) -> None:
    """Every cell in the DOM (no windowing), never ask about news."""
    for plugin, value in {
        "notebook-extension/tracker": {"windowingMode": "none"},
        "apputils-extension/notification": {"fetchNews": "false"},
    }.items():
        f = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(value))


def _command(kind: str, port: int, token: str, root: Path, notebook: str | None) -> list[str]:
    common = ["--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
              "--allow-root", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if kind == "lab":
        return [sys.executable, "-m", "jupyter", "lab", *common,
                "--LabApp.expose_app_in_browser=True",        # window.jupyterapp for the test
                "--LabApp.news_url=None",                     # no news feed, no consent toast
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.extension_manager=readonly"]        # no PyPI queries
    if kind == "notebook":
        return [sys.executable, "-m", "jupyter", "notebook", *common,
                "--JupyterNotebookApp.expose_app_in_browser=True"]
    if kind == "voila":
        assert notebook, "voila serves one notebook"
        return [sys.executable, "-m", "voila", str(root / notebook), "--no-browser",
                f"--port={port}", "--Voila.ip=127.0.0.1", "--Voila.port_retries=0",
                "--VoilaConfiguration.show_tracebacks=True"]
    raise ValueError(f"kind must be lab, notebook or voila, not {kind!r}")


@contextmanager
def jupyter_server(kind: str, notebooks: Iterable[str], *, serve: str | None = None,
                   env_extra: dict[str, str] | None = None) -> Iterator[Server]:
    """Start ``kind`` on a free loopback port over a temp copy of ``notebooks``; stop by PID."""
    work = Path(tempfile.mkdtemp(prefix=f"e2e-{kind}-"))
    root, runtime, settings = work / "root", work / "runtime", work / "lab-settings"
    root.mkdir()
    for name in notebooks:
        shutil.copy(NOTEBOOKS / name, root / name)
    _write_lab_settings(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHAYA_")}  # no key: sandbox
    env.update(
        JUPYTER_CONFIG_DIR=str(work / "config"),
        JUPYTER_RUNTIME_DIR=str(runtime),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
        IPYTHONDIR=str(work / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
        PHAYA_SANDBOX_DIR=str(work / "sandbox"),  # the kernels' persistent sandbox: stopped below
        **(env_extra or {}),
    )
    port = free_port()
    token = "" if kind == "voila" else uuid.uuid4().hex
    log_path = work / f"{kind}.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(_command(kind, port, token, root, serve), stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=root)
    base, t0 = f"http://127.0.0.1:{port}", time.monotonic()
    probe = f"{base}/" if kind == "voila" else f"{base}/api/status?token={token}"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} exited {proc.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(probe, timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() - t0 > SERVER_START_TIMEOUT:
                raise RuntimeError(f"{kind} not up in {SERVER_START_TIMEOUT}s:\n{log_path.read_text()}")
            time.sleep(0.25)
        print(f"\n{kind} pid={proc.pid} up in {time.monotonic() - t0:.1f}s at {base}")
        yield Server(kind, base, token, root, log_path, proc.pid)
    finally:
        # stop by PID: SIGTERM makes the server shut its kernels down, SIGKILL if stuck
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for pid in kernel_pids(runtime):  # kernels orphaned by a SIGKILL, if any
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        from phaya_notebook.core import launch

        launch.stop_embedded(state_dir=Path(env["PHAYA_SANDBOX_DIR"]))
        log.close()
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def chromium_page(profile: Path) -> Iterator[object]:
    """A fresh persistent context (new empty user-data-dir) and its page, errors recorded."""
    from playwright.sync_api import expect, sync_playwright

    profile.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            pg = ctx.pages[0] if ctx.pages else ctx.new_page()
            pg.set_default_timeout(UI_TIMEOUT_MS)
            expect.set_options(timeout=UI_TIMEOUT_MS)
            errors: list[str] = []
            pg.errors = errors  # type: ignore[attr-defined]
            pg.on("console", lambda m: m.type == "error" and errors.append(m.text))
            pg.on("pageerror", lambda e: errors.append(str(e)))
            yield pg
        finally:
            ctx.close()


# window.jupyterapp exists because of expose_app_in_browser (Lab and Notebook 7)
JS_KERNEL_IDLE = """(name) => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (name && !(w && w.context && w.context.path.endsWith(name))) return false;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(k && k.connectionStatus === 'connected' && k.status === 'idle'
            && w.content && w.content.widgets && w.content.widgets.length > 0);
}"""
JS_RUN_ALL = """async () => {
  const app = window.jupyterapp;
  await app.shell.currentWidget.sessionContext.ready;
  return await app.commands.execute('notebook:run-all-cells');  // resolves when all ran
}"""

# One cell at a time, each awaited: the kernel never has a second execute_request queued
# while a cell runs. Used where Run All trips the known core/sync.py hang (see
# tests/notebooks/test_run_all.py); a user running cells with Shift+Enter does the same.
def open_and_run_all(page: object, server: Server, path: str) -> None:
    """Open a notebook in Lab or Notebook 7, wait for an idle kernel, run every cell."""
    name = path.rsplit("/", 1)[-1]
    # ?reset: a fresh workspace, not the server's memory of notebooks opened by earlier tests
    page.goto(server.url(path + ("?reset" if server.kind == "lab" else "")))  # type: ignore[attr-defined]
    page.wait_for_function(JS_KERNEL_IDLE, arg=name, polling=250)  # type: ignore[attr-defined]
    ok = page.evaluate(JS_RUN_ALL)  # type: ignore[attr-defined]
    assert ok is not False, "a cell failed"
    page.wait_for_function(JS_KERNEL_IDLE, arg=name, polling=250)  # type: ignore[attr-defined]


def save_shot(page: object, name: str, locator: object | None = None) -> Path:
    """Screenshot (of the page, or of one element) into artifacts/browser/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    (locator or page).screenshot(path=str(path))  # type: ignore[attr-defined]
    return path


def report_failure(page: object, server: Server, name: str) -> None:
    """On failure: keep a screenshot, print browser errors and the server log tail."""
    try:
        save_shot(page, f"failure-{name}.png")
    except Exception as exc:  # noqa: BLE001 - best effort while reporting another error
        print("failure screenshot not taken:", exc)
    print("browser errors:", json.dumps(getattr(page, "errors", []), indent=1)[:4000])
    print(f"{server.kind} log tail:\n", server.log_tail())
