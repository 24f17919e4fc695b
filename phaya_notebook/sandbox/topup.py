"""``python -m phaya_notebook.sandbox topup [CREDITS]``: more play credits, jobs and files kept.

Why: the persistent sandbox keeps its balance on disk and never refills it, so after a few
dozen demo runs every job answers 402. Topping up is the way out that loses nothing (a
reset would forget jobs whose results the user's job log still points to).

A running sandbox holds its balance in memory, so it is asked through its admin endpoint
(``POST /_sandbox/credits``, token from ``server.json``); a stopped one is changed in its
state file, with the start and run locks held so no server starts meanwhile. Either way
the change is a "topup" transaction in ``/user/credits/history``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from . import daemon
from .persist import Store
from .state import MAX_TOPUP_TEXT, credits_problem, transaction


class TopUpError(Exception):
    """Why nothing was added (the message names the fix)."""


def top_up(state_dir: Path, credits: float | None = None, timeout: float = 15.0) -> tuple[float, float, bool]:
    """Add ``credits`` (default: the sandbox's starting credits) to its default account.

    Returns (added, new balance, whether the sandbox was running). Raises TopUpError when
    ``state_dir`` holds no sandbox yet or the amount is not allowed.
    """
    if credits is not None and credits_problem(credits):
        raise TopUpError(f"CREDITS: {credits_problem(credits)}; allowed: {MAX_TOPUP_TEXT}")
    if not (state_dir / "state.sqlite3").exists():
        raise TopUpError(f"no sandbox in {state_dir} yet: `python -m phaya_notebook.sandbox start` makes one "
                         "(its --credits sets the starting balance)")
    deadline = time.monotonic() + timeout
    with daemon.flock(state_dir / daemon.START_LOCK):  # no start() meanwhile
        while True:
            with daemon.flock(state_dir / daemon.RUN_LOCK, wait=False) as stopped:
                if stopped:  # and no server can start while this lock is held
                    store = Store(state_dir / "state.sqlite3")
                    try:
                        return _in_file(store, credits)
                    finally:
                        store.close()
            info = daemon.read_info(state_dir)
            if info is not None:
                return _through_server(info, credits if credits is not None else float(info.get("credits", 0) or 0),
                                       state_dir)
            if time.monotonic() > deadline:  # a server holds the lock but never wrote server.json
                raise TopUpError(f"the sandbox in {state_dir} is starting or stuck (see {state_dir / daemon.LOG})")
            time.sleep(0.1)


def _in_file(store: Store, credits: float | None) -> tuple[float, float, bool]:
    meta = store.meta()
    keys = meta.get("keys") or []
    accounts = {key: data for key, data, _ in store.accounts()}
    if not keys or keys[0] not in accounts:
        raise TopUpError("the sandbox's state has no account yet: start it once, then top up")
    amount = float(meta.get("credits", 100.0)) if credits is None else float(credits)
    data = accounts[keys[0]]
    acct = SimpleNamespace(key=keys[0], user_id=data["user_id"], created_at=data["created_at"],
                           characters=list(data.get("characters") or []),
                           balance=round(float(data["balance"]) + amount, 6))
    store.charged(acct, transaction(amount, "topup", "sandbox", None, acct.balance))
    return amount, acct.balance, False


def _through_server(info: dict[str, Any], credits: float, state_dir: Path) -> tuple[float, float, bool]:
    if credits_problem(credits):  # a server.json without "credits": ask for an explicit amount
        raise TopUpError("say how many: python -m phaya_notebook.sandbox topup CREDITS")
    req = urllib.request.Request(
        str(info["root_url"]) + "/_sandbox/credits", data=json.dumps({"credits": credits}).encode(), method="POST",
        headers={"content-type": "application/json", "x-sandbox-admin": str(info["admin_token"])})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    try:
        with opener.open(req, timeout=15) as resp:
            answer = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise TopUpError(f"the sandbox refused the top-up ({exc.code}: {exc.read()[:300]!r})") from exc
    except OSError as exc:
        raise TopUpError(f"the sandbox in {state_dir} did not answer ({exc}); `stop` it, then top up") from exc
    return float(answer["added"]), float(answer["credits_balance"]), True
