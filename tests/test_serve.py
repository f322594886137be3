"""``factsite serve``: a real server on a free loopback port, real files edited on disk.

Each test starts the server in this process (HTTP, watcher and rebuild threads), opens
"tabs" the way the injected script does (fetch a page, then its event stream with the
page's version), edits files, and asserts over HTTP and over the event stream.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import io
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from conftest import NOW, REPO, SITE_YAML, Site, snapshot

from generator import markdown
from generator.build import BuildOptions, build
from generator.progress import Progress
from generator.search import ShardedIndex
from generator.serve import DevServer, ServeOptions, content_type, is_loopback, locate
from generator.theme import Theme
from generator.urls import Urls
from generator.watch import Coalescer
from generator.writer import OutputWriter

NOW_DT = dt.datetime.fromisoformat(NOW)
WAIT = 20.0  # seconds: generous, the builds here take a fraction of a second
SCRIPT = re.compile(rb'<script src="[^"]*/__factsite/client\.js"[^>]*></script>\n')


# -- a client: plain HTTP and tabs --------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def attr(self, name: str) -> str:
        """An attribute of the injected script tag."""
        match = re.search(rb"<script [^>]*data-factsite-serve[^>]*>", self.body)
        assert match, "no client script in the page"
        value = re.search(rf'{name}="([^"]*)"'.encode(), match.group(0))
        assert value, f"no {name} on the script tag"
        return html.unescape(value.group(1).decode())


def request(port: int, target: str, method: str = "GET") -> Response:
    """Send ``target`` exactly as given (no client-side normalising of ``..`` or ``%2e``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(f"{method} {target} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return Response(int(lines[0].split()[1]), headers, body)


class Tab:
    """A browser tab as the server sees it: a page fetched, then its event stream."""

    def __init__(self, port: int, path: str, version: str | None = None) -> None:
        page = request(port, path)
        self.path = path
        self.version = version if version is not None else page.attr("data-version")
        self.seen: list[tuple[str, Any]] = []
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        events = page.attr("data-events")
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=None)
        target = f"{events}?path={quote(path, safe='')}&v={self.version}"
        self.sock.sendall(f"GET {target} HTTP/1.0\r\n\r\n".encode())
        self.file = self.sock.makefile("rb")
        status = self.file.readline()
        assert b" 200 " in status, status
        while self.file.readline() not in (b"\r\n", b"\n", b""):
            pass
        threading.Thread(target=self._read, daemon=True).start()
        self.hello = self.wait("hello")

    def _read(self) -> None:
        event, data = "message", ""
        with contextlib.suppress(OSError, ValueError):
            for raw in self.file:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and data:
                    self._events.put((event, json.loads(data)))
                    event, data = "message", ""
        self._events.put(("closed", None))

    def next(self, timeout: float = WAIT) -> tuple[str, Any]:
        try:
            item = self._events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.path}: no event in {timeout} s; saw {self.seen}") from None
        self.seen.append(item)
        return item

    def wait(self, kind: str, timeout: float = WAIT) -> Any:
        """The data of the next ``kind`` event (others are recorded in ``seen``)."""
        deadline = time.monotonic() + timeout
        while True:
            event, data = self.next(max(0.01, deadline - time.monotonic()))
            if event == kind:
                return data
            assert event != "closed", f"{self.path}: stream closed waiting for {kind}"

    def kinds(self) -> list[str]:
        return [event for event, _ in self.seen]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


@dataclass
class Served:
    site: Site
    server: DevServer
    tabs: list[Tab] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def root(self) -> Path:
        return self.server.preview.root

    @property
    def err(self) -> str:
        return self.server.preview.err.getvalue()  # type: ignore[attr-defined]

    def get(self, target: str) -> Response:
        return request(self.port, target)

    def tab(self, path: str) -> Tab:
        made = Tab(self.port, path)
        self.tabs.append(made)
        return made

    def settle(self, quiet: float = 0.4) -> None:
        """Wait until no build has started or finished for ``quiet`` seconds."""
        preview = self.server.preview
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            builds = preview.builds
            time.sleep(quiet)
            if preview.builds == builds and not preview._build_lock.locked():
                return
        raise AssertionError("the server never settled")


def make_server(root: Path, **options: Any) -> DevServer:
    opts = ServeOptions(site_dir=root, port=0, now=NOW_DT, **options)
    return DevServer(opts, out=io.StringIO(), err=io.StringIO())


@contextlib.contextmanager
def serving(site: Site, **options: Any) -> Iterator[Served]:
    server = make_server(site.root, **options)
    server.start()
    served = Served(site, server)
    try:
        assert server.preview.wait_for_builds(1, WAIT), "the first build never finished"
        yield served
    finally:
        for tab in served.tabs:
            tab.close()
        server.stop()


@contextlib.contextmanager
def held(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> Iterator[threading.Event]:
    """``owner.name`` (``serve.build``, ``ShardedIndex.finish``) waits, when called, until
    the event given is set (at the latest on leaving), to look at what happens before."""
    release = threading.Event()
    real = getattr(owner, name)

    def waiting(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(WAIT), f"the test never let {name} go on"
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, waiting)
    try:
        yield release
    finally:
        release.set()


def fill(site: Site) -> None:
    site.entry(
        "2020/2020-12-15-byd-xiaomi-car",
        title="BYD and Xiaomi car",
        companies="[byd, xiaomi]",
        extra="tags: [automotive, rumor]\n"
        "corrections:\n  - {date: 2020-12-16, type: update, note: Added a response.}",
        body="Both companies denied it.",
    )
    site.entry("2021/2021-03-08-byd-battery", title="BYD battery", verdict="misleading",
               companies="[BYD Auto]", extra="tags: [automotive]")
    site.entry("2021/2021-04-01-xiaomi-phone", title="Xiaomi phone", companies="[小米]")
    site.write("content/pages/about.md", "---\ntitle: About us\nmenu: 1\n---\n\nWho we are.\n")
    site.write("content/static/logo.svg", '<svg xmlns="http://www.w3.org/2000/svg"/>')


@pytest.fixture
def served(site: Site) -> Iterator[Served]:
    fill(site)
    with serving(site) as running:
        yield running


def clean_build(site: Site, out: Path, drafts: bool = False) -> dict[str, bytes]:
    """A fresh ``build()`` of the same content into ``out``: what serve must equal."""
    build(BuildOptions(site_dir=site.root, out_dir=out, drafts=drafts, now=NOW_DT))
    return snapshot(out)




def urls_in(served: Served) -> dict[str, bytes]:
    """Every file of the served site, fetched over HTTP, script tags removed."""
    found = {}
    for relpath in snapshot(served.root):
        response = served.get("/" + quote(relpath))
        assert response.status == 200, relpath
        found[relpath] = SCRIPT.sub(b"", response.body)
    return found


# -- serving --------------------------------------------------------------------------------------


def test_serves_the_site_with_content_types(served):
    cases = {
        "/": "text/html; charset=utf-8",
        "/checks/byd-battery/": "text/html; charset=utf-8",
        "/feed.xml": "application/atom+xml",
        "/companies/byd/feed.xml": "application/atom+xml",
        "/sitemap.xml": "application/xml",
        "/claimreview.json": "application/json",
        "/robots.txt": "text/plain; charset=utf-8",
        "/logo.svg": "image/svg+xml",
        "/__factsite/client.js": "text/javascript; charset=utf-8",
    }
    for path, expected in cases.items():
        response = served.get(path)
        assert response.status == 200, path
        assert response.headers["content-type"] == expected, path
        assert response.headers["cache-control"] == "no-store"
        assert int(response.headers["content-length"]) == len(response.body)
    css = next(p for p in snapshot(served.root) if p.endswith(".css"))
    assert served.get("/" + css).headers["content-type"] == "text/css; charset=utf-8"
    home = served.get("/")
    assert home.text.count("data-factsite-serve") == 1
    assert home.text.index("data-factsite-serve") < home.text.index("</body>")
    assert served.get("/", ).attr("data-events") == "/__factsite/events"
    head = request(served.port, "/checks/byd-battery/", method="HEAD")
    assert head.status == 200 and head.body == b""


def test_serve_starts_from_the_sites_cache_and_restarts_from_its_own(site, run, monkeypatch,
                                                                    tmp_path):
    """The first build of ``serve`` takes what ``factsite build`` already parsed; a
    restart with nothing changed is skipped like a build; ``factsite build``'s own cache
    is never written by the server."""
    fill(site)
    assert run("build", str(site.root), "-q").code == 0
    site_cache = site.root / ".factsite-cache" / "cache.sqlite"
    before = site_cache.stat().st_mtime_ns, site_cache.read_bytes()
    rendered: list[str] = []
    render = markdown.MarkdownRenderer.render

    def counted(self, text):
        rendered.append(text)
        return render(self, text)

    monkeypatch.setattr(markdown.MarkdownRenderer, "render", counted)
    with serving(site) as served:
        assert rendered == []  # every body came from the copy of the site's cache
        assert urls_in(served) == clean_build(site, tmp_path / "fresh")
        rendered.clear()  # (the clean build's)
        site.entry("2021/2021-03-08-byd-battery", title="BYD battery", verdict="misleading",
                   companies="[BYD Auto]", extra="tags: [automotive]", body="Edited.")
        assert served.server.preview.wait_for_builds(2, WAIT)
        assert [text.strip() for text in rendered] == ["Edited."]  # that body alone
    with serving(site) as again:
        assert "fingerprint: nothing changed" in again.server.preview.last.phases.seconds
        assert "Edited." in again.get("/checks/byd-battery/").text
    assert (site_cache.stat().st_mtime_ns, site_cache.read_bytes()) == before


def test_serve_counts_repeated_warnings_and_prints_only_new_ones(site):
    """The terminal gets ten warnings of a kind and a count, as from factsite build; a
    rebuild prints only the warnings it did not print before."""
    fill(site)

    def old(n: int) -> None:  # a check without claim URLs, as archives have them
        site.write(f"content/entries/2019/2019-01-{n + 1:02d}-old-{n}.md",
                   f"---\ntitle: Old {n}\nclaim: Said\nverdict: false\n"
                   f"published: 2019-01-01\ncompanies: [BYD]\nclaimant: Someone\n---\n")

    missing = "warning: ClaimReview: 'itemReviewed' has no 'appearance'"
    for n in range(12):
        old(n)
    with serving(site) as served:
        first = served.err
        assert first.count(missing) == 10
        assert ("factsite: 2 more warning(s) not shown (only the first 10 of each kind are; "
                "factsite build --all-warnings prints every one):") in first
        for n in range(12, 15):
            old(n)
        assert served.server.preview.wait_for_builds(2, WAIT)
        again = served.err[len(first):]
    assert again.count(missing) == 3
    assert all(f"-old-{n}.md" in again for n in range(12, 15))
    assert "not shown" not in again


def test_serve_prints_the_notes_of_a_build_once(site):
    """What factsite build says in notes (ignored ClaimReview rules, search off, no page
    keys) the terminal shows too, and a rebuild repeats only notes that changed."""
    fill(site)
    site.write("content/site.yaml", SITE_YAML + "ignore_warnings: [CR166]\n")
    site.write("content/entries/2019/2019-01-01-old.md",
               "---\ntitle: Old\nclaim: Said\nverdict: false\npublished: 2019-01-01\n"
               "companies: [BYD]\nclaimant: Someone\n---\n")
    note = ("note: ClaimReview warnings not shown, as 'ignore_warnings' in site.yaml asks: "
            "CR166 1")
    with serving(site) as served:
        out = served.server.preview.out
        assert note in out.getvalue().splitlines()
        first = len(out.getvalue())
        site.entry("2021/2021-04-01-xiaomi-phone", title="Xiaomi phone", companies="[小米]",
                   body="Edited.")
        assert served.server.preview.wait_for_builds(2, WAIT)
        again = out.getvalue()[first:]
    assert again.startswith("Rebuilt ") and "note:" not in again


def test_content_type_table():
    atom = b'<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    assert content_type("feed.xml", atom) == "application/atom+xml"
    assert content_type("sitemap.xml", b"<urlset>") == "application/xml"
    assert content_type("a/b.JSON") == "application/json"
    assert content_type("img/x.png") == "image/png"
    assert content_type("file.unknownext") == "application/octet-stream"


def test_served_bytes_are_the_build_output_plus_only_the_script(served, tmp_path):
    clean = clean_build(served.site, tmp_path / "clean")
    assert snapshot(served.root) == clean
    assert urls_in(served) == clean
    for relpath in clean:
        assert b"__factsite" not in clean[relpath], relpath


def test_factsite_build_output_never_holds_the_script(served, run):
    result = run("build", str(served.site.root), "-q")
    assert result.code == 0, result.err
    for path in served.site.out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"__factsite" not in data and b"EventSource" not in data, path
    for path in served.root.rglob("*"):  # nor the served folder on disk
        if path.is_file():
            assert b"data-factsite-serve" not in path.read_bytes(), path


def test_missing_path_gets_the_site_404_page(served):
    response = served.get("/checks/no-such-check/")
    assert response.status == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Page not found" in response.text and "data-factsite-serve" in response.text
    assert served.get("/no/such/file.css").status == 404
    assert served.get("/.factsite-staging/").status == 404
    assert served.get("/__factsite/other").status == 404


def test_folder_without_its_slash_redirects(served):
    response = served.get("/checks/byd-battery?x=1")
    assert response.status == 302
    assert response.headers["location"] == "/checks/byd-battery/"
    assert served.get("/checks/byd-battery/index.html").status == 200


# -- edits arrive ---------------------------------------------------------------------------------


def test_editing_an_entry_reloads_its_tab_and_not_an_unrelated_one(served):
    tab = served.tab("/checks/byd-battery/")
    about = served.tab("/about/")
    built = tab.hello["builds"]
    served.site.entry("2021/2021-03-08-byd-battery", title="BYD battery", verdict="misleading",
                      companies="[BYD Auto]", extra="tags: [automotive]",
                      body="The battery story, revised.")
    tab.wait("reload")
    assert "The battery story, revised." in served.get("/checks/byd-battery/").text
    served.settle()
    assert about.wait("built")["builds"] > built
    assert "reload" not in about.kinds()


def test_a_tab_reloads_before_the_search_index_is_finished(served, monkeypatch):
    """A tab reloads as soon as its page is in place: Pagefind's work on the changed
    shard (held back here until the tab has been told) does not delay it, and the served
    index is the last build's, whole, until the new one replaces it."""
    def bundle() -> dict[str, bytes]:
        return {f: d for f, d in snapshot(served.root).items() if f.startswith("pagefind/")}

    tab = served.tab("/checks/byd-battery/")
    before = bundle()
    with held(monkeypatch, ShardedIndex, "finish"):
        served.site.entry("2021/2021-03-08-byd-battery", title="BYD battery",
                          verdict="misleading", companies="[BYD Auto]",
                          extra="tags: [automotive]", body="Revised while indexing.")
        tab.wait("reload")
        assert "Revised while indexing." in served.get("/checks/byd-battery/").text
        assert bundle() == before
        assert "built" not in tab.kinds()
    tab.wait("built")
    assert bundle() != before


def test_a_deleted_checks_tab_reloads_before_the_search_index_is_finished(served,
                                                                          monkeypatch):
    """Its page goes when the new pages are placed, not at the end of the build: the
    tab shows the 404 page while Pagefind still works on the shard."""
    tab = served.tab("/checks/byd-battery/")
    with held(monkeypatch, ShardedIndex, "finish"):
        served.site.remove("content/entries/2021/2021-03-08-byd-battery.md")
        tab.wait("reload")
        assert served.get("/checks/byd-battery/").status == 404
        assert "built" not in tab.kinds()
    tab.wait("built")
    assert served.get("/checks/byd-battery/").status == 404


def test_a_tab_waiting_on_a_missing_page_reloads_when_it_appears(served):
    tab = served.tab("/checks/new-check/")
    assert served.get("/checks/new-check/").status == 404
    home = served.tab("/")
    served.site.entry("2022/2022-05-01-new-check", title="A new check", companies="[xiaomi]")
    tab.wait("reload")
    home.wait("reload")
    page = served.get("/checks/new-check/")
    assert page.status == 200 and "A new check" in page.text
    assert "/checks/new-check/" in served.get("/").text
    assert "/checks/new-check/" in served.get("/companies/xiaomi/").text


def test_deleted_entry_is_404_and_gone_from_every_listing(served, tmp_path):
    tab = served.tab("/checks/byd-xiaomi-car/")
    listing = served.tab("/tags/rumor/")
    served.site.remove("content/entries/2020/2020-12-15-byd-xiaomi-car.md")
    tab.wait("reload")
    listing.wait("reload")
    served.settle()
    assert served.get("/checks/byd-xiaomi-car/").status == 404
    assert served.get("/tags/rumor/").status == 404  # the tag had only this check
    for relpath, data in urls_in(served).items():
        assert b"byd-xiaomi-car" not in data, relpath
    assert snapshot(served.root) == clean_build(served.site, tmp_path / "clean")


def test_renamed_entry_file_moves_its_page(served, tmp_path):
    old = served.tab("/checks/xiaomi-phone/")
    entries = served.site.root / "content/entries/2021"
    (entries / "2021-04-01-xiaomi-phone.md").rename(entries / "2021-04-01-xiaomi-handset.md")
    old.wait("reload")
    served.settle()
    assert served.get("/checks/xiaomi-phone/").status == 404
    assert served.get("/checks/xiaomi-handset/").status == 200
    assert "/checks/xiaomi-handset/" in served.get("/companies/xiaomi/").text
    assert snapshot(served.root) == clean_build(served.site, tmp_path / "clean")


def test_renamed_company_updates_every_check_naming_it(served, tmp_path):
    first, second = served.tab("/checks/byd-xiaomi-car/"), served.tab("/checks/byd-battery/")
    served.site.write(
        "content/companies/byd.md",
        "---\nname: BYD Group\naliases: [BYD Auto, 比亚迪, BYD]\n---\n\nCarmaker.\n",
    )
    first.wait("reload")
    second.wait("reload")
    served.settle()
    for path in ("/checks/byd-xiaomi-car/", "/checks/byd-battery/", "/companies/"):
        text = served.get(path).text
        assert "BYD Group" in text, path
    assert snapshot(served.root) == clean_build(served.site, tmp_path / "clean")

    # The file renamed too: a new slug, the old company page gone, every link moved.
    companies = served.site.root / "content/companies"
    (companies / "byd.md").rename(companies / "byd-group.md")
    served.settle()
    assert served.get("/companies/byd/").status == 404
    assert served.get("/companies/byd-group/").status == 200
    for relpath, data in urls_in(served).items():
        assert b"/companies/byd/" not in data, relpath
    assert b"/companies/byd-group/" in served.get("/checks/byd-battery/").body
    assert snapshot(served.root) == clean_build(served.site, tmp_path / "clean2")


def test_added_and_deleted_company(served, tmp_path):
    index = served.tab("/companies/")
    served.site.write("content/companies/zenith.md", "---\nname: Zenith Motors\n---\n\nCars.\n")
    index.wait("reload")
    assert served.get("/companies/zenith/").status == 200
    assert "Zenith Motors" in served.get("/companies/").text
    served.site.remove("content/companies/acme.md")  # named by no check
    served.settle()
    assert served.get("/companies/acme/").status == 404
    assert "Acme Foods" not in served.get("/companies/").text
    assert snapshot(served.root) == clean_build(served.site, tmp_path / "clean")


def test_free_page_added_renamed_and_deleted(served, tmp_path):
    about = served.tab("/about/")
    served.site.write(
        "content/pages/methodology.md", "---\ntitle: How we check\nmenu: 2\n---\n\nX.\n"
    )
    about.wait("reload")  # the menu on every page changed
    assert served.get("/methodology/").status == 200
    pages = served.site.root / "content/pages"
    (pages / "methodology.md").rename(pages / "how-we-check.md")
    served.settle()
    assert served.get("/methodology/").status == 404
    assert served.get("/how-we-check/").status == 200
    (pages / "how-we-check.md").unlink()
    served.settle()
    assert served.get("/how-we-check/").status == 404
    assert "How we check" not in served.get("/").text
    assert snapshot(served.root) == clean_build(served.site, tmp_path / "clean")


def test_templates_folder_created_overridden_renamed_and_deleted(served, tmp_path):
    assert not (served.site.root / "templates").exists()
    tab = served.tab("/checks/byd-battery/")
    override = (
        '{% extends "!theme/check.html" %}\n'
        "{% block title %}MARKER {{ super() }}{% endblock %}\n"
    )
    served.site.write("templates/check.html", override)  # the folder is new too
    tab.wait("reload")
    assert "MARKER" in served.get("/checks/byd-battery/").text
    assert "MARKER" not in served.get("/").text
    assert snapshot(served.root) == clean_build(served.site, tmp_path / "clean1")

    tab = served.tab("/checks/byd-battery/")
    templates = served.site.root / "templates"
    (templates / "check.html").rename(templates / "check.html.off")  # renamed away
    tab.wait("reload")
    assert "MARKER" not in served.get("/checks/byd-battery/").text

    tab = served.tab("/checks/byd-battery/")
    (templates / "check.html.off").rename(templates / "check.html")  # and back
    tab.wait("reload")
    assert "MARKER" in served.get("/checks/byd-battery/").text

    tab = served.tab("/checks/byd-battery/")
    shutil.rmtree(templates)  # the whole folder deleted
    tab.wait("reload")
    assert "MARKER" not in served.get("/checks/byd-battery/").text
    served.settle()
    assert snapshot(served.root) == clean_build(served.site, tmp_path / "clean2")


def test_an_edited_template_is_used_even_within_the_same_clock_tick(served):
    served.site.write("templates/page.html",
                      '{% extends "!theme/page.html" %}{% block title %}ONE{% endblock %}\n')
    served.settle()
    path = served.site.root / "templates/page.html"
    stat = path.stat()
    path.write_text('{% extends "!theme/page.html" %}{% block title %}TWO{% endblock %}\n')
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime
    served.settle()
    assert "<title>TWO</title>" in served.get("/about/").text


def test_css_change_swaps_the_stylesheet_without_a_reload(served):
    tab = served.tab("/checks/byd-battery/")
    old = re.search(r'<link rel="stylesheet" href="([^"]+)"', served.get("/").text).group(1)
    theme_css = (REPO / "templates/assets/style.css").read_text(encoding="utf-8")
    served.site.write("templates/assets/style.css", theme_css + "\nbody { color: #123456; }\n")
    data = tab.wait("css")
    new = data["swap"][old]
    assert new != old and new.startswith("/assets/style.") and new.endswith(".css")
    assert "#123456" in served.get(new).text
    tab.wait("built")  # stale files go once the search index is in place too
    assert served.get(old).status == 404
    assert "reload" not in tab.kinds()
    page = served.get("/checks/byd-battery/")
    assert page.attr("data-version") == data["version"]
    assert f'href="{new}"' in page.text


def test_a_stylesheet_edit_reaches_the_tabs_before_the_build_renders(served, monkeypatch):
    """The build a stylesheet edit starts renders every page again only to name the new
    file (10 s at 10,000 checks): the tabs switch to it first, served from memory until
    the build writes it. A tab opened meanwhile gets the old page, and is switched when
    the build has placed the new one."""
    from generator import serve

    tab = served.tab("/checks/byd-battery/")
    old = re.search(r'<link rel="stylesheet" href="([^"]+)"', served.get("/").text).group(1)
    theme_css = (REPO / "templates/assets/style.css").read_text(encoding="utf-8")
    with held(monkeypatch, serve, "build"):
        served.site.write("templates/assets/style.css",
                          theme_css + "\nbody { color: #123456; }\n")
        data = tab.wait("css")  # while the build waits
        new = data["swap"][old]
        assert new != old and not (served.root / new.lstrip("/")).exists()
        response = served.get(new)
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/css")
        assert "#123456" in response.text
        assert f'href="{old}"' in served.get("/checks/byd-battery/").text  # not built yet
        late = served.tab("/about/")
    assert late.wait("css")["swap"] == {old: new}
    tab.wait("built")
    late.wait("built")
    assert "reload" not in tab.kinds() + late.kinds()
    page = served.get("/checks/byd-battery/")
    assert page.attr("data-version") == data["version"]  # what the tab was told it holds
    assert served.get(new).body == (served.root / new.lstrip("/")).read_bytes()
    assert served.get(old).status == 404


def test_a_stylesheet_edited_with_a_template_still_reloads_what_changed(served, tmp_path):
    tab = served.tab("/about/")
    theme_css = (REPO / "templates/assets/style.css").read_text(encoding="utf-8")
    served.site.write("templates/page.html",
                      '{% extends "!theme/page.html" %}{% block title %}NEW{% endblock %}\n')
    served.site.write("templates/assets/style.css", theme_css + "\nbody { color: #654321; }\n")
    tab.wait("reload")  # after a "css", if one build saw both edits
    served.settle()
    assert "<title>NEW</title>" in served.get("/about/").text
    assert snapshot(served.root) == clean_build(served.site, tmp_path / "clean")


# -- errors ----------------------------------------------------------------------------------------


def test_content_error_overlay_keeps_the_last_good_site_then_recovers(served):
    tab = served.tab("/checks/byd-battery/")
    other = served.tab("/")
    good = served.get("/checks/byd-battery/").body
    served.site.entry("2021/2021-03-08-byd-battery", title="BYD battery", verdict="flase",
                      companies="[BYD Auto]", body="Fixed text.")
    errors = tab.wait("errors")["errors"]
    assert other.wait("errors")["errors"] == errors
    assert len(errors) == 1
    assert errors[0].startswith("content/entries/2021/2021-03-08-byd-battery.md:4: ")
    assert "unknown verdict 'flase'" in errors[0] and "verdict: flase" in errors[0]
    assert errors[0] in served.err  # the terminal shows the same, with the offending line
    page = served.get("/checks/byd-battery/")
    assert SCRIPT.sub(b"", page.body) == SCRIPT.sub(b"", good)  # the last good page
    assert json.loads(page.attr("data-errors")) == errors
    assert json.loads(served.get("/no-such-page/").attr("data-errors")) == errors
    late = served.tab("/about/")  # a tab opened while broken learns it at once
    assert late.hello["errors"] == errors

    served.site.entry("2021/2021-03-08-byd-battery", title="BYD battery", verdict="false",
                      companies="[BYD Auto]", body="Fixed text.")
    tab.wait("ok")
    tab.wait("reload")
    other.wait("ok")
    assert "Fixed text." in served.get("/checks/byd-battery/").text
    assert json.loads(served.get("/checks/byd-battery/").attr("data-errors")) == []


def test_template_error_overlay_points_at_the_template_line(served):
    tab = served.tab("/about/")
    served.site.write(
        "templates/page.html",
        '{% extends "!theme/page.html" %}\n{% block title %}{{ oops( }}{% endblock %}\n',
    )
    errors = tab.wait("errors")["errors"]
    assert any(e.startswith("templates/page.html:2: ") for e in errors), errors
    assert "{{ oops( }}" in "\n".join(errors)
    assert served.get("/about/").status == 200  # still the last good page
    (served.site.root / "templates/page.html").unlink()
    tab.wait("ok")


def test_a_tab_holding_a_stale_page_reloads_on_connecting(served):
    tab = Tab(served.port, "/checks/byd-battery/", version="0000000000000000")
    served.tabs.append(tab)
    tab.wait("reload")


# -- safety ---------------------------------------------------------------------------------------

TRAVERSALS = [
    "/../secret.txt",
    "/../../../../etc/passwd",
    "/checks/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/%2e%2e/secret.txt",
    "/checks/%2e%2e/%2e%2e/secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/checks%2f..%2f..%2fsecret.txt",
    "/%2fetc%2fpasswd",
    "/..%5csecret.txt",
    "/..\\secret.txt",
    "/index.html%00.css",
    "/%00",
    "/./index.html",
    "/checks/./byd-battery/",
    "//etc/passwd",
    "/checks//byd-battery/",
    "etc/passwd",
    "http://evil.example/../secret.txt",
    "/%ff%fe",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_is_refused(served, target):
    (served.root.parent / "secret.txt").write_text("TOP SECRET")
    response = served.get(target)
    assert 400 <= response.status < 500, (target, response.status)
    assert b"TOP SECRET" not in response.body
    assert b"root:" not in response.body


def test_symlinks_out_of_the_served_folder_are_refused(served, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP SECRET")
    (served.root / "leak.txt").symlink_to(outside / "secret.txt")
    (served.root / "leakdir").symlink_to(outside, target_is_directory=True)
    (served.root / "checks" / "up").symlink_to(served.root.parent.parent)
    for target in ("/leak.txt", "/leakdir/secret.txt", "/leakdir/", "/%6ceak.txt",
                   "/checks/up/content/site.yaml"):
        response = served.get(target)
        assert 400 <= response.status < 500, target
        assert b"TOP SECRET" not in response.body and b"base_url" not in response.body
    inside = served.root / "checks" / "alias"  # a link that stays inside is fine
    inside.symlink_to(served.root / "checks" / "byd-battery", target_is_directory=True)
    assert served.get("/checks/alias/").status == 200


def test_locate_never_leaves_the_root(tmp_path):
    root = tmp_path / "out"
    (root / "a").mkdir(parents=True)
    (root / "a" / "index.html").write_text("x")
    urls = Urls("https://example.org/sub/")
    assert locate(root, urls, "/sub/a/").relpath == "a/index.html"
    assert locate(root, urls, "/sub/a").kind == "redirect"
    assert locate(root, urls, "/").location == "/sub/"
    assert locate(root, urls, "/sub").location == "/sub/"
    assert locate(root, urls, "/a/").kind == "missing"  # outside the prefix
    assert locate(root, urls, "/sub/__factsite/events?path=/").kind == "reserved"
    assert locate(root, urls, "/sub/%2e%2e/").kind == "forbidden"


def test_concurrent_requests(served):
    tabs = [served.tab("/") for _ in range(3)]  # open event streams hold threads too
    paths = ["/", "/checks/byd-battery/", "/companies/", "/feed.xml", "/nope/"] * 8
    results: list[int] = []

    def fetch(path: str) -> None:
        results.append(served.get(path).status)

    threads = [threading.Thread(target=fetch, args=(p,)) for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert sorted(results) == sorted(404 if p == "/nope/" else 200 for p in paths)
    assert all(t.kinds() == ["hello"] for t in tabs)


# -- a site under a sub-path ----------------------------------------------------------------------


def test_sub_path_site(site, tmp_path):
    site.write("content/site.yaml", SITE_YAML.replace(
        "https://checks.example.org/", "https://checks.example.org/factdesk/"))
    fill(site)
    with serving(site) as served:
        assert served.server.url.endswith("/factdesk/")
        root = served.get("/")
        assert root.status == 302 and root.headers["location"] == "/factdesk/"
        assert served.get("/factdesk").headers["location"] == "/factdesk/"
        home = served.get("/factdesk/")
        assert home.status == 200
        assert 'href="/factdesk/checks/byd-battery/"' in home.text
        assert 'href="https://checks.example.org/factdesk/"' in home.text  # canonical kept
        assert home.attr("data-events") == "/factdesk/__factsite/events"
        assert served.get("/checks/byd-battery/").status == 404  # outside the prefix
        assert served.get("/factdesk/checks/byd-battery/").status == 200
        tab = served.tab("/factdesk/checks/byd-battery/")
        served.site.entry("2021/2021-03-08-byd-battery", title="BYD battery v2",
                          verdict="misleading", companies="[BYD Auto]")
        tab.wait("reload")
        assert "BYD battery v2" in served.get("/factdesk/checks/byd-battery/").text
        served.settle()
        assert urls_in_prefixed(served, "/factdesk") == clean_build(site, tmp_path / "clean")


def urls_in_prefixed(served: Served, prefix: str) -> dict[str, bytes]:
    return {
        relpath: SCRIPT.sub(b"", served.get(prefix + "/" + quote(relpath)).body)
        for relpath in snapshot(served.root)
    }


# -- watching and coalescing ----------------------------------------------------------------------


def test_coalescer_runs_once_for_a_burst():
    runs: list[float] = []
    coalescer = Coalescer(lambda: runs.append(time.monotonic()), quiet=0.3, max_wait=5)
    coalescer.start()
    for _ in range(10):
        coalescer.poke()
        time.sleep(0.01)
    time.sleep(0.8)
    coalescer.stop()
    assert len(runs) == 1


def test_coalescer_runs_again_for_a_change_during_a_run():
    started = threading.Event()
    release = threading.Event()
    runs: list[int] = []

    def action() -> None:
        runs.append(1)
        started.set()
        release.wait(5)

    coalescer = Coalescer(action, quiet=0.02)
    coalescer.start()
    coalescer.poke()
    assert started.wait(5)
    coalescer.poke()  # arrives while the first run is going on
    coalescer.poke()
    release.set()
    deadline = time.monotonic() + 5
    while len(runs) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    coalescer.stop()
    assert len(runs) == 2


def test_coalescer_does_not_wait_for_ever_on_a_steady_stream():
    runs: list[float] = []
    coalescer = Coalescer(lambda: runs.append(time.monotonic()), quiet=0.1, max_wait=0.3)
    coalescer.start()
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        coalescer.poke()
        time.sleep(0.02)
    coalescer.stop()
    assert len(runs) >= 2


def test_saves_in_quick_succession_coalesce(served):
    served.settle()
    before = served.server.preview.builds
    for number in range(8):
        served.site.entry(f"2022/2022-02-0{number + 1}-burst-{number}", title=f"Burst {number}")
    served.settle()
    assert served.server.preview.builds - before <= 3  # not one per save
    assert served.get("/checks/burst-7/").status == 200


def test_polling_observer(site):
    fill(site)
    with serving(site, poll=True) as served:
        tab = served.tab("/checks/byd-battery/")
        served.site.entry("2021/2021-03-08-byd-battery", title="Polled title",
                          verdict="misleading", companies="[BYD Auto]")
        tab.wait("reload")
        assert "Polled title" in served.get("/checks/byd-battery/").text


def test_drafts_option(site):
    fill(site)
    site.entry("2022/2022-01-01-draft", title="Draft check", extra="draft: true")
    with serving(site, drafts=True) as served:
        assert served.get("/checks/draft/").status == 200
    with serving(site) as served:
        assert served.get("/checks/draft/").status == 404


# -- the command line -----------------------------------------------------------------------------


def start_cli(*args: str, first_line: bool = True) -> tuple[subprocess.Popen[str], str]:
    """``python -m generator serve …`` in a subprocess; returns it and its first line."""
    # Started as a background job of a script, the suite may have Ctrl-C ignored, and a
    # child inherits that (serve then rightly ignores it too). These tests press Ctrl-C
    # as a terminal would: a handled signal is the default again in the child.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    process = subprocess.Popen(
        [sys.executable, "-m", "generator", "serve", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "FACTSITE_NOW": NOW},
    )
    assert process.stdout is not None
    return process, process.stdout.readline() if first_line else ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_cli_serve_then_ctrl_c_stops_cleanly(site):
    fill(site)
    process, first = start_cli(str(site.root), "--port", "0")
    try:
        match = re.search(r"at http://127\.0\.0\.1:(\d+)/ ", first)
        assert match, first
        port = int(match.group(1))
        deadline = time.monotonic() + WAIT
        while request(port, "/checks/byd-battery/").status != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        tab = Tab(port, "/checks/byd-battery/")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=WAIT)
    finally:
        process.kill()
    tab.close()
    assert process.returncode == 0
    assert "Traceback" not in err and "Traceback" not in out
    assert "Built " in out and "Stopped." in out


def test_cli_serve_quiet_prints_only_errors(site):
    fill(site)
    site.entry("2022/2022-01-01-broken", title="Broken", verdict="nope")
    port = free_port()
    process, _ = start_cli(str(site.root), "--port", str(port), "-q", first_line=False)
    try:
        deadline = time.monotonic() + WAIT
        while True:  # until the first build has failed and the page says so
            assert time.monotonic() < deadline and process.poll() is None
            with contextlib.suppress(OSError):
                if "unknown verdict" in request(port, "/").attr("data-errors"):
                    break
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=WAIT)
    finally:
        process.kill()
    assert process.returncode == 0
    assert out == ""
    assert "content/entries/2022/2022-01-01-broken.md:4: unknown verdict 'nope'" in err
    assert "Traceback" not in err


def test_cli_serve_port_taken(site, run):
    fill(site)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", str(site.root), "--port", str(port))
    assert result.code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.err


def test_cli_serve_outside_a_site(run, tmp_path):
    result = run("serve", str(tmp_path))
    assert result.code == 2 and "has no content/ folder" in result.err


def test_cli_serve_warns_on_a_non_loopback_host(site):
    fill(site)
    process, _first = start_cli(str(site.root), "--host", "0.0.0.0", "--port", "0")
    try:
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=WAIT)
    finally:
        process.kill()
    assert "warning: serving on 0.0.0.0" in err
    assert process.returncode == 0


def test_is_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")


# -- pieces: progress, write statistics, theme refresh ---------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_on_a_terminal(monkeypatch):
    clock = iter([0.0, 0.1, 1.0, 1.05, 1.2, 2.0])
    monkeypatch.setattr("generator.progress.time.perf_counter", lambda: next(clock))
    stream = FakeTerminal()
    progress = Progress.for_terminal(stream, quiet=False)
    progress(1, 100)  # t=0.1: too early to show anything
    assert stream.getvalue() == ""
    progress(10, 100)  # t=1.0
    progress(11, 100)  # t=1.05: too soon after the last redraw
    progress(50, 100)  # t=1.2
    assert stream.getvalue().count("Rendering") == 2
    assert "Rendering 50/100 pages · 1.2 s" in stream.getvalue()
    progress.clear()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_no_progress_when_not_a_terminal_or_quiet():
    assert not Progress.for_terminal(io.StringIO(), quiet=False).enabled
    assert not Progress.for_terminal(FakeTerminal(), quiet=True).enabled


def test_build_reports_progress_for_every_page(site):
    fill(site)
    calls: list[tuple[int, int]] = []
    result = build(BuildOptions(site_dir=site.root, now=NOW_DT),
                   progress=lambda done, total: calls.append((done, total)))
    total = result.pages
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [done for done, _ in calls] == list(range(total + 1))


def test_write_stats_list_the_changed_files(tmp_path):
    out = tmp_path / "out"
    writer = OutputWriter(out)
    writer.write("a/index.html", b"A")
    writer.write("b.txt", b"B")
    assert writer.commit().changed == ["a/index.html", "b.txt"]
    writer = OutputWriter(out)
    writer.write("a/index.html", b"A")  # unchanged
    writer.write("c.txt", b"C")  # new; b.txt goes
    stats = writer.commit()
    assert stats.changed == ["b.txt", "c.txt"]
    assert (stats.written, stats.unchanged, stats.removed) == (1, 1, 1)


def test_theme_refresh_sees_templates_come_and_go(tmp_path):
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    theme = Theme(site_dir)
    context: dict[str, Any] = {}
    original = theme.env.get_template("404.html")
    templates = site_dir / "templates"
    (templates / "assets").mkdir(parents=True)
    (templates / "404.html").write_text("mine")
    (templates / "assets" / "extra.css").write_text("p{}")
    theme.refresh()
    assert theme.render("404.html", context) == "mine"
    assert "extra.css" in theme.assets
    (templates / "404.html").rename(templates / "old-404.html")
    theme.refresh()
    assert theme.env.get_template("404.html").filename == original.filename
    shutil.rmtree(templates)
    theme.refresh()
    assert "extra.css" not in theme.assets
    assert theme.search_dirs == [theme.theme_dir]


def test_unchanged_templates_stay_compiled(tmp_path):
    theme = Theme(tmp_path)
    compiled = theme.env.get_template("404.html")
    theme.refresh()
    assert theme.env.get_template("404.html") is compiled
