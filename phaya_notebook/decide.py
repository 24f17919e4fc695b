"""Decide from the log: which model (and prompt) gives results you keep, at what price.

Why its own module: ``phaya.leaderboard()`` (the whole job log) and
``comparison.summary()`` (one compare run) answer the same question with the same
arithmetic, so the arithmetic lives once, here, over a plain DataFrame of rows with
``status``, ``credits`` (net: charged − refunded), ``duration`` and ``rating``.

- ``kept``: results rated 1 (👍); ``rejected``: rated -1 (👎).
- ``keep_rate`` = kept / completed (NaN when nothing completed).
- ``credits_per_kept`` = every credit spent on that model / kept (NaN when nothing was
  kept: no result worth it yet). Failed and rejected jobs count in the numerator, since
  they were the price of the kept ones.
- ``median_seconds``: median duration of completed jobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["SUMMARY_COLUMNS", "plot", "summarize"]

SUMMARY_COLUMNS = ("jobs", "completed", "kept", "rejected", "keep_rate", "credits", "credits_per_kept",
                   "median_seconds")
GROUPS = ("model", "prompt", "service")


def summarize(rows: pd.DataFrame, by: str | Sequence[str] = "model") -> pd.DataFrame:
    """One row per ``by`` group (model, prompt, service or a list of them), best value first."""
    import numpy as np
    import pandas as pd

    keys = [by] if isinstance(by, str) else list(by)
    bad = [k for k in keys if k not in GROUPS]
    if bad or not keys:
        raise ValueError(f"by: {bad or by!r} is not allowed (allowed: {', '.join(GROUPS)} or a list of them)")
    frame = pd.DataFrame({k: rows[k].astype(object).where(rows[k].notna(), "") for k in keys})
    status = rows["status"].astype(object)
    rating = pd.to_numeric(rows["rating"], errors="coerce").astype("float64")
    frame["jobs"] = 1
    frame["completed"] = (status == "completed").astype("int64")
    frame["kept"] = (rating == 1).astype("int64")
    frame["rejected"] = (rating == -1).astype("int64")
    frame["credits"] = pd.to_numeric(rows["credits"], errors="coerce").fillna(0.0).astype("float64")
    frame["seconds"] = pd.to_numeric(rows["duration"], errors="coerce").where(status == "completed")
    if frame.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS), index=pd.Index([], name=keys[0]) if len(keys) == 1
                            else pd.MultiIndex.from_tuples([], names=keys)).astype("float64")
    g = frame.groupby(keys, sort=False)
    out = g[["jobs", "completed", "kept", "rejected"]].sum()
    out["credits"] = g["credits"].sum().round(6)
    out["median_seconds"] = g["seconds"].median()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["keep_rate"] = (out["kept"] / out["completed"].where(out["completed"] > 0)).astype("float64")
        out["credits_per_kept"] = (out["credits"] / out["kept"].where(out["kept"] > 0)).round(6)
    out = out[list(SUMMARY_COLUMNS)]
    return out.sort_values(["credits_per_kept", "keep_rate"], ascending=[True, False], na_position="last")


def plot(summary: pd.DataFrame, ax: Any = None) -> Any:
    """Credits per kept result (bars, lower is better), keep rate written on each bar."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * max(1, len(summary))))
    labels = [" · ".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in summary.index]
    values = summary["credits_per_kept"].fillna(0.0)
    bars = ax.barh(labels, values, color=["#4c9" if v > 0 else "#ccc" for v in values])
    for bar, rate, kept, done in zip(bars, summary["keep_rate"], summary["kept"], summary["completed"],
                                     strict=True):
        text = f"kept {int(kept)} of {int(done)}" + ("" if rate != rate else f" ({rate:.0%})")
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + text, va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("credits per kept result (lower is better; grey: nothing kept yet)")
    ax.set_title("Which model is worth it")
    ax.figure.tight_layout()
    return ax
