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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it import __version__ as _markdown_it_version
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.footnote import footnote_plugin

# Cached HTML is only valid for the same parser: part of every cache key.
RENDERER_VERSION = f"markdown-it-py {_markdown_it_version}"
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


class Workers:
    """Markdown worker processes: fresh Pythons running :func:`_work`, not forks.

    A forked copy of a process that has loaded a large site counts all of that memory
    again (and forking while other threads run, as in the dev server, is unsafe); even
    starting a program from a large process briefly shows the child with the parent's
    size. So the loader starts these before it reads the content, while it is small, and
    hands them the texts later. Each holds only the parser and its share of the texts.
    """

    def __init__(self, count: int) -> None:
        # -I: no current folder or PYTHONPATH on the path; this very package is put first.
        package_root = str(Path(__file__).resolve().parent.parent)
        command = [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                   "from generator.markdown import _work; _work()", package_root]
        self.processes: list[subprocess.Popen[bytes]] = []
        try:
            for _ in range(count):
                self.processes.append(subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL))
        except OSError:  # no workers: the texts are rendered in this process
            self.close()

    def render(self, texts: list[str], allow_html: bool) -> list[Rendered]:
        """Render ``texts`` split between the workers, in order; the workers then exit."""
        if not self.processes:
            return _render_chunk(allow_html, texts)
        size = -(-len(texts) // len(self.processes))
        chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
        workers, self.processes = self.processes, []
        for idle in workers[len(chunks):]:  # fewer texts than workers
            idle.communicate(b"")
        with ThreadPoolExecutor(len(chunks)) as feeders:  # all workers busy at once
            outputs = list(feeders.map(
                lambda worker, chunk: worker.communicate(
                    pickle.dumps((allow_html, chunk), pickle.HIGHEST_PROTOCOL))[0],
                workers, chunks))
        rendered: list[Rendered] = []
        for worker, chunk, output in zip(workers, chunks, outputs, strict=False):
            try:
                done = pickle.loads(output) if worker.returncode == 0 else None
            except (pickle.UnpicklingError, EOFError, ValueError):
                done = None
            if done is None or len(done) != len(chunk):  # a worker died: its share here
                rendered.extend(_render_chunk(allow_html, chunk))
            else:
                rendered.extend(Rendered(html, dropped) for html, dropped in done)
        return rendered

    def close(self) -> None:
        """Let workers that were given nothing exit (idempotent)."""
        for worker in self.processes:
            worker.communicate(b"")
        self.processes = []


def render_many(texts: list[str], allow_html: bool, jobs: int,
                workers: Workers | None = None) -> list[Rendered]:
    """Render many Markdown texts, over ``jobs`` processes when there are enough of them.

    The output is the same as rendering them one by one: each text is rendered on its
    own and results come back in order. ``workers`` started earlier are used (and
    finished) when given.
    """
    if len(texts) < PARALLEL_MIN or (jobs <= 1 and workers is None):
        if workers is not None:
            workers.close()
        return _render_chunk(allow_html, texts)
    return (workers or Workers(jobs)).render(texts, allow_html)


def _render_chunk(allow_html: bool, texts: list[str]) -> list[Rendered]:
    renderer = MarkdownRenderer(allow_html)
    return [renderer.render(text) for text in texts]


def _work() -> None:
    """A worker of :func:`render_many`: (allow_html, texts) in on stdin, pickled; the
    rendered (html, dropped links) pairs out on stdout. Nothing in: nothing to do."""
    try:
        allow_html, texts = pickle.load(sys.stdin.buffer)
    except EOFError:
        return
    done = [(r.html, r.dropped_links) for r in _render_chunk(allow_html, texts)]
    pickle.dump(done, sys.stdout.buffer, pickle.HIGHEST_PROTOCOL)
