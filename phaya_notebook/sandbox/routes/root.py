"""Routes at the host root: hosted files, health, and the admin-only ``/_sandbox`` controls."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, Response

from phaya_notebook import catalog

from ..faults import KINDS, Fault
from ..gate import admin_only
from ..instance import Sandbox
from ..problems import HTTPProblem, problems_detail
from ..state import MAX_TOPUP_TEXT, credits_problem


def root_routes(app: FastAPI, sb: Sandbox) -> None:
    @app.get("/files/{token}/{name}")
    async def files(token: str, name: str) -> Any:
        rec = sb.files.get(token)
        if rec is None or rec.name != name:
            raise HTTPProblem(404, "File not found")
        if sb.files.expired(rec):
            raise HTTPProblem(410, "This URL has expired; download results when a job completes")
        return FileResponse(rec.path, media_type=rec.mime)

    @app.get("/")
    async def root(request: Request) -> dict[str, Any]:
        return {"service": "Phaya sandbox", "base_url": sb.host(request) + "/api/v1", "docs": "/docs"}

    @app.get("/_sandbox/health")
    async def health() -> dict[str, Any]:
        """No token: clients read ``speed`` and ``time_scale`` here to time their polls."""
        c = sb.config
        return {"ok": True, "speed": float(c.speed), "time_scale": float(c.time_scale), "instance": c.instance,
                "rate_limit": c.rate_limit, "window_seconds": c.window,
                "status_cache_seconds": c.cache_interval}

    @app.post("/_sandbox/faults", dependencies=[Depends(admin_only(sb))])
    async def add_fault(request: Request) -> Any:
        body = await sb.json_object(request)
        problems = []
        kind = str(body.get("kind", ""))
        if kind not in KINDS:
            problems.append(catalog.ParamProblem("kind", f"{kind!r} is not allowed", ", ".join(KINDS)))
        count, seconds, paths = body.get("count", 1), body.get("seconds", 2.0), body.get("paths") or ""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            problems.append(catalog.ParamProblem("count", f"{count!r} is not allowed", "an integer >= 1"))
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 120:
            problems.append(catalog.ParamProblem("seconds", f"{seconds!r} is not allowed", "a number from 0 to 120"))
        if not isinstance(paths, str):
            problems.append(catalog.ParamProblem("paths", "is not text", "a substring of request paths"))
        if problems:
            raise HTTPProblem(422, problems_detail(catalog.ParamError("faults", problems)))
        sb.faults.add(Fault(kind, count, paths, float(seconds)))
        return {"success": True, "pending": sb.faults.pending()}

    @app.get("/_sandbox/faults", dependencies=[Depends(admin_only(sb))])
    async def list_faults() -> dict[str, Any]:
        return {"pending": sb.faults.pending()}

    @app.delete("/_sandbox/faults", dependencies=[Depends(admin_only(sb))])
    async def clear_faults() -> dict[str, Any]:
        sb.faults.clear()
        return {"success": True}

    @app.get("/_sandbox/quirks", dependencies=[Depends(admin_only(sb))])
    async def get_quirks() -> dict[str, Any]:
        return sb.config.quirks.as_dict()

    @app.post("/_sandbox/quirks", dependencies=[Depends(admin_only(sb))])
    async def set_quirks(request: Request) -> dict[str, Any]:
        """Turn live quirks on or off: any of zero_credits_used, price_multipliers, auth_status,
        anonymous_history (``quirks.py``); the fields not given stay as they are."""
        problems = sb.config.quirks.update(await sb.json_object(request))
        if problems:
            raise HTTPProblem(422, problems_detail(catalog.ParamError("quirks", problems)))
        return {"success": True, **sb.config.quirks.as_dict()}

    @app.post("/_sandbox/credits", dependencies=[Depends(admin_only(sb))])
    async def top_up(request: Request) -> dict[str, Any]:
        """Add play credits to the default account (``python -m phaya_notebook.sandbox topup``)."""
        amount = (await sb.json_object(request)).get("credits")
        problem = credits_problem(amount)
        if problem:
            raise HTTPProblem(422, problems_detail(catalog.ParamError("credits", [
                catalog.ParamProblem("credits", problem, MAX_TOPUP_TEXT)])))
        balance = sb.state.top_up(sb.state.default_account(), float(amount))  # type: ignore[arg-type]
        return {"success": True, "added": float(amount), "credits_balance": balance}  # type: ignore[arg-type]

    @app.get("/_sandbox/stats", dependencies=[Depends(admin_only(sb))])
    async def stats() -> dict[str, Any]:
        return sb.faults.stats()

    @app.post("/_sandbox/reset-stats", dependencies=[Depends(admin_only(sb))])
    async def reset_stats() -> dict[str, Any]:
        sb.faults.reset_stats()
        return {"success": True}

    @app.head("/files/{token}/{name}")
    async def files_head(token: str, name: str) -> Response:
        rec = sb.files.get(token)
        if rec is None or rec.name != name:
            return Response(status_code=404)
        if sb.files.expired(rec):
            return Response(status_code=410)
        return Response(headers={"content-length": str(rec.size), "content-type": rec.mime})
