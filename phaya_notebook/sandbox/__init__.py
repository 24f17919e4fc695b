"""An offline Phaya: the contract over real HTTP, play credits, locally made media.

``start()`` runs one in a background thread; ``python -m phaya_notebook.sandbox``
runs one in the foreground. Imports only ``phaya_notebook.catalog`` from the package.
"""

from __future__ import annotations

from .config import SandboxConfig
from .launcher import SandboxServer, start

__all__ = ["SandboxConfig", "SandboxServer", "start"]
