"""What a ``%phaya`` line parses into: the subcommand names and one small dataclass per command.

Plain data, no parsing: the handlers in the ``magics`` package dispatch on these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .. import catalog
from ..catalog import Service

#: Media kinds offered as subcommands -> the catalog media they draw services from.
#: Each kind's default service is the catalog alias of the same name.
KINDS: dict[str, tuple[str, ...]] = {
    "image": ("image",),
    "video": ("video",),
    "music": ("audio",),
    "speech": ("speech",),
    "character": ("character",),
    "subtitle": (),
    "download": ("download",),
}
#: Subcommands that are not generation.
COMMANDS: tuple[str, ...] = (
    "chat", "models", "cost", "balance", "jobs", "spend", "resume", "studio", "compare", "config", "help",
)
MAX_REPEATS = 20
JOB_STATUSES = ("pending", "queued", "processing", "completed", "failed", "cancelled")


@dataclass(frozen=True)
class Generate:
    """Run ``repeats`` jobs of one service with one validated body."""

    service: Service
    params: dict[str, Any]
    repeats: int = 1
    confirm: bool = False
    wait: bool = True
    tags: tuple[str, ...] = ()

    @property
    def estimate(self) -> catalog.Estimate:
        """Price of one job (the body is already valid)."""
        return catalog.estimate(self.service, self.params)

    @property
    def total_credits(self) -> float:
        return round(self.estimate.credits * self.repeats, 6)


@dataclass(frozen=True)
class Cost:
    """Price a job without running it; required fields may be left out."""

    service: Service
    params: dict[str, Any]
    repeats: int = 1
    facts: dict[str, float] = field(default_factory=dict)

    @property
    def estimate(self) -> catalog.Estimate:
        full = {p.name: p.default for p in self.service.params if p.default is not None}
        full.update(self.params)
        return self.service.price(full, self.facts)


@dataclass(frozen=True)
class Chat:
    prompt: str | None
    model: str | None = None
    reset: bool = False
    temperature: float | None = None
    max_tokens: int | None = None
    web_search: bool = False
    system: str | None = None


@dataclass(frozen=True)
class Models:
    kind: str | None = None


@dataclass(frozen=True)
class Jobs:
    limit: int = 20
    service: str | None = None
    status: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class Spend:
    by: Literal["service", "day"] = "service"


@dataclass(frozen=True)
class Compare:
    """``prompts`` empty means: open the compare grid widget."""

    prompts: tuple[str, ...]
    models: tuple[tuple[Service, dict[str, Any]], ...]
    repeats: int = 1
    confirm: bool = False

    @property
    def specs(self) -> list[str | tuple[str, dict[str, Any]]]:
        """Model specs as ``Session.compare`` takes them."""
        return [(s.name, dict(params)) if params else s.name for s, params in self.models]

    @property
    def total_credits(self) -> float:
        per_round = sum(catalog.estimate(s, {**params, "prompt": p}).credits
                        for s, params in self.models for p in self.prompts)
        return round(per_round * self.repeats, 6)


@dataclass(frozen=True)
class Plain:
    """A subcommand without options: balance, resume, studio, config."""

    name: Literal["balance", "resume", "studio", "config"]


@dataclass(frozen=True)
class Help:
    topic: str | None = None


Command = Generate | Cost | Chat | Models | Jobs | Spend | Compare | Plain | Help
