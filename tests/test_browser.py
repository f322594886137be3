"""What readers see, in a real browser: search, navigation, accessibility, print, share.

Debian's chromium (``/usr/bin/chromium``, installed by ``make test``) is driven by
Playwright. Two built sites are served by Python's http.server on loopback ports: the
example site in ``content/`` at the root of its host, and a generated Chinese-language
site under the sub-path ``/desk/`` with a check whose title is hostile HTML. Every page
opened here must log no console error, open no dialog and request nothing outside
127.0.0.1; the ``browser`` fixture checks that after each test. Screenshots go to
``tests/artifacts/`` (ignored by git) for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from bs4 import BeautifulSoup
from conftest import COMPANIES, NOW, REPO, entry_text
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright

from generator.build import BuildOptions, build

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ARTIFACTS = REPO / "tests" / "artifacts"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
HOSTILE_TITLE = "<img src=x onerror=alert(1)> payload"


# -- the sites ------------------------------------------------------------------------------


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Served:
    """A built site on a loopback port; ``url(path)`` takes a site path such as ``/x/``."""

    out: Path  # the built site
    base: str  # http://127.0.0.1:PORT or http://127.0.0.1:PORT/desk

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def prefix(self) -> str:
        return urlsplit(self.base).path

    def html(self, relpath: str) -> BeautifulSoup:
        return BeautifulSoup((self.out / relpath).read_text(encoding="utf-8"), "html.parser")

    def checks(self) -> dict[str, BeautifulSoup]:
        """Every check page: its link (as search results give it) → its parsed HTML."""
        return {
            f"{self.prefix}/checks/{page.parent.name}/": self.html(
                page.relative_to(self.out).as_posix())
            for page in sorted((self.out / "checks").glob("*/index.html"))
        }


def _serve(root: Path) -> tuple[ThreadingHTTPServer, int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=root))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def _build(site_dir: Path, out_dir: Path) -> None:
    now = dt.datetime.fromisoformat(NOW)
    build(BuildOptions(site_dir=site_dir, out_dir=out_dir, now=now))


def _generated_site(root: Path) -> Path:
    """A Chinese-language site hosted under /desk/: Chinese bodies and a hostile title."""
    site = root / "generated"
    files = {
        "content/site.yaml": "title: 核查台 Test Desk\nbase_url: https://checks.example.org/desk/\n"
                             "language: zh-Hans\ndescription: 测试站点。\n"
                             "search_shard_size: 1\n",  # each check in its own shard
        "content/static/favicon.svg": (REPO / "content/static/favicon.svg").read_text("utf-8"),
        "content/entries/2021-01-02-joint-car.md": entry_text(
            title="比亚迪和小米联合造车？", claim="比亚迪和小米联合造车", verdict="false",
            published="2021-01-02", companies="[BYD, Xiaomi]",
            body="网上流传比亚迪和小米联合造车的消息，两家公司都否认了。"),
        "content/entries/2021-01-03-phone-price.md": entry_text(
            title="小米手机降价一半？", claim="小米手机价格降低一半", verdict="misleading",
            published="2021-01-03", companies="[Xiaomi]",
            body="官方商城的价格没有变化，只有一款旧型号参加了促销活动。"),
        "content/entries/2021-01-01-hostile.md": entry_text(
            title=f'"{HOSTILE_TITLE}"', claim='"<script>alert(2)</script> claim"',
            published="2021-01-01",
            body="Body <img src=x onerror=alert(3)> mentions the payload & <b>bold</b>."),
    }
    for slug, text in COMPANIES.items():
        files[f"content/companies/{slug}.md"] = text
    for relpath, text in files.items():
        path = site / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return site


@pytest.fixture(scope="session")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The example site, built and served at the root of a loopback host."""
    out = tmp_path_factory.mktemp("example") / "site"
    _build(REPO, out)
    server, port = _serve(out)
    yield Served(out, f"http://127.0.0.1:{port}")
    server.shutdown()


@pytest.fixture(scope="session")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The example site with its search index split into shards of two checks."""
    root = tmp_path_factory.mktemp("sharded")
    shutil.copytree(REPO / "content", root / "site" / "content")
    with (root / "site/content/site.yaml").open("a", encoding="utf-8") as settings:
        settings.write("\nsearch_shard_size: 2\n")
    _build(root / "site", root / "out")
    server, port = _serve(root / "out")
    yield Served(root / "out", f"http://127.0.0.1:{port}")
    server.shutdown()


@pytest.fixture(params=["example", "sharded"])
def either(request: pytest.FixtureRequest) -> Served:
    """The example site with one index, then with the index in shards."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The generated site, served under /desk/ as its base_url says."""
    root = tmp_path_factory.mktemp("generated")
    site = _generated_site(root)
    _build(site, root / "www" / "desk")
    server, port = _serve(root / "www")
    yield Served(root / "www" / "desk", f"http://127.0.0.1:{port}/desk")
    server.shutdown()


# -- the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")  # closed with this module: one Playwright at a time
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Tabs:
    """Opens pages in fresh contexts and records what must never happen on any of them."""

    chromium: Browser
    contexts: list[BrowserContext] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # of the last page opened to record

    def open(self, url: str, *, scheme: str = "light", width: int = 1280,
             javascript: bool = True, permissions: list[str] | None = None,
             record: bool = False) -> Page:
        """A page at ``url``; with ``record``, its requests go to :attr:`requests`."""
        context = self.chromium.new_context(
            color_scheme=scheme,  # type: ignore[arg-type]
            viewport={"width": width, "height": 900},
            java_script_enabled=javascript,
            permissions=permissions or [],
        )
        self.contexts.append(context)
        context.route("**/*", self._only_loopback)
        page = context.new_page()
        if record:
            self.requests.clear()
            page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", lambda msg: msg.type == "error" and self.problems.append(
            f"console error on {page.url}: {msg.text}"))
        page.on("pageerror", lambda exc: self.problems.append(f"script error on {page.url}: {exc}"))
        page.on("dialog", self._dialog)
        page.goto(url)
        return page

    def _only_loopback(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.problems.append(f"request left the loopback host: {url}")
            route.abort()

    def _dialog(self, dialog) -> None:  # type: ignore[no-untyped-def]
        self.problems.append(f"a dialog opened: {dialog.type} {dialog.message!r}")
        dialog.dismiss()

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browser(chromium: Browser) -> Iterator[Tabs]:
    tabs = Tabs(chromium)
    yield tabs
    tabs.close()
    assert tabs.problems == []


def search(page: Page) -> list[tuple[str, str]]:
    """Wait for the search page to finish; its results as (link, title) pairs."""
    page.wait_for_selector('#fs-search-results[aria-busy="false"]')
    return [
        (link.get_attribute("href") or "", link.inner_text())
        for link in page.locator("#fs-search-results .card-title a").all()
    ]


def indexed_text(check: BeautifulSoup) -> str:
    """What Pagefind reads of a check page: its article, less the ignored parts."""
    body = check.select_one("[data-pagefind-body]")
    assert body is not None
    for ignored in body.select("[data-pagefind-ignore]"):
        ignored.decompose()
    aliases = " ".join(a["data-aliases"] for a in body.select("[data-aliases]"))
    return f"{body.get_text(' ')} {aliases}".casefold()


# -- search ---------------------------------------------------------------------------------


def test_the_header_search_box_finds_a_company_by_name(either: Served, browser: Tabs) -> None:
    expected = {link for link, page in either.checks().items()
                if re.search(r"\bkestrel\b", indexed_text(page))}
    assert len(expected) >= 3  # the example site has three checks about Kestrel Airlines
    page = browser.open(either.url("/"))
    page.get_by_role("searchbox", name="Search fact-checks").fill("Kestrel")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search/\?q=Kestrel$"))
    results = search(page)
    assert {link for link, _ in results} == expected
    status = page.locator("#fs-search-status").inner_text()
    assert status == f"{len(expected)} checks found for “Kestrel”."
    for link, title in results:  # each result shows title, verdict, date and an excerpt
        card = page.locator(".card", has=page.locator(f'a[href="{link}"]'))
        assert title == either.checks()[link].h1.get_text(strip=True)
        assert card.locator(".verdict").inner_text().strip()
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", card.locator("time").get_attribute("datetime"))
        assert "kestrel" in card.locator(".result-excerpt mark").first.inner_text().casefold()


def test_a_chinese_alias_finds_the_company_checks(either: Served, browser: Tabs) -> None:
    byd = {link for link, page in either.checks().items()
           if page.select_one('.check-companies a[href="/companies/byd/"]')}
    assert byd
    page = browser.open(either.url("/search/?q=" + quote("比亚迪")))
    assert {link for link, _ in search(page)} == byd


def test_chinese_words_inside_a_sentence_are_found(generated: Served, browser: Tabs) -> None:
    """A zh site is segmented into words: 联合 is found in the middle of 比亚迪和小米联合造车."""
    page = browser.open(generated.url("/search/?q=" + quote("联合")))
    assert [link for link, _ in search(page)] == ["/desk/checks/joint-car/"]
    page = browser.open(generated.url("/search/?q=" + quote("否认")))  # in the body only
    assert [title for _, title in search(page)] == ["比亚迪和小米联合造车？"]
    page = browser.open(generated.url("/search/?q=" + quote("小米")))
    assert {link for link, _ in search(page)} == {
        "/desk/checks/joint-car/", "/desk/checks/phone-price/"}


def test_a_verdict_filter_narrows_the_results(either: Served, browser: Tabs) -> None:
    checks = either.checks()
    false = {link for link, page in checks.items() if page.article["data-verdict"] == "false"}
    kestrel = {link for link, page in checks.items()
               if re.search(r"\bkestrel\b", indexed_text(page))}
    assert false and kestrel - false  # the filter must remove something

    page = browser.open(either.url("/search/?q=Kestrel"))
    search(page)
    page.get_by_label("Verdict").select_option(label="False")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url(re.compile(r"verdict=false"))
    results = search(page)
    assert {link for link, _ in results} == kestrel & false
    badges = page.locator("#fs-search-results .verdict").all_text_contents()
    assert set(badges) == {"Verdict: False"}
    assert page.get_by_label("Verdict").input_value() == "false"  # the form shows the filter

    page = browser.open(either.url("/search/?verdict=false"))  # a filter alone lists them all
    assert [link for link, _ in search(page)] == sorted(
        false, key=lambda link: checks[link].article["data-isodate"], reverse=True)

    page = browser.open(either.url("/search/?verdict=false&company=Kestrel+Airlines"))
    about = {link for link, page in checks.items()
             if page.select_one('.check-companies a[href="/companies/kestrel-airlines/"]')}
    assert [link for link, _ in search(page)] == sorted(
        false & about, key=lambda link: checks[link].article["data-isodate"], reverse=True)
    assert page.locator("#fs-search-status").inner_text().startswith(
        f"{len(false & about)} check")


def test_a_company_filter_lists_its_checks(either: Served, browser: Tabs) -> None:
    checks = either.checks()
    about = {link for link, page in checks.items()
             if page.select_one('.check-companies a[href="/companies/kestrel-airlines/"]')}
    page = browser.open(either.url("/search/"))
    page.get_by_label("Company").select_option(label="Kestrel Airlines")
    page.get_by_role("button", name="Search", exact=True).click()
    assert [link for link, _ in search(page)] == sorted(  # newest first, across shards
        about, key=lambda link: checks[link].article["data-isodate"], reverse=True)


def test_hostile_text_in_results_stays_text(generated: Served, browser: Tabs) -> None:
    page = browser.open(generated.url("/search/?q=payload"))
    results = search(page)
    assert [title for _, title in results] == [HOSTILE_TITLE]
    listing = page.locator("#fs-search-results")
    assert listing.locator("img, script").count() == 0
    assert "<script>alert(2)</script>" in listing.locator(".result-excerpt").inner_text()
    page.get_by_role("link", name=HOSTILE_TITLE).click()  # and on the check page itself
    assert page.locator("h1").inner_text() == HOSTILE_TITLE
    # no dialog opened: the browser fixture fails the test otherwise


def test_search_results_work_under_a_sub_path(generated: Served, browser: Tabs) -> None:
    page = browser.open(generated.url("/"))
    page.get_by_role("searchbox", name="Search fact-checks").fill("小米")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/desk/search/\?q="))
    links = [link for link, _ in search(page)]
    assert links and all(link.startswith("/desk/checks/") for link in links)
    page.locator("#fs-search-results .card-title a").first.click()
    page.wait_for_url(re.compile(r"/desk/checks/"))


def test_more_results_load_on_demand(tmp_path: Path, browser: Tabs) -> None:
    site = tmp_path / "many"
    (site / "content/companies").mkdir(parents=True)
    (site / "content/site.yaml").write_text(  # seven index shards of at most four checks
        "title: Many\nbase_url: https://many.example.org/\nsearch_shard_size: 4\n",
        encoding="utf-8")
    (site / "content/companies/byd.md").write_text(COMPANIES["byd"], encoding="utf-8")
    for n in range(1, 26):
        (site / f"content/entries/check-{n:02}.md").parent.mkdir(parents=True, exist_ok=True)
        (site / f"content/entries/check-{n:02}.md").write_text(entry_text(
            title=f"Battery claim number {n}", published=f"2020-01-{n:02}"), encoding="utf-8")
    _build(site, tmp_path / "out")
    server, port = _serve(tmp_path / "out")
    try:
        page = browser.open(f"http://127.0.0.1:{port}/search/?q=battery")
        assert len(search(page)) == 10
        assert page.locator("#fs-search-status").inner_text() == "25 checks found for “battery”."
        more = page.get_by_role("button", name="Show more results")
        more.click()
        page.wait_for_function("document.querySelectorAll('#fs-search-results li').length == 20")
        assert page.evaluate("document.activeElement.closest('li') === "
                             "document.querySelectorAll('#fs-search-results li')[10]")
        more.click()
        page.wait_for_function("document.querySelectorAll('#fs-search-results li').length == 25")
        assert more.is_hidden()

        # Filters alone: newest first from the company's listing, page by page, with no
        # request for the word index (Pagefind would fetch all of it).
        page = browser.open(f"http://127.0.0.1:{port}/search/?company=BYD", record=True)
        newest = [f"/checks/check-{n:02}/" for n in range(25, 0, -1)]
        assert [link for link, _ in search(page)] == newest[:10]
        assert page.locator("#fs-search-status").inner_text() == "25 checks found, about BYD."
        page.get_by_role("button", name="Show more results").click()
        page.wait_for_function("document.querySelectorAll('#fs-search-results li').length == 20")
        assert [link for link, _ in search(page)] == newest[:20]
        claims = page.locator("#fs-search-results .card-claim").all_text_contents()
        assert claims[0] == "Something was said"  # a listing shows each check's claim
        assert not [url for url in browser.requests if "/pagefind/" in url]
        assert any("/search/company/byd/1.json" in url for url in browser.requests)
    finally:
        server.shutdown()


def test_without_javascript_the_search_page_points_elsewhere(example: Served,
                                                             browser: Tabs) -> None:
    page = browser.open(example.url("/"), javascript=False)
    page.get_by_role("searchbox", name="Search fact-checks").fill("BYD")
    page.keyboard.press("Enter")  # a plain form: it still reaches the search page
    page.wait_for_url(re.compile(r"/search/\?q=BYD$"))
    notice = page.locator(".notice")
    assert "needs JavaScript" in notice.inner_text()
    links = {a.get_attribute("href") for a in notice.locator("a").all()}
    assert links == {"/companies/"} | {f"/verdicts/{v}/" for v in (
        "true", "mostly-true", "mixed", "misleading", "false", "unproven")}


# -- navigation, share, print ---------------------------------------------------------------


def test_from_a_check_to_its_company_and_back(example: Served, browser: Tabs) -> None:
    page = browser.open(example.url("/checks/byd-xiaomi-car/"))
    title = page.locator("h1").inner_text()
    page.locator(".check-companies").get_by_role("link", name="BYD", exact=True).click()
    page.wait_for_url(example.url("/companies/byd/"))
    assert page.locator("h1").inner_text() == "BYD"
    assert page.get_by_role("link", name=title).count() == 1  # the check is listed there
    page.go_back()
    page.wait_for_url(example.url("/checks/byd-xiaomi-car/"))
    assert page.locator("h1").inner_text() == title


def test_the_permalink_can_be_copied(example: Served, browser: Tabs) -> None:
    canonical = "https://factdesk.example.org/checks/byd-xiaomi-car/"
    page = browser.open(example.url("/checks/byd-xiaomi-car/"),
                        permissions=["clipboard-read", "clipboard-write"])
    field = page.get_by_label("Link to this check")
    assert field.input_value() == canonical
    assert field.get_attribute("readonly") is not None
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator(".copy-status")).to_have_text("Link copied.")  # the copy is async
    assert page.evaluate("navigator.clipboard.readText()") == canonical


def test_without_javascript_the_copy_button_is_not_offered(example: Served,
                                                           browser: Tabs) -> None:
    page = browser.open(example.url("/checks/byd-xiaomi-car/"), javascript=False)
    assert page.get_by_role("button", name="Copy link").count() == 0
    assert page.get_by_label("Link to this check").input_value().startswith("https://")


def test_a_check_prints_claim_verdict_and_sources_with_their_urls(example: Served,
                                                                   browser: Tabs) -> None:
    check = example.html("checks/byd-xiaomi-car/index.html")
    sources = [a["href"] for a in check.select(".sources li > a:first-child")]
    page = browser.open(example.url("/checks/byd-xiaomi-car/"))
    page.emulate_media(media="print")
    for selector in (".claim-text", ".verdict-line .verdict", ".sources"):
        assert page.locator(selector).is_visible(), selector
    for selector in (".site-nav", ".site-search", ".site-footer", ".related",
                     ".permalink label", ".permalink input", ".copy-link"):
        assert not page.locator(selector).is_visible(), selector
    printed = page.evaluate(
        """() => [...document.querySelectorAll('.sources li > a:first-child')].map(
            a => getComputedStyle(a, '::after').content)""")
    assert printed == [f'" ({url})"' for url in sources]  # each source with its address
    permalink = page.evaluate(
        "getComputedStyle(document.querySelector('.permalink'), '::before').content")
    assert "https://factdesk.example.org/checks/byd-xiaomi-car/" in permalink
    ARTIFACTS.mkdir(exist_ok=True)
    page.pdf(path=ARTIFACTS / "check-print.pdf", format="A4")


# -- accessibility --------------------------------------------------------------------------

PAGE_KINDS = {
    "home": "/",
    "check": "/checks/byd-xiaomi-car/",
    "company": "/companies/byd/",
    "companies": "/companies/",
    "verdict": "/verdicts/false/",
    "tag": "/tags/automotive/",
    "search": "/search/?q=Kestrel",
    "search-empty": "/search/",
    "404": "/404.html",
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("kind", list(PAGE_KINDS))
def test_no_axe_violations(example: Served, browser: Tabs, kind: str, scheme: str) -> None:
    page = browser.open(example.url(PAGE_KINDS[kind]), scheme=scheme)
    if kind.startswith("search"):
        page.wait_for_load_state("networkidle")
        if kind == "search":
            search(page)
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    violations = [
        f"{v['id']}: {v['help']} — " + "; ".join(
            f"{' '.join(n['target'])} ({n.get('failureSummary', '').splitlines()[-1].strip()})"
            for n in v["nodes"][:5])
        for v in results.response["violations"]
    ]
    assert violations == []


def test_verdicts_are_written_not_only_coloured(example: Served, browser: Tabs) -> None:
    page = browser.open(example.url("/companies/kestrel-airlines/"))
    for badge in page.locator(".verdict").all():
        assert badge.inner_text().strip()  # every badge has its label
    chart = page.get_by_role("img", name=re.compile(r"^(\w[\w ]*: \d+(; |$))+$"))
    assert chart.count() == 1  # the bar is described by its counts, in words


def test_keyboard_users_get_a_skip_link_and_a_visible_focus(example: Served,
                                                           browser: Tabs) -> None:
    page = browser.open(example.url("/checks/byd-xiaomi-car/"))
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.is_visible() and skip.bounding_box()["y"] >= 0
    outline = skip.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "fs-main-content"


# -- screenshots ----------------------------------------------------------------------------


@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("kind", ["home", "check", "company"])
def test_screenshots(example: Served, browser: Tabs, kind: str, width: int) -> None:
    """For a person to look at; also: nothing is wider than the screen."""
    page = browser.open(example.url(PAGE_KINDS[kind]), width=width)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{kind}-{width}.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
