"""One ISO-8601 parser for the package: the API's timestamps (``Z`` or offset, or naive = UTC)."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_iso(value: str | None) -> datetime | None:
    """An aware UTC datetime, or None for None, empty or unparseable text (never raises)."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)
