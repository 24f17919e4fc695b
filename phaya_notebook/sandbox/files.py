"""Hosted files: what the sandbox made or was sent, served at expiring URLs.

URLs are ``<host>/files/<token>/<name>``; the token is random, so a URL is the only
way to a file, as with cloud-storage links. A file knows its media facts (size,
seconds, pixels) so prices and image-to-video can use them.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .persist import Store, mono_of

_URL_RE = re.compile(r"/files/([0-9a-f]{8,64})/")


@dataclass
class HostedFile:
    token: str
    name: str
    path: Path
    mime: str
    created: float  # time.monotonic()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def url_path(self) -> str:
        return f"/files/{self.token}/{self.name}"

    @property
    def size(self) -> int:
        return self.path.stat().st_size


class FileStore:
    """A directory of files plus their tokens; ``close`` removes a directory it created."""

    def __init__(self, data_dir: str | None, ttl: float, store: Store | None = None):
        self._own = data_dir is None
        self.root = Path(data_dir or tempfile.mkdtemp(prefix="phaya-sandbox-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl
        self._files: dict[str, HostedFile] = {}
        self._lock = threading.Lock()
        self.store = store
        if store is not None:  # a persistent sandbox: files of earlier runs, URLs and ages intact
            for token, d in store.files():
                path = self.root / d["path"]
                if path.is_file():
                    self._files[token] = HostedFile(token, d["name"], path, d["mime"], mono_of(d["created"]),
                                                    dict(d.get("meta") or {}))

    def reserve(self, name: str) -> tuple[str, Path]:
        """A token and a path to write a new file to, before it is registered."""
        token = secrets.token_hex(12)
        folder = self.root / token
        folder.mkdir()
        return token, folder / _safe(name)

    def register(self, token: str, path: Path, mime: str, **meta: Any) -> HostedFile:
        rec = HostedFile(token, path.name, path, mime, time.monotonic(), dict(meta))
        if self.store is not None:
            self.store.save_file(rec, self.root)
        with self._lock:
            self._files[token] = rec
        return rec

    def add_bytes(self, data: bytes, name: str, mime: str, **meta: Any) -> HostedFile:
        token, path = self.reserve(name)
        path.write_bytes(data)
        return self.register(token, path, mime, **meta)

    def get(self, token: str) -> HostedFile | None:
        with self._lock:
            return self._files.get(token)

    def from_url(self, url: Any) -> HostedFile | None:
        """The hosted file behind a URL of this sandbox (any host spelling), if any."""
        if not isinstance(url, str):
            return None
        m = _URL_RE.search(url)
        return self.get(m.group(1)) if m else None

    def expired(self, rec: HostedFile) -> bool:
        return time.monotonic() - rec.created > self.ttl

    def close(self) -> None:
        if self._own:
            shutil.rmtree(self.root, ignore_errors=True)


def _safe(name: str) -> str:
    """A file name safe for paths and URLs."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"
    return cleaned[-80:]
