"""``%%phaya chat``: one conversation per magics instance, its answer streamed into the cell.

The conversation (system prompt, turns) lives here; a failed or interrupted turn is taken
back so the next one is not sent after a question that was never answered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..magic_args import Chat


class Conversation:
    """The chat so far, and one ``%%phaya chat`` command run against it."""

    def __init__(self) -> None:
        self._messages: list[dict[str, str]] = []

    @property
    def messages(self) -> list[dict[str, str]]:
        """The chat so far (a copy)."""
        return [dict(m) for m in self._messages]

    def run(self, cmd: Chat, connect: Callable[[], Any], default_model: str) -> None:
        """Apply ``--reset`` / ``--system``, then stream the answer to the prompt (if any).

        ``connect`` gives the session (called only when a prompt is sent).
        """
        from contextlib import closing

        from IPython.display import Markdown, display

        if cmd.reset:
            self._messages.clear()
            if cmd.prompt is None and cmd.system is None:
                print("Chat conversation cleared.")
                return None
        if cmd.system is not None:
            self._messages = [m for m in self._messages if m["role"] != "system"]
            self._messages.insert(0, {"role": "system", "content": cmd.system})
        if cmd.prompt is None:
            return None
        session = connect()
        self._messages.append({"role": "user", "content": cmd.prompt})
        kwargs: dict[str, Any] = {}
        if cmd.temperature is not None:
            kwargs["temperature"] = cmd.temperature
        if cmd.max_tokens is not None:
            kwargs["max_tokens"] = cmd.max_tokens
        if cmd.web_search:
            kwargs["web_search"] = True
        model = cmd.model or default_model or None
        handle = display(Markdown("*…*"), display_id=True)
        text, usage, credits = "", None, None
        try:
            # closing: the stream (an open response) ends here even if displaying fails midway
            with closing(session.chat_stream(list(self._messages), model=model, **kwargs)) as stream:
                for chunk in stream:
                    if chunk.text:
                        text += chunk.text
                        if handle is not None:
                            handle.update(Markdown(text))
                    usage = chunk.usage or usage
                    credits = chunk.credits if chunk.credits is not None else credits
        except BaseException:
            self._messages.pop()
            raise
        self._messages.append({"role": "assistant", "content": text})
        if handle is not None:
            from types import SimpleNamespace

            from ..display import render

            handle.update(render(SimpleNamespace(text=text, model=model, usage=usage or {},
                                                 credits=credits, finish_reason="stop")))
        return None
