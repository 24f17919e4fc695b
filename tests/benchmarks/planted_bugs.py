"""Plant each named money/safety bug in a scratch copy and show which test catches it.

Run: ``.venv/bin/python tests/benchmarks/planted_bugs.py [--root DIR] [NAME ...]``. For every bug in
BUGS: copy the repository (without .venv, .git, mutants) to a temp folder, make the one
textual change, run the tests named for it there with pytest, and print the failing
tests and their failure lines. A bug that no test catches is reported as SURVIVED and
the script exits non-zero. The working tree is never modified.
Not part of the pytest run (the file name does not match ``test_*.py``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: the checkout whose code and tests are copied (``--root DIR``: e.g. an older main, to compare)
SOURCE = ROOT


@dataclass
class Bug:
    name: str
    path: str
    old: str | tuple[str, ...]  # one change, or several made together
    new: str | tuple[str, ...]
    tests: list[str]


BUGS = [
    Bug("resend a timed-out create whose lookup found nothing (create.py: drop the timeout exclusion)",
        "phaya_notebook/core/create.py",
        'if found is ABSENT and amb.kind != "timeout":', "if found is ABSENT:",
        ["tests/core/test_faults.py", "tests/core/test_client_mock.py", "tests/core/test_money_rules.py"]),
    Bug("reserve credits after creating the job (client.submit)",
        "phaya_notebook/core/client.py",
        ("        await self._learn_sandbox_speed()\n        held = self.ledger.reserve(est.credits)\n        try:\n",
         "        except BaseException:\n            self.ledger.cancel(held)\n            raise\n"),
        ("        await self._learn_sandbox_speed()\n        held = self.ledger.reserve(0.0)\n        try:\n",
         "        except BaseException:\n            self.ledger.cancel(held)\n            raise\n"
         "        held = self.ledger.reserve(est.credits)  # the bug: after the create\n"),
        ["tests/core/test_faults.py"]),
    Bug("request loop resends an unsafe POST after a 503 (http.py: no ambiguous 5xx)",
        "phaya_notebook/core/http.py",
        '                if not req.safe:\n                    raise Ambiguous(err, "answered", f"the server answered {code}")\n',
        "",
        ["tests/core/test_request_loop.py"]),
    Bug("request loop resends an unsafe POST after a dropped connection (http.py)",
        "phaya_notebook/core/http.py",
        "                if not req.safe:\n                    raise Ambiguous(err, \"timeout\" if timed_out",
        "                if False:\n                    raise Ambiguous(err, \"timeout\" if timed_out",
        ["tests/core/test_request_loop.py"]),
    Bug("request loop ignores Retry-After (http.py: pauses by its own guess)",
        "phaya_notebook/core/http.py",
        "                wait = named if named is not None else self.budget.window / self.budget.limit * 2\n",
        "                wait = self.budget.window / self.budget.limit * 2\n",
        ["tests/core/test_request_loop.py"]),
    Bug("request loop takes one budget slot per request, not per attempt (http.py)",
        "phaya_notebook/core/http.py",
        "            if req.counted or req.auth:\n                cell = await self.budget.acquire(",
        "            if (req.counted or req.auth) and not (failures or limited):\n"
        "                cell = await self.budget.acquire(",
        ["tests/core/test_request_loop.py"]),
    Bug("compare grid widget skips the whole-grid check (widgets/compare_grid.py)",
        "phaya_notebook/widgets/compare_grid.py",
        "            check_money(self.aio, cells, confirm=True)\n",
        "            pass  # the bug: each job is checked alone, after the first ones were sent\n",
        ["tests/widgets/test_compare_budget.py"]),
    Bug("studio takes skip the whole-batch check (widgets/studio.py)",
        "phaya_notebook/widgets/studio.py",
        "            self.aio.ledger.check_batch(total, jobs=n, confirmed=True,\n"
        "                                        what=svc.name + (f\" x{n}\" if n > 1 else \"\"))\n",
        "            pass  # the bug: each take is checked alone, after the first ones were sent\n",
        ["tests/widgets/test_compare_budget.py"]),
    Bug("a batch over max_credits passes the ledger's whole-batch check (core/money.py)",
        "phaya_notebook/core/money.py",
        "        if left is not None and self.max_credits is not None and total > left + EPS:\n",
        "        if False:  # the bug\n",
        ["tests/core/test_ledger.py", "tests/test_compare.py", "tests/widgets/test_compare_budget.py"]),
    Bug("chat box Send button stays disabled forever (busy flag never cleared)",
        "phaya_notebook/widgets/chat.py",
        "        finally:\n            self._busy = False\n            self._input_changed()",
        "        finally:\n            self._input_changed()",
        ["tests/widgets/test_compare_chat.py", "tests/widgets/test_chat_session.py"]),
    Bug("job log switched to WAL before its identity check",
        "phaya_notebook/joblog/sqlite_file.py",
        '        _check_identity(conn, path)\n        conn.execute("PRAGMA journal_mode = WAL")',
        '        conn.execute("PRAGMA journal_mode = WAL")\n        _check_identity(conn, path)',
        ["tests/test_joblog.py"]),
    Bug("local files uploaded before validation",
        "phaya_notebook/core/client.py",
        "        params, local = split_local(svc, params)\n        body = self._validate(svc, params)\n",
        "        params, local = split_local(svc, params)\n        if local:\n"
        "            params = substitute(params, await self.results.upload_all(local))\n            local = {}\n"
        "        body = self._validate(svc, params)\n",
        ["tests/core/test_local_media.py"]),
    Bug("local files uploaded before the price and budget checks",
        "phaya_notebook/core/client.py",
        "        est = self._price(svc, body)\n        self.ledger.check_confirm(svc.name, est, confirm)\n",
        "        est = self._price(svc, body)\n        if local:\n"
        "            body = substitute(body, await self.results.upload_all(local))\n            local = {}\n"
        "        self.ledger.check_confirm(svc.name, est, confirm)\n",
        ["tests/core/test_local_media.py"]),
    Bug("a job awaited from two loops gets two poll drivers (Job.start)",
        "phaya_notebook/core/jobs.py",
        "            self._driver = d = None\n        restart =",
        "            self._driver = d = None\n        elif d is not None and not d.done() and d.get_loop() is not here:\n"
        "            self._driver = d = None\n        restart =",
        ["tests/core/test_sync.py::test_a_job_can_be_awaited_on_another_loop"]),
    Bug("two threads take over an idle loop's job at once (Job.start without its lock)",
        "phaya_notebook/core/jobs.py",
        "        with self._start_lock:\n            return self._start_on(here)",
        "        return self._start_on(here)",
        ["tests/core/test_job_contract.py::test_two_threads_taking_over_an_idle_loops_job_make_one_driver"]),
    Bug("sandbox speech shares the video encoders",
        "phaya_notebook/sandbox/pools.py",
        "        return self.heavy if media in HEAVY_MEDIA else self.light", "        return self.heavy",
        ["tests/sandbox/test_timing.py::test_quick_jobs_finish_on_time_behind_a_video_burst"]),
]


def copy_repo(dest: Path) -> None:
    shutil.copytree(SOURCE, dest, ignore=shutil.ignore_patterns(".venv", ".git", "mutants", "__pycache__",
                                                             "phaya-demo", ".phaya", "phaya-media"))


def run(bug: Bug) -> tuple[bool, list[str]]:
    with tempfile.TemporaryDirectory(prefix="phaya-planted-") as tmp:
        work = Path(tmp) / "repo"
        copy_repo(work)
        target = work / bug.path
        text = target.read_text()
        olds = (bug.old,) if isinstance(bug.old, str) else bug.old
        news = (bug.new,) if isinstance(bug.new, str) else bug.new
        for old, new in zip(olds, news, strict=True):
            if text.count(old) != 1:
                raise SystemExit(f"{bug.name}: the code to change is not found once in {bug.path} (update BUGS)")
            text = text.replace(old, new)
        tests = [t for t in bug.tests if (work / t.split("::")[0]).exists()]
        target.write_text(text)
        # cwd first on sys.path: the copy's package is imported, not the editable install
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--tb=line",
                               *tests], cwd=work, capture_output=True, text=True)
        out = [ln.replace(str(work) + "/", "") for ln in proc.stdout.splitlines()]
        failed = [ln for ln in out if ln.startswith("FAILED")]
        where = [ln for ln in out if re.match(r"^tests/.*:\d+: ", ln)]
        return proc.returncode != 0, failed + where + out[-1:]


def main(names: list[str]) -> int:
    global SOURCE
    if names[:1] == ["--root"]:
        SOURCE, names = Path(names[1]).resolve(), names[2:]
    survived = 0
    for bug in BUGS:
        if names and not any(n in bug.name for n in names):
            continue
        caught, lines = run(bug)
        survived += not caught
        print(f"{'CAUGHT  ' if caught else 'SURVIVED'} {bug.name}")
        for ln in lines[:8]:
            print("    ", ln[:240])
        sys.stdout.flush()
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
