"""Chat and embedding models: their request fields and their token prices.

Chat and embeddings are not jobs (no status, no result file): they are priced by the
tokens the answer reports, so they have their own table next to the service tables.
"""

from __future__ import annotations

from .model import ChatModel, Param
from .pricing import half_up

__all__ = [
    "CHAT_MODELS",
    "CHAT_PARAMS",
    "DEFAULT_CHAT_MODEL",
    "EMBEDDING_DIMENSIONS",
    "EMBEDDING_LABEL",
    "EMBEDDING_MODELS",
    "chat_credits",
    "embedding_credits",
]

#: Chat models and prices, credits per million tokens. phaya-gpt: the live price (contract,
#: "The live API": ฿10.50 / ฿87.50); the others are [decision] sandbox models.
CHAT_MODELS: dict[str, ChatModel] = {m.id: m for m in (
    ChatModel("phaya-gpt", "Phaya-GPT", 128000, 10.5, 87.5),
    ChatModel("openai/gpt-4o-mini", "GPT-4o mini", 128000, 0.6, 2.4),
    ChatModel("anthropic/claude-3.5-haiku", "Claude 3.5 Haiku", 200000, 3.0, 15.0),
    ChatModel("google/gemini-2.0-flash", "Gemini 2.0 Flash", 1000000, 0.4, 1.6),
)}
DEFAULT_CHAT_MODEL = "phaya-gpt"
#: Embedding models and credits per million input tokens (live: ฿2.80 per million).
EMBEDDING_MODELS: dict[str, float] = {"qwen/qwen3-embedding-8b": 2.8}
#: What the live API calls its embedding model in answers.
EMBEDDING_LABEL = "Phaya Text Embedding"
#: Live embeddings have 4096 dimensions, one vector per input.
EMBEDDING_DIMENSIONS = 4096
CHAT_PARAMS: tuple[Param, ...] = (
    Param("messages", "list", required=True, min_items=1),
    Param("model", nullable=True),
    Param("temperature", "float", default=0.7, minimum=0, maximum=2),
    Param("max_tokens", "int", minimum=1, maximum=32000, nullable=True),
    Param("stream", "bool", default=False),
    Param("web_search", "bool", default=False),
)


def chat_credits(model: str | None, prompt_tokens: int, completion_tokens: int) -> float:
    """A chat call's price: 11 + 4 tokens on phaya-gpt = 0.000466 credits (live)."""
    m = CHAT_MODELS.get(model or DEFAULT_CHAT_MODEL, CHAT_MODELS[DEFAULT_CHAT_MODEL])
    return half_up(prompt_tokens * m.prompt_per_million + completion_tokens * m.completion_per_million, 6)


def embedding_credits(model: str | None, tokens: int) -> float:
    """An embedding call's price: 6 tokens = 1.68e-05 credits (live)."""
    per_million = EMBEDDING_MODELS.get(model or "", next(iter(EMBEDDING_MODELS.values())))
    return half_up(tokens * per_million, 8)
