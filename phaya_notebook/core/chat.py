"""Chat and embeddings: answers as small dataclasses, and the SSE stream parser.

Every chat call that reaches the server ends in exactly one :class:`ChatEvent`, delivered
to the client's listeners (``AsyncPhaya.add_listener``, next to the JobEvents), so the job
log can count tokens and credits whichever layer chatted.

The streaming parser is tolerant by design: comment lines (``:``), blank lines, unknown
fields and keep-alives are skipped; an ``error`` object arriving mid-stream (on an HTTP
200) raises :class:`ServerError` with the server's message.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal

from .. import catalog
from .errors import InvalidParams, ServerError
from .http import Ambiguous, RequestLoop

__all__ = ["CHAT_PATH", "EMBEDDING_PATH", "ChatChunk", "ChatEvent", "ChatReply", "Embeddings", "ask", "chat_body",
           "embed_body", "embeddings_from", "parse_sse", "request_embeddings", "stream", "why"]

CHAT_PATH = "/phaya-gpt/chat/completions"
EMBEDDING_PATH = "/embedding/create"


@dataclass
class ChatReply:
    text: str
    model: str
    usage: dict[str, Any] = field(default_factory=dict)
    credits: float = 0.0
    finish_reason: str | None = None

    def __str__(self) -> str:
        return self.text


@dataclass
class ChatChunk:
    text: str = ""
    done: bool = False
    usage: dict[str, Any] | None = None
    credits: float | None = None
    model: str | None = None


@dataclass
class ChatEvent:
    """One finished chat call, for listeners (the job log): what it cost and how it ended.

    ``error`` is None when the reply (or the stream's final usage chunk) arrived; else it
    says why not (the error, or ``"closed early"``), and ``usage``/``credits`` hold what
    was known by then (usually nothing). ``kind`` is always ``"chat"``: a listener that
    also receives :class:`~phaya_notebook.core.jobs.JobEvent` tells them apart by it.
    """

    model: str
    messages: list[dict[str, Any]]
    usage: dict[str, Any] = field(default_factory=dict)
    credits: float | None = None
    streamed: bool = False
    error: str | None = None
    duration: float = 0.0
    kind: Literal["chat"] = "chat"

    @property
    def prompt(self) -> str | None:
        """The last user message (what a log row shows)."""
        users = [m.get("content") for m in self.messages if m.get("role") == "user"]
        last = users[-1] if users else None
        return last if isinstance(last, str) else None

    @property
    def tokens(self) -> int | None:
        """Total tokens, from ``total_tokens`` or prompt + completion; None when unknown."""
        total = self.usage.get("total_tokens")
        if total is None and self.usage:
            total = int(self.usage.get("prompt_tokens") or 0) + int(self.usage.get("completion_tokens") or 0)
        return None if total is None else int(total)


def stream_credits(model: str | None, usage: dict[str, Any] | None, credits: float | None) -> float | None:
    """A stream's credits: the server's figure, else the catalog's price of its token usage."""
    if credits is not None or usage is None:
        return credits
    return catalog.chat_credits(model, int(usage.get("prompt_tokens") or 0),
                                int(usage.get("completion_tokens") or 0))


@dataclass
class Embeddings:
    vectors: list[list[float]]
    model: str
    usage: dict[str, Any] = field(default_factory=dict)
    credits: float = 0.0
    id: str | None = None

    @property
    def dimensions(self) -> int:
        return len(self.vectors[0]) if self.vectors else 0

    def __len__(self) -> int:
        return len(self.vectors)

    def __getitem__(self, i: int) -> list[float]:
        return self.vectors[i]


def embeddings_from(data: Any, model: str) -> Embeddings:
    """An embedding answer: live ``{success, id, model, usage, credits_used, data: [{embedding}]}``
    (one vector per input, in order) or the older shape with ``index`` and no ``success``."""
    if not isinstance(data, dict) or data.get("success") is False or not isinstance(data.get("data"), list):
        raise ServerError("embedding: the answer has no vectors"
                          + (f" ({data.get('error') or data.get('message')})" if isinstance(data, dict) else ""))
    items = sorted(data["data"], key=lambda d: d.get("index", 0) if isinstance(d, dict) else 0)
    try:
        vectors = [[float(x) for x in d["embedding"]] for d in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise ServerError(f"embedding: malformed vectors ({type(exc).__name__})") from None
    raw_usage = data.get("usage")
    usage: dict[str, Any] = dict(raw_usage) if isinstance(raw_usage, dict) else {}
    credits = data.get("credits_used", usage.get("cost"))
    if not isinstance(credits, (int, float)) or isinstance(credits, bool):
        credits = catalog.embedding_credits(model, int(usage.get("prompt_tokens") or 0))
    return Embeddings(vectors, str(data.get("model") or model), usage, float(credits),
                      str(data["id"]) if data.get("id") else None)


_CHAT = catalog.Service(
    "phaya-gpt/chat", "Phaya-GPT chat", "file", "create", catalog.CHAT_PARAMS,
    lambda p, f: catalog.Estimate(0.0, False, "per token"), lambda p: 1.0, (), "lower",
)


def chat_ceiling(body: dict[str, Any]) -> float:
    """The most a chat call can cost, so a session budget holds before the reply is priced.

    Prompt tokens are bounded by the UTF-8 bytes of the messages (plus a few per
    message), the reply by ``max_tokens`` or else the most the contract lets one ask for.
    """
    messages = body.get("messages") or []
    prompt = sum(len(str(m.get("content", "")).encode()) + 8 for m in messages if isinstance(m, dict))
    limit = next(p.maximum for p in catalog.CHAT_PARAMS if p.name == "max_tokens")
    completion = int(body.get("max_tokens") or limit or 0)
    return catalog.chat_credits(body.get("model"), prompt, completion)


def embedding_ceiling(input: str | list[str], model: str) -> float:
    """The most an embedding call can cost: its UTF-8 bytes as tokens, at the catalog's price."""
    texts = [input] if isinstance(input, str) else input
    tokens = sum(len(t.encode()) + 1 for t in texts)
    return math.ceil(tokens * catalog.EMBEDDING_MODELS[model]) / 1e6  # per million; never rounded down


def chat_body(messages: str | list[dict[str, Any]], model: str | None, stream: bool,
              kw: dict[str, Any]) -> dict[str, Any]:
    """Validate a chat request against the catalog; raises InvalidParams before sending."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    problems: list[catalog.ParamProblem] = []
    if not isinstance(messages, list) or not messages:
        problems.append(catalog.ParamProblem("messages", "must be a non-empty list or a string",
                                             "a string, or a list of {'role', 'content'} dicts"))
    else:
        for i, m in enumerate(messages):
            if not (isinstance(m, dict) and m.get("role") in ("user", "system", "assistant")
                    and isinstance(m.get("content"), str)):
                problems.append(catalog.ParamProblem(
                    f"messages[{i}]", "is not a chat message",
                    "{'role': 'user'|'system'|'assistant', 'content': str}"))
    if problems:
        raise InvalidParams("chat", problems)
    params = dict(kw)
    params["messages"] = ["x"]  # shape checked above; the catalog checks the rest
    if model is not None:
        params["model"] = model
    try:
        body = catalog.validate(_CHAT, params)
    except catalog.ParamError as err:
        raise InvalidParams.from_param_error(err) from None
    body["messages"] = messages
    body["stream"] = stream
    return body


def reply_from(data: dict[str, Any]) -> ChatReply:
    """The flat Phaya answer; OpenAI's ``choices[]`` shape is accepted too."""
    msg = data.get("message")
    if not isinstance(msg, dict):
        choices = data.get("choices") or [{}]
        msg = (choices[0] or {}).get("message") or {}
        finish = (choices[0] or {}).get("finish_reason")
    else:
        finish = data.get("finish_reason")
    usage = data.get("usage") or {}
    credits = data.get("credits_used", usage.get("cost", 0.0))
    return ChatReply(str(msg.get("content") or ""), str(data.get("model") or ""), usage,
                     float(credits or 0.0), finish)


async def parse_sse(lines: AsyncIterator[str]) -> AsyncGenerator[ChatChunk, None]:
    """Server-sent events -> text deltas, ending with one ``done`` chunk (usage, credits)."""
    usage: dict[str, Any] | None = None
    credits: float | None = None
    model: str | None = None
    async for raw in lines:
        line = raw.strip()
        if not line or line.startswith(":") or not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            break
        try:
            event = json.loads(payload)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        if event.get("error"):
            err = event["error"]
            text = err.get("message") if isinstance(err, dict) else str(err)
            raise ServerError(f"chat stream failed mid-answer: {text}", detail=err)
        model = event.get("model") or model
        if event.get("usage"):
            usage = event["usage"]
            credits = event.get("credits_used", usage.get("cost", credits))
        for choice in event.get("choices") or []:
            delta = (choice or {}).get("delta") or {}
            text = delta.get("content")
            if text:
                yield ChatChunk(text=text, model=model)
    yield ChatChunk(text="", done=True, usage=usage, credits=None if credits is None else float(credits),
                    model=model)


# ----------------------------------------------------------------- requests (transport: core/http.py)
# A chat or embedding POST is unsafe (it may be charged): the request loop never resends it
# once it may have arrived, and its ambiguous failure is simply the error (nothing to look up).


async def ask(http: RequestLoop, body: dict[str, Any]) -> ChatReply:
    """One chat request (a ``chat_body(..., stream=False)``) and its parsed reply."""
    try:
        data = await http.call("POST", CHAT_PATH, json=body, safe=False, what="chat")
    except Ambiguous as amb:
        raise amb.error from None
    return reply_from(data if isinstance(data, dict) else {})


async def stream(http: RequestLoop, body: dict[str, Any]) -> AsyncGenerator[ChatChunk, None]:
    """A streamed chat request: its chunks, the connection closed on the spot when stopped early."""
    try:
        async with http.stream("POST", CHAT_PATH, json=body, what="chat stream") as lines, \
                aclosing(parse_sse(lines)) as chunks:
            async for chunk in chunks:
                yield chunk
    except Ambiguous as amb:
        raise amb.error from None


def embed_body(input: Any, model: str | None) -> dict[str, Any]:
    """Validate an embedding request; raises InvalidParams (naming the field) before sending."""
    if not (isinstance(input, str) or (isinstance(input, list) and input
                                       and all(isinstance(x, str) for x in input))):
        raise InvalidParams("embedding", [catalog.ParamProblem("input", "is not text",
                                                               "a string or a non-empty list of strings")])
    model = model or next(iter(catalog.EMBEDDING_MODELS))
    if model not in catalog.EMBEDDING_MODELS:
        raise InvalidParams("embedding", [catalog.ParamProblem(
            "model", f"{model!r} is not allowed", ", ".join(catalog.EMBEDDING_MODELS))])
    return {"input": input, "model": model}


async def request_embeddings(http: RequestLoop, body: dict[str, Any]) -> Embeddings:
    """One embedding request (an ``embed_body``) and its vectors (the live shape and the older one)."""
    try:
        data = await http.call("POST", EMBEDDING_PATH, json=body, safe=False, what="embedding")
    except Ambiguous as amb:
        raise amb.error from None
    return embeddings_from(data, body["model"])


def why(exc: BaseException) -> str:
    """A chat event's ``error``: the message, or the exception's name when it has none."""
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return str(exc) or type(exc).__name__
