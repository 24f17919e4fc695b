"""Chat (flat and OpenRouter-style streaming), models, pricing and embeddings."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx

from phaya_notebook import catalog

from .helpers import admin, client

CHAT = "/phaya-gpt/chat/completions"


def events(c: httpx.Client, body: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """(comment lines, decoded data events) of one streamed reply."""
    comments, data = [], []
    with c.stream("POST", CHAT, json={**body, "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith(":"):
                comments.append(line)
            elif line.startswith("data: "):
                payload = line[6:]
                data.append(payload if payload == "[DONE]" else json.loads(payload))
    return comments, data


def test_flat_reply_and_charge(fresh_sandbox: Any) -> None:
    with client(fresh_sandbox) as c:
        r = c.post(CHAT, json={"messages": [{"role": "user", "content": "Hello there"}]})
        assert r.status_code == 200
        ans = r.json()
        assert ans["success"] is True and ans["message"]["role"] == "assistant" and "Hello there" in ans["message"]["content"]
        u = ans["usage"]
        assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
        assert ans["credits_used"] == catalog.chat_credits(None, u["prompt_tokens"], u["completion_tokens"]) > 0
        assert ans["finish_reason"] == "stop"
        left = c.get("/user/credits").json()["credits_balance"]
        assert math.isclose(left, 100.0 - ans["credits_used"], abs_tol=1e-6)
        short = c.post(CHAT, json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}).json()
        assert short["finish_reason"] == "length" and short["usage"]["completion_tokens"] <= 6


def test_streaming_matches_openrouter(http: httpx.Client) -> None:
    body = {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "Tell me more"}],
            "model": "openai/gpt-4o-mini"}
    comments, data = events(http, body)
    assert comments and data[-1] == "[DONE]"
    chunks = [d for d in data[:-1] if d["choices"]]
    text = "".join(d["choices"][0]["delta"].get("content", "") for d in chunks)
    flat = http.post(CHAT, json=body).json()
    assert text == flat["message"]["content"]
    usage = data[-2]["usage"]
    assert data[-2]["choices"] == [] and usage["cost"] == flat["credits_used"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_stream_error_arrives_mid_stream(http: httpx.Client) -> None:
    _, data = events(http, {"messages": [{"role": "user", "content": "please [stream-error]"}]})
    assert "[DONE]" not in data
    assert any(d["choices"][0]["delta"].get("content") for d in data[:-1])
    assert data[-1]["error"]["message"]


def test_bad_chat_bodies_name_the_field(http: httpx.Client) -> None:
    cases = [({}, ["body", "messages"]), ({"messages": []}, ["body", "messages"]),
             ({"messages": [{"role": "robot", "content": "x"}]}, ["body", "messages", 0, "role"]),
             ({"messages": [{"role": "user", "content": 5}]}, ["body", "messages", 0, "content"]),
             ({"messages": [{"role": "user", "content": "x"}], "model": "gpt-9"}, ["body", "model"]),
             ({"messages": [{"role": "user", "content": "x"}], "temperature": 3}, ["body", "temperature"])]
    for body, loc in cases:
        r = http.post(CHAT, json=body)
        assert r.status_code == 422, body
        assert loc in [d["loc"] for d in r.json()["detail"]], (body, r.json())


def test_models_and_pricing(http: httpx.Client) -> None:
    models = http.get("/phaya-gpt/models").json()["models"]
    assert [m["id"] for m in models] == list(catalog.CHAT_MODELS)
    pricing = {p["model"]: p for p in http.get("/phaya-gpt/pricing").json()["pricing"]}
    assert pricing["phaya-gpt"]["prompt_per_1k"] == catalog.CHAT_MODELS["phaya-gpt"].prompt_per_1k
    assert "youtube" in http.get("/video-download/supported-platforms").json()["platforms"]


def test_embeddings_are_deterministic_and_similar_for_similar_text(http: httpx.Client) -> None:
    def vec(texts: Any) -> list[list[float]]:
        r = http.post("/embedding/create", json={"input": texts, "model": "qwen/qwen3-embedding-8b"})
        assert r.status_code == 200
        assert r.json()["credits_used"] >= 0 and r.json()["usage"]["prompt_tokens"] > 0
        # the live shape: success, id, one 4096-d vector per input, in input order (no index)
        assert r.json()["success"] is True and r.json()["id"]
        assert all(len(d["embedding"]) == 4096 for d in r.json()["data"])
        return [d["embedding"] for d in r.json()["data"]]

    a, b, c = vec(["the cat sat on the mat", "the cat sat on a mat", "quarterly tax filing deadline"])
    assert vec("the cat sat on the mat")[0] == a

    def cos(x: list[float], y: list[float]) -> float:
        return sum(i * j for i, j in zip(x, y, strict=True))

    assert cos(a, b) > 0.7 > cos(a, c)
    assert http.post("/embedding/create", json={"input": 3}).json()["detail"][0]["loc"] == ["body", "input"]


def test_openai_proxy_at_the_host_root(fresh_sandbox: Any) -> None:
    """/v1/* outside /api/v1: OpenAI shapes over the same chat, keys, balance and rate limit."""
    sb = fresh_sandbox
    body = {"messages": [{"role": "user", "content": "Proxy hello"}], "model": "openai/gpt-4o-mini"}
    with httpx.Client(base_url=sb.root_url, headers={"Authorization": f"Bearer {sb.api_key}"}) as v1, \
            client(sb) as api:
        assert httpx.post(sb.root_url + "/v1/chat/completions", json=body).status_code == 401
        ans = v1.post("/v1/chat/completions", json=body).json()
        flat = api.post(CHAT, json=body).json()
        assert ans["object"] == "chat.completion" and ans["model"] == flat["model"]
        assert ans["choices"] == [{"index": 0, "message": {"role": "assistant", "content": flat["message"]["content"]},
                                   "finish_reason": "stop"}]
        assert ans["usage"]["total_tokens"] == flat["usage"]["total_tokens"]
        left = api.get("/user/credits").json()["credits_balance"]
        assert math.isclose(left, 100.0 - 2 * flat["credits_used"], abs_tol=1e-6)  # both were charged

        with v1.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            data = [ln[6:] for ln in r.iter_lines() if ln.startswith("data: ")]
        assert data[-1] == "[DONE]"
        chunks = [json.loads(d) for d in data[:-1]]
        assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) \
            == flat["message"]["content"]

        bad = v1.post("/v1/chat/completions", json={"messages": [{"role": "robot", "content": "x"}]})
        assert bad.status_code == 422 and ["body", "messages", 0, "role"] in [d["loc"] for d in bad.json()["detail"]]

        ids = [m["id"] for m in v1.get("/v1/models").json()["data"]]
        assert set(catalog.CHAT_MODELS) | set(catalog.EMBEDDING_MODELS) == set(ids)
        emb = v1.post("/v1/embeddings", json={"input": ["a cat"]}).json()
        same = api.post("/embedding/create", json={"input": ["a cat"]}).json()
        assert emb["object"] == "list" and emb["data"][0]["embedding"] == same["data"][0]["embedding"]

        with admin(sb) as adm:
            stats = adm.get("/_sandbox/stats").json()["by_key"][sb.key_id(sb.api_key)]["paths"]
        assert stats["/v1/chat/completions"] == 3 and stats["/v1/models"] == 1  # the keyless one is not ours


def test_openai_proxy_shares_the_rate_limit(fresh_sandbox: Any) -> None:
    sb = fresh_sandbox
    with httpx.Client(base_url=sb.root_url, headers={"Authorization": f"Bearer {sb.api_key}"}) as v1, \
            client(sb) as api:
        codes = [v1.get("/v1/models").status_code for _ in range(30)]
        codes += [api.get("/user/credits").status_code for _ in range(30)]
        assert codes == [200] * 60
        r = v1.get("/v1/models")
        assert r.status_code == 429 and r.headers["Retry-After"]
