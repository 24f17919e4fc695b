"""A DataFrame that says one more thing under itself (what is left of a cap), in text and HTML.

Why a subclass: ``spend()`` must stay a plain table of numbers (sums, plots, joins work as
before) while a notebook showing it also shows the note. Anything computed from it is a
plain DataFrame again (``_constructor``). Imported lazily: pandas loads only when used.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..core.escape import esc

__all__ = ["NotedFrame", "with_note"]


class NotedFrame(pd.DataFrame):
    """A DataFrame whose text and HTML reprs end with ``note``."""

    _metadata = ["note"]
    note: str = ""

    @property
    def _constructor(self) -> Any:
        return pd.DataFrame

    def __repr__(self) -> str:
        return super().__repr__() + (f"\n{self.note}" if self.note else "")

    def _repr_html_(self) -> str | None:
        table = super()._repr_html_()
        if table is None or not self.note:
            return table
        return table + f"<p><small>{esc(self.note)}</small></p>"


def with_note(df: pd.DataFrame, note: str, **attrs: Any) -> NotedFrame:
    """``df`` showing ``note`` under its repr; ``attrs`` go to ``.attrs``."""
    out = NotedFrame(df)
    out.note = note
    out.attrs.update(attrs)
    return out
