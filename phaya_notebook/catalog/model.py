"""The catalog's vocabulary: what a service, a parameter, a rule and a price are.

Plain frozen dataclasses and the one input error. The tables in ``services.py`` and
``chat.py`` are written in these words; ``validation.py`` checks a request against them.
Nothing here knows a particular service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .status import STATUS_FLOWS, StatusFamily

__all__ = [
    "ChatModel",
    "CountRule",
    "Estimate",
    "MediaKind",
    "Param",
    "ParamError",
    "ParamProblem",
    "ParamType",
    "PriceFn",
    "Rule",
    "SecondsFn",
    "Service",
]

ParamType = Literal["str", "int", "float", "bool", "list", "object"]
MediaKind = Literal["image", "video", "audio", "speech", "character", "download", "text", "file"]


@dataclass(frozen=True)
class Param:
    """One body field of a service.

    ``media`` marks a field that takes a URL of an uploaded file of that kind, so
    the widgets can offer a file picker and the client can upload local paths.
    """

    name: str
    type: ParamType = "str"
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_items: int | None = None
    max_items: int | None = None
    nullable: bool = False
    media: MediaKind | None = None
    fields: tuple[Param, ...] = ()
    help: str = ""
    #: Only http(s) URLs (a local file is uploaded first; any other text is refused).
    http_only: bool = False

    def allowed(self) -> str:
        """Human text of what this field accepts, used in every error message."""
        if self.choices is not None:
            vals = ", ".join(repr(c) for c in self.choices)
            return f"one of {vals}" + (" or None" if self.nullable else "")
        if self.type == "bool":
            return "True or False"
        if self.type in ("int", "float"):
            kind = "an integer" if self.type == "int" else "a number"
            lo = "" if self.minimum is None else f"{self.minimum:g}"
            hi = "" if self.maximum is None else f"{self.maximum:g}"
            if lo and hi:
                return f"{kind} from {lo} to {hi}"
            if lo:
                return f"{kind} >= {lo}"
            if hi:
                return f"{kind} <= {hi}"
            return kind
        if self.type == "str":
            least, most = self.min_length or 0, self.max_length
            if most is not None:
                return f"text of {least} to {most} characters"
            return f"text of at least {max(least, 1)} character(s)" if self.required else "text"
        if self.type == "list":
            what = "URLs" if self.media else "strings"
            if self.max_items is not None:
                return f"a list of {self.min_items or 0} to {self.max_items} {what}"
            return f"a list of {what}"
        if self.type == "object":
            return "an object with fields " + ", ".join(f.name for f in self.fields)
        return self.type


@dataclass(frozen=True)
class Estimate:
    """A price before anything runs; ``exact`` is False when it depends on the media."""

    credits: float
    exact: bool = True
    basis: str = ""
    #: Set when a service was seen charging another amount for the same parameters:
    #: ``credits`` is then the higher of the two (see ``core/observed.py``).
    catalog: float | None = None
    observed: float | None = None

    def __float__(self) -> float:
        return self.credits


@dataclass(frozen=True)
class Rule:
    """A rule across two fields, as data: when ``field`` is ``value``, ``other`` must be one
    of ``only`` (or none of ``never``). Checked on the params with defaults filled in, so a
    default that clashes with a chosen value is refused too, naming both fields.
    """

    field: str
    value: Any
    other: str
    only: tuple[Any, ...] | None = None
    never: tuple[Any, ...] = ()

    def broken_by(self, params: Mapping[str, Any]) -> bool:
        if params.get(self.field) != self.value or self.other not in params:
            return False
        v = params[self.other]
        return (self.only is not None and v not in self.only) or v in self.never

    def text(self) -> str:
        if self.only is not None:
            return f"{self.field} {self.value!r} only with {self.other} " + " or ".join(map(repr, self.only))
        return f"{self.field} {self.value!r} not with {self.other} " + " or ".join(map(repr, self.never))


@dataclass(frozen=True)
class CountRule:
    """A rule on a list's length, as data: when ``field`` is ``value``, the list ``other`` must have
    ``least`` to ``most`` items (``allowed`` says so to the user). Checked on the given body, so a
    missing list counts as none.
    """

    field: str
    value: Any
    other: str
    least: int = 0
    most: int | None = None
    allowed: str = ""

    def problem(self, body: Mapping[str, Any]) -> str | None:
        """The message when ``body`` breaks the rule ("has 3 items for X"), else None."""
        if body.get(self.field) != self.value:
            return None
        items = body.get(self.other)
        n = len(items) if isinstance(items, list) else 0  # a non-list is already reported
        if n < self.least or (self.most is not None and n > self.most):
            return f"has {n} items for {self.value}"
        return None


PriceFn = Callable[[Mapping[str, Any], Mapping[str, float]], Estimate]
SecondsFn = Callable[[Mapping[str, Any]], float]


@dataclass(frozen=True)
class Service:
    """One generation service, named as in the contract's paths."""

    name: str
    label: str
    media: MediaKind
    verb: Literal["create", "generate"]
    params: tuple[Param, ...]
    price: PriceFn
    typical_seconds: SecondsFn
    result_fields: tuple[str, ...]
    status_family: StatusFamily
    cancel: bool = False
    history: str | None = None
    charge_on: Literal["create", "completion"] = "create"
    status_path: str | None = None
    extra_endpoints: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    summary: str = ""
    rules: tuple[Rule, ...] = ()
    count_rules: tuple[CountRule, ...] = ()

    @property
    def create_path(self) -> str:
        """Media utilities are created at their own path; services at /<name>/<verb>."""
        return f"/{self.name}" if self.status_path else f"/{self.name}/{self.verb}"

    def status_url(self, job_id: str) -> str:
        base = self.status_path or f"/{self.name}/status"
        return f"{base}/{job_id}"

    def cancel_url(self, job_id: str) -> str:
        return f"/{self.name}/cancel/{job_id}"

    @property
    def statuses(self) -> tuple[str, ...]:
        """Non-terminal values in the order a job moves through them, server casing."""
        return STATUS_FLOWS[self.status_family]

    def server_status(self, status: str) -> str:
        """The casing this service's server uses for a normalised status."""
        return status.upper() if self.status_family != "lower" else status.lower()

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ParamError(self.name, [ParamProblem(name, "is not a parameter of this service", self.param_names())])

    def param_names(self) -> str:
        return ", ".join(p.name for p in self.params)

    @property
    def timeout_seconds(self) -> float:
        """How long to wait before a job counts as stuck: the contract's 10 min, 15+ for video."""
        return self.timeout_for({})

    def timeout_for(self, params: Mapping[str, Any]) -> float:
        try:
            typical = self.typical_seconds(params)
        except KeyError:
            typical = self.typical_seconds({})
        floor = 900.0 if self.media == "video" else 600.0
        return max(floor, 4.0 * typical)

    @property
    def min_price(self) -> float:
        return self.price({}, {}).credits



@dataclass(frozen=True)
class ParamProblem:
    """One bad field: its name (dotted or indexed for nested values), what is wrong, what is allowed."""

    field: str
    message: str
    allowed: str = ""

    def __str__(self) -> str:
        tail = f" (allowed: {self.allowed})" if self.allowed else ""
        return f"{self.field}: {self.message}{tail}"


class ParamError(ValueError):
    """Bad input caught before any request: names each field and what it accepts."""

    def __init__(self, service: str, problems: list[ParamProblem]):
        self.service = service
        self.problems = problems
        lines = "; ".join(str(p) for p in problems)
        super().__init__(f"{service}: {lines}")

    @property
    def field(self) -> str:
        return self.problems[0].field if self.problems else ""

    @property
    def allowed(self) -> str:
        return self.problems[0].allowed if self.problems else ""


@dataclass(frozen=True)
class ChatModel:
    """A chat model and its price in credits (THB) per million tokens, as Phaya lists it."""

    id: str
    name: str
    context_length: int
    prompt_per_million: float
    completion_per_million: float

    @property
    def prompt_per_1k(self) -> float:
        return self.prompt_per_million / 1000

    @property
    def completion_per_1k(self) -> float:
        return self.completion_per_million / 1000

    @property
    def price_text(self) -> str:
        return f"{self.prompt_per_million:.2f} / {self.completion_per_million:.2f} per million tokens (prompt / reply)"

