"""One way for test fixtures to run a sandbox: start it, tell core.launch its clock, always clean up.

``launch.register`` makes clients on this sandbox time their polls and rate window to its
speed; ``unregister`` on the way out keeps a stopped sandbox's settings from outliving it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def running_sandbox(*, speed: float, time_scale: float, **start_kwargs: Any) -> Iterator[Any]:
    """``phaya_notebook.sandbox.start(speed=..., time_scale=..., **start_kwargs)``, registered, then stopped."""
    from phaya_notebook.core import launch
    from phaya_notebook.sandbox import start

    sb = start(speed=speed, time_scale=time_scale, **start_kwargs)
    launch.register(sb.base_url, speed=speed, time_scale=time_scale)
    try:
        yield sb
    finally:
        sb.stop()
        launch.unregister(sb.base_url)
