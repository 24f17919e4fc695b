"""One sandbox's state and services (accounts, jobs, files, faults, limits), shared by its routes."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from fastapi import Request

from . import producers
from .config import SandboxConfig, key_id
from .faults import Faults
from .files import FileStore
from .persist import Store
from .pools import MediaPools
from .problems import HTTPProblem
from .ratelimit import RateLimiter
from .runner import Runner
from .state import Account, State


class Sandbox:
    """One sandbox's state and services, shared by its routes."""

    def __init__(self, config: SandboxConfig):
        self.config = config
        self.store = Store(Path(config.state_dir) / "state.sqlite3") if config.state_dir else None
        self.state = State(config, self.store)
        data_dir = str(Path(config.state_dir) / "media") if config.state_dir else config.data_dir
        self.files = FileStore(data_dir, config.url_ttl, self.store)
        self.faults = Faults()
        self.limiter = RateLimiter(config.rate_limit, config.window)
        self.pools = MediaPools()
        self.ctx = producers.Context(self.files, config)
        self.runner = Runner(self.state, self.ctx, self.pools)
        self.rng = random.Random(config.seed)

    def close(self) -> None:
        self.runner.shutdown()
        self.pools.shutdown()
        self.files.close()
        if self.store is not None:
            self.store.close()

    # ------------------------------------------------------------ request helpers

    async def account(self, request: Request) -> Account:
        """401 for a missing or wrong key, 429 over the rate limit (every authed request counts)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        acct = self.state.account(token.strip()) if scheme.lower() == "bearer" else None
        if acct is None:
            raise HTTPProblem(self.config.quirks.auth_status, "Invalid or missing API key",
                              {"WWW-Authenticate": "Bearer"})
        wait = self.limiter.hit(acct.key)
        if wait is not None:
            self.faults.rate_limited(key_id(acct.key))
            raise HTTPProblem(429, "Rate limit exceeded", {"Retry-After": str(wait)})
        return acct

    @staticmethod
    async def json_object(request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPProblem(422, [{"type": "json_invalid", "loc": ["body"], "msg": f"JSON decode error: {exc}"}]) \
                from exc
        if not isinstance(body, dict):
            raise HTTPProblem(422, [{"type": "dict_type", "loc": ["body"],
                                     "msg": "Input should be a JSON object with the service's fields"}])
        return body

    @staticmethod
    def host(request: Request) -> str:
        return str(request.base_url).rstrip("/")
