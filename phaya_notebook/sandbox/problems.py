"""Error answers: FastAPI-style ``{"detail": ...}`` with a status, and catalog problems as 422 details.

Its own module so the gate (outermost) and the routes (innermost) share it without importing each other.
"""

from __future__ import annotations

from typing import Any

from phaya_notebook import catalog


class HTTPProblem(Exception):
    """An error answer: FastAPI-style ``{"detail": ...}`` with a status and headers."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None):
        self.status, self.detail, self.headers = status, detail, headers or {}


def problems_detail(err: catalog.ParamError, where: str = "body") -> list[dict[str, Any]]:
    out = []
    for p in err.problems:
        loc: list[Any] = [where] + [int(x) if x.isascii() and x.isdigit() else x for x in p.field.split(".") if x]
        msg = f"{p.field} {p.message}" + (f" (allowed: {p.allowed})" if p.allowed else "")
        out.append({"type": "value_error", "loc": loc, "msg": msg, "ctx": {"allowed": p.allowed}})
    return out
