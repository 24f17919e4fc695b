"""``python -m phaya_notebook.sandbox`` prints a base URL and keys that work, and stops cleanly."""

from __future__ import annotations

import subprocess
import sys

import httpx


def test_cli_serves_the_keys_it_prints() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "phaya_notebook.sandbox", "--port", "0", "--api-key", "k1:3",
                             "--api-key", "k2", "--credits", "9", "--speed", "100"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines: dict[str, str] = {}
        for line in proc.stdout:
            if "=" in line and line.startswith("PHAYA_"):
                k, v = line.strip().split("=", 1)
                lines[k] = v
            if line.startswith("# API docs"):
                break
        base = lines["PHAYA_BASE"]
        assert base.startswith("http://127.0.0.1:") and base.endswith("/api/v1")
        assert lines["PHAYA_API_KEY"] == "k1"
        for key, credits in (("k1", 3.0), ("k2", 9.0)):
            r = httpx.get(base + "/user/credits", headers={"Authorization": f"Bearer {key}"}, timeout=10)
            assert r.json()["credits_balance"] == credits
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0


def test_cli_rejects_bad_options() -> None:
    r = subprocess.run([sys.executable, "-m", "phaya_notebook.sandbox", "--speed", "0"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and "--speed" in r.stderr


def test_cli_quirks() -> None:
    """``--quirk``: the live API's quirks from the command line (a wrong one is refused, listed)."""
    proc = subprocess.Popen([sys.executable, "-m", "phaya_notebook.sandbox", "--port", "0", "--api-key", "k1:50",
                             "--quirk", "403", "--quirk", "zero-credits-used", "--quirk", "text-to-image=3",
                             "--speed", "100"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        base = next(line.strip().split("=", 1)[1] for line in proc.stdout if line.startswith("PHAYA_BASE="))
        assert httpx.get(base + "/user/credits", headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 403
        auth = {"Authorization": "Bearer k1"}
        r = httpx.post(base + "/text-to-image/generate", json={"prompt": "x"}, headers=auth, timeout=10)
        assert r.json()["credits_used"] == 0  # the quirk: it says 0 ...
        assert httpx.get(base + "/user/credits", headers=auth, timeout=10).json()["credits_balance"] == 47.0  # ... 3x
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0
    bad = subprocess.run([sys.executable, "-m", "phaya_notebook.sandbox", "--quirk", "free-lunch"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "zero-credits-used" in bad.stderr and "free-lunch" in bad.stderr
