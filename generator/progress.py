"""A progress line for long builds: ``Rendering 4200/12997 pages · 12.4 s``.

Only drawn on a terminal, so logs and CI output stay clean, and only once a build has run
for a moment, so a quick rebuild does not flicker. ``build()`` calls it as pages render.
"""

from __future__ import annotations

import time
from typing import TextIO

DELAY = 0.5  # seconds before the line first appears
INTERVAL = 0.1  # seconds between redraws


class Progress:
    """A callable ``progress(done, total)`` that redraws one line of ``stream``."""

    def __init__(self, stream: TextIO, enabled: bool, label: str = "Rendering") -> None:
        self.stream = stream
        self.enabled = enabled
        self.label = label
        self.started = time.perf_counter()
        self._drawn_at: float | None = None

    @classmethod
    def for_terminal(cls, stream: TextIO, quiet: bool, label: str = "Rendering") -> Progress:
        """Enabled only when ``stream`` is a terminal and ``-q`` was not given."""
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        return cls(stream, tty and not quiet, label)

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.started < DELAY:
            return
        if self._drawn_at is not None and now - self._drawn_at < INTERVAL and done < total:
            return
        self._drawn_at = now
        elapsed = now - self.started
        self.stream.write(f"\r\x1b[K{self.label} {done}/{total} pages · {elapsed:.1f} s")
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.clear()

    def clear(self) -> None:
        """Erase the line, if one was drawn, before the summary or diagnostics print."""
        if self._drawn_at is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn_at = None
