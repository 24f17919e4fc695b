"""Phaya: the synchronous facade over AsyncPhaya (the only place nest_asyncio appears).

Inside a running loop (a Jupyter kernel) the coroutine runs on that loop, which is made
re-entrant with nest_asyncio once; in a plain script each Phaya has one private loop.
Either way a call never raises "event loop is already running", and background polling
tasks keep living on the same loop between calls.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

from .. import catalog
from .chat import ChatChunk, ChatReply, Embeddings
from .client import AsyncPhaya, Listener
from .jobs import Job, Result

__all__ = ["Phaya", "SyncJob", "run_sync"]

T = TypeVar("T")
_patch_lock = threading.Lock()


def _nest(loop: asyncio.AbstractEventLoop) -> None:
    """Make a running loop re-entrant (once); nest_asyncio is imported only here."""
    if getattr(loop, "_nest_patched", False):
        return
    with _patch_lock:
        import nest_asyncio

        nest_asyncio.apply(loop)


_depth = threading.local()


def _context_entered(handle: Any) -> bool:
    """True when the handle's Context is entered further up this thread's stack."""
    ctx = getattr(handle, "_context", None)
    if ctx is None:
        return False
    try:
        ctx.run(int)
    except RuntimeError:
        return True
    return False


class _ReadyQueue(collections.deque):
    """The loop's ready queue, made safe for nested runs.

    ipykernel 7 runs every shell request in a task bound to one shared Context, and the cell
    making a sync call has that Context entered. Stepping another such task from the nested
    loop fails ("cannot enter context ... already entered"): the request was lost and
    JupyterLab's Run All hung at the first sync call. While a nested run is under way, such
    handles are set aside and put back at the front once the outermost sync call returns —
    the order the kernel would have run them in anyway.
    """

    def __init__(self, items: Any, loop: asyncio.AbstractEventLoop):
        super().__init__(items)
        self.deferred: list[Any] = []
        self._skip = asyncio.Handle(int, (), loop)
        self._skip.cancel()

    def popleft(self) -> Any:
        handle = super().popleft()
        if getattr(_depth, "n", 0) and _context_entered(handle):
            self.deferred.append(handle)
            return self._skip
        return handle

    def release(self) -> None:
        if self.deferred:
            self.extendleft(reversed(self.deferred))
            self.deferred.clear()


def _ready_queue(loop: asyncio.AbstractEventLoop) -> _ReadyQueue | None:
    ready = getattr(loop, "_ready", None)
    if isinstance(ready, _ReadyQueue):
        return ready
    if isinstance(ready, collections.deque):
        queue = _ReadyQueue(ready, loop)
        loop._ready = queue  # type: ignore[attr-defined]
        return queue
    return None


def _run_nested(loop: asyncio.AbstractEventLoop, coro: Awaitable[T]) -> T:
    queue = _ready_queue(loop)
    depth = getattr(_depth, "n", 0)
    _depth.n = depth + 1
    try:
        return loop.run_until_complete(coro)
    finally:
        _depth.n = depth
        if depth == 0 and queue is not None:
            queue.release()


def run_sync(coro: Awaitable[T], private: list[asyncio.AbstractEventLoop | None] | None = None) -> T:
    """Run ``coro`` to the end from sync code, on the running loop if there is one."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        _nest(loop)
        return _run_nested(loop, coro)
    holder: list[asyncio.AbstractEventLoop | None] = private if private is not None else [None]
    own = holder[0]
    if own is None or own.is_closed():
        own = asyncio.new_event_loop()
        holder[0] = own
    return own.run_until_complete(coro)


class SyncJob:
    """A Job with synchronous wait/refresh/cancel; everything else reads through."""

    def __init__(self, job: Job, owner: Phaya):
        object.__setattr__(self, "_job", job)
        object.__setattr__(self, "_owner", owner)

    @property
    def aio(self) -> Job:
        return self._job

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._job, name, value)

    def __repr__(self) -> str:
        return repr(self._job)

    def wait(self, *, on_progress: Callable[[Job], Any] | None = None, timeout: float | None = None) -> Result:
        return self._owner._run(self._job.wait(on_progress=on_progress, timeout=timeout))

    def refresh(self) -> SyncJob:
        self._owner._run(self._job.refresh())
        return self

    def cancel(self) -> bool:
        return self._owner._run(self._job.cancel())


class Phaya:
    """Synchronous client with AsyncPhaya's methods; ``.aio`` is the AsyncPhaya it wraps."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 aio: AsyncPhaya | None = None, **kw: Any):
        self.aio = aio if aio is not None else AsyncPhaya(api_key, base_url, **kw)
        self._loop: list[asyncio.AbstractEventLoop | None] = [None]

    def __repr__(self) -> str:
        return repr(self.aio).replace("<AsyncPhaya", f"<{type(self).__name__}", 1)

    def _run(self, coro: Awaitable[T]) -> T:
        return run_sync(coro, self._loop)

    # read-through attributes: base_url, budget, is_sandbox, cache, max_credits, ...
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("aio", "_loop"):
            raise AttributeError(name)
        return getattr(self.aio, name)

    # ------------------------------------------------------------- account
    def credits(self) -> float:
        return self._run(self.aio.credits())

    def profile(self) -> dict[str, Any]:
        return self._run(self.aio.profile())

    def credits_history(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._run(self.aio.credits_history(limit))

    # ------------------------------------------------------------- jobs
    def estimate(self, service: str | catalog.Service, **params: Any) -> catalog.Estimate:
        return self.aio.estimate(service, **params)

    def submit(self, service: str | catalog.Service, *, confirm: bool = False, tags: tuple[str, ...] = (),
               watch: bool = False, **params: Any) -> SyncJob:
        return SyncJob(self._run(self.aio.submit(service, confirm=confirm, tags=tags, watch=watch, **params)), self)

    def generate(self, service: str | catalog.Service, *, confirm: bool = False,
                 on_progress: Callable[[Job], Any] | None = None, timeout: float | None = None,
                 tags: tuple[str, ...] = (), **params: Any) -> Result:
        return self._run(self.aio.generate(service, confirm=confirm, on_progress=on_progress, timeout=timeout,
                                           tags=tags, **params))

    def job(self, service: str | catalog.Service, job_id: str) -> SyncJob:
        return SyncJob(self._run(self.aio.job(service, job_id)), self)

    def history(self, service: str | catalog.Service, limit: int = 20) -> list[dict[str, Any]]:
        return self._run(self.aio.history(service, limit))

    # ------------------------------------------------------------- chat, lists, media
    def chat(self, messages: str | list[dict[str, Any]], *, model: str | None = None, **kw: Any) -> ChatReply:
        return self._run(self.aio.chat(messages, model=model, **kw))

    def chat_stream(self, messages: str | list[dict[str, Any]], *, model: str | None = None,
                    **kw: Any) -> Iterator[ChatChunk]:
        agen: AsyncGenerator[ChatChunk, None] = self.aio.chat_stream(messages, model=model, **kw)
        try:
            while True:
                try:
                    yield self._run(agen.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self._run(agen.aclose())

    def embed(self, input: str | list[str], *, model: str | None = None) -> Embeddings:
        return self._run(self.aio.embed(input, model=model))

    def voices(self) -> list[dict[str, Any]]:
        return self._run(self.aio.voices())

    def models(self) -> list[dict[str, Any]]:
        return self._run(self.aio.models())

    def pricing(self) -> list[dict[str, Any]]:
        return self._run(self.aio.pricing())

    def characters(self) -> list[dict[str, Any]]:
        return self._run(self.aio.characters())

    def supported_platforms(self) -> list[str]:
        return self._run(self.aio.supported_platforms())

    def media_queue_stats(self) -> dict[str, Any]:
        return self._run(self.aio.media_queue_stats())

    def upload(self, path_or_bytes: Any, filename: str | None = None) -> str:
        return self._run(self.aio.upload(path_or_bytes, filename))

    def add_listener(self, fn: Listener) -> None:
        """JobEvents and ChatEvents of the wrapped client (see ``AsyncPhaya.add_listener``)."""
        self.aio.add_listener(fn)

    def remove_listener(self, fn: Listener) -> None:
        self.aio.remove_listener(fn)

    # ------------------------------------------------------------- closing
    def close(self) -> None:
        """Stop polling and close connections; a private loop is closed too."""
        self._run(self.aio.aclose())
        own = self._loop[0]
        if own is not None and not own.is_closed():
            own.run_until_complete(own.shutdown_asyncgens())
            own.close()
        self._loop[0] = None

    def __enter__(self) -> Phaya:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
