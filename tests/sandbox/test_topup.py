"""``python -m phaya_notebook.sandbox topup``: the way out of a persistent sandbox's 402.

Real processes throughout: the persistent sandbox started by its CLI in this test's own
``PHAYA_SANDBOX_DIR`` (conftest; stopped when the test ends), credits spent over HTTP,
the top-up run as a subprocess, the balance read back from ``/user/credits``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from phaya_notebook import connect
from phaya_notebook.core.errors import InsufficientCredits

pytestmark = pytest.mark.timeout(180)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "phaya_notebook.sandbox", *args], capture_output=True, text=True,
                          timeout=90, env=dict(os.environ))


def _state_dir() -> Path:
    return Path(os.environ["PHAYA_SANDBOX_DIR"])


def _api(state_dir: Path) -> httpx.Client:
    info = json.loads((state_dir / "server.json").read_text())
    return httpx.Client(base_url=info["base_url"], timeout=30.0,
                        headers={"Authorization": f"Bearer {info['api_key']}"})


def _balance(state_dir: Path) -> float:
    with _api(state_dir) as c:
        r = c.get("/user/credits")
        assert r.status_code == 200, r.text
        return float(r.json()["credits_balance"])


def _history(state_dir: Path) -> list[dict[str, Any]]:
    with _api(state_dir) as c:
        return list(c.get("/user/credits/history", params={"limit": 100}).json()["transactions"])


def _spend_all(state_dir: Path) -> str:
    """Make 1-credit images until the sandbox answers 402; that answer's detail."""
    with _api(state_dir) as c:
        for _ in range(20):
            r = c.post("/text-to-image/generate", json={"prompt": "a lighthouse"})
            if r.status_code == 402:
                return str(r.json()["detail"])
            assert r.status_code == 200, r.text
    raise AssertionError("never ran out of credits")


def test_topup_of_a_running_sandbox_ends_the_402_the_client_names_the_command(tmp_path: Path) -> None:
    state_dir = _state_dir()
    started = _cli("start", "--credits", "2")
    assert started.returncode == 0, started.stderr
    with connect(log_path=tmp_path / "jobs.sqlite3") as s:  # finds the sandbox the CLI started
        s.generate("text-to-image", prompt="one")
        s.generate("text-to-image", prompt="two")
        with pytest.raises(InsufficientCredits) as err:
            s.generate("text-to-image", prompt="three")
        # the sandbox's answer names the exact command (its state dir is not the default one)
        assert f"python -m phaya_notebook.sandbox topup --state-dir {state_dir}" in str(err.value)
        assert "python -m phaya_notebook.sandbox topup" in err.value.fix()
        assert _balance(state_dir) == 0.0

        done = _cli("topup", "5")
        assert done.returncode == 0, done.stderr
        assert "added 5 credits; the balance is now 5 credits (running" in done.stdout, done.stdout
        assert _balance(state_dir) == 5.0  # the running server's own balance, over HTTP
        assert s.credits() == 5.0
        s.generate("text-to-image", prompt="four")  # the 402 is over
        assert _balance(state_dir) == 4.0
    tops = [t for t in _history(state_dir) if t["kind"] == "topup"]
    assert [(t["amount"], t["balance_after"], t["job_id"]) for t in tops] == [(5.0, 5.0, None)]
    assert _cli("stop").returncode == 0 and _cli("start").returncode == 0
    assert _balance(state_dir) == 4.0  # written through: a restart keeps the top-up
    assert [t["amount"] for t in _history(state_dir) if t["kind"] == "topup"] == [5.0]


def test_topup_of_a_stopped_sandbox_is_there_when_it_starts_again() -> None:
    state_dir = _state_dir()
    assert _cli("start", "--credits", "3").returncode == 0
    detail = _spend_all(state_dir)
    assert detail.startswith("Not enough credits: this costs 1, the balance is 0.00; add play credits with: "
                             f"python -m phaya_notebook.sandbox topup --state-dir {state_dir}"), detail
    assert _cli("stop").returncode == 0
    done = _cli("topup")  # no amount: the starting credits again
    assert done.returncode == 0, done.stderr
    assert "added 3 credits; the balance is now 3 credits (stopped" in done.stdout, done.stdout
    one = _cli("topup", "1")
    assert "added 1 credit; the balance is now 4 credits (stopped" in one.stdout, one.stdout
    assert _cli("start").returncode == 0
    assert _balance(state_dir) == 4.0
    history = _history(state_dir)
    assert [t["kind"] for t in history][:2] == ["topup", "topup"]  # newest first
    assert sum(1 for t in history if t["kind"] == "charge") == 3  # the spending is still on record
    _spend_all(state_dir)  # and the new credits really spend: 4 more images, then 402
    assert sum(1 for t in _history(state_dir) if t["kind"] == "charge") == 7


def test_bad_amounts_and_no_sandbox_add_nothing_and_say_why() -> None:
    state_dir = _state_dir()
    none_yet = _cli("topup", "5")
    assert none_yet.returncode == 2 and "no sandbox in" in none_yet.stderr and "start" in none_yet.stderr
    assert _cli("start", "--credits", "2").returncode == 0
    for bad in ("0", "-3", "nan", "inf", "2000000"):
        out = _cli("topup", bad)
        assert out.returncode == 2 and "CREDITS" in out.stderr and "at most 1,000,000" in out.stderr, (bad, out)
    word = _cli("topup", "lots")
    assert word.returncode == 2 and "CREDITS" in word.stderr
    misplaced = _cli("status", "5")
    assert misplaced.returncode == 2 and "topup only" in misplaced.stderr
    assert _balance(state_dir) == 2.0
    info = json.loads((state_dir / "server.json").read_text())
    with httpx.Client(base_url=info["root_url"], timeout=30.0) as root:
        assert root.post("/_sandbox/credits", json={"credits": 5}).status_code in (401, 403)  # admin only
        admin = {"X-Sandbox-Admin": info["admin_token"]}
        for body in ({"credits": "5"}, {"credits": True}, {}, {"credits": -1}):
            r = root.post("/_sandbox/credits", json=body, headers=admin)
            assert r.status_code == 422 and "credits" in r.text, (body, r.text)
    assert _balance(state_dir) == 2.0
    assert "topup" in _cli("--help").stdout or "topup" in _cli("status", "--help").stdout


def test_a_sandbox_without_a_state_dir_names_its_admin_top_up() -> None:
    from phaya_notebook.sandbox import start

    with start(speed=60.0, credits=1.0) as sb, httpx.Client(base_url=sb.base_url, timeout=30.0, headers={
            "Authorization": f"Bearer {sb.api_key}"}) as c:
        assert c.post("/text-to-image/generate", json={"prompt": "one"}).status_code == 200
        r = c.post("/text-to-image/generate", json={"prompt": "two"})
        assert r.status_code == 402 and "POST /_sandbox/credits" in r.json()["detail"], r.text
        root = sb.base_url.rsplit("/api/v1", 1)[0]
        added = httpx.post(root + "/_sandbox/credits", json={"credits": 2.5}, timeout=30.0,
                           headers={"X-Sandbox-Admin": sb.admin_token})
        assert added.json() == {"success": True, "added": 2.5, "credits_balance": 2.5}, added.text
        assert c.get("/user/credits").json()["credits_balance"] == 2.5
        assert c.post("/text-to-image/generate", json={"prompt": "two"}).status_code == 200
