"""The log as pandas: rows of a query -> typed DataFrames (``to_dataframe()``, ``spend()``).

The store runs the SQL; this module only shapes what came back, so the cost of a
100,000-row load is here in one place (``tests/benchmarks/bench_joblog.py`` measures it:
one factorize for the category columns, float columns converted in C). Imported lazily
by the store's readers: pandas and numpy load only when a DataFrame is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .schema import COLUMNS

__all__ = ["KEY_COLUMNS", "OTHER_COLUMNS", "SPEND_SUMS", "jobs_frame", "spend_frame"]

_TIME_COLUMNS = ("created_at", "updated_at", "finished_at")
_FLOAT_COLUMNS = ("estimated", "charged", "refunded", "delta", "duration")
_INT_COLUMNS = ("tokens", "processing_time_ms", "rating")
#: Low-cardinality text columns, read as categories: the store sends them as one joined key
#: per row (fields split by chr(31), NULL as chr(30)), fewer Python objects to build, and one
#: factorize gives every category's codes.
KEY_COLUMNS = ("kind", "service", "model", "status", "reconcile", "session", "base_url")
OTHER_COLUMNS = tuple(c for c in COLUMNS if c not in KEY_COLUMNS)
SPEND_SUMS = ("jobs", "estimated", "charged", "refunded", "net")


def _floats(values: Any) -> Any:
    """An object column (floats and None) as float64 with NaN, in C."""
    try:
        return values.astype("float64")
    except TypeError:  # None present
        mask = values == None  # noqa: E711 - elementwise
        return np.where(mask, np.nan, values).astype("float64")


def jobs_frame(rows: list[Any]) -> pd.DataFrame:
    """Rows of (joined key, *OTHER_COLUMNS) as the log's DataFrame, oldest first, real dtypes.

    Times are ``datetime64[ns, UTC]``, money is float, service/status/model are
    categories; JSON columns stay JSON text.
    """
    grid = np.array(rows, dtype=object) if rows else np.empty((0, 1 + len(OTHER_COLUMNS)), dtype=object)
    del rows
    data: dict[str, Any] = {}
    codes, uniques = pd.factorize(grid[:, 0])
    parts = [str(u).split("\x1f") for u in uniques]
    for i, name in enumerate(KEY_COLUMNS):
        labels = [None if p[i] == "\x1e" else p[i] for p in parts]
        cats = sorted({v for v in labels if v is not None})
        index = {c: k for k, c in enumerate(cats)}
        mapping = np.array([-1 if v is None else index[v] for v in labels] or [0], dtype="int64")
        data[name] = pd.Categorical.from_codes(mapping[codes] if len(codes) else codes, cats)
    for j, name in enumerate(OTHER_COLUMNS, start=1):
        values = grid[:, j]
        if name in _FLOAT_COLUMNS:
            data[name] = _floats(values)
        elif name in _TIME_COLUMNS:
            data[name] = pd.to_datetime(_floats(values), unit="s", utc=True).as_unit("ns")
        elif name in _INT_COLUMNS:
            data[name] = pd.array(_floats(values)).astype("Int64")
        else:
            data[name] = pd.Series(np.array(values, dtype=object), dtype=object, copy=False)
    df = pd.DataFrame({c: data[c] for c in COLUMNS}, copy=False)
    created = _floats(grid[:, 1 + OTHER_COLUMNS.index("created_at")])
    if len(created) > 1 and not bool(np.all(created[1:] >= created[:-1])):
        df = df.iloc[np.argsort(created, kind="stable")].reset_index(drop=True)
    return df


def spend_frame(rows: list[Any], keys: Sequence[str]) -> pd.DataFrame:
    """Rows of (*keys, jobs, estimated, charged, refunded, net) indexed by ``keys``."""
    keys = list(keys)
    df = pd.DataFrame.from_records(rows, columns=[*keys, *SPEND_SUMS])
    for c in SPEND_SUMS[1:]:
        df[c] = df[c].astype("float64").round(6)
    if "day" in keys:
        df["day"] = pd.to_datetime(df["day"]).dt.date
    return df.set_index(keys if len(keys) > 1 else keys[0])
