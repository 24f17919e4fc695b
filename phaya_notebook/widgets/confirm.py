"""The confirm step shared by the studio and the compare grid: a message, Confirm and Cancel.

One place for its markup, so the CSS hooks the browser tests use (``phaya-confirm``,
``phaya-confirm-cancel``, ``phaya-confirm-box``) cannot drift between widgets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w

__all__ = ["ConfirmBar"]


class ConfirmBar(w.HBox):
    """Hidden until :meth:`show`; the owner wires the buttons with :meth:`on_confirm` / :meth:`on_cancel`."""

    def __init__(self) -> None:
        self.text = w.HTML("")
        self.confirm_button = w.Button(description="Confirm", button_style="danger", icon="check")
        self.confirm_button.add_class("phaya-confirm")
        self.cancel_button = w.Button(description="Cancel", icon="times")
        self.cancel_button.add_class("phaya-confirm-cancel")
        super().__init__([self.text, self.confirm_button, self.cancel_button], layout=w.Layout(display="none"))
        self.add_class("phaya-confirm-box")

    def show(self, message: str) -> None:
        """Ask: ``message`` is HTML the caller has already escaped."""
        self.text.value = message
        self.layout.display = "flex"

    def hide(self, *, clear: bool = False) -> None:
        """Hide the bar; ``clear`` also empties its message."""
        self.layout.display = "none"
        if clear:
            self.text.value = ""

    def on_confirm(self, callback: Callable[[Any], None]) -> None:
        self.confirm_button.on_click(callback)

    def on_cancel(self, callback: Callable[[Any], None]) -> None:
        self.cancel_button.on_click(callback)
