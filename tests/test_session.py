"""Session against the sandbox over real HTTP: logging, refunds, chat, money guards, resume."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phaya_notebook.core import launch
from phaya_notebook.core.errors import (
    BudgetExceeded,
    ConfirmationRequired,
    InsufficientCredits,
    InvalidParams,
    JobFailed,
    ServerError,
)
from phaya_notebook.session import Session, connect

from .sandboxes import running_sandbox
from .stream_checks import unfinished_http_generators, unraisables_on_collect

# Jobs run at speed 6 on a 10x time scale: Z-Image ~0.2 s, Sora 2 ~3 s, polls every 0.5 s.
SPEED, TIME_SCALE = 6.0, 10.0
KEYS = ("k-main:10000", "k-budget:100", "k-poor:20", "k-resume:100", "k-refund:100")


class FastSandbox:
    def __init__(self, sb: Any):
        self.sb = sb
        self.base_url: str = sb.base_url


@pytest.fixture(scope="module")
def fast() -> Iterator[FastSandbox]:
    with running_sandbox(speed=SPEED, time_scale=TIME_SCALE, credits=100.0, api_keys=list(KEYS)) as sb:
        yield FastSandbox(sb)


@pytest.fixture()
def session(fast: FastSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    monkeypatch.chdir(tmp_path)
    s = Session("k-main", fast.base_url)
    try:
        yield s
    finally:
        s.close()


def test_every_job_is_logged_before_polling_and_completed(session: Session) -> None:
    seen: list[tuple[str, Any, int]] = []

    def spy(event: Any) -> None:  # runs after the session's own recorder
        if event.kind == "created":
            seen.append((event.kind, session.log.get(event.job.id), event.job.poll_state.polls))

    session.add_listener(spy)
    result = session.generate("text-to-image", prompt="a <lighthouse> at dusk", aspect_ratio="16:9",
                              tags=("demo",))
    assert seen and seen[0][1] is not None, "the row must exist when the job is announced"
    assert seen[0][1]["status"] in ("pending", "queued") and seen[0][2] == 0
    assert session.log.path == Path.cwd() / ".phaya" / "jobs.sqlite3"
    row = session.log.get(result.job_id)
    assert row is not None
    assert row["status"] == "completed" and row["service"] == "text-to-image" and row["model"] == "Z-Image"
    assert row["prompt"] == "a <lighthouse> at dusk"
    assert row["params"] == {"prompt": "a <lighthouse> at dusk", "aspect_ratio": "16:9"}
    assert (row["estimated"], row["charged"], row["refunded"]) == (1.0, 1.0, 0.0)
    assert row["reconcile"] == "ok" and row["charge_source"] == "credits history"
    assert row["urls"] == result.urls and row["paths"] == [str(p) for p in result.paths]
    assert Path(row["paths"][0]).is_file()
    assert row["tags"] == ["demo"] and row["session"] == session.session_id
    assert row["finished_at"] >= row["created_at"] and row["duration"] >= 0
    df = session.jobs(tag="demo")
    assert list(df["job_id"]) == [result.job_id]
    assert list(session.jobs(service="image")["job_id"]) == [result.job_id]  # aliases resolve


def test_results_that_are_not_files_are_kept_in_the_log(session: Session) -> None:
    """A transcript or a Sora character id was paid for like any file: the log keeps it."""
    speech = session.generate("speech", prompt="keep what you paid for")
    said = session.generate("transcribe", media_url=speech.url)
    assert said.text == "keep what you paid for" and said.media == "text"
    assert session.log.get(said.job_id)["output"] == "keep what you paid for"
    clip = session.generate("image-to-video", image_url=session.generate("image", prompt="a hero").url,
                            duration=2)
    hero = session.generate("character", character_file_url=clip.url)
    assert hero.character_id and session.log.get(hero.job_id)["output"] == hero.character_id
    df = session.jobs()
    assert set(df.dropna(subset=["output"])["job_id"]) == {said.job_id, hero.job_id}


def test_a_refunded_failure_shows_up_as_refunded(session: Session) -> None:
    with pytest.raises(JobFailed) as info:
        session.generate("text-to-image", prompt="this one breaks [fail]")
    job_id = info.value.job.id
    row = session.log.get(job_id)
    assert row is not None
    assert row["status"] == "failed" and "fail" in row["error"]
    assert (row["charged"], row["refunded"], row["delta"]) == (1.0, 1.0, 0.0)
    assert row["reconcile"] == "ok" and row["charge_source"] == "credits history"
    spend = session.spend(this_session=True)
    assert spend.loc["text-to-image", "refunded"] == 1.0
    assert spend.loc["text-to-image", "net"] == 0.0
    failed = session.jobs(status="failed")
    assert failed["refunded"].tolist() == [1.0]


def test_reconcile_flags_a_charge_that_does_not_match_the_estimate(session: Session) -> None:
    result = session.generate("text-to-image", prompt="a cat")
    # pretend our estimate had been wrong: the server's ledger must expose it
    with session.log.write() as conn:
        conn.execute("UPDATE jobs SET estimated = 2.0, charge_source = NULL WHERE job_id = ?", (result.job_id,))
    assert session.reconcile() == {result.job_id: "mismatch"}
    row = session.log.get(result.job_id)
    assert row is not None and row["reconcile"] == "mismatch" and row["delta"] == 1.0
    assert "off by +1" in row["reconcile_note"]


def test_chat_calls_are_logged_with_tokens_and_credits(session: Session,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="phaya_notebook")
    reply = session.chat("Say hello in Thai")
    chunks = list(session.chat_stream([{"role": "user", "content": "and in Japanese"}]))
    assert chunks[-1].done
    # a stream stopped early and a failed call were not charged: no row
    cut = session.chat_stream("cut me off")
    assert not next(cut).done
    cut.close()
    with pytest.raises(ServerError):
        session.chat("this fails [stream-error]")
    assert caplog.text == ""  # every listener (the job recorder too) took the chat events in stride
    assert len(session.jobs()) == 2
    chats = session.jobs(kind="chat")
    assert len(chats) == 2
    assert chats["prompt"].tolist() == ["Say hello in Thai", "and in Japanese"]
    assert (chats["tokens"] > 0).all()
    assert chats["charged"].iloc[0] == pytest.approx(reply.credits) and reply.credits > 0
    assert chats["charged"].iloc[1] > 0
    assert session.spend().loc["chat", "jobs"] == 2


def test_estimate_confirm_threshold_and_bad_input_send_nothing(session: Session) -> None:
    assert session.estimate("veo31-video", prompt="x", model="veo3").credits == 50.0
    assert session.estimate("nano-banana", prompt="x", resolution="4K").credits == 4.0
    before = session.credits()
    with pytest.raises(ConfirmationRequired, match="confirm=True") as info:
        session.generate("veo31-video", prompt="a storm at sea")
    assert info.value.estimate is not None and info.value.estimate.credits == 15.0
    with pytest.raises(InvalidParams, match="aspect_ratio.*allowed: one of '1:1'"):
        session.submit("text-to-image", prompt="x", aspect_ratio="2:1")
    with pytest.raises(InvalidParams, match="unknown service 'txt2img'.*text-to-image"):
        session.submit("txt2img", prompt="x")
    with pytest.raises(InvalidParams, match="colour.*is not a parameter"):
        session.estimate("text-to-image", prompt="x", colour="red")
    assert len(session.log) == 0
    assert session.credits() == before


def test_balance_check_refuses_an_expensive_job_before_the_server_would(fast: FastSandbox, tmp_path: Path) -> None:
    with Session("k-poor", fast.base_url, log_path=tmp_path / "jobs.sqlite3") as s:
        job = s.submit("veo31-video", prompt="first", confirm=True)  # 15 of 20 credits
        with pytest.raises(InsufficientCredits, match="needs about 15 credits; the balance is 5") as info:
            s.submit("veo31-video", prompt="second", confirm=True)
        assert (info.value.needed, info.value.balance) == (15.0, 5.0)
        assert [r for r in s.log.to_dataframe()["job_id"]] == [job.id]
        assert s.aio.committed_credits == 15.0


def test_budget_holds_under_50_concurrent_submissions(fast: FastSandbox, tmp_path: Path) -> None:
    s = Session("k-budget", fast.base_url, log_path=tmp_path / "jobs.sqlite3", max_credits=10)
    start_balance = s.credits()

    async def main() -> list[Any]:
        outcomes = await asyncio.gather(
            *(s.aio.submit("text-to-image", prompt=f"take {i}") for i in range(50)), return_exceptions=True)
        assert s.aio.committed_credits <= 10.0
        jobs = [o for o in outcomes if not isinstance(o, BaseException)]
        await asyncio.gather(*(j.wait() for j in jobs))
        await s.areconcile()
        await s.aio.aclose()
        return outcomes

    try:
        outcomes = asyncio.run(main())
        jobs = [o for o in outcomes if not isinstance(o, BaseException)]
        refused = [o for o in outcomes if isinstance(o, BudgetExceeded)]
        assert len(jobs) == 10 and len(refused) == 40
        assert "max_credits=10" in str(refused[0])
        assert s.budget_left == 0.0
        history = s.credits_history(limit=200)
        charged = sum(-t["amount"] for t in history if t["kind"] == "charge")
        assert charged == 10.0
        assert start_balance - s.credits() == pytest.approx(10.0)
        df = s.jobs()
        assert len(df) == 10 and (df["status"] == "completed").all() and (df["reconcile"] == "ok").all()
    finally:
        s.close()


def test_budget_is_released_by_a_refund(fast: FastSandbox, tmp_path: Path) -> None:
    with Session("k-refund", fast.base_url, log_path=tmp_path / "jobs.sqlite3", max_credits=2) as s:
        bad = s.submit("text-to-image", prompt="doomed [fail]")
        s.submit("text-to-image", prompt="fine")
        with pytest.raises(BudgetExceeded, match="0 left"):
            s.submit("text-to-image", prompt="one too many")
        with pytest.raises(JobFailed):
            bad.wait()
        assert s.budget_left == 1.0
        s.generate("text-to-image", prompt="fits again")
        assert s.budget_left == 0.0


_CHILD = textwrap.dedent("""
    import os, sys
    from phaya_notebook.core import launch
    from phaya_notebook.session import Session
    base, log_path = sys.argv[1], sys.argv[2]
    launch.register(base, speed=float(sys.argv[3]), time_scale=float(sys.argv[4]))
    s = Session(None, base, log_path=log_path)   # key from PHAYA_API_KEY
    job = s.submit("sora2-text-to-video", prompt="one long take of the sea")
    print(job.id, flush=True)
    job.wait()   # killed while waiting
    print("finished", flush=True)
""")


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_job_killed_mid_flight_is_recovered_by_resume(fast: FastSandbox, tmp_path: Path, store: str,
                                                        request: pytest.FixtureRequest) -> None:
    log_path: Any = tmp_path / "jobs.sqlite3" if store == "sqlite" else request.getfixturevalue("pg_url")
    env = {**os.environ, "PHAYA_API_KEY": "k-resume", "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
           "PHAYA_DAILY_CAP": "50"}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, fast.base_url, str(log_path), str(SPEED),
                              str(TIME_SCALE)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=tmp_path, env=env)
    try:
        assert child.stdout is not None
        job_id = child.stdout.readline().strip()
        assert job_id, child.stderr.read() if child.stderr else ""
        with Session("k-resume", fast.base_url, log_path=log_path) as probe:
            row = probe.log.get(job_id)
            assert row is not None and row["status"] == "processing" and row["estimated"] == 8.0
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        if child.stdout:
            child.stdout.close()
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    with Session("k-resume", fast.base_url, log_path=log_path, daily_cap=50) as s:
        # rows of another server, and a job the server never heard of
        s.log.record("elsewhere", service="text-to-image", status="processing", base_url="http://127.0.0.1:9/api/v1",
                     created_at=time.time())
        ghost = str(uuid.uuid4())
        s.log.record(ghost, service="text-to-image", status="processing", base_url=fast.base_url,
                     created_at=time.time())
        results = s.resume()
        assert [r.job_id for r in results] == [job_id]
        assert results[0].path is not None and results[0].path.is_file()
        row = s.log.get(job_id)
        assert row is not None
        assert row["status"] == "completed" and row["paths"] == [str(results[0].path)]
        assert row["prompt"] == "one long take of the sea" and row["session"] != s.session_id
        assert (row["charged"], row["refunded"], row["reconcile"]) == (8.0, 0.0, "ok")
        assert s.log.get(ghost)["status"] == "lost"  # type: ignore[index]
        assert s.log.get("elsewhere")["status"] == "processing"  # type: ignore[index]
        assert s.resume() == []
        # the killed process's daily-cap reservation was settled by the one that resumed its job
        cap = s.log.conn.execute("SELECT state, amount, job_id FROM spend_cap").fetchall()
        assert [tuple(r) for r in cap] == [("settled", 8.0, job_id)]


def test_resume_says_what_it_skipped_and_why(fast: FastSandbox, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    log_path = tmp_path / "jobs.sqlite3"
    with Session("k-resume", fast.base_url, log_path=log_path) as other_key:
        job = other_key.submit("sora2-text-to-video", prompt="the key's own job [stuck]")
    with Session("k-main", fast.base_url, log_path=log_path) as s:
        s.log.record("elsewhere", service="text-to-image", status="processing",
                     base_url="http://127.0.0.1:9/api/v1", created_at=time.time())
        capsys.readouterr()
        assert s.resume() == []
        out = capsys.readouterr().out
        assert out.startswith("phaya: nothing to resume: ")
        assert "1 job(s) of another server (http://127.0.0.1:9/api/v1)" in out
        assert "1 job(s) of another key on this server" in out and "k-resume" not in out
        assert s.log.get(job.id)["status"] == "processing"  # type: ignore[index]  # left for its key
    with Session("k-main", fast.base_url, log_path=tmp_path / "empty.sqlite3") as empty:
        assert empty.resume() == []
        assert capsys.readouterr().out == "phaya: nothing to resume (no unfinished job in this log)\n"


def test_connect_without_a_key_starts_the_sandbox_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    try:
        s = connect(max_credits=5)
        try:
            out = capsys.readouterr().out
            assert out.startswith("phaya: no PHAYA_API_KEY — using the offline sandbox at http://127.0.0.1:")
            assert "(play credits, synthetic media)" in out and out.count("\n") == 1
            assert s.is_sandbox and s.budget_left == 5.0
            assert s.aio._key.get() not in out
            assert s.log.path == tmp_path / ".phaya" / "jobs.sqlite3"
        finally:
            s.close()
    finally:
        launch.stop_embedded()


def test_connect_with_a_key_uses_it_quietly(fast: FastSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PHAYA_API_KEY", "k-main")
    monkeypatch.setenv("PHAYA_BASE", fast.base_url)
    with connect(log_path=tmp_path / "j.sqlite3", confirm_above=0.5) as s:
        assert capsys.readouterr().out == ""
        assert s.base_url == fast.base_url
        with pytest.raises(ConfirmationRequired, match="confirm_above=0.5"):
            s.submit("text-to-image", prompt="x")
        assert "k-main" not in repr(s)


def test_widget_factories_build_widgets_bound_to_the_session(session: Session) -> None:
    from phaya_notebook.widgets import ChatBox, CompareGrid, Studio

    built = [session.studio(), session.compare_grid(), session.chat_box()]
    try:
        assert [type(w) for w in built] == [Studio, CompareGrid, ChatBox]
    finally:
        for w in built:
            close = getattr(w, "close", None)
            if callable(close):
                close()


def test_a_joblog_attached_to_a_bare_async_client_logs_its_jobs(fast: FastSandbox, tmp_path: Path) -> None:
    from phaya_notebook.core.client import AsyncPhaya
    from phaya_notebook.joblog import JobLog

    async def main() -> str:
        async with AsyncPhaya("k-main", fast.base_url, cache_dir=tmp_path / "media") as aio:
            with JobLog(tmp_path / "jobs.sqlite3") as jl:
                jl.attach(aio, session="widget-kernel")
                result = await aio.generate("seedream", prompt="a quiet harbour", quality="high")
                row = jl.get(result.job_id)
                assert row is not None and row["status"] == "completed" and row["session"] == "widget-kernel"
                assert (row["estimated"], row["charged"], row["reconcile"]) == (1.5, 1.5, "ok")
                assert row["charge_source"] == "status answer"  # until a Session reconciles it
                return result.job_id

    assert asyncio.run(main())


# ---------------------------------------------------------------- streams close deterministically
# Session is a sync facade: inside a running loop (a kernel, an async test) nest_asyncio makes
# the loop re-entrant. A stream abandoned early must still be closed on that loop, not left
# to the garbage collector (which warns "no running event loop", or worse at exit).


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
async def test_breaking_out_of_a_session_stream_in_a_running_loop_closes_it(
        sandbox: Any, tmp_path: Path, live_streams: list[Any]) -> None:
    s = Session(sandbox.api_key, sandbox.base_url, log_path=tmp_path / "jobs.sqlite3")
    try:
        it = s.chat_stream("tell me a long story")
        for chunk in it:
            assert chunk.text
            break
        it.close()  # what a for-loop's owner (or the refcount) does to an abandoned generator
        assert live_streams and all(r.is_closed for r in live_streams)
        del it, chunk
        assert unfinished_http_generators() == []
        assert unraisables_on_collect() == []
        # the client still works on this loop afterwards
        assert [c for c in s.chat_stream("again") if c.done]
    finally:
        s.close()
    assert all(r.is_closed for r in live_streams)


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
async def test_an_error_event_mid_stream_closes_the_response(
        sandbox: Any, tmp_path: Path, live_streams: list[Any]) -> None:
    s = Session(sandbox.api_key, sandbox.base_url, log_path=tmp_path / "jobs.sqlite3")
    try:
        got: list[str] = []
        with pytest.raises(ServerError, match="mid-answer"):
            for chunk in s.chat_stream("this one fails [stream-error]"):
                got.append(chunk.text)
        assert got  # it failed after it began
        assert live_streams and all(r.is_closed for r in live_streams)
        assert unfinished_http_generators() == []
        assert unraisables_on_collect() == []
    finally:
        s.close()


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
async def test_async_consumer_stopping_early_closes_the_stream(
        sandbox: Any, tmp_path: Path, live_streams: list[Any]) -> None:
    from contextlib import aclosing

    s = Session(sandbox.api_key, sandbox.base_url, log_path=tmp_path / "jobs.sqlite3")
    try:
        async with aclosing(s.aio.chat_stream("stop me early")) as stream:
            async for _chunk in stream:
                break
        assert live_streams and all(r.is_closed for r in live_streams)
        assert unfinished_http_generators() == []
        assert unraisables_on_collect() == []
    finally:
        s.close()


def test_an_unwritable_log_or_media_folder_is_named_before_anything_starts(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A parent that is a file stops even root: the check probes, it does not trust mode bits."""
    from phaya_notebook.core.errors import FolderNotWritable

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PHAYA_LOG", str(blocker / "jobs.sqlite3"))
    with pytest.raises(FolderNotWritable, match=r"Set PHAYA_LOG to a writable place") as err:
        connect()
    assert err.value.variable == "PHAYA_LOG" and "a-file is a file, not a folder" in str(err.value)
    monkeypatch.setenv("PHAYA_LOG", str(tmp_path / "log" / "jobs.sqlite3"))
    monkeypatch.setenv("PHAYA_CACHE_DIR", str(blocker / "media"))
    with pytest.raises(FolderNotWritable, match=r"Set PHAYA_CACHE_DIR to a writable place") as err:
        connect()
    assert err.value.variable == "PHAYA_CACHE_DIR"
    with pytest.raises(FolderNotWritable, match=r"pass cache_dir=\.\.\."):
        connect(cache_dir=blocker / "media")
    with pytest.raises(FolderNotWritable, match="PHAYA_CACHE_DIR"):  # a log on a server has no folder to check
        connect(log_path="postgresql://team@127.0.0.1:9/phaya", cache_dir=blocker / "media")
    assert not (Path(os.environ["PHAYA_SANDBOX_DIR"]) / "server.json").exists()  # no sandbox was started
    assert not (tmp_path / "log").exists()  # and nothing was created


_READ_ONLY = textwrap.dedent("""
    import os
    from phaya_notebook import connect
    from phaya_notebook.core.errors import FolderNotWritable
    for log in (None, os.environ["WRITABLE_LOG"]):
        if log:
            os.environ["PHAYA_LOG"] = log
        try:
            connect()
        except FolderNotWritable as exc:
            print(exc.variable, "|", exc)
""")


def test_connect_in_a_read_only_folder_names_the_variable_to_set() -> None:
    """The issue's case, as a user who cannot write the folder (root is dropped to nobody)."""
    base = Path(tempfile.mkdtemp(prefix="phaya-ro-"))  # not under pytest's 0700 root: nobody must reach it
    try:
        folder, writable = base / "read-only", base / "writable"
        folder.mkdir()
        writable.mkdir()
        cmd = [sys.executable, "-c", _READ_ONLY]
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root without setpriv: cannot act as a user without write access")
            cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
            base.chmod(0o755)
            writable.chmod(0o777)
        folder.chmod(0o555)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
               "WRITABLE_LOG": str(writable / "jobs.sqlite3")}
        out = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert [line.split(" | ")[0] for line in lines] == ["PHAYA_LOG", "PHAYA_CACHE_DIR"], out.stdout
    assert f"cannot be kept in {folder / '.phaya'}" in lines[0] and "Permission denied" in lines[0]
    assert f"cannot be kept in {folder / 'phaya-media'}" in lines[1]
    assert "offline sandbox" not in out.stdout  # checked before a sandbox was started
    assert not (Path(os.environ["PHAYA_SANDBOX_DIR"]) / "server.json").exists()
