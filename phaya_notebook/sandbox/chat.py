"""Chat and embeddings without a model: deterministic text and vectors, real wire shapes.

Replies are canned but depend on the conversation, so a client can tell answers
apart; streaming follows OpenRouter's server-sent events (comment lines, delta
chunks, a usage chunk with ``cost``, ``data: [DONE]``), and a last message containing
``[stream-error]`` makes the stream fail after it began, as upstream errors do.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from phaya_notebook import catalog

CHAT_SERVICE = catalog.Service(
    "phaya-gpt/chat/completions", "Phaya-GPT", "file", "create", catalog.CHAT_PARAMS,
    lambda p, f: catalog.Estimate(0.0), lambda p: 1.0, (), "lower")
ROLES = ("user", "system", "assistant")
EMBED_DIM = catalog.EMBEDDING_DIMENSIONS  # 4096, as live
STREAM_ERROR = "[stream-error]"


def tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def check_chat(body: Mapping[str, Any]) -> dict[str, Any]:
    """The catalog's chat fields plus per-message checks; raises catalog.ParamError."""
    problems: list[catalog.ParamProblem] = []
    try:
        clean = catalog.with_defaults(CHAT_SERVICE, body)
    except catalog.ParamError as exc:
        problems.extend(exc.problems)
        clean = {}
    for i, m in enumerate(body.get("messages") or [] if isinstance(body.get("messages"), list) else []):
        if not isinstance(m, Mapping):
            problems.append(catalog.ParamProblem(f"messages.{i}", "is not an object", "{'role', 'content'}"))
            continue
        if m.get("role") not in ROLES:
            problems.append(catalog.ParamProblem(f"messages.{i}.role", f"{m.get('role')!r} is not allowed",
                                                 ", ".join(ROLES)))
        if not isinstance(m.get("content"), str):
            problems.append(catalog.ParamProblem(f"messages.{i}.content", "is not text", "text"))
    model = body.get("model")
    if model is not None and model not in catalog.CHAT_MODELS:
        problems.append(catalog.ParamProblem("model", f"unknown model {model!r}", ", ".join(catalog.CHAT_MODELS)))
    if problems:
        raise catalog.ParamError("phaya-gpt", problems)
    return clean


@dataclass
class Reply:
    id: str
    model: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    credits: float
    fail_midway: bool

    @property
    def usage(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}


_OPENERS = ("Here is a thought", "Good question", "Short answer", "Let me put it simply", "In brief")
_FILLER = ("the sandbox answers offline with canned text, so this reply is shaped like a real one "
           "but says nothing a model would; swap the base URL and key for the real Phaya to get answers")


def reply(body: Mapping[str, Any]) -> Reply:
    messages = body["messages"]
    model_id = body.get("model") or catalog.DEFAULT_CHAT_MODEL
    model = catalog.CHAT_MODELS[model_id]
    last = str(messages[-1].get("content", ""))
    digest = hashlib.sha256(json.dumps(messages, sort_keys=True, default=str).encode()).digest()
    snippet = " ".join(last.split()[:12])
    text = (f"{_OPENERS[digest[0] % len(_OPENERS)]} ({model.name}, message {len(messages)}): "
            f"you said \u201c{snippet}\u201d. {_FILLER}.")
    if body.get("web_search"):
        text += " (Web search is simulated in the sandbox.)"
    finish = "stop"
    max_tokens = body.get("max_tokens")
    completion_tokens = tokens(text)
    if max_tokens is not None and completion_tokens > max_tokens:
        # cut at the limit: a reply stopped by max_tokens used exactly max_tokens tokens
        text, finish, completion_tokens = text[:4 * int(max_tokens)].rstrip(), "length", int(max_tokens)
    prompt_tokens = sum(tokens(str(m.get("content", ""))) + 4 for m in messages)
    credits = catalog.chat_credits(model_id, prompt_tokens, completion_tokens)
    return Reply("gen-" + uuid.uuid4().hex[:24], model.name if model_id == catalog.DEFAULT_CHAT_MODEL else model_id,
                 text, prompt_tokens, completion_tokens, finish, credits, STREAM_ERROR in last)


def flat_answer(r: Reply) -> dict[str, Any]:
    return {"success": True, "id": r.id, "model": r.model, "message": {"role": "assistant", "content": r.text},
            "usage": r.usage, "credits_used": r.credits, "finish_reason": r.finish_reason}


def openai_answer(r: Reply) -> dict[str, Any]:
    """The same reply in OpenAI's ``chat.completion`` shape (the host-root ``/v1`` proxy)."""
    return {"id": r.id, "object": "chat.completion", "created": int(time.time()), "model": r.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": r.text},
                         "finish_reason": r.finish_reason}],
            "usage": {**r.usage, "cost": r.credits}}


def openai_models() -> dict[str, Any]:
    """Chat and embedding models in OpenAI's ``/v1/models`` list shape."""
    ids = list(catalog.CHAT_MODELS) + list(catalog.EMBEDDING_MODELS)
    return {"object": "list", "data": [{"id": i, "object": "model", "created": 0, "owned_by": i.split("/")[0]}
                                       for i in ids]}


async def sse(r: Reply, pause: float) -> AsyncIterator[bytes]:
    """OpenRouter-style server-sent events for one reply."""
    created = int(time.time())

    def event(payload: dict[str, Any]) -> bytes:
        base = {"id": r.id, "object": "chat.completion.chunk", "created": created, "model": r.model}
        return f"data: {json.dumps({**base, **payload})}\n\n".encode()

    yield b": OPENROUTER PROCESSING\n\n"
    words = r.text.split(" ")
    pieces = [" ".join(words[i:i + 3]) + (" " if i + 3 < len(words) else "") for i in range(0, len(words), 3)]
    for n, piece in enumerate(pieces):
        if r.fail_midway and n == 2:
            yield event({"error": {"code": 502, "message": "Upstream provider error (sandbox [stream-error])"},
                         "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]})
            return
        delta = {"role": "assistant", "content": piece} if n == 0 else {"content": piece}
        yield event({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        if n == len(pieces) // 2:
            yield b": OPENROUTER PROCESSING\n\n"
        await asyncio.sleep(pause)
    yield event({"choices": [{"index": 0, "delta": {}, "finish_reason": r.finish_reason}]})
    yield event({"choices": [], "usage": {**r.usage, "cost": r.credits}})
    yield b"data: [DONE]\n\n"


# ---------------------------------------------------------------- embeddings


def check_embedding(body: Mapping[str, Any]) -> tuple[list[str], str]:
    problems: list[catalog.ParamProblem] = []
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts) or len(texts) > 2048:
        problems.append(catalog.ParamProblem("input", "is required as text or a list of texts",
                                             "a string or a list of 1 to 2048 strings"))
        texts = []
    model = body.get("model") or next(iter(catalog.EMBEDDING_MODELS))
    if model not in catalog.EMBEDDING_MODELS:
        problems.append(catalog.ParamProblem("model", f"unknown model {model!r}", ", ".join(catalog.EMBEDDING_MODELS)))
    extra = [k for k in body if k not in ("input", "model", "encoding_format", "dimensions")]
    for k in extra:
        problems.append(catalog.ParamProblem(k, "is not a parameter of embedding", "input, model"))
    if problems:
        raise catalog.ParamError("embedding", problems)
    return texts, str(model)


def embed(text: str) -> list[float]:
    """A hashed bag of words and character trigrams: similar texts get similar vectors."""
    vec = np.zeros(EMBED_DIM)
    low = text.lower()
    feats = low.split() + [low[i:i + 3] for i in range(max(0, len(low) - 2))]
    for f in feats or [""]:
        h = int.from_bytes(hashlib.blake2b(f.encode(), digest_size=8).digest(), "big")
        vec[h % EMBED_DIM] += 1.0 if (h >> 32) & 1 else -1.0
    norm = float(np.linalg.norm(vec)) or 1.0
    return [round(float(x), 6) for x in vec / norm]


def embeddings_answer(texts: list[str], model: str, openai: bool = False) -> dict[str, Any]:
    """The live answer (``success``, ``id``, one 4096-d vector per input), or OpenAI's list shape."""
    n = sum(tokens(t) for t in texts)
    credits = catalog.embedding_credits(model, n)
    usage = {"prompt_tokens": n, "total_tokens": n}
    if openai:
        return {"object": "list", "model": model,
                "data": [{"object": "embedding", "embedding": embed(t), "index": i} for i, t in enumerate(texts)],
                "usage": usage, "credits_used": credits}
    return {"success": True, "id": "gen-" + uuid.uuid4().hex[:24], "model": catalog.EMBEDDING_LABEL,
            "usage": usage, "credits_used": credits, "data": [{"embedding": embed(t)} for t in texts]}
