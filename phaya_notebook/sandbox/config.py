"""Sandbox settings, shared by the launcher, the CLI and the app.

Kept apart from the app so the CLI can parse ``KEY[:CREDITS]`` and the launcher can
build a config without importing FastAPI twice over.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .quirks import Quirks


def new_key() -> str:
    """A demo key: recognisable as a sandbox key, unguessable."""
    return "sk-sandbox-" + secrets.token_hex(12)


def key_id(key: str) -> str:
    """A stable, non-secret name for a key (stats are keyed by it, never by the key)."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:10]


def parse_key_spec(spec: str, default_credits: float) -> tuple[str, float]:
    """``"KEY"`` or ``"KEY:CREDITS"`` -> (key, credits)."""
    key, sep, amount = spec.rpartition(":")
    if sep and key:
        try:
            return key, float(amount)
        except ValueError:
            pass
    return spec, default_credits


@dataclass
class SandboxConfig:
    """Everything that shapes one sandbox instance.

    ``speed`` divides job durations; ``time_scale`` divides the rate-limit window, the
    status-cache interval and job durations, so a minute of traffic runs in seconds.
    """

    speed: float = 30.0
    credits: float = 100.0
    keys: dict[str, float] = field(default_factory=dict)
    time_scale: float = 1.0
    url_ttl: float = 3600.0
    data_dir: str | None = None
    #: a persistent sandbox's directory: state on disk (``state.sqlite3``), media under ``media/``
    state_dir: str | None = None
    #: names this sandbox across restarts (a persistent one keeps it in its state)
    instance: str = field(default_factory=lambda: secrets.token_hex(8))
    admin_token: str = field(default_factory=lambda: secrets.token_hex(16))
    rate_limit: int = 60
    max_upload_mb: float = 100.0
    status_cache_seconds: float = 5.0
    video_max_side: int = 640
    video_fps: int = 12
    seed: int | None = None
    #: the live API's quirks, off by default (``quirks.py``)
    quirks: Quirks = field(default_factory=Quirks)

    @classmethod
    def build(cls, api_keys: list[str] | None = None, credits: float = 100.0, **kw: Any) -> SandboxConfig:
        q = kw.pop("quirks", None)
        if q is not None and not isinstance(q, Quirks):
            quirks = Quirks()
            problems = quirks.update(dict(q))
            if problems:
                raise ValueError("quirks: " + "; ".join(str(p) for p in problems))
            kw["quirks"] = quirks
        elif q is not None:
            kw["quirks"] = q
        keys: dict[str, float] = {}
        for spec in api_keys or []:
            key, amount = parse_key_spec(spec, credits)
            keys[key] = amount
        if not keys:
            keys[new_key()] = credits
        return cls(credits=credits, keys=keys, **kw)  # type: ignore[arg-type]

    @property
    def window(self) -> float:
        """The rate-limit window in real seconds."""
        return 60.0 / self.time_scale

    @property
    def cache_interval(self) -> float:
        """How long a pending job's status answer is reused, in real seconds."""
        return self.status_cache_seconds / self.time_scale

    def job_seconds(self, typical: float, jitter: float) -> float:
        return typical * jitter / self.speed / self.time_scale

    def __repr__(self) -> str:  # keys stay out of reprs and logs
        return (f"SandboxConfig(speed={self.speed}, keys={len(self.keys)}, time_scale={self.time_scale}, "
                f"url_ttl={self.url_ttl}, rate_limit={self.rate_limit})")


def home_dir() -> Path:
    """The persistent sandbox's directory with no environment variable set (``daemon.default_dir``)."""
    return Path.home() / ".local" / "state" / "phaya-notebook" / "sandbox"
