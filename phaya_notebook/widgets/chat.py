"""Chat box: a conversation whose replies stream in token by token.

Each reply is an HTML widget whose value is re-rendered (Markdown, raw HTML escaped) on
every streamed chunk; the last chunk's usage gives the reply's tokens and credits.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import ipywidgets as w

from .. import catalog
from ..display import esc as _e
from ..display import markdown_to_html
from .studio import aio_of
from .tasks import TaskSet

__all__ = ["ChatBox"]

ERR = "color:#b00"


class ChatBox(w.VBox):
    """CSS: ``phaya-chat``; the history ``phaya-chat-history``; replies ``phaya-chat-reply``."""

    def __init__(self, client: Any, *, model: str | None = None, system: str | None = None):
        self.client = client
        self.aio = aio_of(client)
        self.tasks = TaskSet(on_error=self.show_error)
        self.messages: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
        self.replies: list[dict[str, Any]] = []  # per reply: text, tokens, credits, model
        opts = [(f"{m.name} ({m.id}) — {m.price_text}", m.id) for m in catalog.CHAT_MODELS.values()]
        self.model = w.Dropdown(options=opts, value=model or catalog.DEFAULT_CHAT_MODEL, description="Model",
                                layout=w.Layout(width="620px"))
        self.model.add_class("phaya-model")
        self.history = w.VBox(layout=w.Layout(max_height="480px", overflow_y="auto"))
        self.history.add_class("phaya-chat-history")
        self.input = w.Text(placeholder="Ask something…", layout=w.Layout(width="100%"), continuous_update=True)
        self.input.add_class("phaya-prompt")
        self.send = w.Button(description="Send", icon="paper-plane", button_style="primary")
        self.send.add_class("phaya-generate")
        self.usage = w.HTML("")
        self.usage.add_class("phaya-cost")
        self.error = w.HTML("")
        self.error.add_class("phaya-error")
        self.send.on_click(self._on_send)
        self.input.observe(self._input_changed, names="value")
        super().__init__([self.model, self.history, w.HBox([self.input, self.send]), self.usage, self.error])
        self.add_class("phaya-chat")
        self._busy = False
        self._input_changed()

    def _input_changed(self, change: Any = None) -> None:
        self.send.disabled = self._busy or not self.input.value.strip()

    def _on_send(self, _: Any = None) -> Any:
        text = self.input.value.strip()
        if not text or self._busy:
            return None
        self.input.value = ""
        return self.ask(text)

    def ask(self, text: str) -> Any:
        """Append the user's message and stream the reply as a task; returns the task."""
        self.error.value = ""
        self.messages.append({"role": "user", "content": text})
        user = w.HTML(f'<div style="margin:4px 0"><b>you:</b> <span style="white-space:pre-wrap">{_e(text)}</span></div>')
        user.add_class("phaya-chat-user")
        reply = w.HTML('<i>…</i>')
        reply.add_class("phaya-chat-reply")
        meta = w.HTML("")
        meta.add_class("phaya-chat-meta")
        self.history.children = (*self.history.children, user, reply, meta)
        self._busy = True
        self._input_changed()
        return self.tasks.spawn(self._stream(reply, meta, self.model.value))

    async def _stream(self, reply: w.HTML, meta: w.HTML, model: str) -> None:
        text, usage, credits, chunks = "", None, None, 0
        try:
            # aclosing: the stream's response is closed here even if this task stops early
            async with aclosing(self.aio.chat_stream(list(self.messages), model=model)) as stream:
                async for chunk in stream:
                    if chunk.text:
                        text += chunk.text
                        chunks += 1
                        reply.value = f"<div><b>{_e(model)}:</b></div>{markdown_to_html(text)}"
                    if chunk.usage is not None:
                        usage = chunk.usage
                    if chunk.credits is not None:
                        credits = chunk.credits
        except Exception:
            if not text and self.messages and self.messages[-1]["role"] == "user":
                self.messages.pop()  # nothing came back: do not resend a dangling question
            reply.value = f"<div><b>{_e(model)}:</b></div>{markdown_to_html(text)}" if text else ""
            meta.value = f'<small style="{ERR}">the reply was interrupted</small>'
            raise
        finally:
            self._busy = False
            self._input_changed()
        self.messages.append({"role": "assistant", "content": text})
        tokens = (usage or {}).get("total_tokens")
        if credits is None and usage:
            credits = catalog.chat_credits(model, int(usage.get("prompt_tokens", 0)),
                                           int(usage.get("completion_tokens", 0)))
        self.replies.append({"text": text, "tokens": tokens, "credits": credits, "model": model, "chunks": chunks})
        meta.value = (f"<small>{_e(tokens if tokens is not None else '?')} tokens · "
                      f"{_e(catalog.credits_text(credits))}</small>")
        total = sum(r["credits"] or 0 for r in self.replies)
        self.usage.value = (f"{len(self.replies)} repl{'y' if len(self.replies) == 1 else 'ies'} · "
                             f"{catalog.credits_text(total)} in total")

    def show_error(self, exc: BaseException) -> None:
        self.error.value = f'<span style="{ERR}">{_e(type(exc).__name__)}: {_e(exc)}</span>'

    async def wait(self, timeout: float | None = None) -> None:
        await self.tasks.join(timeout)
