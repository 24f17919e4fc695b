"""The contract's 60 requests per minute per key, as a sliding window.

The window is ``60 / time_scale`` real seconds, so benchmarks can run a minute of
traffic in seconds. Over the limit the caller learns how long to wait (Retry-After).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class RateLimiter:
    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> int | None:
        """Count one request; None when allowed, else the whole seconds to wait (>= 1)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and now - q[0] >= self.window:
                q.popleft()
            if len(q) >= self.limit:
                return max(1, math.ceil(q[0] + self.window - now))
            q.append(now)
            return None
