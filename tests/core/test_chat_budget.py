"""Chat calls count against the session budget: reserved at their ceiling, settled at their price.

Against the sandbox over real HTTP: a call whose ceiling does not fit is refused before
any request; a priced reply leaves exactly its credits committed; a call that failed
before answering leaves nothing; one cut off mid-answer keeps its ceiling.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import pytest

from phaya_notebook.core.chat import chat_body, chat_ceiling
from phaya_notebook.core.errors import BudgetExceeded, ServerError

from .conftest import SECRET, Admin


def test_the_ceiling_bounds_the_price_of_any_reply() -> None:
    body = chat_body("hello there", "anthropic/claude-3.5-haiku", False, {"max_tokens": 100})
    # 11 bytes + 8 overhead prompt tokens, 100 reply tokens at 0.003 / 0.015 per 1000
    assert chat_ceiling(body) == pytest.approx(19 / 1000 * 0.003 + 100 / 1000 * 0.015)
    unbounded = chat_body("hello there", "anthropic/claude-3.5-haiku", False, {})
    assert chat_ceiling(unbounded) == pytest.approx(19 / 1000 * 0.003 + 32000 / 1000 * 0.015)
    thai = chat_body("สวัสดี", None, False, {"max_tokens": 1})
    assert chat_ceiling(thai) > chat_ceiling(chat_body("hello!", None, False, {"max_tokens": 1}))


async def test_a_chat_over_the_budget_is_refused_before_any_request(make_client: Any, admin: Admin) -> None:
    c = make_client(max_credits=0.2)
    before = admin.requests_of(SECRET)
    with pytest.raises(BudgetExceeded, match=r"chat call \(up to .* max_credits=0.2 .*smaller max_tokens"):
        await c.chat("hi", model="anthropic/claude-3.5-haiku")  # up to 32000 reply tokens: 0.48
    with pytest.raises(BudgetExceeded):
        async with aclosing(c.chat_stream("hi", model="anthropic/claude-3.5-haiku")) as stream:
            async for _ in stream:
                pass
    assert admin.requests_of(SECRET) == before
    assert c.committed_credits == 0.0


async def test_priced_replies_leave_their_credits_committed(make_client: Any) -> None:
    c = make_client(max_credits=1.0)
    reply = await c.chat("Say hello", model="openai/gpt-4o-mini", max_tokens=200)
    assert reply.credits > 0
    assert c.committed_credits == pytest.approx(reply.credits)
    last = None
    async with aclosing(c.chat_stream("Tell me a story", max_tokens=300)) as stream:
        async for chunk in stream:
            last = chunk
    assert last is not None and last.done
    assert c.committed_credits > reply.credits
    assert c.committed_credits < reply.credits + chat_ceiling(chat_body("Tell me a story", None, True,
                                                                        {"max_tokens": 300}))


async def test_failed_and_cut_off_calls(make_client: Any) -> None:
    c = make_client(max_credits=1.0)
    with pytest.raises(ServerError):
        await c.chat("plain fails [stream-error]", max_tokens=100)
    assert c.committed_credits == 0.0, "no answer, no charge kept"

    body = chat_body("tell me a long story", None, True, {"max_tokens": 500})
    async with aclosing(c.chat_stream("tell me a long story", max_tokens=500)) as stream:
        async for chunk in stream:
            assert not chunk.done
            break
    assert c.committed_credits == pytest.approx(chat_ceiling(body)), "cut off mid-answer: the ceiling stays"


async def test_embeddings_count_too(make_client: Any, admin: Admin) -> None:
    from phaya_notebook.core.chat import embedding_ceiling

    texts = ["one", "two", "สาม"]
    ceiling = embedding_ceiling(texts, "qwen/qwen3-embedding-8b")
    assert ceiling == pytest.approx(5.1e-5)  # (4 + 4 + 10) bytes at the live 2.80 per million, rounded up
    tight = make_client(max_credits=ceiling / 2)
    before = admin.requests_of(SECRET)
    with pytest.raises(BudgetExceeded, match="embedding call"):
        await tight.embed(texts)
    assert admin.requests_of(SECRET) == before and tight.committed_credits == 0.0

    c = make_client(max_credits=1.0)
    emb = await c.embed(texts)
    assert len(emb) == 3 and 0 < emb.credits <= ceiling
    assert c.committed_credits == pytest.approx(emb.credits)
