"""The ledger's whole-batch rule and its one "budget left" text, exactly (no server).

A batch (a compare grid, ``%phaya image -n 3``) is checked whole before its first job:
what is left of ``max_credits`` (and of the key's daily cap), then the confirm threshold.
Fast on purpose, like test_money_rules.py: the mutation run leans on both.
"""

from __future__ import annotations

from typing import Any

import pytest

from phaya_notebook.core.daily import DailyCap
from phaya_notebook.core.errors import BudgetExceeded, ConfirmationRequired
from phaya_notebook.core.money import Ledger, Reservation, batch_line


class MemoryStore:
    """A SpendStore in memory: today's reservations of one key."""

    def __init__(self, spent: float = 0.0) -> None:
        self.rows: dict[int, float] = {0: spent} if spent else {}
        self.released: list[int] = []
        self.calls: list[tuple[Any, ...]] = []  # settle_spend / attach / settle_job, in order

    def reserve(self, amount: float, cap: float) -> tuple[int | None, float]:
        spent = self.spent_today()
        if spent + amount > cap + 1e-9:
            return None, spent
        rid = max(self.rows, default=0) + 1
        self.rows[rid] = amount
        return rid, spent + amount

    def settle_spend(self, reservation: int, charged: float, job_id: str | None = None) -> None:
        self.rows[reservation] = charged
        self.calls.append(("settle_spend", reservation, charged, job_id))

    def release(self, reservation: int) -> None:
        self.rows.pop(reservation, None)
        self.released.append(reservation)

    def attach(self, reservation: int, job_id: str) -> None:
        self.calls.append(("attach", reservation, job_id))

    def settle_job(self, job_id: str, charged: float | None, only_reserved: bool = True) -> None:
        self.calls.append(("settle_job", job_id, charged, only_reserved))

    def spent_today(self) -> float:
        return sum(self.rows.values())


def test_batch_line_names_the_jobs_and_the_total() -> None:
    assert batch_line("compare: 2 prompt(s) x 3 model(s) x 1", 6, 9.0) == (
        "compare: 2 prompt(s) x 3 model(s) x 1 = 6 jobs, 9 credits in total")
    assert batch_line("text-to-image", 1, 1.0) == "text-to-image = 1 job, 1 credit"


def test_a_batch_fits_up_to_what_is_left_exactly_then_is_refused_whole() -> None:
    led = Ledger(max_credits=5.0)
    led.reserve(2.0)
    led.check_batch(3.0, jobs=3, confirmed=False, what="grid")  # exactly what is left: allowed
    with pytest.raises(BudgetExceeded) as ei:
        led.check_batch(3.01, jobs=3, confirmed=True, what="grid")
    assert str(ei.value) == ("grid = 3 jobs, 3.01 credits in total, more than the 3 credits left of "
                             "max_credits=5 (committed 2)")
    assert ei.value.estimate == 3.01 and ei.value.remaining == 3.0
    assert led.committed == 2.0  # a check reserves nothing
    assert Ledger().budget_left is None
    Ledger().check_batch(1e6, jobs=2, confirmed=True, what="grid")  # no max_credits: never refused


def test_the_budget_is_checked_before_the_confirm_threshold() -> None:
    led = Ledger(max_credits=4.0, confirm_above=10.0)
    with pytest.raises(BudgetExceeded):  # over both: the refusal, not a question it cannot honour
        led.check_batch(12.0, jobs=4, confirmed=False, what="grid")
    led.max_credits = None
    led.check_batch(10.0, jobs=4, confirmed=False, what="grid")  # at the threshold: no question
    with pytest.raises(ConfirmationRequired) as ei:
        led.check_batch(10.5, jobs=4, confirmed=False, what="grid", confirm_hint="add --yes to run it")
    assert str(ei.value) == "grid = 4 jobs, 10.5 credits in total, above confirm_above=10: add --yes to run it"
    est = ei.value.estimate
    assert est is not None and (est.credits, est.exact, est.basis) == (
        10.5, True, "grid = 4 jobs, 10.5 credits in total")
    led.check_batch(10.5, jobs=4, confirmed=True, what="grid")
    with pytest.raises(ConfirmationRequired, match=r"above confirm_above=10: pass confirm=True to run it$"):
        led.check_batch(11.0, jobs=4, confirmed=False, what="grid")  # the default hint


def test_budget_left_and_its_text_are_said_in_one_place() -> None:
    led = Ledger(max_credits=3.0)
    assert led.budget_left == 3.0 and led.budget_text() == "Budget left: 3 of max_credits=3"
    led.reserve(2.5)
    assert led.budget_left == 0.5 and led.budget_text() == "Budget left: 0.5 of max_credits=3"
    led.unreserve(-1.0)  # settled above the estimate: committed may pass the cap
    assert led.budget_left == 0.0
    assert Ledger().budget_text() is None


def test_the_daily_cap_is_part_of_the_batch_check_and_of_each_reservation() -> None:
    store = MemoryStore(spent=7.0)
    led = Ledger()
    led.daily_cap = DailyCap(10.0, store, source="PHAYA_DAILY_CAP")
    assert led.budget_text() == "daily cap left: 3 of PHAYA_DAILY_CAP=10"
    led.check_batch(3.0, jobs=2, confirmed=True, what="grid")
    with pytest.raises(BudgetExceeded) as ei:
        led.check_batch(4.0, jobs=2, confirmed=True, what="grid")
    assert str(ei.value) == ("grid = 2 jobs, 4 credits in total, more than the 3 credits left today (UTC) of "
                             "the daily cap PHAYA_DAILY_CAP=10 of this key")
    assert ei.value.estimate == 4.0 and ei.value.remaining == 3.0
    res = led.reserve(2.0)
    assert res.daily is not None and res.credits == 2.0 and led.committed == 2.0
    with pytest.raises(BudgetExceeded):  # the daily cap refuses: the session budget gets it back
        led.reserve(1.5)
    assert led.committed == 2.0
    led.cancel(res)
    assert led.committed == 0.0 and store.released == [res.daily]


def test_a_call_keeps_its_price_or_nothing_or_its_ceiling() -> None:
    led = Ledger()
    priced, lost, cut = led.reserve(4.0, "chat call"), led.reserve(4.0, "chat call"), led.reserve(4.0, "chat call")
    led.end_call(priced, 0.25, reached=True)
    assert led.committed == 8.25
    led.end_call(lost, None, reached=False)
    assert led.committed == 4.25
    led.end_call(cut, None, reached=True)  # cut off mid-answer: the server may have charged
    assert led.committed == 4.25
    led.end_call(Reservation(1.0), 3.0, reached=True)  # priced above its ceiling: the price counts
    assert led.committed == 6.25


def test_settle_charge_makes_the_reservation_the_real_charge() -> None:
    class Done:
        done, status, result, charged, id = True, "completed", None, 0.0, "j1"

    led = Ledger()
    job: Any = Done()
    led.reserve(6.0)
    led.attach(job, Reservation(6.0))
    led.settle_charge(job, 12.0)
    assert led.committed == 12.0 and led.reserved(job) == 12.0 and job.charged == 12.0
    led.settle_charge(job, 5.0)
    assert led.committed == 5.0 and led.reserved(job) == 5.0


def test_a_reservation_follows_its_job_object_and_leaves_with_it() -> None:
    import gc
    from dataclasses import dataclass

    @dataclass
    class DataJob:  # a dataclass is unhashable: the ledger keys by identity, not by equality
        id: str
        done: bool = True
        status: str = "cancelled"

    led = Ledger()
    led.reserve(2.0)
    job: Any = DataJob("j1")
    led.attach(job, Reservation(2.0))
    assert led.reserved(job) == 2.0 and led.reserved(DataJob("j1")) == 0.0  # an equal twin holds nothing
    led.release(job)
    assert led.committed == 0.0 and led.reserved(job) == 0.0
    led.attach(job, Reservation(1.0))
    del job
    gc.collect()
    assert led._held == {}  # gone with its job: a long session does not grow the ledger


class _Job:
    def __init__(self, job_id: str, *, charged: float | None, basis: str = "1 credit per job",
                 estimate: float = 2.0, status: str = "completed") -> None:
        from types import SimpleNamespace

        self.id, self.charged, self.status, self.done, self.result = job_id, charged, status, True, None
        self.estimate = SimpleNamespace(credits=estimate, basis=basis)


def test_the_daily_cap_follows_each_job_and_call_to_what_it_cost() -> None:
    store = MemoryStore()
    led = Ledger()
    led.daily_cap = DailyCap(100.0, store)
    done = _Job("done", charged=1.5)
    res = led.reserve(2.0)
    led.attach(done, res)
    led.settle(done)  # a credible charge: the day's row becomes it, named by the job
    assert store.calls == [("attach", res.daily, "done"), ("settle_spend", res.daily, 1.5, "done")]
    assert led.reserved(done) == 1.5 and store.rows[res.daily] == 1.5
    assert led.committed == 1.5
    store.calls.clear()
    refunded = _Job("refunded", charged=None, status="failed")
    res2 = led.reserve(2.0)
    led.attach(refunded, res2)
    store.calls.clear()
    led.release(refunded)
    assert store.released == [res2.daily] and store.calls == [] and led.committed == 1.5
    # jobs reserved by an earlier process (resumed): settled or refunded by their id
    resumed = _Job("old", charged=3.0, basis="resumed")
    led.settle(resumed)
    gone = _Job("gone", charged=None, basis="resumed", status="cancelled")
    led.release(gone)
    assert store.calls == [("settle_job", "old", 3.0, True), ("settle_job", "gone", None, True)]
    assert led.committed == 1.5  # neither held anything in this process
    store.calls.clear()
    led.settle(_Job("unknown", charged=0.0))  # not credible: nothing settles in the day's store
    assert store.calls == []
    # a chat call: the day's reservation becomes its price
    call = led.reserve(4.0, "chat call")
    led.end_call(call, 0.25, reached=True)
    assert store.calls == [("settle_spend", call.daily, 0.25, None)] and led.committed == 1.75
    store.calls.clear()
    # the real charge became known later: the day's store learns it by job id
    led.settle_charge(done, 0.0)
    assert store.calls == [("settle_job", "done", 0.0, False)] and led.committed == 0.25
    assert led.reserved(done) == 0.0 and done.charged == 0.0


def test_a_real_charge_counts_for_a_job_this_process_never_reserved() -> None:
    from types import SimpleNamespace

    led = Ledger(max_credits=10.0)
    led.reserve(1.0)
    resumed = _Job("resumed", charged=None, basis="resumed")
    resumed.result = SimpleNamespace(credits=0.0)
    led.settle_charge(resumed, 3.0)  # it held nothing here: the whole charge is committed now
    assert led.committed == 4.0 and led.reserved(resumed) == 3.0
    assert resumed.charged == 3.0 and resumed.result.credits == 3.0
    running = _Job("running", charged=None)
    running.done = False
    led.settle_charge(running, 5.0)  # not finished: nothing yet
    assert led.committed == 4.0 and led.reserved(running) == 0.0


def test_a_daily_cap_refusal_names_what_was_asked_for() -> None:
    led = Ledger()
    led.daily_cap = DailyCap(1.0, MemoryStore(spent=0.5), source="daily_cap")
    with pytest.raises(BudgetExceeded, match=r"^this chat call \(up to 2 credits\) would exceed the daily cap "
                                             r"daily_cap=1 credits of this key: 0.5 left today"):
        led.reserve(2.0, "chat call")
    assert led.committed == 0.0
