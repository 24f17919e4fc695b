"""Worker pools that make media in deadline order, light work apart from heavy work.

Why: a plain FIFO thread pool makes a quick speech job wait behind twenty video encodes,
so it finishes far past its scheduled time. Here each piece of work carries the moment
its job is due; workers always take the earliest due item (earliest-deadline-first),
and light media (images, sound) has workers of its own so a video burst never blocks it.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

#: media kinds (``catalog.Service.media``) whose producers encode video
HEAVY_MEDIA = frozenset({"video", "download"})


class DeadlinePool:
    """A fixed set of threads taking work by earliest ``due`` (``time.monotonic()``)."""

    def __init__(self, workers: int, name: str):
        self._heap: list[tuple[float, int, Future[Any], Callable[..., Any], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
                         for i in range(max(1, workers))]
        for t in self._threads:
            t.start()

    @property
    def workers(self) -> int:
        return len(self._threads)

    def submit(self, fn: Callable[..., Any], *args: Any, due: float | None = None) -> Future[Any]:
        fut: Future[Any] = Future()
        with self._cv:
            if self._closed:
                raise RuntimeError("the media pool is shut down")
            heapq.heappush(self._heap, (time.monotonic() if due is None else due, next(self._seq), fut, fn, args))
            self._cv.notify()
        return fut

    def queued(self) -> int:
        with self._cv:
            return len(self._heap)

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._heap and not self._closed:
                    self._cv.wait()
                if not self._heap:
                    return
                _, _, fut, fn, args = heapq.heappop(self._heap)
            if not fut.set_running_or_notify_cancel():
                continue  # cancelled while queued (a cancelled job)
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting job
                fut.set_exception(exc)

    def shutdown(self, wait: bool = True) -> None:
        """Drop queued work, let running work finish (when ``wait``)."""
        with self._cv:
            self._closed = True
            pending, self._heap = self._heap, []
            self._cv.notify_all()
        for item in pending:
            item[2].cancel()
        if wait:
            for t in self._threads:
                if t is not threading.current_thread():
                    t.join(timeout=30)


class MediaPools:
    """Two deadline pools sized for the machine: one for video, one for everything else."""

    def __init__(self, heavy: int | None = None, light: int | None = None):
        cores = os.cpu_count() or 2
        # Video encodes are CPU-bound (frame drawing + x264): one per core, at most 4.
        self.heavy = DeadlinePool(heavy or max(1, min(cores, 4)), "phaya-sandbox-video")
        # Images and sound are short; two workers keep them flowing while videos encode.
        self.light = DeadlinePool(light or 2, "phaya-sandbox-media")

    def for_media(self, media: str) -> DeadlinePool:
        return self.heavy if media in HEAVY_MEDIA else self.light

    def shutdown(self) -> None:
        self.heavy.shutdown()
        self.light.shutdown()
