"""The embedded sandbox is one persistent process per machine (here: per test directory).

Real processes throughout: a kernel stand-in killed with SIGKILL mid-job, the sandbox
process killed with SIGKILL and started again, two kernels connecting at the same moment.
Each test has its own ``PHAYA_SANDBOX_DIR`` (conftest), stopped when it ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from phaya_notebook import connect
from phaya_notebook.core import launch

REPO = Path(__file__).resolve().parents[2]

_KERNEL = textwrap.dedent("""
    import sys
    from phaya_notebook import connect
    s = connect(log_path=sys.argv[1])
    job = s.submit("sora2-text-to-video", prompt="one long take of the sea")
    print(job.id, s.base_url, flush=True)
    job.wait()   # killed while waiting
    print("finished", flush=True)
""")


def _kernel_killed_mid_job(tmp_path: Path) -> tuple[str, str]:
    """A process submits a Sora job on the embedded default and is SIGKILLed while it runs."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", _KERNEL, str(tmp_path / "jobs.sqlite3")], cwd=tmp_path,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        first = child.stdout.readline()
        assert first.startswith("phaya: no PHAYA_API_KEY — using the offline sandbox"), first
        line = child.stdout.readline().split()
        assert len(line) == 2, line
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL
    return line[0], line[1]


def _server(state_dir: Path) -> dict[str, object]:
    return json.loads((state_dir / "server.json").read_text())


def _charges(history: list[dict[str, object]], job_id: str) -> list[float]:
    return [float(t["amount"]) for t in history if t.get("job_id") == job_id]  # type: ignore[arg-type]


@pytest.mark.timeout(180)
def test_a_kernel_killed_mid_job_resumes_it_from_the_persistent_sandbox(tmp_path: Path) -> None:
    job_id, base = _kernel_killed_mid_job(tmp_path)
    state_dir = Path(os.environ["PHAYA_SANDBOX_DIR"])
    pid = _server(state_dir)["pid"]
    os.kill(int(pid), 0)  # the sandbox outlived the kernel that started it  # type: ignore[call-overload]
    with connect(log_path=tmp_path / "jobs.sqlite3") as s:
        assert s.base_url == base and _server(state_dir)["pid"] == pid  # found and reused, not a new one
        assert s.log.get(job_id)["status"] == "processing"  # type: ignore[index]
        results = s.resume()
        assert [r.job_id for r in results] == [job_id]
        assert results[0].path is not None and results[0].path.stat().st_size > 1000
        assert _charges(s.credits_history(limit=50), job_id) == [-8.0]  # charged once, server side
        assert s.credits() == pytest.approx(launch.EMBEDDED_CREDITS - 8.0)
        row = s.log.get(job_id)
        assert row is not None and (row["status"], row["charged"], row["reconcile"]) == ("completed", 8.0, "ok")


@pytest.mark.timeout(180)
def test_a_sandbox_killed_and_restarted_keeps_the_job_its_schedule_and_the_balance(tmp_path: Path) -> None:
    job_id, base = _kernel_killed_mid_job(tmp_path)
    state_dir = Path(os.environ["PHAYA_SANDBOX_DIR"])
    info = _server(state_dir)
    os.kill(int(info["pid"]), signal.SIGKILL)  # type: ignore[call-overload]
    deadline = time.monotonic() + 10
    while launch._running(state_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{info['root_url']}/_sandbox/health", timeout=2)
    t_restart = time.time()
    with connect(log_path=tmp_path / "jobs.sqlite3") as s:
        restarted = _server(state_dir)
        assert restarted["pid"] != info["pid"] and s.base_url == base  # same port, key and state
        results = s.resume()
        assert [r.job_id for r in results] == [job_id]
        assert results[0].path is not None and results[0].path.stat().st_size > 1000
        assert _charges(s.credits_history(limit=50), job_id) == [-8.0]
        assert s.credits() == pytest.approx(launch.EMBEDDED_CREDITS - 8.0)
        row = s.log.get(job_id)
        assert row is not None and row["status"] == "completed"
        # the job kept its real-time schedule: it ended within its planned window, not a
        # full duration after the restart (Sora: 180 s / speed 10 x 0.7..1.3, plus media time)
        assert row["duration"] <= 180 / launch.EMBEDDED_SPEED * 1.3 + 8
        assert row["finished_at"] - t_restart < 180 / launch.EMBEDDED_SPEED * 0.7 + 8 or \
            row["finished_at"] - row["created_at"] <= 180 / launch.EMBEDDED_SPEED * 1.3 + 8


_CONNECT = textwrap.dedent("""
    import sys
    from phaya_notebook import connect
    s = connect(log_path=sys.argv[1])
    print(s.base_url, s.aio.key_id, s.credits(), flush=True)
    s.close()
""")


@pytest.mark.timeout(120)
def test_kernels_connecting_at_once_share_one_server_key_and_balance(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", _CONNECT, str(tmp_path / f"j{i}.sqlite3")], env=env,
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    outs = [p.communicate(timeout=90) for p in procs]  # returns: the detached server keeps no pipe open
    assert all(p.returncode == 0 for p in procs), [o[1][-800:] for o in outs]
    lines = {o[0].strip().splitlines()[-1] for o in outs}
    assert len(lines) == 1, lines  # one URL, one key, one balance
    state_dir = Path(os.environ["PHAYA_SANDBOX_DIR"])
    assert oct((state_dir / "server.json").stat().st_mode & 0o777) == "0o600"
    key = _server(state_dir)["api_key"]
    assert all(str(key) not in o[0] + o[1] for o in outs)


def test_status_and_stop_commands(tmp_path: Path) -> None:
    state_dir = tmp_path / "sb"
    cli = [sys.executable, "-m", "phaya_notebook.sandbox"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args, "--state-dir", str(state_dir)], env=env, capture_output=True,
                              text=True, timeout=90)

    out = run("status")
    assert out.returncode == 3 and "not running" in out.stdout
    try:
        out = run("start")
        assert out.returncode == 0 and "running, pid" in out.stdout, out.stderr
        info = _server(state_dir)
        assert str(info["api_key"]) not in out.stdout
        assert httpx.get(f"{info['root_url']}/_sandbox/health", timeout=5).json()["instance"] == info["instance"]
        again = run("start")
        assert again.returncode == 0 and _server(state_dir)["pid"] == info["pid"]
        assert run("status").returncode == 0
        second = run("serve")  # a second server on the same directory refuses (run.lock)
        assert second.returncode == 1 and "already runs" in second.stderr
        assert _server(state_dir)["pid"] == info["pid"]
    finally:
        out = run("stop")
    assert "stopped" in out.stdout
    assert not (state_dir / "server.json").exists() and run("status").returncode == 3


@pytest.mark.timeout(120)
def test_a_session_whose_sandbox_was_stopped_starts_it_again_on_the_next_request(tmp_path: Path) -> None:
    state_dir = Path(os.environ["PHAYA_SANDBOX_DIR"])
    with connect(log_path=tmp_path / "jobs.sqlite3") as s:
        s.generate("text-to-image", prompt="before the stop")
        balance, pid = s.credits(), _server(state_dir)["pid"]
        stopped = subprocess.run([sys.executable, "-m", "phaya_notebook.sandbox", "stop"], capture_output=True,
                                 text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert "stopped" in stopped.stdout and not launch._running(state_dir)
        assert s.credits() == balance  # nothing was sent to a dead port: started again, same URL and state
        assert _server(state_dir)["pid"] != pid and _server(state_dir)["base_url"] == s.base_url
        assert s.generate("text-to-image", prompt="after the restart").path is not None
