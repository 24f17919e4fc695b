"""The live API's quirks, reproduced on demand so clients can be tested against them.

Public clients saw the live Phaya (contract, "The live API"): answer ``credits_used: 0``
on a media job while the balance dropped; charge a service more than its published table
(Seedance at 2x); refuse a wrong key with 403 as well as 401; and (an unknown we must
survive) a credits history that does not say which job a charge was for. Each is off by
default; turn them on with ``start(quirks={...})``, ``--quirk NAME[=VALUE]`` or
``POST /_sandbox/quirks`` (admin) with the same fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from phaya_notebook import catalog

__all__ = ["Quirks"]


@dataclass
class Quirks:
    #: media jobs answer ``credits_used: 0`` (create and status), whatever they cost
    zero_credits_used: bool = False
    #: service -> factor: what it really charges, as a multiple of the catalog price
    price_multipliers: dict[str, float] = field(default_factory=dict)
    #: the status of a wrong or missing key: 401, or 403 as also seen live
    auth_status: int = 401
    #: credits history rows without ``job_id`` (charges that name no job)
    anonymous_history: bool = False

    def multiplier(self, service: str) -> float:
        return float(self.price_multipliers.get(service, 1.0))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, changes: Mapping[str, Any]) -> list[catalog.ParamProblem]:
        """Apply the fields given (all checked first); problems name the field and what it takes."""
        problems: list[catalog.ParamProblem] = []
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            if name in ("zero_credits_used", "anonymous_history"):
                if not isinstance(value, bool):
                    problems.append(catalog.ParamProblem(name, f"{value!r} is not a boolean", "true or false"))
                clean[name] = value
            elif name == "auth_status":
                if value not in (401, 403):
                    problems.append(catalog.ParamProblem(name, f"{value!r} is not allowed", "401 or 403"))
                clean[name] = value
            elif name == "price_multipliers":
                ok = isinstance(value, Mapping) and all(
                    k in catalog.SERVICES and isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 100
                    for k, v in value.items())
                if not ok:
                    problems.append(catalog.ParamProblem(
                        name, f"{value!r} is not allowed",
                        "an object {service: factor 0..100}, services: " + ", ".join(catalog.SERVICES)))
                else:
                    clean[name] = {str(k): float(v) for k, v in value.items()}
            else:
                problems.append(catalog.ParamProblem(
                    name, "is not a quirk", "zero_credits_used, price_multipliers, auth_status, anonymous_history"))
        if not problems:
            for k, v in clean.items():
                setattr(self, k, v)
        return problems

    @classmethod
    def parse_cli(cls, specs: list[str]) -> Quirks:
        """``--quirk zero-credits-used``, ``--quirk 403``, ``--quirk seedance-video=2``, ``--quirk anonymous-history``."""
        q = cls()
        for spec in specs:
            name, _, value = spec.partition("=")
            name = name.strip().replace("-", "_")
            if name in ("zero_credits_used", "anonymous_history"):
                setattr(q, name, True)
            elif name in ("403", "auth_403"):
                q.auth_status = 403
            elif name.replace("_", "-") in catalog.SERVICES and value:
                q.price_multipliers[name.replace("_", "-")] = float(value)
            else:
                raise ValueError(f"--quirk {spec!r}: allowed zero-credits-used, anonymous-history, 403, "
                                 "SERVICE=FACTOR (e.g. seedance-video=2)")
        return q
