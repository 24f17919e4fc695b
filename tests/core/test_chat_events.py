"""Chat calls reach the client's listeners as exactly one ChatEvent each, against the sandbox.

Plain, streamed to the end, stopped early, and failed mid-way: one event per call, with
the usage and credits the server reported (none when it never got that far).
"""

from __future__ import annotations

import logging
from contextlib import aclosing
from typing import Any

import pytest

from phaya_notebook import catalog
from phaya_notebook.core.chat import ChatEvent
from phaya_notebook.core.errors import InvalidParams, ServerError


def _listen(c: Any) -> list[Any]:
    events: list[Any] = []
    c.add_listener(events.append)
    return events


async def test_one_event_per_plain_and_streamed_call(make_client: Any) -> None:
    c = make_client()
    events = _listen(c)
    reply = await c.chat("Say hello", model="openai/gpt-4o-mini")
    assert len(events) == 1
    ev = events[0]
    assert isinstance(ev, ChatEvent) and ev.kind == "chat" and not ev.streamed and ev.error is None
    assert ev.model == reply.model and ev.prompt == "Say hello"
    assert ev.credits == pytest.approx(reply.credits) and reply.credits > 0
    assert ev.usage == reply.usage and ev.tokens == reply.usage["total_tokens"] > 0
    assert ev.duration > 0

    seen_at_done: list[int] = []
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "Tell me a story"}]
    async with aclosing(c.chat_stream(messages)) as stream:
        async for chunk in stream:
            if chunk.done:
                seen_at_done.append(len(events))
    assert seen_at_done == [2], "the event is out before the final chunk reaches the consumer"
    assert len(events) == 2
    ev = events[1]
    assert ev.streamed and ev.error is None and ev.prompt == "Tell me a story" and ev.messages == messages
    assert ev.usage == chunk.usage and ev.tokens and ev.tokens > 0
    expected = chunk.credits if chunk.credits is not None else catalog.chat_credits(
        chunk.model, ev.usage["prompt_tokens"], ev.usage["completion_tokens"])
    assert ev.credits == pytest.approx(expected) and ev.credits > 0

    # breaking out right after the final chunk: still one event for that call
    async with aclosing(c.chat_stream("once more")) as stream:
        async for chunk in stream:
            if chunk.done:
                break
    assert len(events) == 3 and events[2].error is None and events[2].credits


async def test_a_stream_closed_early_or_failing_reports_once(make_client: Any) -> None:
    c = make_client()
    events = _listen(c)
    async with aclosing(c.chat_stream("tell me a long story")) as stream:
        async for chunk in stream:
            assert not chunk.done
            break
    assert len(events) == 1
    ev = events[0]
    assert ev.streamed and ev.error == "closed early" and ev.usage == {} and ev.credits is None
    assert ev.tokens is None and ev.prompt == "tell me a long story"

    got: list[str] = []
    with pytest.raises(ServerError, match="mid-answer"):
        async with aclosing(c.chat_stream("this fails [stream-error]")) as stream:
            async for chunk in stream:
                got.append(chunk.text)
    assert got and len(events) == 2
    assert events[1].streamed and events[1].error and "mid-answer" in events[1].error

    with pytest.raises(ServerError):
        await c.chat("plain fails too [stream-error]")
    assert len(events) == 3 and not events[2].streamed and events[2].error and events[2].credits is None

    # refused before any request: no call was made, so no event
    with pytest.raises(InvalidParams):
        await c.chat("hi", temperature=5)
    with pytest.raises(InvalidParams):
        async with aclosing(c.chat_stream([])) as stream:
            async for _ in stream:
                pass
    assert len(events) == 3


async def test_a_failing_listener_breaks_nothing(make_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    c = make_client()

    def broken(event: Any) -> None:
        raise RuntimeError("listener bug")

    c.add_listener(broken)
    events = _listen(c)
    with caplog.at_level(logging.ERROR, logger="phaya_notebook"):
        reply = await c.chat("still works")
    assert reply.text and len(events) == 1 and events[0].error is None
    assert "listener failed on a chat event" in caplog.text
    c.remove_listener(events.append)
    await c.chat("not heard")
    assert len(events) == 1
