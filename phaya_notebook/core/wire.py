"""Reading Phaya's answers: the few shapes (flat, or under ``data``) every endpoint uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ServerError
from .timeparse import parse_iso

__all__ = ["epoch", "field_of", "job_id_of", "listing"]


def field_of(data: Any, *names: str) -> Any:
    if isinstance(data, dict):
        for n in names:
            if n in data and data[n] is not None:
                return data[n]
        inner = data.get("data")
        if isinstance(inner, dict):
            return field_of(inner, *names)
    raise ServerError(f"the answer has none of the fields {', '.join(names)}")


def listing(data: Any, *names: str) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for n in names:
            if isinstance(data.get(n), list):
                return list(data[n])
    raise ServerError(f"expected a list under {' / '.join(names)}")


def job_id_of(data: Mapping[str, Any]) -> str | None:
    for k in ("job_id", "id"):
        if isinstance(data.get(k), str) and data[k]:
            return str(data[k])
    inner = data.get("data")
    if isinstance(inner, dict) and isinstance(inner.get("job_id"), str):
        return str(inner["job_id"])
    return None


def epoch(value: Any) -> float | None:
    """An answer's timestamp (ISO 8601, or epoch seconds) as epoch seconds; None when unreadable."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    when = parse_iso(value) if isinstance(value, str) else None
    return None if when is None else when.timestamp()
