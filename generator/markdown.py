"""Markdown to HTML: CommonMark plus tables, footnotes and heading anchors.

This is the only module that imports ``markdown_it``. Raw HTML is escaped unless the
site allows it, and links or images whose scheme is not http, https or mailto (or that
are not relative) are dropped, so content cannot smuggle ``javascript:`` into a page.
"""

from __future__ import annotations

import multiprocessing
import re
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

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
_PARALLEL_MIN = 200


def render_many(texts: list[str], allow_html: bool, jobs: int) -> list[Rendered]:
    """Render many Markdown texts, over ``jobs`` processes when there are enough of them.

    The output is the same as rendering them one by one: each text is rendered on its
    own and results come back in order.
    """
    # Workers are forked: cheap, and they need nothing re-imported. Forking a process that
    # runs other threads (the dev server) is unsafe, so there the work stays in-process;
    # its rebuilds find most bodies in its cache anyway.
    if jobs <= 1 or len(texts) < _PARALLEL_MIN or threading.active_count() > 1:
        return _render_chunk(allow_html, texts)
    context = multiprocessing.get_context("fork")
    size = -(-len(texts) // (jobs * 4))
    chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        done = pool.map(_render_chunk, [allow_html] * len(chunks), chunks)
        return [rendered for chunk in done for rendered in chunk]


def _render_chunk(allow_html: bool, texts: list[str]) -> list[Rendered]:
    renderer = MarkdownRenderer(allow_html)
    return [renderer.render(text) for text in texts]
