"""Run a sandbox in a background thread on a free loopback port, or in the foreground.

``start()`` returns only once the server answers over HTTP, so callers can use
``base_url`` at once; ``stop()`` shuts the server, its workers and its files down.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from .app import create_asgi
from .config import SandboxConfig, key_id


class SandboxServer:
    """A running sandbox: where it is, which keys it accepts, how to stop it."""

    def __init__(self, config: SandboxConfig, host: str, port: int):
        self.config = config
        self.host = host
        self.asgi, self.sandbox = create_asgi(config)
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        ucfg = uvicorn.Config(self.asgi, log_level="warning", access_log=False, lifespan="on", ws="none",
                              timeout_graceful_shutdown=2, timeout_keep_alive=30)
        self._server = uvicorn.Server(ucfg)
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ where and who

    @property
    def root_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + "/api/v1"

    @property
    def api_keys(self) -> list[str]:
        return list(self.config.keys)

    @property
    def api_key(self) -> str:
        return self.api_keys[0]

    @property
    def admin_token(self) -> str:
        return self.config.admin_token

    @staticmethod
    def key_id(key: str) -> str:
        """The name ``/_sandbox/stats`` uses for a key."""
        return key_id(key)

    # ------------------------------------------------------------ life

    def start(self, timeout: float = 20.0) -> SandboxServer:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name=f"phaya-sandbox-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._server.started:
                try:
                    if httpx.get(self.root_url + "/_sandbox/health", timeout=2.0).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            if not self._thread.is_alive():
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("the Phaya sandbox did not start")

    def serve_forever(self) -> None:
        """Run in the calling thread (the CLI); Ctrl-C stops it."""
        try:
            self._server.run(sockets=[self._sock])
        finally:
            self._close()

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._close()

    def _close(self) -> None:
        self.sandbox.close()
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Phaya sandbox at {self.base_url}, {len(self.config.keys)} key(s)>"


def start(speed: float = 30.0, credits: float = 100.0, api_keys: list[str] | None = None, port: int = 0,
          host: str = "127.0.0.1", time_scale: float = 1.0, url_ttl: float = 3600.0, data_dir: str | None = None,
          **options: Any) -> SandboxServer:
    """Start a sandbox in a background thread; returns once it answers.

    ``api_keys``: ``["key", "key2:5"]`` (a key each with its own balance; ``credits``
    unless the entry says otherwise); none means one generated demo key. Extra options
    (``rate_limit``, ``max_upload_mb``, ``seed``, ``video_fps``, ``video_max_side``,
    ``status_cache_seconds``) go to ``SandboxConfig``.
    """
    config = SandboxConfig.build(api_keys, credits=credits, speed=speed, time_scale=time_scale, url_ttl=url_ttl,
                                 data_dir=data_dir, **options)
    return SandboxServer(config, host, port).start()
