"""Opt-in check against the real Phaya: the only test allowed to leave loopback.

Runs only with ``PHAYA_API_KEY`` and ``PHAYA_BASE`` set AND ``PHAYA_LIVE=1``.
It spends about two credits: one Z-Image text-to-image job and one GPT Image 2 job at 1K
(the cheapest image calls), plus a fraction of a credit for one tiny chat call (about
0.0005) and one tiny embedding (about 0.00002). It confirms that the contract's field names
(``shared/phaya-api.md``, including its "The live API" section) are what the live server
sends, then that our client reads the same answers. The key is never printed: assertion messages
show field names and values from the answers only.

    PHAYA_LIVE=1 PHAYA_API_KEY=... PHAYA_BASE=https://host/api/v1 \
        .venv/bin/python -m pytest tests/live -s
"""

from __future__ import annotations

import os
import time

import pytest

# Read at import: the suite's autouse fixture clears PHAYA_* before each test runs.
_KEY = os.environ.get("PHAYA_API_KEY", "")
_BASE = os.environ.get("PHAYA_BASE", "").rstrip("/")
_OPTED_IN = os.environ.get("PHAYA_LIVE") == "1"

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not (_KEY and _BASE and _OPTED_IN),
                       reason="live check: set PHAYA_API_KEY, PHAYA_BASE and PHAYA_LIVE=1 to spend about 2 credits"),
]

POLL_SECONDS = 5.0        # the contract's status cache: polling faster learns nothing
JOB_DEADLINE = 600.0      # the contract's advice: allow up to 10 min


@pytest.fixture(scope="module")
def http():
    import httpx

    with httpx.Client(base_url=_BASE, headers={"Authorization": f"Bearer {_KEY}"},
                      timeout=30.0) as client:
        yield client


def test_credits_fields(http) -> None:
    r = http.get("/user/credits")
    assert r.status_code == 200, f"/user/credits answered {r.status_code}"
    body = r.json()
    for field in ("credits_balance", "currency"):
        assert field in body, f"/user/credits lacks {field!r}; fields: {sorted(body)}"
    assert isinstance(body["credits_balance"], (int, float))
    assert body["credits_balance"] >= 1.0, "need at least 1 credit for the image job"


def test_one_text_to_image_job(http) -> None:
    """One 1-credit Z-Image job: create → job_id, poll status → COMPLETED with image_url."""
    from phaya_notebook import catalog

    svc = catalog.resolve_service("text-to-image")
    body = catalog.validate(svc, {"prompt": "a small red lighthouse, live check", "aspect_ratio": "1:1"})
    assert catalog.estimate(svc, body).credits == 1.0

    before = http.get("/user/credits").json()["credits_balance"]
    r = http.post(svc.create_path, json=body)
    assert r.status_code == 200, f"create answered {r.status_code}: {r.text[:300]}"
    created = r.json()
    job_id = created.get("job_id") or created.get("id") or (created.get("data") or {}).get("job_id")
    assert job_id, f"create answer has no job id; fields: {sorted(created)}"

    deadline, status = time.monotonic() + JOB_DEADLINE, {}
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        s = http.get(svc.status_url(job_id))
        assert s.status_code == 200, f"status answered {s.status_code}"
        status = s.json()
        assert "status" in status, f"status answer lacks 'status'; fields: {sorted(status)}"
        if catalog.is_terminal(status["status"]):
            break
    assert catalog.normalize_status(status.get("status")) == "completed", (
        f"job ended {status.get('status')!r}: {status.get('error')!r}")
    assert status["status"] in svc.statuses + ("COMPLETED",), "text-to-image statuses are upper case"
    assert str(status.get("image_url", "")).startswith("http"), f"no image_url; fields: {sorted(status)}"

    after = http.get("/user/credits").json()["credits_balance"]
    assert before - after == pytest.approx(1.0, abs=0.05), f"charged {before - after:g}, expected 1"


def test_client_reads_live_answers() -> None:
    """Our sync client against the same server: balance as a float, a job re-attached by id."""
    from phaya_notebook.core.sync import Phaya

    with Phaya(api_key=_KEY, base_url=_BASE) as phaya:
        assert not phaya.aio.is_sandbox
        assert isinstance(phaya.credits(), float)
        assert _KEY not in repr(phaya) and _KEY not in repr(phaya.aio)
        rows = phaya.history("text-to-image", limit=5)
        assert isinstance(rows, list)


def test_free_decisions_against_the_live_server(http) -> None:
    """Free reads whose shapes this project decided where the contract is silent
    (docs/interfaces.md): reconciliation needs job ids in the credits history."""
    r = http.get("/user/credits/history", params={"limit": 5})
    assert r.status_code == 200, f"credits history answered {r.status_code}"
    txs = r.json().get("transactions")
    assert isinstance(txs, list), f"credits history lacks 'transactions'; fields: {sorted(r.json())}"
    if txs:
        missing = {"amount", "job_id", "created_at"} - set(txs[0])
        assert not missing, f"a transaction lacks {sorted(missing)}; fields: {sorted(txs[0])}"
    q = http.get("/media/queue/stats")
    assert q.status_code == 200, f"/media/queue/stats answered {q.status_code}"
    assert isinstance(q.json(), dict)


# ---------------------------------------------------------------- the contract's live section


def test_live_profile_and_bad_key() -> None:
    """Free: the profile's live shape, and a wrong key is 401 or 403 (both AuthenticationError)."""
    import httpx

    from phaya_notebook.core.errors import AuthenticationError, PhayaError

    with httpx.Client(base_url=_BASE, headers={"Authorization": f"Bearer {_KEY}"}, timeout=30.0) as http:
        prof = http.get("/user/profile").json()
    missing = {"success", "user_id", "email", "credits_balance"} - set(prof)
    assert not missing and prof["success"] is True, f"profile lacks {sorted(missing)}; fields: {sorted(prof)}"
    bad = httpx.get(_BASE + "/user/credits", headers={"Authorization": "Bearer not-a-real-key"}, timeout=30.0)
    assert bad.status_code in (401, 403), f"a wrong key answered {bad.status_code}"
    assert isinstance(PhayaError.from_response(bad, "check"), AuthenticationError)


def test_live_chat_and_embedding_prices(http) -> None:
    """Fractions of a credit: the live per-million prices and the live embedding shape."""
    from phaya_notebook import catalog

    r = http.post("/phaya-gpt/chat/completions",
                  json={"messages": [{"role": "user", "content": "Say OK."}], "max_tokens": 4})
    assert r.status_code == 200, f"chat answered {r.status_code}: {r.text[:200]}"
    chat = r.json()
    usage = chat["usage"]
    expected = catalog.chat_credits("phaya-gpt", usage["prompt_tokens"], usage["completion_tokens"])
    assert chat["credits_used"] == pytest.approx(expected, abs=2e-6), (usage, chat["credits_used"])

    e = http.post("/embedding/create", json={"input": ["live check", "second input"]})
    assert e.status_code == 200, f"embedding answered {e.status_code}"
    emb = e.json()
    assert emb.get("success") is True and emb.get("id"), f"fields: {sorted(emb)}"
    assert [len(d["embedding"]) for d in emb["data"]] == [4096, 4096]
    tokens = emb["usage"]["prompt_tokens"]
    assert emb["credits_used"] == pytest.approx(catalog.embedding_credits(None, tokens), abs=1e-7)


def test_one_gpt_image_2_job(http) -> None:
    """One GPT Image 2 job at 1K (about 1 credit): the live create and status shapes."""
    from phaya_notebook import catalog

    svc = catalog.resolve_service("gpt-image-2")
    body = catalog.validate(svc, {"prompt": "a small red lighthouse, live check", "aspect_ratio": "1:1",
                                  "resolution": "1K"})
    before = http.get("/user/credits").json()["credits_balance"]
    r = http.post(svc.create_path, json=body)
    assert r.status_code == 200, f"create answered {r.status_code}: {r.text[:300]}"
    created = r.json()
    missing = {"job_id", "task_id", "status", "message", "credits_used"} - set(created)
    assert not missing, f"create answer lacks {sorted(missing)}; fields: {sorted(created)}"
    assert created["status"] == "processing"
    deadline, status = time.monotonic() + JOB_DEADLINE, {}
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        status = http.get(svc.status_url(created["job_id"])).json()
        if catalog.is_terminal(status.get("status")):
            break
    assert status.get("status") == "completed", f"job ended {status.get('status')!r}: {status.get('error')!r}"
    assert str(status.get("image_url", "")).startswith("http") and isinstance(status.get("processing_time_ms"),
                                                                             (int, float)), sorted(status)
    after = http.get("/user/credits").json()["credits_balance"]
    # reported, not asserted equal: the live API's charges drift from its table (observed.py learns)
    print(f"gpt-image-2 1K: catalog {catalog.estimate(svc, body).credits:g}, balance delta {before - after:g}, "
          f"credits_used {created['credits_used']!r}")
    assert 0 < before - after <= 4.0
