"""How the log's readers filter rows: ``WHERE`` clauses from the public arguments, checked first.

``to_dataframe()``, ``spend()``, the gallery's ``browse()`` / ``count()`` and ``rate()``
take friendly arguments (a service or several, a status, ``since`` as a date, a
timedelta or ISO text, a rating). This module turns them into SQL with ``?`` placeholders
and refuses bad values with a ``ValueError`` that names the field and the allowed values,
before any SQL runs. Pure functions: the store passes its dialect (``tag_sql``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ..core.timeparse import parse_iso
from .schema import COLUMNS, JSON_COLUMNS, STATUSES

__all__ = ["RATINGS", "as_list", "browse_where", "check_rating", "decode_row", "since_epoch", "to_json", "where"]

RATINGS = {1: "keep", -1: "reject", 0: "clear"}
_NOT_A_DATE = "since: {!r} is not a date (allowed: datetime, ISO 8601 text, epoch seconds or a timedelta)"


def to_json(value: Any) -> str | None:
    """A JSON column's text (dicts with sorted keys, so equal params compare equal)."""
    if value is None:
        return None
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=isinstance(value, Mapping))


def decode_row(values: Sequence[Any]) -> dict[str, Any]:
    """A ``SELECT`` of every column (in :data:`COLUMNS` order) as a dict, JSON columns loaded."""
    row = dict(zip(COLUMNS, values, strict=True))
    for k in JSON_COLUMNS:
        if row[k] is not None:
            row[k] = json.loads(row[k])
    return row


def since_epoch(value: Any) -> float:
    """since= accepts a datetime, date, ISO text, epoch seconds or a timedelta (that long ago)."""
    if isinstance(value, timedelta):
        return time.time() - value.total_seconds()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        parsed = parse_iso(value)
        if parsed is None:
            raise ValueError(_NOT_A_DATE.format(value))
        value = parsed
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    raise ValueError(_NOT_A_DATE.format(value))


def as_list(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def where(service: str | Iterable[str] | None, status: str | Iterable[str] | None, since: Any,
          tag: str | None, kind: str | None, session: str | None, *, tag_sql: str) -> tuple[str, list[Any]]:
    """`` WHERE ...`` (or ``""``) and its arguments; ``tag_sql`` tests one tag in the store's SQL."""
    clauses: list[str] = []
    args: list[Any] = []
    for col, values in (("service", as_list(service)), ("status", as_list(status))):
        if values is not None:
            if col == "status":
                values = [v.lower() for v in values]
                bad = [v for v in values if v not in STATUSES]
                if bad:
                    raise ValueError(f"status: {bad[0]!r} is not allowed (allowed: {', '.join(STATUSES)})")
            clauses.append(f"{col} IN ({', '.join('?' for _ in values)})")
            args.extend(values)
    if since is not None:
        clauses.append("created_at >= ?")
        args.append(since_epoch(since))
    if tag is not None:
        clauses.append(tag_sql)
        args.append(tag)
    if kind is not None:
        clauses.append("kind = ?")
        args.append(kind)
    if session is not None:
        clauses.append("session = ?")
        args.append(session)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def browse_where(service: str | Iterable[str] | None, tag: str | None, rating: Any, text: str | None,
                 *, tag_sql: str) -> tuple[str, list[Any]]:
    """Jobs (not chat calls) by service, tag, rating (1, -1, "unrated") and prompt text."""
    sql, args = where(service, None, None, tag, "job", None, tag_sql=tag_sql)
    clauses = [sql.removeprefix(" WHERE ")] if sql else []
    if rating is not None:
        if rating in ("unrated", 0):
            clauses.append("rating IS NULL")
        elif rating in (1, -1) and not isinstance(rating, bool):
            clauses.append("rating = ?")
            args.append(int(rating))
        else:
            raise ValueError(f"rating: {rating!r} is not allowed (allowed: 1, -1, 'unrated' or None)")
    if text:
        clauses.append("(prompt LIKE ? ESCAPE '\\' OR model LIKE ? ESCAPE '\\')")
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        args += [like, like]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def check_rating(rating: Any) -> int | None:
    """1 / -1 stored as is, 0 clears (NULL); anything else is refused, naming the allowed values."""
    if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATINGS:
        raise ValueError(f"rating: {rating!r} is not allowed (allowed: 1 (keep), -1 (reject), 0 (clear))")
    return None if rating == 0 else int(rating)
