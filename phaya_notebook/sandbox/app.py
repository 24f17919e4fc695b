"""The sandbox's HTTP surface: every contract endpoint, routed from the catalog.

Generation routes are not written one by one: each ``catalog.Service`` gets its
create, status, cancel and history routes from its own entry, so a new catalog row
is a new sandbox endpoint. Bodies are validated by ``catalog.validate`` and problems
come back as FastAPI's 422 detail list.

This module assembles the app; the parts live in ``instance`` (the ``Sandbox`` state),
``problems`` (error answers), ``routes/`` (the endpoints) and ``gate`` (faults and stats).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from phaya_notebook import catalog

from .config import SandboxConfig
from .gate import Gate
from .instance import Sandbox
from .problems import HTTPProblem, problems_detail
from .routes.extras import PLATFORMS, extra_routes, openai_routes
from .routes.jobs import account_routes, body_schema, create_route, service_routes, status_route
from .routes.root import root_routes

__all__ = ["PLATFORMS", "HTTPProblem", "Sandbox", "create_app", "create_asgi", "problems_detail"]


def create_app(config: SandboxConfig) -> FastAPI:
    sb = Sandbox(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        sb.runner.relaunch()  # jobs a previous run of a persistent sandbox left running
        yield
        sb.runner.shutdown()

    app = FastAPI(title="Phaya sandbox", version="1", lifespan=lifespan,
                  description="Offline emulation of the Phaya REST API (play credits, local media).")
    app.state.sandbox = sb

    @app.exception_handler(HTTPProblem)
    async def _problem(request: Request, exc: HTTPProblem) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, exc.status, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"Internal sandbox error: {type(exc).__name__}"}, 500)

    api = APIRouter(prefix="/api/v1")
    auth = Depends(sb.account)
    account_routes(api, sb, auth)
    for svc in catalog.SERVICES.values():
        service_routes(api, sb, svc, auth)
    for svc in catalog.MEDIA_JOBS.values():
        api.add_api_route(svc.create_path, create_route(sb, svc), methods=["POST"],
                          summary=svc.label, openapi_extra=body_schema(svc))
    api.add_api_route("/media/status/{job_id}", status_route(sb, tuple(catalog.MEDIA_JOBS)), methods=["GET"])
    extra_routes(api, sb, auth)
    app.include_router(api)
    openai_routes(app, sb)
    root_routes(app, sb)
    return app


def create_asgi(config: SandboxConfig) -> tuple[Gate, Sandbox]:
    """The app wrapped in the fault/stats gate, outermost so it can drop a connection."""
    app = create_app(config)
    return Gate(app, sandbox=app.state.sandbox), app.state.sandbox
