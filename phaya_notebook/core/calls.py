"""Chat and embedding calls, whole: reserve the ceiling -> one request -> keep the price -> one event.

The requests and their parsing are ``chat.py``'s (sent through the request loop); the money
is the ledger's: a call reserves its ceiling (``max_credits`` and the key's daily cap) before
it is sent, then keeps its price — a call that failed before any answer keeps nothing, one
cut off mid-answer keeps its ceiling (the server may have charged). Every call that passed
validation ends in exactly one :class:`~.chat.ChatEvent` to the client's listeners
(``events.py``): a streamed one as soon as its final usage chunk arrives.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from . import chat as chat_api
from .chat import ChatChunk, ChatReply, Embeddings, chat_body, chat_ceiling, embedding_ceiling, stream_credits
from .events import Events
from .http import RequestLoop
from .money import Ledger, Reservation

__all__ = ["ChatCalls"]


class ChatCalls:
    """The chat, chat stream and embedding calls of one client."""

    def __init__(self, http: RequestLoop, ledger: Ledger, events: Events):
        self.http = http
        self.ledger = ledger
        self.events = events

    async def chat(self, messages: str | list[dict[str, Any]], model: str | None, kw: dict[str, Any]) -> ChatReply:
        body = chat_body(messages, model, False, kw)
        started = time.monotonic()
        held = self.ledger.reserve(chat_ceiling(body), "chat call")
        try:
            reply = await chat_api.ask(self.http, body)
        except BaseException as exc:
            self._done(body, None, None, None, False, started, chat_api.why(exc), held)
            raise
        self._done(body, reply.model, reply.usage, reply.credits, False, started, None, held)
        return reply

    async def stream(self, messages: str | list[dict[str, Any]], model: str | None,
                     kw: dict[str, Any]) -> AsyncGenerator[ChatChunk, None]:
        """Text deltas as they arrive, then one ``done`` chunk with usage and credits."""
        body = chat_body(messages, model, True, kw)
        started = time.monotonic()
        held = self.ledger.reserve(chat_ceiling(body), "chat call")
        emitted = False
        seen_model: str | None = None
        try:
            async with aclosing(chat_api.stream(self.http, body)) as chunks:
                async for chunk in chunks:
                    seen_model = chunk.model or seen_model
                    if chunk.done and not emitted:  # the call is complete: report it now
                        emitted = True
                        usage = chunk.usage or {}
                        self._done(body, seen_model, usage,
                                   stream_credits(seen_model or body.get("model"), usage, chunk.credits),
                                   True, started, None, held)
                    yield chunk
        except GeneratorExit:  # the consumer stopped before the final usage chunk
            if not emitted:
                self._done(body, seen_model, None, None, True, started, "closed early", held)
            raise
        except BaseException as exc:
            if not emitted:
                self._done(body, seen_model, None, None, True, started, chat_api.why(exc), held)
            raise

    async def embed(self, input: str | list[str], model: str | None) -> Embeddings:
        body = chat_api.embed_body(input, model)
        held = self.ledger.reserve(embedding_ceiling(input, body["model"]), "embedding call")
        started = time.time()
        try:
            emb = await chat_api.request_embeddings(self.http, body)
        except BaseException:  # as for chat: a call that failed before answering keeps nothing
            self.ledger.cancel(held)
            raise
        self.ledger.end_call(held, emb.credits, reached=True)  # at the price, even above the ceiling
        self.ledger.timeline.call(started, time.time(), emb.credits, kind="embedding")
        return emb

    def _done(self, body: dict[str, Any], model: str | None, usage: dict[str, Any] | None,
              credits: float | None, streamed: bool, started: float, error: str | None,
              held: Reservation) -> None:
        """A finished chat call: its reservation becomes what it cost, then its event."""
        now = time.time()
        if credits is not None or model is not None:  # it reached the server
            self.ledger.timeline.call(now - (time.monotonic() - started), now, credits)
        self.ledger.end_call(held, credits, reached=error is None or model is not None)
        self.events.chat(body, model, usage, credits, streamed, started, error)
