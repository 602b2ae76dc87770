"""A small, thread-safe least-recently-used memo with an age limit.

Used for what the online path would otherwise recompute on every request although nothing
changed: query embeddings and profile vectors. The age limit bounds how long a value can be
stale when another process (sharing a Chroma server) changes what it was computed from.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Memo(Generic[V]):
    def __init__(self, size: int = 1024, max_age_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.size, self.max_age_s, self._clock = size, max_age_s, clock
        self._values: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        now = self._clock()
        with self._lock:
            found = self._values.get(key)
            if found is not None and now - found[0] <= self.max_age_s:
                self._values.move_to_end(key)
                self.hits += 1
                return found[1]
            self.misses += 1
        value = make()  # outside the lock: two threads may both compute; both get a right value
        with self._lock:
            self._values[key] = (now, value)
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
