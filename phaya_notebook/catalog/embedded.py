"""Where a client finds the embedded sandbox on disk: the contract of launcher and server.

The kernel never imports the sandbox (FastAPI, Pillow, FFmpeg stay out of it), and the
sandbox imports nothing of the package but this catalog. So the folder rule and the file
names both sides rely on live here, once: ``core/launch.py`` finds the folder and reads the
server's file, ``sandbox/daemon.py`` (and its CLI) uses the same folder, writes that file
and holds the lock. Like the rest of the catalog, it is the one statement of an agreement
between the client and the sandbox.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["INFO", "RUN_LOCK", "sandbox_dir"]

#: The running server's pid, URLs, key, admin token and instance (0600), written once it answers.
INFO = "server.json"
#: Held (``flock``) by the server for its whole life: "is it running" is a lock test.
RUN_LOCK = "run.lock"


def sandbox_dir() -> Path:
    """Where the persistent sandbox lives: ``$PHAYA_SANDBOX_DIR``, else
    ``$XDG_STATE_HOME/phaya-notebook/sandbox`` (``~/.local/state``)."""
    env = os.environ.get("PHAYA_SANDBOX_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "phaya-notebook" / "sandbox"
