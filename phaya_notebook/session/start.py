"""``connect()``: the front door, and what it checks before anything starts.

With a key (argument or ``PHAYA_API_KEY``) the session talks to the real Phaya; without
one it starts the offline sandbox and says so in one line. A bad daily cap or a job log /
media cache folder that cannot be written is refused first: no sandbox, no request.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from ..core.errors import FolderNotWritable
from ..core.media import default_cache_dir
from ..joblog import default_log_path
from .session import Session, daily_cap_setting

__all__ = ["check_folders", "connect"]


def _writable(path: Path, what: str, variable: str, argument: str) -> None:
    """Raise FolderNotWritable unless ``path`` (a folder, made on demand) can hold new files.

    Probed by creating (and removing) a file in the folder, or in its nearest existing
    parent: permission bits alone say nothing for root, a read-only mount or a parent
    that is a file. Nothing is left behind.
    """
    path = path.absolute()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    problem = ""
    if not probe.is_dir():
        problem = f"{probe} is a file, not a folder"
    else:
        try:
            fd, name = tempfile.mkstemp(dir=probe, prefix=".phaya-write-check-")
            os.close(fd)
            os.unlink(name)
        except OSError as exc:
            problem = f"{probe} cannot be written ({exc.strerror or exc})"
    if problem:
        raise FolderNotWritable(
            f"phaya: the {what} cannot be kept in {path}: {problem}. Set {variable} to a writable "
            f"place (or pass {argument}=...), or run the notebook from a folder you can write to.",
            path=str(path), variable=variable)


def check_folders(log_path: str | os.PathLike[str] | None = None,
                  cache_dir: str | os.PathLike[str] | None = None) -> None:
    """The job log's and the media cache's folders can be written (before anything starts).

    A log given as a URL (``postgresql://...``) is a server's business, not a folder's.
    """
    where = str(log_path if log_path is not None else os.environ.get("PHAYA_LOG") or "")
    if "://" in where:
        _writable(Path(cache_dir) if cache_dir is not None else default_cache_dir(), "media cache",
                  "PHAYA_CACHE_DIR", "cache_dir")
        return
    log_file = Path(log_path) if log_path is not None else default_log_path()
    if log_file.exists() and not log_file.is_dir() and not os.access(log_file, os.W_OK):
        raise FolderNotWritable(f"phaya: the job log {log_file} is read-only. Set PHAYA_LOG to a writable "
                                "file (or pass log_path=...).", path=str(log_file), variable="PHAYA_LOG")
    _writable(log_file.parent, "job log", "PHAYA_LOG", "log_path")
    _writable(Path(cache_dir) if cache_dir is not None else default_cache_dir(), "media cache",
              "PHAYA_CACHE_DIR", "cache_dir")


def connect(api_key: str | None = None, base_url: str | None = None, *,
            log_path: str | os.PathLike[str] | None = None, max_credits: float | None = None,
            confirm_above: float = 10.0, daily_cap: float | None = None, **kw: Any) -> Session:
    """A Session on the real Phaya (key given or ``PHAYA_API_KEY``), else on the offline sandbox.

    The job log's and media cache's folders are checked first: an unwritable one is a
    :class:`FolderNotWritable` naming the variable to set, before any sandbox or request.
    ``daily_cap`` (or ``PHAYA_DAILY_CAP``): credits per UTC day for the key, shared by every
    process using the key and the same log.
    """
    daily_cap_setting(daily_cap)  # refuse a bad cap before starting anything
    check_folders(log_path, kw.get("cache_dir"))
    key = api_key or os.environ.get("PHAYA_API_KEY")
    if not key and not base_url:
        from ..core.launch import embedded_sandbox

        base_url, key = embedded_sandbox()
        print(f"phaya: no PHAYA_API_KEY — using the offline sandbox at {base_url} "
              "(play credits, synthetic media)")
    return Session(key, base_url, log_path=log_path, max_credits=max_credits, confirm_above=confirm_above,
                   daily_cap=daily_cap, **kw)
