"""Cost truth that survives a wrong price table, against the sandbox's live quirks over real HTTP.

The live API charged Seedance twice its table and answered ``credits_used: 0``. With the
sandbox doing the same, a session must still: match its spend() to the balance change,
show the observed price in the next estimate ("catalog 6 · last charged 12"), and refuse,
before sending anything, a job that fits max_credits at the catalog price but not at the
observed one. Where the credits history names no job, the balance delta attributes charges,
and a charge that cannot be attributed is said so plainly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from phaya_notebook.core.client import AsyncPhaya
from phaya_notebook.core.errors import AuthenticationError, BudgetExceeded, ConfirmationRequired
from phaya_notebook.session import Session

from .sandboxes import running_sandbox

SPEED, TIME_SCALE = 12.0, 10.0
SEEDANCE = {"prompt": "waves at dusk", "resolution": "720p", "duration": "8"}  # catalog 6, live 12
KEYS = ("k-named:100", "k-anon:100", "k-both:100", "k-chat:100", "k-prices:100", "k-studio:100")


class Quirky:
    def __init__(self, sb: Any):
        self.sb = sb
        self.base_url: str = sb.base_url
        self.root = sb.base_url.rsplit("/api/v1", 1)[0]
        self.headers = {"X-Sandbox-Admin": sb.admin_token}

    def quirks(self, **changes: Any) -> dict[str, Any]:
        r = httpx.post(f"{self.root}/_sandbox/quirks", headers=self.headers, json=changes)
        r.raise_for_status()
        return dict(r.json())

    def requests_of(self, key: str) -> int:
        r = httpx.get(f"{self.root}/_sandbox/stats", headers=self.headers)
        r.raise_for_status()
        return int(r.json()["by_key"].get(self.sb.key_id(key), {}).get("total", 0))


@pytest.fixture(scope="module")
def quirky() -> Iterator[Quirky]:
    with running_sandbox(speed=SPEED, time_scale=TIME_SCALE, credits=100.0, api_keys=list(KEYS),
                         quirks={"zero_credits_used": True, "price_multipliers": {"seedance-video": 2.0}}) as sb:
        yield Quirky(sb)


@pytest.fixture()
def session_for(quirky: Quirky, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    made: list[Session] = []

    def make(key: str, **kw: Any) -> Session:
        s = Session(key, quirky.base_url, log_path=tmp_path / f"{key}.sqlite3", **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


@pytest.mark.parametrize(("key", "anonymous", "source"), [("k-named", False, "credits history"),
                                                         ("k-anon", True, "balance delta")])
def test_seedance_at_2x_with_credits_used_0(quirky: Quirky, session_for: Any, key: str, anonymous: bool,
                                            source: str) -> None:
    quirky.quirks(zero_credits_used=True, anonymous_history=anonymous, price_multipliers={"seedance-video": 2.0})
    s = session_for(key, max_credits=20.0)
    before = s.credits()
    assert s.estimate("seedance-video", **SEEDANCE).credits == 6  # the catalog, nothing learned yet

    result = s.generate("seedance-video", **SEEDANCE)
    assert result.fields["credits_used"] == 0  # the live lie
    row = s.jobs(this_session=True).iloc[-1]
    assert row["charge_source"] == source and row["charged"] == pytest.approx(12.0)
    assert row["reconcile"] == "mismatch" and row["estimated"] == 6  # the table was wrong, and it says so

    # spend() matches the balance change (to 0.01: balances may have two decimals)
    after = s.credits()
    net = float(s.spend(this_session=True)["net"].sum())
    assert abs((before - after) - net) <= 0.01, (before, after, net)
    assert net == pytest.approx(12.0)

    # the second estimate shows the observed price and uses it
    est = s.estimate("seedance-video", **SEEDANCE)
    assert est.credits == 12 and est.catalog == 6 and est.observed == 12
    assert "catalog 6 · last charged 12" in est.basis
    # ... and the confirm threshold uses the higher price too (12 > 10; 6 would not ask)
    with pytest.raises(ConfirmationRequired, match="12"):
        s.submit("seedance-video", **SEEDANCE)

    # max_credits 20: 12 committed + 6 (catalog) would fit, + 12 (observed) does not: refused unsent
    assert s.aio.committed_credits == pytest.approx(12.0)
    assert 12.0 + 6.0 <= 20.0
    sent = quirky.requests_of(key)
    with pytest.raises(BudgetExceeded, match="12"):
        s.submit("seedance-video", confirm=True, **SEEDANCE)
    assert quirky.requests_of(key) == sent, "refused before any request"
    assert s.credits() == pytest.approx(after), "and before any credit was spent"

    prices = s.prices()
    seed = prices[prices["service"] == "seedance-video"].iloc[0]
    assert (seed["catalog"], seed["last_charged"], seed["estimate"], seed["drift"]) == (6, 12, 12, 2.0)
    assert seed["source"] == source and "720p, 8 s, no audio" in seed["parameters"]


def test_balance_delta_subtracts_known_chat_and_learns_across_sessions(quirky: Quirky, session_for: Any) -> None:
    quirky.quirks(zero_credits_used=True, anonymous_history=True, price_multipliers={"seedance-video": 2.0})
    s = session_for("k-chat")
    before = s.credits()
    s.generate("text-to-image", prompt="a lighthouse")
    reply = s.chat("hello there", max_tokens=20)
    assert reply.credits > 0
    s.generate("gpt-image-2", prompt="a lighthouse at night", resolution="2K", aspect_ratio="16:9")
    jobs = s.jobs(kind="job", this_session=True)
    assert list(jobs["charge_source"]) == ["balance delta", "balance delta"]
    assert list(jobs["charged"]) == pytest.approx([1.0, 2.0])  # the chat's known price was subtracted
    assert list(jobs["reconcile"]) == ["ok", "ok"]
    assert "assumes no other use of this key" in jobs["reconcile_note"].iloc[1]
    assert jobs["processing_time_ms"].notna().all() and (jobs["processing_time_ms"] >= 0).all()
    assert abs((before - s.credits()) - float(s.spend(this_session=True)["net"].sum())) <= 0.01
    log_path = s.log.path
    s.close()
    # a later session on the same log starts out knowing what was charged
    s2 = Session("k-chat", quirky.base_url, log_path=log_path)
    try:
        assert set(s2.prices()["service"]) == {"text-to-image", "gpt-image-2-text-to-image"}
        assert s2.estimate("gpt-image-2", prompt="x", resolution="2K").credits == 2.0
    finally:
        s2.close()


def test_concurrent_jobs_without_named_charges_are_said_unattributed(quirky: Quirky, session_for: Any) -> None:
    quirky.quirks(zero_credits_used=True, anonymous_history=True, price_multipliers={"seedance-video": 2.0})
    s = session_for("k-both")
    a = s.submit("text-to-image", prompt="one")
    b = s.submit("gpt-image-2", prompt="two")
    a.wait()
    b.wait()
    verdicts = s.reconcile()
    assert verdicts == {a.id: "unverified", b.id: "unverified"}
    rows = s.jobs(this_session=True).set_index("job_id")
    for jid in (a.id, b.id):
        assert rows.loc[jid, "charge_source"] == "unattributed"
        note = rows.loc[jid, "reconcile_note"]
        assert note.startswith("charge not attributed: the credits history does not name this job")
        assert "same balance window" in note or "overlapped" in note
        assert rows.loc[jid, "charged"] != rows.loc[jid, "charged"]  # NaN: unknown, not 0
    # and nothing was learned from them
    assert s.prices().empty


def test_named_history_needs_no_balance_request(quirky: Quirky, session_for: Any) -> None:
    """Without quirks a reconcile is one history request, as before: the balance is not read."""
    quirky.quirks(zero_credits_used=False, anonymous_history=False, price_multipliers={})
    s = session_for("k-prices")
    s.generate("text-to-image", prompt="plain")
    sent = quirky.requests_of("k-prices")
    s.generate("text-to-image", prompt="plain again")
    # create + polls + history: no /user/credits (the one balance reading came before the first job)
    paths = httpx.get(f"{quirky.root}/_sandbox/stats", headers=quirky.headers).json()["by_key"][
        quirky.sb.key_id("k-prices")]["paths"]
    assert paths.get("/api/v1/user/credits") == 1
    assert quirky.requests_of("k-prices") > sent
    assert list(s.jobs()["charge_source"]) == ["credits history", "credits history"]


async def test_403_for_a_bad_key_is_an_authentication_error(quirky: Quirky) -> None:
    quirky.quirks(auth_status=403)
    try:
        r = httpx.get(quirky.base_url + "/user/credits", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 403
        async with AsyncPhaya("wrong-key", quirky.base_url) as c:
            with pytest.raises(AuthenticationError):
                await c.credits()
    finally:
        quirky.quirks(auth_status=401)
    r = httpx.get(quirky.base_url + "/user/credits", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401


def test_quirks_are_checked(quirky: Quirky) -> None:
    r = httpx.post(f"{quirky.root}/_sandbox/quirks", headers=quirky.headers,
                   json={"auth_status": 500, "price_multipliers": {"nope": 2}})
    assert r.status_code == 422
    fields = {d["loc"][-1] for d in r.json()["detail"]}
    assert fields == {"auth_status", "price_multipliers"}
    assert httpx.post(f"{quirky.root}/_sandbox/quirks", json={"auth_status": 403}).status_code in (401, 403)


async def test_studio_learns_the_observed_price(quirky: Quirky, session_for: Any) -> None:
    """A studio job is reconciled after it ends, so the cost label learns what was charged."""
    import asyncio

    from phaya_notebook.widgets import Studio

    quirky.quirks(zero_credits_used=True, anonymous_history=False, price_multipliers={"seedance-video": 2.0})
    s = session_for("k-studio")
    studio = Studio(s, tick=0.02)
    studio.model.value = "seedance-video"
    studio.prompt.value = "waves at dusk"
    assert "cost: 6 credits" in studio.cost.value
    studio.generate.click()
    for _ in range(600):
        if "last charged 12" in studio.cost.value:
            break
        await asyncio.sleep(0.05)
    await studio.wait(30)
    assert "cost: 12 credits" in studio.cost.value and "catalog 6 · last charged 12" in studio.cost.value
    assert studio.cards[0].job.charged == 12.0 and studio.cards[0].job.result.credits == 12.0
    assert s.jobs(this_session=True)["charge_source"].iloc[-1] == "credits history"
