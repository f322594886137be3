"""``factsite serve``: build the site, serve it over HTTP, rebuild on every change.

Every rebuild is a whole ``build()`` into a private folder (``SITE/.factsite-cache/serve``)
with a disk cache of its own (``SITE/.factsite-cache/serve-cache``: its entries, search
shards, page records and build stamp, started as a copy of ``factsite build``'s) and
one :class:`~generator.theme.Theme` kept warm between builds, so the served site is
always what ``factsite build`` would make, a restart with nothing changed takes as long
as such a ``factsite build``, and the server's memory does not grow with every edit. The
writer rewrites only files whose bytes changed and lists them (``WriteStats.changed``).
That list tells each open browser tab whether *its* page changed:

    tab's page changed              → "reload" (the tab keeps its scroll position)
    only stylesheet names changed   → "css" with the new href (swapped, no reload)
    build failed                    → "errors" (an overlay; the last good site is served)
    fixed again                     → "ok" (overlay cleared), then "reload" if changed

A stylesheet edit is shown before the build that it starts: the build renders every page
again only to put the stylesheet's new hashed name in it (9.5-11 s at 10,000 checks), so
the tabs get "css" at once and the new file is served from memory until the build
writes it (a page that changed otherwise still reloads once the build has placed it).

Tabs are told as soon as the pages are in place, while Pagefind still indexes the
changed search shards (``OutputWriter.publish``): at 10,000 checks a check's edit reloads
about 0.8 s sooner and a ``check.html`` edit 9-10 s after the save instead of 24 s (see
docs/serve.md), and search finds the new words once the build finishes. Content and template
errors are all known before that point; only Pagefind failing (or the disk) can fail the
build after it, and the folder then holds the new pages with the old index until the
next build.

The reload channel is Server-Sent Events at ``<prefix>/__factsite/events``; the small
client script (``<prefix>/__factsite/client.js``) is added to HTML responses here, at
serve time, never to built files. Only files inside the served folder are served:
``..``, encoded separators, NUL and symbolic links that lead outside are refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import html
import ipaddress
import json
import mimetypes
import os
import queue
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, unquote

from . import default_theme_dir
from .build import CACHE_DIR, BuildOptions, BuildResult, build
from .cache import seed_cache
from .config import load_config
from .diagnostics import BuildFailed, Report, condense
from .progress import Progress
from .theme import Theme, published_name
from .urls import Urls
from .watch import Coalescer, SiteWatcher
from .writer import STAGING, WriteStats

SERVE_DIR = Path(CACHE_DIR) / "serve"  # inside the site; .gitignore has .factsite-cache/
# serve's own cache: apart from factsite build's, so that neither forgets what the other
# needs (page records of its output folder, its build stamp) nor waits on its database.
SERVE_CACHE_DIR = Path(CACHE_DIR) / "serve-cache"
RESERVED = "__factsite"  # first segment below the prefix that the server answers itself
PING = 15.0  # seconds between keep-alive comments on an idle event stream

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".xml": "application/xml",
    ".atom": "application/atom+xml",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".pdf": "application/pdf",
}
ATOM_NS = b'xmlns="http://www.w3.org/2005/Atom"'


@dataclass
class ServeOptions:
    site_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    drafts: bool = False
    poll: bool = False
    quiet: bool = False
    now: dt.datetime | None = None  # pins "the future", like FACTSITE_NOW; default: the clock
    out_dir: Path | None = None  # default: SITE/.factsite-cache/serve

    @property
    def output(self) -> Path:
        return self.out_dir if self.out_dir is not None else self.site_dir / SERVE_DIR


def content_type(relpath: str, head: bytes = b"") -> str:
    """The Content-Type of a served file; ``.xml`` holding an Atom feed says so."""
    suffix = Path(relpath).suffix.lower()
    if suffix == ".xml" and b"<feed" in head and ATOM_NS in head:
        return "application/atom+xml"
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(relpath)
    return guessed or "application/octet-stream"


# -- mapping a request path to a file --------------------------------------------------------


@dataclass(frozen=True)
class Located:
    """Where a request path leads. ``kind``: file, missing, redirect, reserved, bad, forbidden."""

    kind: str
    relpath: str = ""  # file: its path in the served folder; reserved: what follows __factsite/
    location: str = ""  # redirect: where to


def locate(root: Path, urls: Urls, target: str) -> Located:
    """Map a raw request target to a file inside ``root``, or say why not.

    Segments are decoded one at a time, so an encoded ``/``, ``\\`` or NUL (``%2f``,
    ``%5c``, ``%00``) is refused instead of splitting or ending a name; ``.`` and ``..``
    are refused raw or encoded; the file found is resolved and must lie inside ``root``.
    """
    path = target.split("#", 1)[0].split("?", 1)[0]
    if not path.startswith("/") or "\\" in path or "\0" in path:
        return Located("bad")
    raw_segments = path[1:].split("/")
    segments: list[str] = []
    for raw in raw_segments:
        try:
            name = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return Located("bad")
        if any(ch in name for ch in "/\\\0") or name in (".", ".."):
            return Located("forbidden")
        segments.append(name)
    prefix = [unquote(s) for s in urls.prefix.split("/") if s]
    home = urls.href("/")
    if segments[: len(prefix)] != prefix:
        return Located("redirect", location=home) if path == "/" else Located("missing")
    rest = segments[len(prefix) :]
    if not rest:  # "/factdesk" without its slash
        return Located("redirect", location=home)
    directory = rest[-1] == ""
    parts = rest[:-1] if directory else rest
    if "" in parts:  # "//" inside the path
        return Located("forbidden")
    if parts and parts[0] == RESERVED:
        return Located("reserved", relpath="/".join(parts[1:]))
    if parts and parts[0] == STAGING:
        return Located("missing")
    real_root = Path(os.path.realpath(root))
    found = Path(os.path.realpath(real_root.joinpath(*parts)))
    if not _inside(found, real_root):
        return Located("forbidden")
    if found.is_dir():
        if not directory:
            return Located("redirect", location=path + "/")
        found = Path(os.path.realpath(found / "index.html"))
        if not _inside(found, real_root):
            return Located("forbidden")
    elif directory:
        return Located("missing")
    if not found.is_file():
        return Located("missing")
    return Located("file", relpath=found.relative_to(real_root).as_posix())


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


# -- the client script -------------------------------------------------------------------------


def version_of(data: bytes) -> str:
    """What a tab reports about the page it holds, to learn on connecting if it is stale."""
    return hashlib.sha256(data).hexdigest()[:16]


def inject(page: bytes, urls: Urls, version: str, errors: list[str]) -> bytes:
    """Add the client script before ``</body>`` of an HTML response (serve time only)."""
    tag = (
        f'<script src="{html.escape(urls.href(f"/{RESERVED}/client.js"))}" data-factsite-serve'
        f' data-events="{html.escape(urls.href(f"/{RESERVED}/events"))}"'
        f' data-version="{version}" data-errors="{html.escape(json.dumps(errors))}"></script>\n'
    ).encode()
    at = page.lower().rfind(b"</body>")
    return page + tag if at < 0 else page[:at] + tag + page[at:]


CLIENT_JS = r"""// factsite serve: live reload. Added by the server, never part of a built site.
(function () {
  "use strict";
  var script = document.currentScript;
  var version = script.dataset.version;
  var scrollKey = "factsite:scroll:" + location.pathname;
  var saved = null;
  try { saved = JSON.parse(sessionStorage.getItem(scrollKey) || "null"); } catch (e) {}
  if (saved) {
    sessionStorage.removeItem(scrollKey);
    var restore = function () { window.scrollTo(saved.x, saved.y); };
    restore();
    window.addEventListener("load", restore);
  }

  function reload() {
    try {
      sessionStorage.setItem(scrollKey, JSON.stringify({x: window.scrollX, y: window.scrollY}));
    } catch (e) {}
    location.reload();
  }

  function swapStylesheets(swap) {
    var links = Array.prototype.slice.call(document.querySelectorAll('link[rel~="stylesheet"]'));
    var olds = Object.keys(swap);
    var found = olds.map(function (old) {
      return links.filter(function (link) { return link.getAttribute("href") === old; })[0];
    });
    if (found.some(function (link) { return !link; })) { reload(); return; }
    found.forEach(function (link, i) {
      var fresh = link.cloneNode();
      fresh.setAttribute("href", swap[olds[i]]);
      var done = function () { link.remove(); };
      fresh.addEventListener("load", done);
      fresh.addEventListener("error", done);
      link.after(fresh);
    });
  }

  var overlay = null;
  function hideErrors() {
    if (overlay) { overlay.remove(); overlay = null; }
  }
  function showErrors(errors) {
    hideErrors();
    if (!errors.length) return;
    overlay = document.createElement("div");
    overlay.id = "factsite-overlay";
    overlay.setAttribute("role", "alert");
    overlay.style.cssText = "position:fixed;inset:0;z-index:2147483647;overflow:auto;" +
      "background:rgba(24,24,24,.94);color:#f5f5f5;padding:2rem;text-align:left;" +
      "font:14px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace";
    var title = document.createElement("h2");
    title.textContent = "factsite: " + errors.length + " error(s). Showing the last good build " +
      "until they are fixed.";
    title.style.cssText = "margin:0 0 1rem;font:bold 17px/1.4 system-ui,sans-serif;color:#ff8a80";
    var list = document.createElement("pre");
    list.textContent = errors.join("\n\n");
    list.style.cssText = "margin:0 0 1rem;white-space:pre-wrap;font:inherit";
    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "Hide";
    close.addEventListener("click", hideErrors);
    overlay.append(title, list, close);
    document.body.appendChild(overlay);
  }
  showErrors(JSON.parse(script.dataset.errors || "[]"));

  var source = null;
  function connect() {
    if (source || !window.EventSource) return;
    source = new EventSource(script.dataset.events + "?path=" +
      encodeURIComponent(location.pathname) + "&v=" + encodeURIComponent(version));
    source.addEventListener("hello", function (e) { showErrors(JSON.parse(e.data).errors); });
    source.addEventListener("errors", function (e) { showErrors(JSON.parse(e.data).errors); });
    source.addEventListener("ok", hideErrors);
    source.addEventListener("css", function (e) {
      var data = JSON.parse(e.data);
      version = data.version;
      swapStylesheets(data.swap);
    });
    source.addEventListener("reload", function () { disconnect(); reload(); });
  }
  function disconnect() {
    if (source) { source.close(); source = null; }
  }
  // Hidden tabs let go of their connection (browsers allow few per host); on coming back
  // the version check tells the server whether the page went stale meanwhile.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { disconnect(); } else { connect(); }
  });
  window.addEventListener("pagehide", disconnect);
  if (!document.hidden) connect();
})();
"""

NOT_FOUND_FALLBACK = (
    b'<!DOCTYPE html>\n<html lang="en">\n<meta charset="utf-8">\n<title>Not found</title>\n'
    b"<body>\n<h1>Not found</h1>\n<p>The site has no page here (and no 404.html yet).</p>\n"
    b"</body>\n</html>\n"
)


# -- the served site and its tabs ---------------------------------------------------------------


@dataclass(eq=False)
class Tab:
    """One open browser tab: the path it shows, and the file and bytes it holds."""

    path: str
    key: str  # the file it holds, "!404" (the site's 404 page), "!none" or "!redirect"
    body: bytes
    events: queue.Queue[tuple[str, dict[str, Any]] | None] = field(default_factory=queue.Queue)
    done: bool = False  # told to reload: no more page updates (its reload is a new tab)

    def send(self, event: str, data: dict[str, Any]) -> None:
        self.events.put((event, data))

    def reload(self) -> None:
        if not self.done:
            self.send("reload", {})
            self.done = True


@dataclass(frozen=True)
class Shown:
    """What a path shows right now: the file's key and bytes."""

    key: str
    relpath: str | None
    body: bytes


class Preview:
    """The served copy of a site: rebuilt from its cache, and what each tab must do.

    It opens no socket, so tests can drive rebuilds directly.
    """

    def __init__(
        self,
        options: BuildOptions,
        *,
        quiet: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.options = options
        self.root = options.output
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.theme: Theme | None = None
        self.urls = self._read_urls() or Urls("http://localhost/")
        self.errors: list[str] = []  # formatted diagnostics of the failing build; [] when good
        self.builds = 0  # builds finished, good or failed
        self.last: BuildResult | None = None
        self.tabs: set[Tab] = set()
        self._asset_hrefs: dict[str, str] = {}  # asset name → href in the served pages
        self._early: dict[str, bytes] = {}  # href → a stylesheet tabs use before it is built
        self._warnings: set[str] = set()  # printed already: repeat only new ones
        self._notes: set[str] = set()  # the same for the notes (facts about a build)
        self._reloaded = 0  # tabs told to reload by the build under way
        self._build_lock = threading.Lock()  # one build at a time
        self._cond = threading.Condition()  # guards tabs, errors, urls, builds

    # -- building --------------------------------------------------------------------------

    def rebuild(self) -> bool:
        """Build the site from the caches; on failure keep serving the last good one."""
        with self._build_lock:
            progress = Progress.for_terminal(
                self.err, self.quiet, "Rebuilding" if self.builds else "Building"
            )
            try:
                if self.theme is None:
                    self.theme = Theme(self.options.site_dir)
                else:
                    self.theme.refresh()  # templates added, removed, renamed; new asset hashes
                    self._swap_stylesheets()
                self._reloaded = 0
                result = build(self.options, theme=self.theme, progress=progress,
                               published=self._published)
            except BuildFailed as failed:
                progress.clear()
                self._failed(failed.report)
                return False
            except Exception as exc:  # a bug or an OS error must not stop the server
                progress.clear()
                self._crashed(exc)
                return False
            progress.clear()
            self._succeeded(result)
            return True

    def _swap_stylesheets(self) -> None:
        """Switch the tabs to stylesheets edited since the last build, before this build
        renders: it renders every page again only to name the new file (see the module's
        docstring). Each new file is served from memory until the build writes it
        (:meth:`early_stylesheet`); a stylesheet edited again since the theme hashed it
        is left to the build."""
        assert self.theme is not None
        with self._cond:
            urls, served = self.urls, dict(self._asset_hrefs)
        edited: list[tuple[str, str, bytes]] = []  # old href, new href, bytes
        for asset in self.theme.assets.values():
            old = served.get(asset.name)
            href = urls.href(urls.asset(asset.published))
            if old is None or old == href or not asset.name.endswith(".css"):
                continue
            try:
                data = asset.source.read_bytes()
            except OSError:
                continue
            if published_name(asset.name, data) == asset.published:
                edited.append((old, href, data))
        if not edited:
            return
        # The served hrefs stay those of the pages until the build has placed new ones: a
        # tab opened meanwhile is switched then, by the same comparison (see _show).
        with self._cond:
            self._early.update((href, data) for _, href, data in edited)
            for tab in self.tabs:
                swap = {old: href for old, href, _ in edited if old.encode() in tab.body}
                if swap and not tab.done:
                    tab.body = _swapped(tab.body, swap)  # what the build is to make of it
                    tab.send("css", {"swap": swap, "version": version_of(tab.body)})

    def early_stylesheet(self, target: str) -> bytes | None:
        """The bytes of a stylesheet the tabs were switched to and the build has not
        written yet, for a request of ``target`` (see :meth:`_swap_stylesheets`)."""
        with self._cond:
            return self._early.get(target.split("#", 1)[0].split("?", 1)[0])

    def _read_urls(self) -> Urls | None:
        config = load_config(self.options.site_dir, Report(), self.options.base_url)
        return Urls(config.base_url) if config is not None else None

    def _published(self, stats: WriteStats, base_url: str) -> None:
        """The build has put its pages in place and still indexes them for search: the
        tabs whose page changed are told now, not when the index is done."""
        with self._cond:
            self._show(set(stats.changed), base_url)

    def _succeeded(self, result: BuildResult) -> None:
        with self._cond:
            self._show(set(result.stats.changed), result.base_url)
            self._early.clear()  # written by now
            self.builds += 1
            self.last = result
            for tab in self.tabs:
                tab.send("built", {"builds": self.builds, "changed": len(result.stats.changed)})
            self._cond.notify_all()
        self._report_success(result, self._reloaded)

    def _show(self, changed: set[str], base_url: str) -> None:
        """Tell each tab what the files written (``changed``) mean for it."""
        assert self.theme is not None
        urls = Urls(base_url)  # the build has just read site.yaml
        hrefs = {a.name: urls.href(urls.asset(a.published)) for a in self.theme.assets.values()}
        swaps = {
            old: hrefs[name]
            for name, old in self._asset_hrefs.items()
            if name in hrefs and hrefs[name] != old
        }
        recovered = bool(self.errors)
        self.errors = []
        self.urls = urls
        self._asset_hrefs = hrefs
        for tab in list(self.tabs):
            if recovered:
                tab.send("ok", {})
            if not tab.done:
                self._update(tab, changed, swaps)
                self._reloaded += tab.done

    def _failed(self, report: Report) -> None:
        errors = [d.format() for d in report.errors]
        with self._cond:
            self.errors = errors
            self.builds += 1
            for tab in self.tabs:
                tab.send("errors", {"errors": errors})
            self._cond.notify_all()
        self._print_warnings(report)
        for item in report.errors:
            print(item.format(), file=self.err)
        print(
            f"factsite: the build failed with {len(errors)} error(s); still serving the last "
            f"good site (the browser shows them too)",
            file=self.err,
        )

    def _crashed(self, exc: BaseException) -> None:
        message = f"internal error: {type(exc).__name__}: {exc}"
        with self._cond:
            self.errors = [message]
            self.builds += 1
            for tab in self.tabs:
                tab.send("errors", {"errors": self.errors})
            self._cond.notify_all()
        traceback.print_exception(exc, file=self.err)
        print(f"factsite: {message}; still serving the last good site", file=self.err)

    def _print_warnings(self, report: Report) -> None:
        """Print the warnings not printed before (a rebuild does not repeat old ones)."""
        warnings = report.warnings
        texts = [d.format() for d in warnings]  # once each: thousands on a large site
        if not self.quiet:  # counted past the first few of a kind, as by factsite build
            condensed = condense([d for d, text in zip(warnings, texts, strict=True)
                                  if text not in self._warnings])
            for item in condensed.shown:  # at most a few of each kind
                print(item.format(), file=self.err)
            for line in condensed.more_lines("factsite build --all-warnings prints every one"):
                print(line, file=self.err)
        self._warnings = set(texts)

    def _report_success(self, result: BuildResult, reloaded: int) -> None:
        self._print_warnings(result.report)
        if self.quiet:
            return
        for note in result.notes:  # as factsite build prints them; a rebuild: new ones
            if note not in self._notes:
                print(f"note: {note}", file=self.out)
        self._notes = set(result.notes)
        stats = result.stats
        warnings = len(result.report.warnings)
        tail = f", {warnings} warning(s)" if warnings else ""
        tabs = f" · reloaded {reloaded} tab(s)" if reloaded else ""
        what = "Built" if self.builds == 1 else "Rebuilt"
        print(
            f"{what} {stats.total} files ({result.pages} pages): {stats.written} written, "
            f"{stats.unchanged} unchanged, {stats.removed} removed{tail}, "
            f"{result.seconds:.2f} s{tabs}",
            file=self.out,
            flush=True,
        )

    def wait_for_builds(self, count: int, timeout: float = 30.0) -> bool:
        """Wait until ``count`` builds have finished (for tests and benchmarks)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.builds >= count, timeout)

    # -- tabs ------------------------------------------------------------------------------

    def shown(self, target: str) -> Shown:
        """The file a request for ``target`` is answered with now, and its bytes."""
        found = locate(self.root, self.urls, target)
        if found.kind == "redirect":
            return Shown("!redirect", None, b"")
        if found.kind == "file":
            with contextlib.suppress(OSError):
                return Shown(found.relpath, found.relpath, (self.root / found.relpath).read_bytes())
        with contextlib.suppress(OSError):
            return Shown("!404", "404.html", (self.root / "404.html").read_bytes())
        return Shown("!none", None, b"")

    def connect(self, path: str, version: str) -> Tab:
        """A tab opened its event stream; tell it at once if its page is already stale."""
        with self._cond:
            now = self.shown(path)
            tab = Tab(path, now.key, now.body)
            tab.send("hello", {"builds": self.builds, "errors": self.errors})
            if version != version_of(now.body):
                tab.reload()
            self.tabs.add(tab)
            return tab

    def disconnect(self, tab: Tab) -> None:
        with self._cond:
            self.tabs.discard(tab)

    def close(self) -> None:
        """End every event stream (the server is stopping)."""
        with self._cond:
            for tab in self.tabs:
                tab.events.put(None)
            self.tabs.clear()

    def _update(self, tab: Tab, changed: set[str], swaps: dict[str, str]) -> None:
        now = self.shown(tab.path)
        if now.key != tab.key:  # appeared, disappeared, became a folder
            tab.reload()
            return
        if now.relpath is None or now.relpath not in changed or now.body == tab.body:
            return
        swap = {old: new for old, new in swaps.items() if old.encode() in tab.body}
        if swap and _swapped(tab.body, swap) == now.body:
            tab.body = now.body
            tab.send("css", {"swap": swap, "version": version_of(now.body)})
        else:
            tab.reload()


def _swapped(page: bytes, swap: dict[str, str]) -> bytes:
    for old, new in swap.items():
        page = page.replace(old.encode(), new.encode())
    return page


# -- HTTP --------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "factsite"
    sys_version = ""

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the build messages

    def _respond(self, head: bool) -> None:
        preview = self.server.preview
        found = locate(preview.root, preview.urls, self.path)
        if found.kind == "bad":
            self._send(400, b"Bad request\n", "text/plain; charset=utf-8", head)
        elif found.kind == "forbidden":
            self._send(403, b"Forbidden\n", "text/plain; charset=utf-8", head)
        elif found.kind == "redirect":
            self._send(302, b"", "text/plain; charset=utf-8", head, location=found.location)
        elif found.kind == "reserved" and found.relpath == "events" and not head:
            self._events()
        elif found.kind == "reserved" and found.relpath == "client.js":
            self._send(200, CLIENT_JS.encode(), CONTENT_TYPES[".js"], head)
        elif found.kind == "file":
            self._file(found.relpath, head)
        elif (early := preview.early_stylesheet(self.path)) is not None:
            self._send(200, early, CONTENT_TYPES[".css"], head)
        else:
            self._not_found(head)

    def _file(self, relpath: str, head: bool) -> None:
        preview = self.server.preview
        try:
            data = (preview.root / relpath).read_bytes()
        except OSError:  # replaced or removed by a build this very moment
            self._not_found(head)
            return
        ctype = content_type(relpath, data[:512])
        if ctype.startswith("text/html"):
            data = inject(data, preview.urls, version_of(data), preview.errors)
        self._send(200, data, ctype, head)

    def _not_found(self, head: bool) -> None:
        preview = self.server.preview
        try:
            page = (preview.root / "404.html").read_bytes()
            body = inject(page, preview.urls, version_of(page), preview.errors)
        except OSError:
            body = inject(NOT_FOUND_FALLBACK, preview.urls, version_of(b""), preview.errors)
        self._send(404, body, CONTENT_TYPES[".html"], head)

    def _send(
        self, status: int, body: bytes, ctype: str, head: bool, location: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if location is not None:
            self.send_header("Location", location)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _events(self) -> None:
        query = parse_qs(self.path.partition("?")[2])
        preview = self.server.preview
        path = query.get("path", ["/"])[0]
        tab = preview.connect(path, query.get("v", [""])[0])
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(b"retry: 1000\n\n")
            self.wfile.flush()
            while True:
                try:
                    item = tab.events.get(timeout=PING)
                except queue.Empty:
                    self.wfile.write(b": ping\n\n")  # also finds tabs that went away
                    self.wfile.flush()
                    continue
                if item is None:
                    break
                event, data = item
                self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
        except OSError:
            pass  # the tab closed or reloaded
        finally:
            preview.disconnect(tab)
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stop never waits for an open event stream
    preview: Preview

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's full name, which can stall on DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a closed tab is no news
            super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _bind(host: str, port: int, preview: Preview) -> _Server:
    """A listening server for ``host``; IPv6 hosts such as ``::1`` work too."""
    family, _, _, _, address = socket.getaddrinfo(
        host, port, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
    )[0]
    server_class = _Server6 if family == socket.AF_INET6 else _Server
    server = server_class(address, _Handler)
    server.preview = preview
    return server


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


class DevServer:
    """The HTTP server, the watcher and the rebuild thread around one :class:`Preview`."""

    def __init__(
        self,
        options: ServeOptions,
        *,
        watch: bool = True,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.options = options
        build_options = BuildOptions(
            site_dir=options.site_dir,
            out_dir=options.output,
            drafts=options.drafts,
            now=options.now,
            cache_dir=options.site_dir / SERVE_CACHE_DIR,
        )
        self.preview = Preview(build_options, quiet=options.quiet, out=out, err=err)
        self.httpd = _bind(options.host, options.port, self.preview)  # fails early: port taken
        self.coalescer = Coalescer(self.preview.rebuild)
        self.watcher = (
            SiteWatcher(
                options.site_dir,
                self.coalescer.poke,
                poll=options.poll,
                also=[default_theme_dir()],  # factsite's own templates, when developing them
            )
            if watch
            else None
        )
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="factsite-http", daemon=True
        )
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        """The site's home page on this server (with base_url's path)."""
        host = self.options.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}{self.preview.urls.href('/')}"

    def start(self) -> None:
        """Serve at once (the last good site, if any), watch, and build in the background."""
        _mark_ignored(self.options.output)
        # Checks already parsed, search shards already indexed by factsite build: the
        # first build of a 10,000-check site renders its pages, on both cores, and nothing
        # more (9 s, 32 s from nothing).
        site = self.options.site_dir
        seed_cache(site / CACHE_DIR, site / SERVE_CACHE_DIR)
        self._thread.start()
        if self.watcher is not None:
            self.watcher.start()  # before the first build, so no edit is missed
        self.coalescer.start()
        self.coalescer.poke()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.watcher is not None:
            self.watcher.stop()
        self.coalescer.stop()
        self.preview.close()
        if self._thread.ident is not None:  # shutdown() waits for serve_forever to end
            self.httpd.shutdown()
        self.httpd.server_close()


def _mark_ignored(output: Path) -> None:
    """Put a ``.gitignore`` in a fresh ``.factsite-cache`` so git never picks it up."""
    cache_dir = output.parent
    if cache_dir.name == SERVE_DIR.parent.name and not (cache_dir / ".gitignore").exists():
        with contextlib.suppress(OSError):
            cache_dir.mkdir(parents=True, exist_ok=True)
            (cache_dir / ".gitignore").write_text("*\n", encoding="utf-8")


def serve(options: ServeOptions) -> int:
    """Run ``factsite serve`` until Ctrl-C (or SIGTERM); the exit status."""
    try:
        server = DevServer(options)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(
            f"factsite: cannot listen on {options.host}:{options.port}: {reason}", file=sys.stderr
        )
        return 2
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
    try:
        if not is_loopback(options.host):
            print(
                f"factsite: warning: serving on {options.host}, so other machines can reach "
                f"this preview{' and its drafts' if options.drafts else ''}; use --host "
                f"127.0.0.1 to keep it local",
                file=sys.stderr,
            )
        if not options.quiet:
            print(f"Serving {options.site_dir} at {server.url}  (Ctrl-C to stop)", flush=True)
        server.start()
        while True:  # until Ctrl-C
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # e.g. the system's limit of inotify watches
        print(f"factsite: cannot watch {options.site_dir}: {exc}; try --poll", file=sys.stderr)
        return 2
    finally:
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if not options.quiet:
        print("Stopped.", flush=True)
    return 0


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
