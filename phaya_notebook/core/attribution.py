"""Who spent the credits: a job's charge from the balance, when nothing else names it.

The live API's ``credits_used`` said 0 for a Seedance job while the balance dropped by 12;
a credits history may not name the job either. The balance is the truth then, but only
for a window in which this job was the only unknown spender. The client writes a
timeline: every balance reading (when it was asked, when it was answered, the amount) and
every money span (a job from its create request to the moment its terminal status was
seen; a chat or embedding call from request to answer, with its known price).
:meth:`MoneyTimeline.attribute` then finds the last reading before the job and the first
after it, and attributes the drop to the job only if every other span in that window is
inside it and its amount is known; otherwise it says, in words, why it cannot.

It cannot see other processes using the same key: a note on every attributed row says so.
The client's ledger (``core/money.py``) holds the timeline and takes the balance reading
before a session's first job (``Ledger.read_before_first_job``).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Attribution", "MoneyTimeline", "Reading", "Span"]

#: Seconds of clock slack between our readings and the server's ledger.
SLACK = 0.0


@dataclass(frozen=True)
class Reading:
    sent: float       # time.time() when the balance request was sent
    received: float   # ... and when its answer arrived
    balance: float


@dataclass
class Span:
    key: str
    start: float                # create (or chat) request sent
    end: float | None = None    # terminal status seen (None: still running, or unknown)
    amount: float | None = None  # the net charge, when known from a trusted source


@dataclass(frozen=True)
class Attribution:
    """``amount`` is the job's net charge (None: not attributable); ``note`` says how or why not."""

    amount: float | None
    note: str


class MoneyTimeline:
    """Balance readings and money spans of one client (wall-clock seconds)."""

    def __init__(self, enabled: bool = False, keep: int = 5000):
        #: When True the client reads the balance once before its first job (a Session turns it on).
        self.enabled = enabled
        self._lock = threading.Lock()
        self._readings: list[Reading] = []
        self._spans: dict[str, Span] = {}
        self._keep = keep
        self._seq = itertools.count()

    # ------------------------------------------------------------ writing

    def reading(self, sent: float, received: float, balance: float) -> None:
        with self._lock:
            self._readings.append(Reading(sent, received, float(balance)))
            del self._readings[:-self._keep]

    def open(self, key: str, start: float) -> None:
        with self._lock:
            self._spans.setdefault(key, Span(key, start))
            self._prune()

    def _prune(self) -> None:
        """Keep the newest ``keep`` spans (a long chat session must not grow this forever)."""
        if len(self._spans) > self._keep:
            for k in sorted(self._spans, key=lambda k: self._spans[k].start)[:len(self._spans) - self._keep]:
                del self._spans[k]

    def close(self, key: str, end: float | None = None) -> None:
        with self._lock:
            span = self._spans.get(key)
            if span is not None and span.end is None:
                span.end = time.time() if end is None else end

    def call(self, start: float, end: float, amount: float | None, kind: str = "chat") -> None:
        """A finished chat or embedding call: its price is known from its answer (None: unknown)."""
        with self._lock:
            key = f"{kind}-{next(self._seq)}"
            self._spans[key] = Span(key, start, end, amount)
            self._prune()

    def known(self, key: str, amount: float) -> None:
        """A job's net charge became known from a trusted source (the credits history)."""
        with self._lock:
            span = self._spans.get(key)
            if span is not None:
                span.amount = float(amount)

    def has(self, key: str) -> bool:
        with self._lock:
            return key in self._spans

    def has_reading_before(self, t: float) -> bool:
        with self._lock:
            return any(r.received <= t for r in self._readings)

    # ------------------------------------------------------------ reading

    def attribute(self, key: str, known: Mapping[str, float] | None = None) -> Attribution:
        """The net charge of job ``key`` from the balance around it, or why that is not possible."""
        known = dict(known or {})
        with self._lock:
            span = self._spans.get(key)
            readings = list(self._readings)
            spans = [s for s in self._spans.values() if s.key != key]
        if span is None:
            return Attribution(None, "this client did not run the job (no balance window)")
        if span.end is None:
            return Attribution(None, "the job's end was not seen by this client")
        before = max((r for r in readings if r.received <= span.start + SLACK), key=lambda r: r.received,
                     default=None)
        after = min((r for r in readings if r.sent >= span.end - SLACK), key=lambda r: r.sent, default=None)
        if before is None:
            return Attribution(None, "no balance reading before the job was created")
        if after is None:
            return Attribution(None, "no balance reading after the job ended")
        lo, hi = before.received, after.sent
        others = 0.0
        for s in spans:
            end = s.end if s.end is not None else float("inf")
            if end < lo or s.start > hi:
                continue  # outside the window
            amount = known.get(s.key, s.amount)
            if s.start < lo or end > hi:
                return Attribution(None, f"{_name(s.key)} overlapped the balance window")
            if amount is None:
                return Attribution(None, f"{_name(s.key)} ran in the same balance window with an unknown charge")
            others += amount
        net = round(before.balance - after.balance - others, 6)
        note = (f"balance {before.balance:g} before, {after.balance:g} after"
                + (f", minus {others:g} known for other calls" if others else "")
                + "; assumes no other use of this key meanwhile")
        return Attribution(net, note)


def _name(key: str) -> str:
    if key.startswith(("chat-", "embedding-")):
        return "a " + key.split("-", 1)[0] + " call"
    return f"job {key}"
