"""A tiny option scanner and the value converters behind each flag.

Every converter raises ``UsageError`` naming the flag and the allowed values.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from IPython.core.error import UsageError

from .commands import MAX_REPEATS
from .tokens import Token, interpolate


@dataclass(frozen=True)
class Opt:
    """One accepted option: ``dest`` in the scan result, how it takes a value."""

    dest: str
    takes: Literal["const", "value", "multi"] = "value"
    const: Any = True
    convert: Callable[[Any], Any] | None = None
    sub: str | None = None  # object field for --zoom-mode style flags


def _flag_name(token: str) -> str:
    """``--aspect_ratio`` and ``--aspect-ratio`` are the same flag."""
    return token.replace("_", "-") if token.startswith("--") else token


def looks_like_option(tok: Token) -> bool:
    t = tok.text
    return not tok.quoted and t.startswith("-") and len(t) > 1 and not re.match(r"-\d", t)


def unknown(what: str, got: str, allowed: Iterable[str], where: str) -> UsageError:
    allowed = list(allowed)
    near = difflib.get_close_matches(got, allowed, n=1)
    hint = f" Did you mean {near[0]}?" if near else ""
    return UsageError(f"{where}: unknown {what} {got!r}.{hint} Allowed: {', '.join(allowed)}")


def scan(
    tokens: Sequence[Token], opts: Mapping[str, Opt], where: str, namespace: Mapping[str, Any] | None
) -> tuple[dict[str, Any], list[Token]]:
    """Options into a dict (``multi`` -> list), the rest as positionals (in order)."""
    values: dict[str, Any] = {}
    positionals: list[Token] = []
    i = 0
    only_positional = False
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if only_positional or not looks_like_option(tok):
            positionals.append(tok)
            continue
        if tok.text == "--":
            only_positional = True
            continue
        name, eq, inline = tok.text.partition("=")
        name = _flag_name(name)
        opt = opts.get(name)
        if opt is None:
            raise unknown("option", name, sorted(opts, key=lambda o: (o.startswith("--no-"), o)), where)
        if opt.takes == "const":
            if eq:
                raise UsageError(f"{where}: {name} takes no value (got {name}={inline})")
            values[opt.dest] = opt.const
            continue
        if eq:
            raw: Any = inline
        else:
            if i >= len(tokens):
                raise UsageError(f"{where}: {name} needs a value")
            raw = tokens[i].text
            i += 1
        raw = interpolate(raw, namespace, whole=True)
        value = opt.convert(raw) if opt.convert else raw
        if opt.sub is not None:
            values.setdefault(opt.dest, {})[opt.sub] = value
        elif opt.takes == "multi":
            values.setdefault(opt.dest, []).extend(value if isinstance(value, list) else [value])
        else:
            values[opt.dest] = value
    return values, positionals


def number(flag: str, kind: type, allowed: str) -> Callable[[Any], Any]:
    def convert(raw: Any) -> Any:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return raw
        try:
            return kind(str(raw))
        except ValueError:
            try:
                as_float = float(str(raw))
            except ValueError:
                raise UsageError(f"{flag}: {raw!r} is not a number (allowed: {allowed})") from None
            return as_float  # catalog.validate names non-integers with the allowed range

    return convert


def bool_value(flag: str) -> Callable[[Any], bool]:
    def convert(raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise UsageError(f"{flag}: {raw!r} is not a boolean (allowed: true, false)")

    return convert


def split_list(raw: Any) -> list[Any]:
    if isinstance(raw, (list, tuple)):
        return list(raw)
    return [part.strip() for part in str(raw).split(",") if part.strip()]


def repeats_value(raw: Any) -> int:
    allowed = f"an integer from 1 to {MAX_REPEATS}"
    try:
        n = int(str(raw))
    except ValueError:
        raise UsageError(f"-n: {raw!r} is not a number (allowed: {allowed})") from None
    if not 1 <= n <= MAX_REPEATS:
        raise UsageError(f"-n: {n} is out of range (allowed: {allowed})")
    return n


def positive_int(flag: str) -> Callable[[Any], int]:
    def convert(raw: Any) -> int:
        try:
            n = int(str(raw))
        except ValueError:
            raise UsageError(f"{flag}: {raw!r} is not a number (allowed: an integer >= 1)") from None
        if n < 1:
            raise UsageError(f"{flag}: {n} is out of range (allowed: an integer >= 1)")
        return n

    return convert


def one_of(flag: str, choices: Sequence[str]) -> Callable[[Any], str]:
    def convert(raw: Any) -> str:
        text = str(raw)
        folded = {c.lower(): c for c in choices}
        if text.lower() not in folded:
            raise unknown("value", text, choices, flag)
        return folded[text.lower()]

    return convert


def ranged(flag: str, kind: type, lo: float, hi: float) -> Callable[[Any], Any]:
    allowed = f"{'an integer' if kind is int else 'a number'} from {lo:g} to {hi:g}"

    def convert(raw: Any) -> Any:
        try:
            value = kind(str(raw))
        except ValueError:
            raise UsageError(f"{flag}: {raw!r} is not a number (allowed: {allowed})") from None
        if not lo <= value <= hi:
            raise UsageError(f"{flag}: {value!r} is out of range (allowed: {allowed})")
        return value

    return convert
