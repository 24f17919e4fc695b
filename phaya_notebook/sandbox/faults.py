"""Misbehaviour on demand, for client tests: queued faults and request counts.

``POST /_sandbox/faults`` queues "the next N requests whose path contains S answer
500 / 503 / slowly (the request is acted on at once, only the answer waits) / with malformed JSON / by dropping the connection / with 429".
Every request is counted per key id and path so tests can assert how many requests
a client made.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

KINDS = ("500", "503", "slow", "malformed", "drop", "429")


@dataclass
class Fault:
    kind: str
    count: int
    paths: str = ""
    seconds: float = 2.0


class Faults:
    def __init__(self) -> None:
        self._queue: list[Fault] = []
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()
        #: 429 answers of the rate limiter, per key id (queued 429 faults are not counted)
        self.limited: Counter[str] = Counter()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._queue.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def pending(self) -> list[dict[str, object]]:
        with self._lock:
            return [vars(f).copy() for f in self._queue]

    def take(self, path: str) -> Fault | None:
        """The first queued fault matching ``path``, used up by one."""
        with self._lock:
            for f in self._queue:
                if f.paths in path:
                    f.count -= 1
                    if f.count <= 0:
                        self._queue.remove(f)
                    return f
        return None

    def count(self, who: str, path: str) -> None:
        with self._lock:
            self.counts[(who, path)] += 1

    def rate_limited(self, who: str) -> None:
        with self._lock:
            self.limited[who] += 1

    def stats(self) -> dict[str, object]:
        with self._lock:
            items = list(self.counts.items())
            limited = dict(self.limited)
        by_key: dict[str, dict[str, object]] = {}
        by_path: Counter[str] = Counter()
        for (who, path), n in items:
            entry = by_key.setdefault(who, {"total": 0, "paths": {}})
            entry["total"] = int(entry["total"]) + n  # type: ignore[call-overload]
            entry["paths"][path] = n  # type: ignore[index]
            by_path[path] += n
        return {"total": sum(by_path.values()), "by_key": by_key, "by_path": dict(by_path),
                "rate_limited": {"total": sum(limited.values()), "by_key": limited}}

    def reset_stats(self) -> None:
        with self._lock:
            self.counts.clear()
            self.limited.clear()
