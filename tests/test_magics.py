"""%phaya / %%phaya in a real InteractiveShell, against the sandbox over real HTTP.

Every test loads the extension into a fresh PhayaMagics, runs cells the way a notebook
does (``run_cell`` then ``raise_error``), captures what was displayed and printed, and at
the end checks that the API key appears nowhere in any of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from phaya_notebook import catalog
from phaya_notebook.core.errors import BudgetExceeded, ConfirmationRequired

from .sandboxes import running_sandbox

SPEED, TIME_SCALE = 120.0, 10.0


@pytest.fixture(scope="module")
def box() -> Iterator[Any]:
    """A sandbox of this module's own, time-scaled so polls and compare runs take well under a second."""
    with running_sandbox(speed=SPEED, time_scale=TIME_SCALE, credits=100000.0) as sb:
        yield sb


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance()
    try:
        yield sh
    finally:
        InteractiveShell.clear_instance()


class Ip:
    """The shell with the extension loaded, plus what it printed and displayed."""

    def __init__(self, shell: InteractiveShell, sb: Any, capsys: pytest.CaptureFixture[str]):
        self.shell, self.sb, self.capsys = shell, sb, capsys
        self.pub = CapturingDisplayPublisher()
        self.printed: list[str] = []

    @property
    def magics(self) -> Any:
        return self.shell.magics_manager.registry["PhayaMagics"]

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return self.pub.outputs

    def run(self, src: str) -> Any:
        result = self.shell.run_cell(src, store_history=False)
        result.raise_error()
        return result.result

    def fails(self, src: str) -> str:
        """Run a cell that must fail with a UsageError: no traceback, the message returned."""
        result = self.shell.run_cell(src, store_history=False)
        assert isinstance(result.error_in_exec, UsageError), result.error_in_exec
        out = self.out()
        assert "Traceback" not in out
        assert "UsageError" in out
        return str(result.error_in_exec)

    def out(self) -> str:
        got = self.capsys.readouterr()
        self.printed += [got.out, got.err]
        return got.out + got.err

    def html(self) -> list[str]:
        return [o["data"]["text/html"] for o in self.outputs if "phaya-render" in o["data"].get("text/html", "")]

    def stats(self) -> dict[str, int]:
        """Requests the sandbox saw, per path (admin calls aside)."""
        root = self.sb.base_url.rsplit("/api/v1", 1)[0]
        got = httpx.get(f"{root}/_sandbox/stats", headers={"X-Sandbox-Admin": self.sb.admin_token}).json()
        return {p: n for p, n in got["by_path"].items() if "_sandbox" not in p}

    def everything_shown(self) -> str:
        self.out()
        shown = [json.dumps(o["data"], default=str) for o in self.outputs]
        return "\n".join(self.printed + shown)


@pytest.fixture()
def ip(shell: InteractiveShell, box: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
       capsys: pytest.CaptureFixture[str]) -> Iterator[Ip]:
    monkeypatch.setenv("PHAYA_API_KEY", box.api_key)
    monkeypatch.setenv("PHAYA_BASE", box.base_url)
    monkeypatch.chdir(tmp_path)
    helper = Ip(shell, box, capsys)
    old_pub = shell.display_pub
    shell.display_pub = helper.pub
    shell.run_line_magic("load_ext", "phaya_notebook")
    try:
        yield helper
    finally:
        shell.run_line_magic("unload_ext", "phaya_notebook")
        shell.display_pub = old_pub
        for name in [n for n in shell.user_ns if not n.startswith("_")]:
            if name not in ("In", "Out", "get_ipython", "exit", "quit", "open"):
                shell.user_ns.pop(name, None)
        assert box.api_key not in helper.everything_shown()


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {p: after.get(p, 0) - before.get(p, 0) for p in after if after.get(p, 0) != before.get(p, 0)}


# ---------------------------------------------------------------- loading


def test_load_ext_is_lazy_and_help_and_cost_need_no_core() -> None:
    code = r"""
import json, sys
from IPython.core.interactiveshell import InteractiveShell
sh = InteractiveShell.instance()
sh.run_line_magic("load_ext", "phaya_notebook")
at_load = sorted(m for m in sys.modules if m.split(".")[0] in ("httpx", "pandas", "ipywidgets")
                 or m.startswith(("phaya_notebook.core", "phaya_notebook.session", "phaya_notebook.magic_args")))
sh.run_cell("%phaya help", store_history=False).raise_error()
sh.run_cell("%phaya cost video --model veo3", store_history=False).raise_error()
after = sorted(m for m in sys.modules if m.startswith(("phaya_notebook.core", "httpx")))
print(json.dumps({"line": "phaya" in sh.magics_manager.magics["line"],
                  "cell": "phaya" in sh.magics_manager.magics["cell"], "at_load": at_load, "after": after}))
"""
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("PHAYA_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["line"] and data["cell"]
    assert data["at_load"] == []
    assert data["after"] == []  # help and cost are answered from the catalog alone
    assert "50 credits per job" in out.stdout


# ---------------------------------------------------------------- generation


def test_assigned_image_is_displayed_once_and_returned(ip: Ip) -> None:
    before = ip.stats()
    ip.run("r = %phaya image a red fox --aspect-ratio 16:9")
    r = ip.shell.user_ns["r"]
    assert (r.service, r.media) == ("text-to-image", "image")
    assert r.path.exists() and r.path.stat().st_size > 0
    assert len(ip.html()) == 1 and r.job_id in ip.html()[0]
    status = [o for o in ip.outputs if o["data"].get("text/plain", "").startswith("text-to-image · job")]
    assert status and status[-1]["update"] and "completed" in status[-1]["data"]["text/plain"]
    delta = _delta(before, ip.stats())
    assert delta.get("/api/v1/text-to-image/generate") == 1
    df = ip.run("%phaya jobs -n 1")
    assert list(df["job_id"]) == [r.job_id]
    assert df["prompt"].iloc[0] == "a red fox"
    assert json.loads(df["params"].iloc[0])["aspect_ratio"] == "16:9"


def test_last_line_result_is_shown_by_ipython_not_twice(ip: Ip) -> None:
    result = ip.run("%phaya image a blue fox")
    assert result.media == "image" and result.path.exists()
    assert ip.html() == []  # the cell's own output (Out) shows it
    ip.run("%phaya image a green fox\nx = 1")  # not the shown expression: the handler displays
    assert len(ip.html()) == 1
    ip.run("for colour in ['red', 'grey']:\n    %phaya image a {colour} hen")  # each pass displays
    assert len(ip.html()) == 3
    ip.shell.run_line_magic("phaya", "image a fox from code")  # outside any cell: displays
    assert len(ip.html()) == 4
    df = ip.run("%phaya jobs -n 3")
    assert list(df["prompt"]) == ["a red hen", "a grey hen", "a fox from code"]


def test_cell_body_is_the_prompt_with_interpolation(ip: Ip) -> None:
    ip.shell.user_ns["animal"] = "otter"
    r = ip.run("%%phaya image --aspect-ratio 4:3\na {animal} on a rock\n")
    assert r.media == "image" and ip.html() == []  # the cell's value, shown once by IPython
    df = ip.run("%phaya jobs -n 1")
    assert df["prompt"].iloc[0] == "a otter on a rock"
    assert json.loads(df["params"].iloc[0]) == {"prompt": "a otter on a rock", "aspect_ratio": "4:3"}


def test_repeats_and_no_wait(ip: Ip) -> None:
    ip.run("rs = %phaya image -n 2 two foxes --tag pair")
    rs = ip.shell.user_ns["rs"]
    assert len(rs) == 2 and len({r.job_id for r in rs}) == 2
    assert len(ip.html()) == 2
    before = ip.stats()
    ip.run("j = %phaya image --no-wait a late fox")
    job = ip.shell.user_ns["j"]
    assert job.id in ip.out()
    assert _delta(before, ip.stats()).get("/api/v1/text-to-image/generate") == 1
    result = job.wait()
    assert result.job_id == job.id and result.path.exists()
    df = ip.run("%phaya jobs --tag pair")
    assert sorted(df["job_id"]) == sorted(r.job_id for r in rs)


def test_every_kind_and_utility_subcommand(ip: Ip) -> None:
    ns = ip.shell.user_ns
    ip.run("img = %phaya image a lighthouse")
    ip.run("v = %phaya video a cat surfing --aspect-ratio portrait")
    ip.run("m = %phaya music a sea shanty --instrumental --model V5")
    ip.run("s = %phaya speech hello from the magic --voice Kore")
    ip.run("kb = %phaya ken-burns {img.url} --duration 2 --zoom-mode pan_left")
    ip.run("sub = %phaya subtitle {kb.url} --animation word_pop_fade")
    ip.run("c = %phaya character {kb.url}")
    ip.run("d = %phaya download https://www.youtube.com/watch?v=abc --format mp3")
    ip.run("mv = %phaya merge-video {kb.url} {kb.url}")
    ip.run("lf = %phaya last-frame {kb.url}")
    expect = {"img": "text-to-image", "v": "sora2-text-to-video", "m": "text-to-music", "s": "text-to-speech",
              "kb": "image-to-video", "sub": "thai-subtitle", "c": "sora2-character", "d": "video-download",
              "mv": "media/merge-video", "lf": "media/extract-last-frame"}
    for name, service in expect.items():
        r = ns[name]
        assert r.service == service, name
        assert r.media == catalog.resolve_service(service).media, name
        if service != "sora2-character":
            assert r.paths and all(Path(p).exists() for p in r.paths), name
    assert ns["c"].character_id
    assert len(ns["m"].urls) == 2
    assert len(ip.html()) == len(expect)


# ---------------------------------------------------------------- money


def test_confirm_threshold_needs_yes_and_sends_nothing(ip: Ip) -> None:
    ip.run("r0 = %phaya balance")  # connected
    before = ip.stats()
    msg = ip.fails("%phaya video --model veo3 a dog")
    assert "50 credits" in msg and "--yes" in msg and "confirm_above = 10" in msg
    ip.run("%config PhayaMagics.confirm_above = 0.5")
    msg = ip.fails("%phaya image a fox")
    assert "1 credit," in msg and "1 credits" not in msg and "--yes" in msg
    assert _delta(before, ip.stats()) == {}
    ip.run("r = %phaya image a fox --yes")
    assert ip.shell.user_ns["r"].media == "image"
    ip.run("%config PhayaMagics.confirm_above = 10.0")


def test_max_credits_budget_and_refund_of_failed_jobs(ip: Ip) -> None:
    ip.run("%config PhayaMagics.max_credits = 1.0")
    try:
        msg = ip.fails("%phaya image [fail] a fox")
        assert msg.startswith("JobFailed") and "refunded" in msg
        aio = ip.magics.session.aio  # the trait set the session client's own budget
        assert aio.max_credits == 1.0
        assert aio.committed_credits == 0.0  # refunded: the core released the reservation
        ip.run("r = %phaya image a fox")
        assert aio.committed_credits == 1.0
        before = ip.stats()
        msg = ip.fails("%phaya image another fox")
        assert "max_credits = 1" in msg and "committed 1" in msg
        msg = ip.fails("%phaya image -n 2 two foxes")
        assert "2 credits" in msg and "max_credits = 1" in msg
        # one mechanism: the core refuses the same job from any layer, with no request
        with pytest.raises(BudgetExceeded, match="max_credits=1"):
            ip.magics.session.submit("text-to-image", prompt="a fox from the session")
        assert _delta(before, ip.stats()) == {}
        assert "committed:     1 credit of max_credits 1" in _config(ip)
    finally:
        ip.run("%config PhayaMagics.max_credits = None")
    assert ip.magics.session.aio.max_credits is None


def test_limits_set_before_connecting_reach_the_client_and_read_back(ip: Ip) -> None:
    ip.run("%config PhayaMagics.confirm_above = 0.5")
    ip.run("%config PhayaMagics.max_credits = 100.0")
    try:
        ip.run("r0 = %phaya balance")  # connects with the limits already set
        aio = ip.magics.session.aio
        assert (aio.confirm_above, aio.max_credits) == (0.5, 100.0)
        with pytest.raises(ConfirmationRequired, match="confirm_above=0.5"):
            ip.magics.session.submit("text-to-image", prompt="a fox")  # 1 credit > 0.5: the core's check
        aio.max_credits = 50.0  # set on the session directly: the magics read it back
        assert "of max_credits 50" in _config(ip)
        assert ip.magics.max_credits == 50.0
    finally:
        ip.run("%config PhayaMagics.max_credits = None")
        ip.run("%config PhayaMagics.confirm_above = 10.0")
    assert ip.magics.session.aio.confirm_above == 10.0


def _config(ip: Ip) -> str:
    return ip.magics.config_text()


# ---------------------------------------------------------------- bad input


BAD = [
    ("%phaya imag a cat", ["'imag'", "image", "balance", "seedance"]),
    ("%phaya image a cat --aspec 1:1", ["--aspec", "--aspect-ratio"]),
    ("%phaya image a cat --aspect-ratio 7:3", ["--aspect-ratio", "'7:3'", "'16:9'"]),
    ("%phaya image a cat --resolution 4K", ["--resolution", "--aspect-ratio"]),
    ("%phaya nano-banana a cat --resolution 8K", ["--resolution", "'8K'", "'4K'"]),
    ("%phaya ken-burns http://x/a.png --duration soon", ["--duration", "an integer from 1 to 60"]),
    ("%phaya image a {missing_thing}", ["missing_thing"]),
    ("%phaya image", ["PROMPT", "is required"]),
    ("%phaya video --model seedream a dog", ["seedream", "veo31-video"]),
    ("%phaya image a cat -n 99", ["-n", "1 to 20"]),
    ("%phaya chat --model gpt-9 hello", ["gpt-9", "phaya-gpt"]),
    ("%phaya jobs --status done", ["'done'", "completed"]),
    ("%phaya spend --by week", ["'week'", "day"]),
    ("%phaya compare --model kling a fox", ["'kling'", "seedream"]),
    ("%%phaya balance\nx", ["takes no cell body"]),
    ("%%phaya image a dog\na cat", ["not both"]),
]


def test_bad_input_is_a_usage_error_before_any_request(ip: Ip) -> None:
    ip.run("r0 = %phaya balance")  # connected, so a request would show up
    before = ip.stats()
    for line, needles in BAD:
        msg = ip.fails(line)
        for needle in needles:
            assert needle in msg, (line, needle, msg)
    assert _delta(before, ip.stats()) == {}
    assert ip.html() == []


# ---------------------------------------------------------------- chat


def test_chat_streams_into_one_display_and_keeps_the_conversation(ip: Ip) -> None:
    ip.shell.user_ns["who"] = "Ada"
    before = ip.stats()
    ip.run("%%phaya chat --model openai/gpt-4o-mini\nhello, I am {who}")
    ids = {o["transient"]["display_id"] for o in ip.outputs if o.get("transient")}
    assert len(ids) == 1  # one output area, updated in place
    updates = [o for o in ip.outputs if o["update"]]
    assert len(updates) >= 3  # streamed chunk by chunk, not all at once
    texts = [o["data"].get("text/markdown", "") for o in updates]
    assert all(len(a) <= len(b) for a, b in zip(texts, texts[1:], strict=False))  # growing
    conv = ip.magics.conversation
    assert [m["role"] for m in conv] == ["user", "assistant"]
    assert conv[0]["content"] == "hello, I am Ada" and conv[1]["content"]
    assert conv[1]["content"][:40] in updates[-1]["data"]["text/markdown"]
    ip.run("%phaya chat and again")
    conv = ip.magics.conversation
    assert len(conv) == 4 and "message 3" in conv[-1]["content"]  # the history went with the request
    assert _delta(before, ip.stats()) == {"/api/v1/phaya-gpt/chat/completions": 2}
    ip.run("%phaya chat --reset")
    assert ip.magics.conversation == [] and "cleared" in ip.out()
    df = ip.run("%phaya jobs --service chat")
    assert len(df) == 2


# ---------------------------------------------------------------- tables, account, tools


def test_models_and_cost_make_no_request(ip: Ip) -> None:
    before = ip.stats()
    df = ip.run("%phaya models")
    assert {"service", "model", "media", "price", "parameters"} <= set(df.columns)
    assert set(catalog.SERVICES) <= set(df["service"])
    assert set(catalog.CHAT_MODELS) <= set(df["model"])
    veo = df[df["service"] == "veo31-video"].iloc[0]
    assert veo["price"] == 15.0 and "generation_type" in veo["parameters"]
    assert list(ip.run("%phaya models image")["service"]) == ["text-to-image", "seedream", "nano-banana",
                                                              "gpt-image-2-text-to-image",
                                                              "gpt-image-2-image-to-image"]
    chat = df[df["service"] == "chat"].set_index("model").loc["phaya-gpt"]
    assert "10.50 / 87.50 per million" in chat["price_basis"] and chat["price"] == 87.5
    ip.run("%phaya cost video --model veo3 -n 2")
    out = ip.out()
    assert "veo31-video" in out and "50 credits per job" in out and "= 100 credits" in out
    ip.run("%phaya cost seedance --resolution 1080p --generate-audio")
    assert "23 credits" in ip.out()
    assert ip.magics._session is None  # never connected: no request at all
    assert _delta(before, ip.stats()) == {}  # and the sandbox agrees


def test_balance_jobs_spend_resume(ip: Ip) -> None:
    b0 = ip.run("%phaya balance")
    assert isinstance(b0, float) and "credits" in repr(b0)
    ip.run("r = %phaya seedream a lighthouse --quality high")
    b1 = ip.run("%phaya balance")
    assert b0 - b1 == pytest.approx(1.5)
    spend = ip.run("%phaya spend")
    assert spend.loc["seedream", "charged"] == pytest.approx(1.5)
    assert ip.run("%phaya spend --by day")["charged"].sum() == pytest.approx(1.5)
    assert ip.run("%phaya resume") == []
    assert "No unfinished jobs" in ip.out()


def test_balance_and_spend_show_what_is_left_of_the_daily_cap(ip: Ip, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHAYA_DAILY_CAP", "5")  # read when the session connects (first command)
    ip.run("r = %phaya image a fox at dusk")
    balance = ip.run("%phaya balance")
    assert "daily cap PHAYA_DAILY_CAP=5: 4 left today (UTC)" in repr(balance)
    spend = ip.run("%phaya spend")
    assert spend.attrs["daily_cap"] == {"cap": 5.0, "spent": 1.0, "left": 4.0}
    assert "PHAYA_DAILY_CAP=5" in repr(spend) and "4 left" in spend._repr_html_()


def test_resume_picks_up_a_job_from_an_earlier_session(ip: Ip) -> None:
    ip.run("j = %phaya image --no-wait a fox left running")
    job_id = ip.shell.user_ns["j"].id
    ip.shell.run_line_magic("unload_ext", "phaya_notebook")  # closes that session (the kernel "restarts")
    ip.shell.run_line_magic("load_ext", "phaya_notebook")
    rs = ip.run("rs = %phaya resume")
    rs = ip.shell.user_ns["rs"]
    assert [r.job_id for r in rs] == [job_id]
    assert rs[0].path.exists() and len(ip.html()) == 1


def test_studio_and_compare(ip: Ip) -> None:
    import ipywidgets

    assert isinstance(ip.run("%phaya studio"), ipywidgets.Widget)
    assert isinstance(ip.run("%phaya compare"), ipywidgets.Widget)
    before = ip.stats()
    msg = ip.fails("%phaya compare --model veo,image a fox")
    assert "16 credits" in msg and "--yes" in msg
    assert _delta(before, ip.stats()) == {}
    comparison = ip.run("%%phaya compare --model image,seedream\na fox\na hen\n")
    df = comparison.df
    assert len(df) == 4 and set(df["status"]) == {"completed"}


def test_config_shows_where_requests_go_never_the_key(ip: Ip) -> None:
    ip.run("%phaya config")
    out = ip.out()
    assert ip.sb.base_url in out and "not connected yet" in out and "API key:       set" in out
    ip.run("r = %phaya balance")
    ip.run("%phaya config")
    out = ip.out()
    assert "connected" in out and "sandbox" in out and ip.sb.base_url in out
    assert ip.sb.api_key not in out
    ip.run("%phaya help")
    out = ip.out()
    assert "%phaya image" in out and "%%phaya chat" in out
    ip.run("%phaya help seedance")
    assert "--generate-audio" in ip.out()


def test_defaults_via_config(ip: Ip, caplog: pytest.LogCaptureFixture) -> None:
    ip.run("%config PhayaMagics.image_model = 'seedream'")
    ip.run("%config PhayaMagics.music_model = 'V5'")
    try:
        r = ip.run("%phaya image a fox")
        assert r.service == "seedream"
        assert ip.magics.image_model == "seedream"
        ip.run("%config PhayaMagics.image_model = 'veo'")  # not an image model: refused, named
        assert ip.magics.image_model == "seedream"
        assert "text-to-image, seedream, nano-banana" in caplog.text + ip.out()
        ip.run("%config PhayaMagics.chat_model = 'nope'")
        assert ip.magics.chat_model == ""
        assert "anthropic/claude-3.5-haiku" in caplog.text + ip.out()
        ip.shell.run_line_magic("reload_ext", "phaya_notebook")  # a bad value must not break later loads
        assert ip.magics.image_model == "seedream" and ip.magics.chat_model == ""
        ip.run("r2 = %phaya music a tune")
        df = ip.run("%phaya jobs -n 1")
        assert json.loads(df["params"].iloc[0])["model"] == "V5"
    finally:
        ip.run("%config PhayaMagics.image_model = ''")
        ip.run("%config PhayaMagics.music_model = ''")


def test_connects_lazily_to_the_embedded_sandbox_without_a_key(ip: Ip, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PHAYA_API_KEY")
    monkeypatch.delenv("PHAYA_BASE")
    ip.run("%phaya config")
    assert "starts on first use" in ip.out()
    assert ip.magics._session is None
    balance = ip.run("%phaya balance")
    lines = [ln for ln in ip.out().splitlines() if ln.strip()]
    assert len(lines) == 2 and "sandbox" in lines[0]  # one line says so, then Out
    assert balance > 0
    ip.run("%phaya config")
    assert "set (sandbox key)" in ip.out()
    from phaya_notebook.core import launch

    _, embedded_key = launch.embedded_sandbox()
    assert embedded_key not in ip.everything_shown() and embedded_key not in repr(ip.magics.session)


def test_a_local_file_for_a_media_flag_is_uploaded(ip: Ip, tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (32, 24), (200, 80, 40)).save(tmp_path / "cat.png")
    before = ip.stats()
    ip.run("r = %phaya video --model image-to-video --image-url ./cat.png --duration 2")
    r = ip.shell.user_ns["r"]
    assert r.media == "video" and r.paths
    sent = ip.magics.session.aio.jobs[-1].params["image_url"]
    assert sent.startswith("http") and "cat" in sent
    assert _delta(before, ip.stats()).get("/api/v1/media/upload") == 1
    before = ip.stats()
    msg = ip.fails("%phaya video --model image-to-video --image-url ./dog.png")
    assert "image_url" in msg and "not an existing file" in msg
    assert _delta(before, ip.stats()) == {}


def test_gpt_image_2_from_the_image_magic(ip: Ip, tmp_path: Path) -> None:
    """``%phaya image --model gpt-image-2``: runs; its rules and inputs refused before any request."""
    from PIL import Image

    before = ip.stats()
    ip.run('r = %phaya image "a paper boat" --model gpt-image-2 --resolution 2K --aspect-ratio 16:9')
    r = ip.shell.user_ns["r"]
    assert r.service == "gpt-image-2-text-to-image" and r.path.exists()
    assert _delta(before, ip.stats()).get("/api/v1/gpt-image-2-text-to-image/create") == 1
    assert ip.run("%phaya jobs -n 1")["processing_time_ms"].iloc[0] >= 0
    src = tmp_path / "boat.png"
    Image.new("RGB", (64, 48), (1, 2, 3)).save(src)
    ip.run(f'e = %phaya image "the boat at night" --model gpt-image-2-edit --input-urls {src}')
    assert ip.shell.user_ns["e"].service == "gpt-image-2-image-to-image"
    before = ip.stats()
    for line, words in [
        ('%phaya image "x" --model gpt-image-2 --resolution 2K --aspect-ratio auto', ("aspect", "resolution")),
        ('%phaya image "x" --model gpt-image-2 --resolution 4K', ("aspect", "4K", "the default")),
        ('%phaya image "x" --model gpt-image-2 --aspect-ratio 7:3', ("aspect", "21:9")),
        ('%phaya image "x" --model gpt-image-2-edit --input-urls a,b,c,d,e,f', ("input-urls", "1 to 5")),
        ('%phaya image "x" --model gpt-image-2-edit --input-urls ./nowhere.png', ("input-urls", "existing file")),
    ]:
        msg = ip.fails(line)
        assert all(w in msg for w in words), (line, msg)
    assert _delta(before, ip.stats()) == {}, "refused before any request"
