"""Caches of parsed and rendered content, keyed by a hash of the bytes they came from.

A key covers everything the cached value depends on (the input bytes, the relevant
settings and the generator's version), so a hit is always safe to use and nothing ever
needs invalidating by hand.
"""

from __future__ import annotations

import hashlib
from typing import Any

from . import __version__


def content_key(kind: str, *parts: bytes) -> str:
    """A stable key for ``kind`` of value derived from ``parts``."""
    digest = hashlib.sha256(f"{kind}\0{__version__}\0".encode())
    for part in parts:
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return f"{kind}:{digest.hexdigest()}"


class MemoryCache:
    """An in-process cache; kept across rebuilds by a long-running process."""

    def __init__(self) -> None:
        self._items: dict[str, Any] = {}

    def get(self, key: str) -> Any | None:
        return self._items.get(key)

    def put(self, key: str, value: Any) -> None:
        self._items[key] = value

    def __len__(self) -> int:
        return len(self._items)
