"""Words of a magic line (quotes kept apart) and ``{name}`` interpolation from the user's namespace."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError


@dataclass(frozen=True)
class Token:
    text: str
    quoted: bool = False


_TOKEN = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"(?=\s|$)|'([^']*)'(?=\s|$)|(\S+))""")


def tokenize(line: str) -> list[Token]:
    """Split on whitespace; a token that starts and ends with a quote is one quoted token.

    Quotes inside words stay literal, so prompts like ``a cat's hat`` need no escaping.
    """
    out: list[Token] = []
    pos = 0
    line = line.strip()
    while pos < len(line):
        m = _TOKEN.match(line, pos)
        if m is None or m.end() == pos:  # pragma: no cover - the pattern always advances
            break
        dq, sq, bare = m.groups()
        if dq is not None:
            out.append(Token(re.sub(r"\\(.)", r"\1", dq), True))
        elif sq is not None:
            out.append(Token(sq, True))
        elif bare is not None:
            out.append(Token(bare))
        pos = m.end()
    return out


_NAME = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\}")


def _lookup(path: str, namespace: Mapping[str, Any]) -> Any:
    head, *rest = path.split(".")
    if head not in namespace:
        raise UsageError(
            f"{{{head}}} names nothing in the notebook: define {head!r} first "
            f"(write {{{{{head}}}}} for literal braces)"
        )
    value = namespace[head]
    for i, attr in enumerate(rest):
        try:
            value = getattr(value, attr)
        except AttributeError:
            where = ".".join([head, *rest[:i]])
            raise UsageError(f"{{{path}}}: {where} has no attribute {attr!r}") from None
    return value


def interpolate(text: str, namespace: Mapping[str, Any] | None, *, whole: bool = False) -> Any:
    """Replace ``{name}`` / ``{name.attr}`` from the namespace; ``{{`` and ``}}`` are literal braces.

    With ``whole=True`` a text that is exactly one ``{name}`` yields the object itself
    (so a list variable can fill a list flag); otherwise the result is text.
    """
    ns = namespace or {}
    if whole:
        m = _NAME.fullmatch(text)
        if m and m.group(1):
            return _lookup(m.group(1), ns)

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        return str(_lookup(m.group(1), ns))

    return _NAME.sub(sub, text)
