"""Opt-in check against the real Phaya: the only test allowed to leave loopback.

Runs only with ``PHAYA_API_KEY`` and ``PHAYA_BASE`` set AND ``PHAYA_LIVE=1``.
It spends exactly one credit: one Z-Image text-to-image job. It confirms that the
contract's field names (``shared/phaya-api.md``) are what the live server sends, then
that our client reads the same answers. The key is never printed: assertion messages
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
                       reason="live check: set PHAYA_API_KEY, PHAYA_BASE and PHAYA_LIVE=1 to spend 1 credit"),
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
