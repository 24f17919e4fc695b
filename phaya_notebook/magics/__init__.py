"""``%phaya`` / ``%%phaya``: every Phaya service from one line of a notebook.

The parser (``magic_args``) turns a line into a typed command and raises ``UsageError``
for anything wrong before a request is made; the handlers here only *do*. The package:

- ``phaya_magics``: :class:`PhayaMagics` — the traits (``%config PhayaMagics.x``), the entry
  point, the command dispatch, the session, the whole-command money check and the
  generate / cost / jobs / compare / resume handlers;
- ``cells``: does IPython show a command's return value itself (the cell being run)?
- ``chat``: the ``%%phaya chat`` conversation and its streamed answer;
- ``models``: the ``%phaya models`` table;
- ``status``: a running job's one-line status, the ``Credits`` amount, credit wording;
- ``config``: what ``%phaya config`` prints.

Loading the extension imports nothing heavy (no httpx, pandas, ipywidgets or core):
everything below the class is imported inside the handlers.
"""

from __future__ import annotations

from typing import Any

from .phaya_magics import PhayaMagics
from .status import Credits

__all__ = ["Credits", "PhayaMagics", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%phaya`` / ``%%phaya``; nothing connects until the first command."""
    magics = PhayaMagics(ipython)
    ipython.register_magics(magics)
    ipython.events.register("pre_run_cell", magics.pre_run_cell)
    ipython.events.register("post_run_cell", magics.post_run_cell)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics and close their session (stops its polling)."""
    magics = ipython.magics_manager.registry.get("PhayaMagics")
    if magics is not None:
        for event, fn in (("pre_run_cell", magics.pre_run_cell), ("post_run_cell", magics.post_run_cell)):
            try:
                ipython.events.unregister(event, fn)
            except ValueError:
                pass
        magics.close()
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("phaya", None)
    ipython.magics_manager.registry.pop("PhayaMagics", None)
