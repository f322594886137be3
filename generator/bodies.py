"""Entry bodies kept in a temporary file while a build runs.

A build holds every entry of the site at once, and the rendered bodies, packed, are the
largest part of each (about 1.6 kB a check: 160 MB at 100,000 checks). Yet a build reads
each body once or twice: for its check page and, for the newest checks, the main feed.
So once the entries are loaded (and cached), a build that owns them moves their bodies
into an unnamed temporary file; each entry keeps only where its body is, and reading it
back (``Entry.body_html``) costs one ``pread``.

A long-running caller that keeps entries between builds (``factsite serve``) keeps their
bodies in memory instead: its entries are shared with the next build.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .model import Entry

# Bodies are written this many bytes at a time: one write per body would be 100,000
# system calls on a large site, one write of all of them would hold them twice.
_WRITE_BATCH = 1 << 20


class BodyFile:
    """An unnamed temporary file of packed bodies; :meth:`close` deletes it."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the build)
        self._size = 0

    def move(self, entries: Iterable[Entry]) -> None:
        """Write the packed body of each of ``entries`` to the file, and leave the entry
        a :class:`StoredBody` that reads it back."""
        pending: list[bytes] = []
        pending_size = 0
        for entry in entries:
            packed = entry.body
            if not isinstance(packed, bytes) or not packed:
                continue
            entry.body = StoredBody(self, self._size + pending_size, len(packed))
            pending.append(packed)
            pending_size += len(packed)
            if pending_size >= _WRITE_BATCH:
                self._write(pending, pending_size)
                pending, pending_size = [], 0
        self._write(pending, pending_size)
        self._file.flush()

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self._file.fileno(), length, offset)

    def close(self) -> None:
        self._file.close()

    def _write(self, pending: list[bytes], size: int) -> None:
        self._file.write(b"".join(pending))
        self._size += size


@dataclass(frozen=True, slots=True)
class StoredBody:
    """Where one entry's packed body is in a :class:`BodyFile`."""

    file: BodyFile
    offset: int
    length: int

    def packed(self) -> bytes:
        return self.file.read(self.offset, self.length)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (an entry sent to another process, say), it is the bytes themselves:
        # the file is this process's alone.
        return bytes, (self.packed(),)
