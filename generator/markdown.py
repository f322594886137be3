"""Markdown to HTML: CommonMark plus tables, footnotes and heading anchors.

This is the only module that imports ``markdown_it``. Raw HTML is escaped unless the
site allows it, and links or images whose scheme is not http, https or mailto (or that
are not relative) are dropped, so content cannot smuggle ``javascript:`` into a page.
"""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.footnote import footnote_plugin

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")


def is_safe_url(url: str) -> bool:
    """Whether ``url`` is http(s), mailto or relative (no scheme at all)."""
    cleaned = "".join(ch for ch in url if ch > " ").strip()
    match = _SCHEME.match(cleaned)
    return match is None or match.group(1).lower() in SAFE_SCHEMES


@dataclass
class Rendered:
    """The HTML of one Markdown text and the unsafe link targets that were dropped."""

    html: str
    dropped_links: list[str] = field(default_factory=list)


class MarkdownRenderer:
    """One configured parser per process; :meth:`render` is safe to call repeatedly."""

    def __init__(self, allow_html: bool = False) -> None:
        self.allow_html = allow_html
        self._dropped: list[str] = []
        md = MarkdownIt("commonmark", {"html": allow_html, "typographer": False})
        md.enable("table")
        md.use(footnote_plugin)
        md.use(anchors_plugin, min_level=2, max_level=4)
        md.validateLink = self._validate_link  # type: ignore[method-assign]
        self._md = md

    def _validate_link(self, url: str) -> bool:
        if is_safe_url(url):
            return True
        self._dropped.append(url)
        return False

    def render(self, text: str) -> Rendered:
        self._dropped = []
        html = self._md.render(text)
        return Rendered(html, self._dropped)


# Below this many texts, starting worker processes costs more than it saves.
PARALLEL_MIN = 200
BATCH = 500  # texts a worker is given at a time


class Workers:
    """Markdown worker processes: fresh Pythons running :func:`_work`, not forks.

    A forked copy of a process that has loaded a large site counts all of that memory
    again (pages are rendered on forks only where that is worth it: see ``parallel``); even
    starting a program from a large process briefly shows the child with the parent's
    size. The processes start with the first texts handed to them (:meth:`start`), and
    the loader hands them a window's bodies only if there are enough to be worth it
    (:data:`PARALLEL_MIN`): in a first build that is its first window, when the process
    has read a thousand files and is still small, and a rebuild that renders a few
    changed bodies never starts them. (Started before any file was read, they cost such
    a rebuild two Pythons importing the parser, waited for when they were closed: about
    0.07 s of a one-check rebuild of 1,000 checks.) Each holds only the parser and one
    batch of texts.

    Each worker is driven by a thread of its own (sending a batch and waiting for its
    answer releases the GIL), so the caller goes on reading files while they render.
    Batches go to the workers in turn, across calls. A worker that dies has its batches
    rendered by its thread in this process instead.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self.started = False  # the processes were started (or could not be)
        self.processes: list[subprocess.Popen[bytes]] = []
        self._feeders: list[ThreadPoolExecutor] = []
        self._alive: list[bool] = []
        self._turn = 0  # the worker the next batch goes to

    def _start_processes(self) -> None:
        self.started = True
        # -I: no current folder or PYTHONPATH on the path; this very package is put first.
        package_root = str(Path(__file__).resolve().parent.parent)
        command = [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                   "from generator.markdown import _work; _work()", package_root]
        try:
            for _ in range(self.count):
                self.processes.append(subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL))
        except OSError:  # no workers: the texts are rendered in this process
            self.close()
        # One thread per worker; each alone uses its worker, and only it marks it dead.
        self._feeders = [ThreadPoolExecutor(1) for _ in self.processes]
        self._alive = [True for _ in self.processes]

    def start(self, texts: list[str], allow_html: bool) -> Callable[[], list[Rendered]]:
        """Hand ``texts`` to the workers and return at once; calling the result waits for
        them and gives them back rendered, in order.

        The texts go out in batches of :data:`BATCH`, to the workers in turn; the
        processes start with the first call.
        """
        if not self.started:
            self._start_processes()
        if not self._feeders:
            done = _render_chunk(allow_html, texts)
            return lambda: done
        batches = []
        for first in range(0, len(texts), BATCH):
            number = self._turn % len(self._feeders)
            self._turn += 1
            batches.append(self._feeders[number].submit(
                self._render, number, allow_html, texts[first : first + BATCH]))
        return lambda: [rendered for batch in batches for rendered in batch.result()]

    def _render(self, number: int, allow_html: bool, texts: list[str]) -> list[Rendered]:
        """On worker ``number``'s thread: render one batch there."""
        if self._alive[number]:
            worker = self.processes[number]
            try:
                pickle.dump((allow_html, texts), worker.stdin, pickle.HIGHEST_PROTOCOL)  # type: ignore[arg-type]
                worker.stdin.flush()  # type: ignore[union-attr]
                done = pickle.load(worker.stdout)  # type: ignore[arg-type]
                if len(done) != len(texts):
                    raise ValueError("a worker answered for other texts")
                return [Rendered(html, dropped) for html, dropped in done]
            except (OSError, EOFError, ValueError, pickle.UnpicklingError):
                self._alive[number] = False  # it died: its thread renders from now on
                worker.kill()
        return _render_chunk(allow_html, texts)

    def close(self) -> None:
        """Wait for the batches handed out and let the workers exit (idempotent)."""
        for feeder in self._feeders:
            feeder.shutdown()
        self._feeders = []
        for worker in self.processes:
            try:
                worker.communicate(b"")
            except OSError:  # already gone
                worker.wait()
        self.processes = []


def _render_chunk(allow_html: bool, texts: list[str]) -> list[Rendered]:
    renderer = MarkdownRenderer(allow_html)
    return [renderer.render(text) for text in texts]


def _work() -> None:
    """A process of :class:`Workers`: pickled (allow_html, texts) batches in on stdin,
    the rendered (html, dropped links) pairs of each out on stdout, until stdin ends."""
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    renderers: dict[bool, MarkdownRenderer] = {}  # one parser for all the batches
    while True:
        try:
            allow_html, texts = pickle.load(source)
        except EOFError:
            return
        renderer = renderers.get(allow_html)
        if renderer is None:
            renderer = renderers[allow_html] = MarkdownRenderer(allow_html)
        done = [(r.html, r.dropped_links) for r in map(renderer.render, texts)]
        pickle.dump(done, sink, pickle.HIGHEST_PROTOCOL)
        sink.flush()
