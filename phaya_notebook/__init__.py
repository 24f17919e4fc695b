"""phaya-notebook: try Phaya's media models from a notebook, see every result and its cost.

Start with ``phaya = phaya_notebook.connect()``: with ``PHAYA_API_KEY`` set it talks to the
real Phaya; without one it starts the offline sandbox (play credits, synthetic media).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["AsyncPhaya", "Phaya", "PhayaError", "__version__", "connect", "load_ipython_extension"]

if TYPE_CHECKING:  # pragma: no cover
    from .core.client import AsyncPhaya
    from .core.errors import PhayaError
    from .core.sync import Phaya
    from .session import connect

_LAZY = {
    "AsyncPhaya": ("phaya_notebook.core.client", "AsyncPhaya"),
    "Phaya": ("phaya_notebook.core.sync", "Phaya"),
    "PhayaError": ("phaya_notebook.core.errors", "PhayaError"),
    "connect": ("phaya_notebook.session", "connect"),
}


def __getattr__(name: str) -> Any:
    """Import on first use, so ``%load_ext phaya_notebook`` stays fast."""
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(mod), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'phaya_notebook' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext phaya_notebook``: registers ``%phaya`` / ``%%phaya``."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)
