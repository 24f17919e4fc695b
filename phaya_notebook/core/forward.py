"""A client setting that lives on one of its collaborators, read and written through the client.

``AsyncPhaya.max_credits`` is the ledger's ``max_credits``, ``AsyncPhaya.time_scale`` the
request loop's: the owner keeps the one value; the client's public attribute (unchanged
API: ``client.max_credits = 5`` still works) forwards to it.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, overload

__all__ = ["Forward"]

T = TypeVar("T")


class Forward(Generic[T]):
    """``name = Forward[type]("owner", "doc")``: ``obj.name`` is ``obj.owner.name`` (or ``.attr``)."""

    def __init__(self, owner: str, doc: str = "", *, attr: str = "", read_only: bool = False):
        self.owner = owner
        self.__doc__ = doc
        self.read_only = read_only
        self.name = self.public = attr  # the owner's name for it (default: the same name)

    def __set_name__(self, cls: type, name: str) -> None:
        self.public, self.name = name, self.name or name

    @overload
    def __get__(self, obj: None, cls: type | None = None) -> Forward[T]: ...

    @overload
    def __get__(self, obj: object, cls: type | None = None) -> T: ...

    def __get__(self, obj: object | None, cls: type | None = None) -> Any:
        return self if obj is None else getattr(getattr(obj, self.owner), self.name)

    def __set__(self, obj: object, value: T) -> None:
        if self.read_only:
            raise AttributeError(f"{self.public} is read-only (set when the client is made)")
        setattr(getattr(obj, self.owner), self.name, value)
