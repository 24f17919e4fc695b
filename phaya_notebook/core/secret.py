"""The API key in one object whose repr masks it (only the request loop reads the value).

:class:`Secret` shows at most the last four characters in ``repr``/``str``, refuses to be
pickled (so it never lands in a file by accident) and registers the key with
:func:`errors.scrub`, so an error message that quotes it is masked too.
"""

from __future__ import annotations

from typing import Any

from .errors import mask_key, register_secret

__all__ = ["Secret"]


class Secret:
    """Holds the key; its repr and str show only the last four characters."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value
        register_secret(value)

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return mask_key(self._value)

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickled into a file by accident
        raise TypeError("the API key cannot be pickled")
