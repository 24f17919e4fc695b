"""Checks for tests of streamed chat: no HTTP generator is left for the garbage collector."""

from __future__ import annotations

import gc
import inspect
import sys


def unfinished_http_generators() -> list[str]:
    """httpx / httpcore async generators alive and not run to their end (no collection first:
    a generator dropped half-way is finalized later, off our task, which is the bug)."""
    names = []
    for obj in gc.get_objects():
        if inspect.isasyncgen(obj) and obj.ag_frame is not None:
            path = obj.ag_code.co_filename
            if "/httpx/" in path or "/httpcore/" in path:
                names.append(obj.ag_code.co_qualname)
    return names


def unraisables_on_collect() -> list[str]:
    """Errors the garbage collector would report (unraisable) while collecting now."""
    got: list[str] = []
    old = sys.unraisablehook
    sys.unraisablehook = lambda u: got.append(f"{u.exc_type.__name__}: {u.exc_value} ({u.object!r})")
    try:
        gc.collect()
        gc.collect()
    finally:
        sys.unraisablehook = old
    return got
