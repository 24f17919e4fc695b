"""Tables a session builds from its job log beyond the log's own views (no request).

``prices()``: catalog price vs what the server really charged; ``spend()`` with the key's
daily cap under it. pandas is imported here on first use, never by ``connect()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..joblog import JobLog

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["price_table", "with_daily_cap"]


def with_daily_cap(df: pd.DataFrame, cap: Any) -> pd.DataFrame:
    """``df`` (a spend table) with a note under it on the key's daily cap ``cap`` (a DailyCap)."""
    from ..joblog.frames import with_note

    spent = cap.spent
    left = max(0.0, round(cap.cap - spent, 6))
    note = (f"daily cap {cap.source}={cap.cap:g} credits for this key: {spent:g} reserved or charged "
            f"today (UTC) by every process using it, {left:g} left")
    return with_note(df, note, daily_cap={"cap": cap.cap, "spent": spent, "left": left})


def price_table(joblog: JobLog, base_url: str) -> pd.DataFrame:
    """``Session.prices()``: one row per service and price-relevant parameters seen charged."""
    import pandas as pd

    from ..core.observed import ObservedPrices

    seen = ObservedPrices()
    seen.load(joblog.observed_rows(base_url))
    rows = [{"service": o.service, "parameters": o.basis, "catalog": o.catalog, "last_charged": o.charged,
             "estimate": max(o.catalog, o.charged),
             "drift": round(o.charged / o.catalog, 3) if o.catalog else None,
             "jobs": o.jobs, "source": o.source,
             "at": pd.Timestamp(o.at, unit="s", tz="UTC")} for o in seen.all()]
    cols = ["service", "parameters", "catalog", "last_charged", "estimate", "drift", "jobs", "source", "at"]
    return pd.DataFrame(rows, columns=cols)
