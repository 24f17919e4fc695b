"""The money rule of the log: a job's estimate, charge and refund must agree.

``delta`` = billable estimate − charged + refunded, where the billable estimate is the
estimate for a completed job and 0 otherwise; it must be 0, and the ``reconcile`` column
says ``ok`` / ``mismatch`` / ``unverified``. The recorder applies this rule to the status
answer (provisional); the session's ``reconcile()`` applies it again to what the server's
credits history or balance delta says (:meth:`JobLog.reconcile_row
<phaya_notebook.joblog.store.JobLog.reconcile_row>`), and only those two sources are
trusted (:data:`TRUSTED_SOURCES`).
"""

from __future__ import annotations

__all__ = ["CHARGE_SOURCES", "EPSILON", "TRUSTED_SOURCES", "TRUSTED_SQL", "reconcile_amounts"]

#: Tolerance when comparing credit amounts (prices have at most 6 decimals).
EPSILON = 1e-6
#: Where a row's ``charged`` came from. The first two are the server's word on the money;
#: a status answer's ``credits_used`` may lie (live: 0 on a Seedance job that cost 12).
CHARGE_SOURCES = ("credits history", "balance delta", "status answer", "chat answer", "unattributed")
TRUSTED_SOURCES = CHARGE_SOURCES[:2]
TRUSTED_SQL = "(" + ", ".join(f"'{s}'" for s in TRUSTED_SOURCES) + ")"


def reconcile_amounts(status: str | None, estimated: float | None, charged: float,
                      refunded: float) -> tuple[str, float, str]:
    """(verdict, delta, note): billable estimate − charged + refunded must be 0.

    The billable estimate is the estimate for a completed job, 0 for a failed or
    cancelled one (it is refunded in full, or never charged).
    """
    if estimated is None:
        return "unverified", 0.0, "no estimate recorded"
    billable = estimated if status == "completed" else 0.0
    delta = round(billable - charged + refunded, 6)
    if abs(delta) <= EPSILON:
        return "ok", 0.0, f"estimated {estimated:g}, charged {charged:g}, refunded {refunded:g}"
    return "mismatch", delta, (f"estimated {estimated:g} ({status}), charged {charged:g}, "
                               f"refunded {refunded:g}: off by {delta:+g}")
