"""``factsite serve`` in real headless Chromium (Debian's, driven by Playwright).

The page reloads by itself when its file changes, at the same scroll position; a CSS
change swaps the stylesheet without a reload; an error shows the overlay until fixed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from conftest import REPO, Site
from playwright.sync_api import BrowserContext, Page, sync_playwright
from test_serve import WAIT, Served, fill, held, serving

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PARAGRAPHS = 160
T = TypeVar("T")


class BrowserThread:
    """Chromium driven from a thread of its own.

    Playwright's sync API allows one instance per thread, and another module's session
    fixture may hold the main thread's; so every call into the browser goes through
    :meth:`run`, which executes it in this thread and hands back its result or exception.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium")
        self._contexts: list[BrowserContext] = []
        self.run(self._start)

    def _start(self) -> None:
        self._playwright = sync_playwright().start()
        self.browser = self._playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=ARGS
        )

    def _stop(self) -> None:
        self.browser.close()
        self._playwright.stop()

    def run(self, scenario: Callable[..., T], *args: Any) -> T:
        return self._pool.submit(self._in_thread, scenario, *args).result()

    def _in_thread(self, scenario: Callable[..., T], *args: Any) -> T:
        try:
            return scenario(*args)
        finally:
            for context in self._contexts:
                context.close()
            self._contexts.clear()

    def page(self) -> Page:
        """A page in a fresh context (call from within :meth:`run`)."""
        context = self.browser.new_context(viewport={"width": 1000, "height": 700})
        self._contexts.append(context)
        opened = context.new_page()
        opened.set_default_timeout(WAIT * 1000)
        return opened

    def close(self) -> None:
        self.run(self._stop)
        self._pool.shutdown()


@pytest.fixture(scope="module")
def chromium() -> Iterator[BrowserThread]:
    thread = BrowserThread()
    yield thread
    thread.close()


def long_body(first: str) -> str:
    line = "the claim is examined line by line, with sources."
    rest = "\n\n".join(f"Paragraph {n}: {line}" for n in range(PARAGRAPHS))
    return f"{first}\n\n{rest}"


def write_long_check(site: Site, first: str, verdict: str = "false") -> None:
    site.entry("2022/2022-06-01-long-check", title="A long check", verdict=verdict,
               companies="[byd]", body=long_body(first))


@pytest.fixture
def served(site: Site) -> Iterator[Served]:
    fill(site)
    write_long_check(site, "The opening paragraph.")
    with serving(site) as running:
        yield running


def open_tab(page: Page, served: Served, path: str) -> None:
    """Load ``path`` and wait until its event stream is connected."""
    before = len(served.server.preview.tabs)
    page.goto(f"http://127.0.0.1:{served.port}{path}")
    deadline = time.monotonic() + WAIT
    while len(served.server.preview.tabs) <= before:
        assert time.monotonic() < deadline, "the page never opened its event stream"
        time.sleep(0.05)


def test_edit_reloads_the_page_and_keeps_the_scroll_position(chromium, served):
    chromium.run(edit_reloads_and_keeps_scroll, chromium.page, served)


def edit_reloads_and_keeps_scroll(new_page: Callable[[], Page], served: Served) -> None:
    page = new_page()
    open_tab(page, served, "/checks/long-check/")
    page.evaluate("window.scrollTo(0, 2400)")
    page.wait_for_function("window.scrollY === 2400")
    page.evaluate("window.__notReloaded = true")

    write_long_check(served.site, "The opening paragraph, corrected.")

    page.wait_for_function("document.body.innerText.includes('The opening paragraph, corrected.')")
    page.wait_for_load_state("load")
    assert page.evaluate("window.__notReloaded") is None  # a real reload
    page.wait_for_function("Math.abs(window.scrollY - 2400) <= 2")
    assert page.evaluate("document.querySelectorAll('#factsite-overlay').length") == 0


def test_css_change_swaps_the_stylesheet_without_reloading(chromium, served, monkeypatch):
    # The build the edit starts is held: the new stylesheet reaches the page before it.
    from generator import serve

    with held(monkeypatch, serve, "build") as release:
        chromium.run(css_swaps_without_reload, chromium.page, served, release)


def css_swaps_without_reload(new_page: Callable[[], Page], served: Served,
                             release: threading.Event) -> None:
    page = new_page()
    open_tab(page, served, "/checks/long-check/")
    page.evaluate("window.__notReloaded = true")
    theme_css = (REPO / "templates/assets/style.css").read_text(encoding="utf-8")
    served.site.write(
        "templates/assets/style.css",
        theme_css + "\nbody { background-color: rgb(1, 2, 3) !important; }\n",
    )
    page.wait_for_function("getComputedStyle(document.body).backgroundColor === 'rgb(1, 2, 3)'")
    assert not release.is_set()  # from the server's memory, before the build
    release.set()
    served.settle()
    href = page.evaluate("document.querySelector('link[rel=stylesheet]').getAttribute('href')")
    assert (served.root / href.lstrip("/")).is_file()  # the file the build wrote
    assert page.evaluate("window.__notReloaded") is True
    page.wait_for_function("document.querySelectorAll('link[rel=stylesheet]').length === 1")


def test_error_overlay_appears_then_the_fixed_page_reloads(chromium, served):
    chromium.run(overlay_until_fixed, chromium.page, served)


def overlay_until_fixed(new_page: Callable[[], Page], served: Served) -> None:
    page = new_page()
    open_tab(page, served, "/checks/long-check/")
    write_long_check(served.site, "The opening paragraph.", verdict="flase")
    overlay = page.locator("#factsite-overlay")
    overlay.wait_for(state="visible")
    text = overlay.inner_text()
    assert "content/entries/2022/2022-06-01-long-check.md:4: unknown verdict 'flase'" in text
    assert "verdict: flase" in text  # the offending line, as in the terminal

    other = new_page()  # a page opened while the error stands shows it at once
    other.goto(f"http://127.0.0.1:{served.port}/companies/")
    assert "unknown verdict 'flase'" in other.locator("#factsite-overlay").inner_text()

    write_long_check(served.site, "Fixed for good.", verdict="false")
    page.wait_for_function("document.body.innerText.includes('Fixed for good.')")
    overlay.wait_for(state="detached")
