"""Parts of the engine that are built on first use, once each, under a lock of their own.

A part's lock is held only while that part is built (loading a model, opening a store), so a
slow load never holds up the other parts, and a request that needs only the store never waits
for a model. A part handed in by the caller (a test's shared encoder, say) is used as it is and
left open when the engine closes; a part the engine built is closed with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from .errors import EngineClosed

T = TypeVar("T")


class Part(Generic[T]):
    def __init__(
        self, name: str, build: Callable[[], T], given: T | None = None, close: Callable[[T], None] | None = None
    ):
        self.name = name
        self._build = build
        self._value = given
        self._owned = given is None
        self._close = close
        self._lock = threading.Lock()
        self._closed = False

    def get(self) -> T:
        value = self._value
        if value is not None:
            return value
        with self._lock:
            if self._closed:
                raise EngineClosed(f"the engine is closed; its {self.name} is no longer available")
            if self._value is None:
                self._value = self._build()
            return self._value

    @property
    def built(self) -> T | None:
        """The part if it exists already (nothing is built)."""
        return self._value

    def close(self) -> None:
        with self._lock:
            self._closed = True
            value, self._value = self._value, None
        if value is not None and self._owned and self._close is not None:
            self._close(value)


class WriteGate:
    """Lets writes run side by side until :meth:`close`, which waits for those in progress and admits no more."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._writing = 0
        self.closed = False

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._condition:
            if self.closed:
                raise EngineClosed("the engine is closed; nothing more is written")
            self._writing += 1
        try:
            yield
        finally:
            with self._condition:
                self._writing -= 1
                self._condition.notify_all()

    def close(self) -> None:
        with self._condition:
            self.closed = True
            self._condition.wait_for(lambda: self._writing == 0)
