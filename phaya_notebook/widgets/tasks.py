"""Run widget work as tasks on the kernel's running event loop.

A button click must return at once, so the work becomes an ``asyncio`` task on the loop
the kernel (or a test) is running. The loop keeps only weak references to tasks, so we
hold them until they finish; a task's exception is handed to ``on_error`` (the widget
shows it) rather than being lost in the loop's log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["TaskSet", "get_loop", "has_running_loop"]

log = logging.getLogger(__name__)


def has_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def get_loop() -> asyncio.AbstractEventLoop:
    """The running loop (ipykernel runs one; so does pytest-asyncio), else the thread's loop."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return asyncio.get_event_loop()
    except RuntimeError:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        return loop


class TaskSet:
    """The tasks one widget started: kept alive, errors reported, cancellable together."""

    def __init__(self, on_error: Callable[[BaseException], None] | None = None):
        self.on_error = on_error
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        task = get_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        if self.on_error is not None:
            try:
                self.on_error(exc)
                return
            except Exception:  # the reporter itself failed: fall through to the log
                log.exception("error handler failed")
        log.error("widget task failed", exc_info=exc)

    @property
    def running(self) -> int:
        return len(self._tasks)

    def __len__(self) -> int:
        return len(self._tasks)

    async def join(self, timeout: float | None = None) -> None:
        """Wait for every task started so far, and any they start (tests, benchmarks)."""
        loop = asyncio.get_running_loop()
        end = None if timeout is None else loop.time() + timeout
        while self._tasks:
            left = None if end is None else max(0.0, end - loop.time())
            if left == 0.0:
                raise asyncio.TimeoutError(f"{len(self._tasks)} widget task(s) still running")
            await asyncio.wait(set(self._tasks), timeout=left)

    def cancel_all(self) -> None:
        for t in list(self._tasks):
            t.cancel()
