"""core/timeparse.parse_iso: the package's one ISO-8601 parser (Z, offsets, naive = UTC, never raises)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from phaya_notebook.core.timeparse import parse_iso

UTC = timezone.utc


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-02T01:02:03Z", datetime(2026, 12, 2, 1, 2, 3, tzinfo=UTC)),
    ("2026-12-02T08:02:03+07:00", datetime(2026, 12, 2, 1, 2, 3, tzinfo=UTC)),
    ("2026-12-02T01:02:03", datetime(2026, 12, 2, 1, 2, 3, tzinfo=UTC)),  # naive: UTC, not local time
    (" 2026-12-02T01:02:03.250Z ", datetime(2026, 12, 2, 1, 2, 3, 250000, tzinfo=UTC)),
])
def test_parses_the_apis_forms_to_aware_utc(text: str, expected: datetime) -> None:
    got = parse_iso(text)
    assert got == expected and got is not None and got.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", [None, "", "yesterday", "2026-13-40T99:00:00Z"])
def test_unreadable_text_is_none_not_an_error(text: str | None) -> None:
    assert parse_iso(text) is None
