"""What services actually charged, and the one rule that prices a job from it.

Catalog prices are estimates: the live API charged a Seedance clip twice its published
table while its status answer said ``credits_used: 0``. So the money rules learn: once a
job's real charge is known (from the credits history or the balance, see
``core/attribution.py``), the next estimate for the same parameters shows both figures
("catalog 6 · last charged 12") and is the higher of the two, so the confirm threshold and
``max_credits`` guard against the real price, never a stale table.

"The same parameters" means the same price-relevant parameters: the catalog's own basis of
an exact estimate ("720p, 8 s, no audio", "2 credits at resolution=2K"), so a new prompt does
not hide what a setting costs. Estimates that depend on the media (not exact) learn nothing.

Every money rule of this kind lives here (public: :func:`price_key`, :func:`with_observed`,
:class:`ObservedPrices`); the client's ledger (``core/money.py``) holds one ObservedPrices
and prices every job and batch through it (``Ledger.price``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .. import catalog

__all__ = ["ObservedPrice", "ObservedPrices", "TRUSTED_SOURCES", "credible_charge", "price_key", "with_observed"]

#: Charge sources that say what the server really took (a status answer's ``credits_used`` may lie).
TRUSTED_SOURCES = ("credits history", "balance delta")
#: Differences smaller than this are the same price (balances have two decimals).
TOLERANCE = 0.005


def price_key(service: str | catalog.Service, estimate: catalog.Estimate) -> tuple[str, str] | None:
    """(service, price basis) for an exact catalog estimate; None when the price depends on media."""
    name = service.name if isinstance(service, catalog.Service) else catalog.resolve_service(service).name
    if not estimate.exact:
        return None
    return name, estimate.basis


@dataclass(frozen=True)
class ObservedPrice:
    service: str
    basis: str
    catalog: float
    charged: float
    at: float
    source: str
    jobs: int = 1


def with_observed(estimate: catalog.Estimate, observed: ObservedPrice | None) -> catalog.Estimate:
    """The higher-of rule: an estimate that shows both prices when they differ.

    ``credits`` becomes ``max(catalog, last charged)``; ``basis`` reads
    "catalog 6 · last charged 12 (720p, 8 s, no audio)".
    """
    if observed is None or abs(observed.charged - estimate.credits) <= TOLERANCE:
        return estimate
    higher = max(estimate.credits, observed.charged)
    basis = f"catalog {estimate.credits:g} · last charged {observed.charged:g}"
    if estimate.basis:
        basis += f" ({estimate.basis})"
    return replace(estimate, credits=higher, basis=basis, catalog=estimate.credits, observed=observed.charged)


class ObservedPrices:
    """The last real charge per (service, price basis); thread-safe, fed by reconciliation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], ObservedPrice] = {}

    def learn(self, service: str, params: Mapping[str, Any], charged: float, *, source: str,
              at: float | None = None) -> ObservedPrice | None:
        """Record what one completed job really cost (only from a trusted source)."""
        if source not in TRUSTED_SOURCES:
            return None
        try:
            svc = catalog.resolve_service(service)
            est = catalog.estimate(svc, params)
        except catalog.ParamError:
            return None
        key = price_key(svc, est)
        if key is None:
            return None
        when = time.time() if at is None else at
        with self._lock:
            old = self._last.get(key)
            if old is not None and old.at > when:
                return old  # an older observation never replaces a newer one
            obs = ObservedPrice(key[0], key[1], est.credits, round(float(charged), 6), when, source,
                                (old.jobs + 1) if old else 1)
            self._last[key] = obs
        return obs

    def last(self, service: str | catalog.Service, estimate: catalog.Estimate) -> ObservedPrice | None:
        key = price_key(service, estimate)
        if key is None:
            return None
        with self._lock:
            return self._last.get(key)

    def price(self, service: str | catalog.Service, estimate: catalog.Estimate) -> catalog.Estimate:
        """The estimate to guard money with: the catalog's, or the higher observed one."""
        return with_observed(estimate, self.last(service, estimate))

    def load(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Learn from job-log rows (oldest first): completed, charged from a trusted source."""
        n = 0
        for r in rows:
            if r.get("status") != "completed" or r.get("charge_source") not in TRUSTED_SOURCES:
                continue
            params = r.get("params") or {}
            charged = float(r.get("charged") or 0.0) - float(r.get("refunded") or 0.0)
            at = float(r.get("finished_at") or r.get("created_at") or 0.0)
            if self.learn(str(r.get("service")), params, charged, source=str(r["charge_source"]), at=at):
                n += 1
        return n

    def all(self) -> list[ObservedPrice]:
        with self._lock:
            return sorted(self._last.values(), key=lambda o: (o.service, o.basis))


def credible_charge(estimate: float, reported: float | None) -> float | None:
    """A status answer's charge, or None when it cannot be believed.

    The live API answered ``credits_used: 0`` for a Seedance job that cost 12: a zero
    (or missing) charge for a job priced above zero is "unknown", never "free".
    """
    if reported is None or (reported <= 0 and estimate > 0):
        return None
    return float(reported)
