"""👍 / 👎 on a result: keep (1), reject (-1), a second click clears (0).

Standard ipywidgets buttons: the rating is written to the job log at once through the
session's ``rate`` (a short SQLite write, no request), so it survives a kernel restart.
CSS: ``phaya-rating`` on the box, ``phaya-rate-up`` / ``phaya-rate-down`` on the buttons,
``phaya-rated`` on the chosen one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w
from ipywidgets.widgets.widget_string import HTMLStyle

from ..display import esc

__all__ = ["RateButtons", "rater_of"]

Rater = Callable[[str, int], Any]


def rater_of(client: Any) -> Rater | None:
    """The session's ``rate`` when the client keeps a job log, else None (no control shown)."""
    if getattr(client, "log", None) is None:
        return None
    rate = getattr(client, "rate", None)
    return rate if callable(rate) else None


# Shared layout and styles: a gallery page of 24 cards makes ~200 widget models, not ~350.
_BUTTON = w.Layout(width="44px")
_BOX = w.Layout()
_BUTTON_STYLE = w.ButtonStyle()
_NOTE = w.Layout()
_NOTE_STYLE = HTMLStyle()


class RateButtons(w.HBox):
    """``extra`` widgets go on the same row; ``on_error`` (else a note beside the buttons) is
    told when the log refused. The gallery uses both: fewer widget models per card."""

    def __init__(self, job_id: str, rate: Rater, value: int | None = None, *, extra: tuple[w.Widget, ...] = (),
                 on_error: Callable[[str], Any] | None = None):
        self.job_id = job_id
        self._on_error = on_error
        self._rate = rate
        self.value: int | None = value
        self.up = w.Button(description="", icon="thumbs-up", tooltip="Keep: counts as a kept result in leaderboard()",
                           layout=_BUTTON, style=_BUTTON_STYLE)
        self.down = w.Button(description="", icon="thumbs-down", tooltip="Reject", layout=_BUTTON, style=_BUTTON_STYLE)
        self.up.add_class("phaya-rate-up")
        self.down.add_class("phaya-rate-down")
        self.note = w.HTML("", layout=_NOTE, style=_NOTE_STYLE) if on_error is None else None
        self.up.on_click(lambda _: self.set(0 if self.value == 1 else 1))
        self.down.on_click(lambda _: self.set(0 if self.value == -1 else -1))
        super().__init__([self.up, self.down, *([self.note] if self.note is not None else []), *extra],
                         layout=_BOX)
        self.add_class("phaya-rating")
        self._show()

    def set(self, rating: int) -> None:
        """Store the rating in the log, then show it (an error is shown, not raised)."""
        try:
            self._rate(self.job_id, rating)
        except Exception as exc:  # noqa: BLE001 - a click handler must say what went wrong
            if self.note is not None:
                self.note.value = f'<span style="color:#b00">{esc(exc)}</span>'
            elif self._on_error is not None:
                self._on_error(str(exc))
            return
        self.value = None if rating == 0 else rating
        if self.note is not None:
            self.note.value = ""
        self._show()

    def _show(self) -> None:
        for button, mine, style in ((self.up, 1, "success"), (self.down, -1, "danger")):
            chosen = self.value == mine
            button.button_style = style if chosen else ""
            if chosen:
                button.add_class("phaya-rated")
            else:
                button.remove_class("phaya-rated")
