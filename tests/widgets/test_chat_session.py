"""ChatBox on a Session (the sync facade, nest_asyncio on the running loop), as in a kernel.

The session logs the chat events its client emits for every call; the box streams through
the client. Streams must close on this loop — finished, failed or cancelled mid-reply —
and never be left to the garbage collector (that warns, or worse, at exit).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from phaya_notebook.session import Session
from phaya_notebook.widgets import ChatBox

from ..stream_checks import unfinished_http_generators, unraisables_on_collect
from .test_compare_chat import assert_send_ready
from .test_studio import TIMEOUT, until

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")


async def test_chat_box_on_a_session_streams_logs_and_closes(wsandbox: Any, nb_cwd: Path,
                                                            live_streams: list[Any]) -> None:
    s = Session(wsandbox.api_key, wsandbox.base_url, log_path=nb_cwd / "jobs.sqlite3")
    try:
        c = s.chat_box()
        assert isinstance(c, ChatBox)
        c.ask("hello through the session")
        await c.wait(TIMEOUT)
        (r,) = c.replies
        assert r["chunks"] >= 3 and r["credits"] and r["credits"] > 0
        chats = s.jobs(kind="chat")
        assert chats["prompt"].tolist() == ["hello through the session"]
        assert chats["charged"].iloc[0] == pytest.approx(r["credits"])
        assert unfinished_http_generators() == []
        # a reply cancelled mid-stream (the kernel interrupted, the box closed)
        task = c.ask("a reply that will be cut off")
        await until(lambda: "<b>" in c.history.children[-2].value)
        task.cancel()
        await c.wait(TIMEOUT)
        assert task.cancelled() and len(c.replies) == 1
        assert_send_ready(c)  # a cancelled reply does not leave the box busy
        # an error event mid-reply
        c.ask("this fails midway [stream-error]")
        await c.wait(TIMEOUT)
        assert "mid-answer" in c.error.value and len(c.replies) == 1
        assert len(live_streams) == 3 and all(resp.is_closed for resp in live_streams)
        assert unfinished_http_generators() == []
        assert unraisables_on_collect() == []
        assert len(s.jobs(kind="chat")) == 1  # only the finished reply was logged
    finally:
        s.close()
    await asyncio.sleep(0)
