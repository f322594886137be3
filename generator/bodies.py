"""Entry bodies kept in a temporary file while a build runs.

A build holds every entry of the site at once, and the rendered bodies, packed, are the
largest part of each (about 1.6 kB a check: 160 MB at 100,000 checks). Yet a build reads
each body once or twice: for its check page and, for the newest checks, the main feed.
So once the entries are loaded (and cached), a build that owns them moves their bodies
into an unnamed temporary file; each entry keeps only where its body is, and reading it
back (``Entry.body_html``) costs one ``pread``.

The check cards a build renders once and shows on many listings wait there too, in
UTF-8 (about 1.6 kB each, see ``pipeline.base_context``): held in memory, they would be
the most that rendering holds.

A caller that keeps entries between builds in a ``MemoryCache`` of its own (passed to
``build()``) keeps their bodies in memory instead: its entries are shared with the next
build. (``factsite serve`` builds with a disk cache, like ``factsite build``.)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .model import Entry

# Packed HTML is written this many bytes at a time: one write per body would be 100,000
# system calls on a large site, one write of all of them would hold them twice.
_WRITE_BATCH = 1 << 20


class BodyFile:
    """An unnamed temporary file of packed bodies and cards; :meth:`close` deletes it."""

    def __init__(self) -> None:
        # Unbuffered: writes are batched here, and reads (pread) would bypass a buffer.
        self._file = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 (lives with the build)
        self._size = 0  # written so far
        self._pending: list[bytes] = []
        self._pending_size = 0

    def add(self, data: bytes) -> StoredBody:
        """Keep ``data`` in the file; what is returned reads it back."""
        stored = StoredBody(self, self._size + self._pending_size, len(data))
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= _WRITE_BATCH:
            self._write()
        return stored

    def move(self, entries: Iterable[Entry]) -> None:
        """Move the packed body of each of ``entries`` to the file, leaving the entry a
        :class:`StoredBody` that reads it back."""
        for entry in entries:
            if isinstance(entry.body, bytes) and entry.body:
                entry.body = self.add(entry.body)
        self._write()

    def read(self, offset: int, length: int) -> bytes:
        if offset + length > self._size:  # still waiting for its batch
            self._write()
        return os.pread(self._file.fileno(), length, offset)

    def close(self) -> None:
        self._file.close()

    def _write(self) -> None:
        data = memoryview(b"".join(self._pending))
        while data:
            data = data[self._file.write(data):]
        self._size += self._pending_size
        self._pending, self._pending_size = [], 0


@dataclass(frozen=True, slots=True)
class StoredBody:
    """Where one packed body (or a card, in UTF-8) is in a :class:`BodyFile`."""

    file: BodyFile
    offset: int
    length: int

    def read(self) -> bytes:
        """The bytes kept: a packed body, or a card."""
        return self.file.read(self.offset, self.length)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (an entry sent to another process, say), it is the bytes themselves:
        # the file is this process's alone.
        return bytes, (self.read(),)
