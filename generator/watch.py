"""Watching a site for ``factsite serve``; the only module that imports ``watchdog``.

:class:`SiteWatcher` reports every change under ``content/`` (which holds ``site.yaml``)
and the site's ``templates/``, including a ``templates/`` folder created or deleted while
serving. :class:`Coalescer` turns a burst of changes (an editor's write-rename-chmod, a
``git checkout``) into one rebuild, and a change made during a rebuild into one more.
Nothing here decides *what* to rebuild: every rebuild is a whole build from the caches.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_OPENED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

WATCHED = ("content", "templates")  # folders of the site that feed a build
QUIET = 0.05  # seconds without a change before rebuilding
MAX_WAIT = 0.5  # rebuild at the latest this long after the first change of a burst
POLL_INTERVAL = 0.5  # seconds between scans with --poll


class Coalescer:
    """Calls ``action`` once per burst of :meth:`poke` calls, in its own thread.

    A burst ends after ``quiet`` seconds without a poke, or ``max_wait`` seconds after it
    began, whichever comes first. Pokes that arrive while ``action`` runs start a new
    burst, so the last change is always followed by a complete run.
    """

    def __init__(
        self, action: Callable[[], object], quiet: float = QUIET, max_wait: float = MAX_WAIT
    ) -> None:
        self.action = action
        self.quiet = quiet
        self.max_wait = max_wait
        self._cond = threading.Condition()
        self._first: float | None = None  # when the pending burst began
        self._last = 0.0
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="factsite-rebuild", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def poke(self) -> None:
        with self._cond:
            now = time.monotonic()
            if self._first is None:
                self._first = now
            self._last = now
            self._cond.notify()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop waiting for changes; a run in progress is left to finish on its own."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and self._first is None:
                    self._cond.wait()
                while not self._stopped:
                    assert self._first is not None
                    due = min(self._last + self.quiet, self._first + self.max_wait)
                    wait = due - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._stopped:
                    return
                self._first = None
            self.action()


class _Handler(FileSystemEventHandler):
    def __init__(self, on_event: Callable[[FileSystemEvent], None]) -> None:
        self.on_event = on_event

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in (EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE):
            return  # reading a file (the build itself does) changes nothing
        self.on_event(event)


class SiteWatcher:
    """Calls ``on_change()`` for every change to the files a build reads.

    ``also`` are further folders to watch recursively (the default theme, so that editing
    factsite's own templates also rebuilds).
    """

    def __init__(
        self,
        site_dir: Path,
        on_change: Callable[[], None],
        poll: bool = False,
        also: list[Path] | None = None,
    ) -> None:
        self.site_dir = site_dir.absolute()
        self.on_change = on_change
        self.also = [p for p in also or [] if p.is_dir()]
        self.observer: BaseObserver = PollingObserver(timeout=POLL_INTERVAL) if poll else Observer()
        self._watches: dict[str, ObservedWatch] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        # The site folder itself, not recursively: to see content/ or templates/ appear,
        # disappear or be renamed, without watching output/, .git or a virtualenv.
        self.observer.schedule(_Handler(self._site_event), str(self.site_dir), recursive=False)
        for name in WATCHED:
            self._rewatch(name)
        mine = {os.path.realpath(self.site_dir / name) for name in WATCHED}
        for folder in self.also:
            if os.path.realpath(folder) not in mine:
                handler = _Handler(lambda _event: self.on_change())
                self.observer.schedule(handler, str(folder), recursive=True)
        self.observer.start()

    def stop(self, timeout: float = 2.0) -> None:
        with contextlib.suppress(Exception):
            self.observer.stop()
        if self.observer.is_alive():
            self.observer.join(timeout)

    def _rewatch(self, name: str) -> None:
        """Watch folder ``name`` afresh if it exists now (it may have been replaced)."""
        with self._lock:
            watch = self._watches.pop(name, None)
            if watch is not None:
                with contextlib.suppress(Exception):  # its folder may be gone already
                    self.observer.unschedule(watch)
            folder = self.site_dir / name
            if folder.is_dir():
                handler = _Handler(lambda _event: self.on_change())
                self._watches[name] = self.observer.schedule(handler, str(folder), recursive=True)

    def _site_event(self, event: FileSystemEvent) -> None:
        if event.event_type == EVENT_TYPE_MODIFIED:
            return  # a folder's time stamp: the changes inside are watched on their own
        paths = [event.src_path, event.dest_path]
        touched = {Path(os.fsdecode(p)).name for p in paths if p} & set(WATCHED)
        for name in sorted(touched):
            self._rewatch(name)
        if touched:
            self.on_change()
