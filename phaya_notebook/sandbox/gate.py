"""The outermost layer: count every request, play queued faults, guard admin routes.

A plain ASGI middleware (not Starlette's BaseHTTPMiddleware) so it can delay, replace
or drop a request before any routing happens.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import Request

from .config import key_id
from .problems import HTTPProblem

if TYPE_CHECKING:
    from .instance import Sandbox

ASGIApp = Callable[[dict[str, Any], Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]], Awaitable[None]]
MALFORMED = b'{"success": true, "job_id": "'


def who(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return key_id(token.strip())
    return "anonymous"


class Gate:
    def __init__(self, app: ASGIApp, sandbox: Sandbox):
        self.app, self.sb = app, sandbox

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/_sandbox/"):
            await self.app(scope, receive, send)
            return
        faults = self.sb.faults
        faults.count(who(scope.get("headers", [])), path)
        fault = faults.take(path)
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.kind == "slow":
            await self.app(scope, receive, _late(send, fault.seconds))
        elif fault.kind == "drop":
            await _drop(send)
        elif fault.kind == "malformed":
            await _respond(send, 200, MALFORMED, {})
        else:
            status = int(fault.kind)
            detail = {500: "Internal Server Error (sandbox fault)", 503: "Service Unavailable (sandbox fault)",
                      429: "Rate limit exceeded"}[status]
            headers = {"retry-after": "1"} if status in (429, 503) else {}
            await _respond(send, status, json.dumps({"detail": detail}).encode(), headers)


def _late(send: Any, seconds: float) -> Any:
    """A ``send`` that holds the answer back: the request is read and acted on at once
    (a create lands and is charged), only the answer is late, like a slow real server.
    A client that gave up meanwhile is simply not answered."""
    async def late_send(message: dict[str, Any]) -> None:
        if message.get("type") == "http.response.start":
            await asyncio.sleep(seconds)
        try:
            await send(message)
        except OSError:
            pass  # the client went away while we waited

    return late_send


async def _respond(send: Any, status: int, body: bytes, headers: dict[str, str]) -> None:
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _drop(send: Any) -> None:
    """Close the connection without an answer (uvicorn's transport), else cut a body short."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is not None and transport is not None and hasattr(cycle, "disconnected"):
        transport.abort() if hasattr(transport, "abort") else transport.close()
        cycle.disconnected = True
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
    await send({"type": "http.response.body", "body": b'{"job', "more_body": True})


def admin_only(sb: Sandbox) -> Callable[[Request], Awaitable[None]]:
    async def check(request: Request) -> None:
        given = request.headers.get("x-sandbox-admin", "")
        if not hmac.compare_digest(given.encode(), sb.config.admin_token.encode()):
            raise HTTPProblem(403, "Admin token required (header X-Sandbox-Admin)")

    return check
