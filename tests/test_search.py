"""The search index and the page rules for readers, checked on the built files.

The browser side (queries, filters, accessibility) is in test_browser.py; here: what the
build writes for search, that it is deterministic, how it behaves with ``search: false``
or without a working Pagefind binary, and the weight and asset rules of every page.
"""

from __future__ import annotations

import base64
import json
import re
import stat
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO, SITE_YAML, Site
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import listings, search
from generator.parallel import ForkedMap
from generator.search import (
    SearchIndex,
    _read_pf,
    find_binary,
    page_digest,
    searchable,
    shard_count,
    shard_of,
)
from generator.writer import NullSink

HASHED_ASSET = re.compile(r"^/assets/[\w/.-]+\.[0-9a-f]{10}\.(css|js)$")


def fill(site: Site) -> None:
    site.entry("2020-12-15-byd-car", title="BYD and Xiaomi car", companies="[BYD, Xiaomi]",
               body="网上流传比亚迪和小米联合造车的消息。")
    site.entry("2021-03-08-byd-battery", title="BYD battery", verdict="misleading")
    site.entry("2021-04-01-xiaomi-phone", title="Xiaomi phone", companies="[小米]",
               verdict="true")


def built(run, site: Site, *args: str):
    result = run("build", str(site.root), *args)
    assert result.code == 0, result.err
    return result


# -- what is built --------------------------------------------------------------------------


def test_the_index_holds_every_published_check_and_nothing_else(run, site: Site) -> None:
    fill(site)
    site.entry("2027-01-01-future", title="Not yet", published="2027-01-01")  # after NOW
    site.entry("2020-01-01-draft", title="A draft", extra="draft: true")
    built(run, site)
    entry = json.loads((site.out / "pagefind/pagefind-entry.json").read_text())
    assert entry["languages"]["en"]["page_count"] == 3
    bodies = {p.relative_to(site.out).as_posix() for p in site.out.rglob("*.html")
              if "data-pagefind-body" in p.read_text(encoding="utf-8")}
    assert bodies == {f"checks/{slug}/index.html"
                      for slug in ("byd-car", "byd-battery", "xiaomi-phone")}


def test_the_bundle_has_what_the_search_page_needs_and_no_pagefind_ui(run, site: Site) -> None:
    fill(site)
    built(run, site)
    bundle = {p.relative_to(site.out / "pagefind").as_posix()
              for p in (site.out / "pagefind").rglob("*") if p.is_file()}
    assert {"pagefind.js", "pagefind-worker.js", "pagefind-entry.json",
            "wasm.en.pagefind"} <= bundle
    assert any(name.startswith("index/") for name in bundle)
    assert any(name.startswith("fragment/") for name in bundle)
    assert any(name.startswith("filter/") for name in bundle)
    assert not [name for name in bundle if "-ui." in name or "highlight" in name]


def test_check_pages_tell_the_index_title_date_verdict_and_companies(run, site: Site) -> None:
    fill(site)
    built(run, site)
    article = site.html("checks/byd-car/index.html").select_one("article[data-pagefind-body]")
    assert article["data-verdict"] == "false"
    assert article["data-isodate"] == "2020-12-15"
    assert article["data-date"] == "15 December 2020"
    assert article.h1["data-pagefind-meta"] == "title"
    assert article.select_one('[data-pagefind-filter="verdict:false"]') is not None
    chips = article.select('[data-pagefind-filter="company"]')
    assert [c.get_text() for c in chips] == ["BYD", "Xiaomi"]
    assert chips[0]["data-aliases"] == "BYD Auto, 比亚迪"  # so 比亚迪 finds BYD's checks


def test_the_search_page_offers_every_verdict_and_each_checked_company(run,
                                                                       site: Site) -> None:
    fill(site)
    built(run, site)
    page = site.html("search/index.html")
    form = page.select_one("form#fs-search-form")
    assert form["action"] == "/search/" and form["method"] == "get"
    assert form["data-shards"] == "/pagefind/"
    verdicts = [o["value"] for o in page.select("#fs-verdict option")]
    assert verdicts == ["", "true", "mostly-true", "mixed", "misleading", "false", "unproven"]
    companies = [o["value"] for o in page.select("#fs-company option")]
    assert companies == ["", "BYD", "Xiaomi"]  # Acme Foods has no check
    assert page.select_one('meta[name="robots"]')["content"] == "noindex"
    assert "/search/" not in (site.out / "sitemap.xml").read_text()
    noscript = page.noscript
    assert noscript.select_one('a[href="/companies/"]') is not None
    assert len(noscript.select('a[href^="/verdicts/"]')) == 6


def test_every_page_but_search_has_a_search_box_in_its_header(run, site: Site) -> None:
    fill(site)
    built(run, site)
    for path in sorted(site.out.rglob("*.html")):
        relpath = path.relative_to(site.out).as_posix()
        box = site.html(relpath).select_one("header form.site-search")
        if relpath == "search/index.html":
            assert box is None
        else:
            assert box is not None, relpath
            assert box["action"] == "/search/" and box["method"] == "get"
            assert box.select_one('input[name="q"]') is not None


def test_the_index_is_byte_identical_across_builds(run, site: Site, tmp_path: Path) -> None:
    fill(site)
    built(run, site)
    other = Site(tmp_path / "other")
    built(run, site, "-o", str(other.out))
    assert other.snapshot() == site.snapshot()
    assert [path for path in site.snapshot() if path.startswith("pagefind/index/")]
    result = built(run, site)  # a rebuild in place rewrites nothing
    assert ": 0 written," in result.out


def sharded(site: Site, size: int = 2, checks: int = 7) -> None:
    """A site whose index is split into shards of ``size`` checks."""
    site.write("content/site.yaml", SITE_YAML + f"search_shard_size: {size}\n")
    for n in range(1, checks + 1):
        site.entry(f"2021-01-{n:02}-check-{n}", title=f"Battery check {n}",
                   published=f"2021-01-{n:02}", body=f"Body of check number {n}.")


def shard_pages(site: Site) -> dict[str, int]:
    """Folder below pagefind/ → how many pages its index holds."""
    counts = {}
    for entry_file in sorted((site.out / "pagefind").rglob("pagefind-entry.json")):
        folder = entry_file.parent.relative_to(site.out / "pagefind").as_posix()
        languages = json.loads(entry_file.read_text())["languages"]
        counts[folder] = sum(language["page_count"] for language in languages.values())
    return counts


def test_a_large_index_is_split_into_shards_that_the_search_page_merges(
        run, site: Site) -> None:
    sharded(site, size=2, checks=7)
    built(run, site)
    counts = shard_pages(site)
    assert sum(counts.values()) == 7 and all(counts.values())  # every check, no empty shard
    assert len(counts) >= 3 and "." in counts  # four slots of two: one may stay empty
    form = site.html("search/index.html").select_one("form#fs-search-form")
    folders = form["data-shards"].split()
    assert folders[0] == "/pagefind/"
    assert sorted(f"/pagefind/{f}/".replace("/./", "/") for f in counts) == sorted(folders)
    shared = {"pagefind.js", "pagefind-worker.js", "wasm.unknown.pagefind", "wasm.en.pagefind"}
    for folder in folders[1:]:  # the script and WebAssembly are published once
        names = {p.name for p in (site.out / folder.strip("/")).iterdir()}
        assert not names & shared and "pagefind-entry.json" in names
    assert shared <= {p.name for p in (site.out / "pagefind").iterdir()}
    other = Site(site.root.parent / "again")
    built(run, site, "-o", str(other.out), "--no-cache")
    assert other.snapshot() == site.snapshot()  # shards are deterministic too


def test_two_pagefinds_index_two_shards_at_once_into_the_same_index(
        run, site: Site, monkeypatch) -> None:
    """With two jobs, two Pagefinds each index a shard at a time, as long as shards are
    small (two large ones would hold too much memory at once): the index is the same."""
    sharded(site, size=2, checks=9)
    used: list[set[int]] = []  # per build: the Pagefinds that were given pages
    busiest: list[int] = []  # per build: the most shards indexed at once
    add, index = search.SearchIndex.add, search.ShardedIndex._index

    def counting_add(self, url, html):
        used[-1].add(id(self))
        add(self, url, html)

    def counting_index(self, shard, pages):
        index(self, shard, pages)
        busiest[-1] = max(busiest[-1], len(self._running))

    monkeypatch.setattr(search.SearchIndex, "add", counting_add)
    monkeypatch.setattr(search.ShardedIndex, "_index", counting_index)
    outputs = {}
    for name, jobs, largest in (("two", "2", 500), ("one", "1", 500), ("large", "2", 1)):
        monkeypatch.setattr(search, "PARALLEL_SHARD_PAGES", largest)
        used.append(set())
        busiest.append(0)
        other = Site(site.root.parent / name)
        built(run, site, "-o", str(other.out), "--no-cache", "--jobs", jobs)
        outputs[name] = other.snapshot()
    assert [len(services) for services in used] == [2, 1, 1]
    assert busiest == [2, 1, 1]
    assert outputs["two"] == outputs["one"] == outputs["large"]


@pytest.mark.parametrize("retired", ["while it bundles", "after"])
def test_a_pagefind_with_no_shard_left_stops_once_its_bundle_is_out(retired) -> None:
    """Once every shard has gone to Pagefind, each service stops as soon as its last
    bundle is out: a Pagefind keeps the memory of the bundles it made until it stops."""
    with SearchIndex() as service:
        service.add("/checks/x/", "<html lang='en'><body data-pagefind-body>x</body></html>")
        bundling = search._Bundling(service, 0, "slot", "key")
        if retired == "while it bundles":
            bundling.retire()
        files = bundling.files()
        if retired == "after":
            assert service._process.poll() is None  # not retired: kept for the next shard
            bundling.retire()
        assert any(name == "pagefind-entry.json" for name, _ in files)
        assert service._process.wait(timeout=5) == 0


def test_a_fork_holds_no_pipe_that_keeps_pagefind_from_stopping(tmp_path: Path) -> None:
    """A forked child gets a copy of every open file, the binary's input pipe too: until
    it let go of it (``disown``), the binary never saw its input end while the child
    lived, and ``close`` killed it after 5 s (10 s of every stylesheet edit)."""
    go = tmp_path / "go"

    def waiting(item: int) -> int:
        for _ in range(3000):  # 30 s at most
            if go.exists():
                break
            time.sleep(0.01)
        return item

    service = SearchIndex()
    forked = ForkedMap(waiting, [1, 2], 1, start=service.disown)
    try:
        service.close()  # while the child waits, holding what it was given
        assert service._process.returncode == 0  # it stopped at the end of its input
    finally:
        go.touch()
        assert list(forked) == [1, 2]
        forked.close()


def test_a_pagefind_the_shards_are_too_large_for_stops_at_once(monkeypatch) -> None:
    monkeypatch.setattr(search, "PARALLEL_SHARD_PAGES", 1)
    with SearchIndex() as first, SearchIndex() as second:
        index = search.ShardedIndex(NullSink(), {"a/index.html": "/a/", "b/index.html": "/b/"},
                                    2, lambda name: name, [first, second])
        assert index.services == [first]
        assert second._process.wait(timeout=5) == 0 and first._process.poll() is None


def test_a_second_pagefind_that_cannot_start_leaves_the_build_to_the_first(
        run, site: Site, monkeypatch) -> None:
    sharded(site, size=2, checks=5)
    reference = Site(site.root.parent / "reference")
    built(run, site, "-o", str(reference.out), "--no-cache", "--jobs", "1")
    started = []
    start = search.SearchIndex.__init__

    def only_one(self, *args, **kwargs):
        started.append(self)
        if len(started) % 2 == 0:  # the second of each build
            raise search.SearchFailed("cannot start another")
        start(self, *args, **kwargs)

    monkeypatch.setattr(search.SearchIndex, "__init__", only_one)
    built(run, site, "--no-cache", "--jobs", "2")
    assert len(started) == 2
    assert site.snapshot() == reference.snapshot()


def test_a_check_starts_no_pagefind(run, site: Site, monkeypatch) -> None:
    """factsite check writes nothing, so nothing would read an index: it makes none (on
    10,000 checks that halves its time), and still reports what a build reports."""
    sharded(site, size=2, checks=5)
    for n in range(6):  # ClaimReview warnings, on pages of several shards
        site.entry(f"2021-0{n + 1}-01-long-{n}", title=f"Long {n}", claim="A claim " * (10 + n),
                   published=f"2021-0{n + 1}-01")
    started = []
    start = search.SearchIndex.__init__

    def counted(self, *args, **kwargs):
        started.append(self)
        start(self, *args, **kwargs)

    monkeypatch.setattr(search.SearchIndex, "__init__", counted)
    checked = run("check", str(site.root))
    assert started == [] and checked.code == 1
    built = run("build", str(site.root), "--strict", "--jobs", "1")
    assert len(started) == 1 and built.code == 1
    # the same problems in the same order: check renders in the order a build indexes
    assert built.err.splitlines()[:-1] == checked.err.splitlines()[:-1]
    assert checked.err.count("'claimReviewed' is ") == 6


def test_shards_of_the_automatic_size_are_small_enough_to_index_two_at_a_time() -> None:
    """A hash of the link spreads pages over shards unevenly: the largest of a site
    whose shards hold 500 pages on average must not keep the second Pagefind idle."""
    for checks in (1_000, 10_000, 50_000):
        count = shard_count(checks, None)
        sizes = Counter(shard_of(f"/checks/check-{n}/", count) for n in range(checks))
        assert max(sizes.values()) <= search.PARALLEL_SHARD_PAGES
    count = shard_count(100_000, None)  # shards of 1,000: one Pagefind, for the memory
    assert -(-100_000 // count) > search.PARALLEL_SHARD_PAGES


def test_the_automatic_shard_size_keeps_shards_small_and_their_number_bounded() -> None:
    assert [shard_count(n, None) for n in (0, 1, 500, 501, 10_000)] == [1, 1, 1, 2, 20]
    # at most 100 shards: beyond 50,000 checks they grow instead, up to 1,000 checks
    assert [shard_count(n, None) for n in (50_000, 50_001, 100_000)] == [100, 100, 100]
    # and then there are more of them: the memory of one shard stays bounded
    assert [shard_count(n, None) for n in (100_001, 250_000)] == [101, 250]
    assert shard_count(10_000, 1000) == 10  # a size set in site.yaml is kept


def test_a_site_without_a_shard_size_gets_the_automatic_one(run, site: Site) -> None:
    for n in range(1, 4):
        site.entry(f"2021-01-{n:02}-check-{n}", title=f"Check {n}", published=f"2021-01-{n:02}")
    built(run, site)
    assert shard_pages(site) == {".": 3}  # no setting: the automatic size, end to end


def pages_sent(log: Path) -> list[str]:
    """The links of the pages a build sent to Pagefind, from a copy of each Pagefind's
    input (``log.PID``: a build may run two, and their copies must not interleave)."""
    copies = sorted(log.parent.glob(f"{log.name}.*"))
    messages = (json.loads(base64.b64decode(raw)) for copy in copies
                for raw in copy.read_bytes().split(b",") if raw.strip())
    return [m["payload"]["url"] for m in messages if m["payload"]["type"] == "AddFile"]


def test_an_edit_re_indexes_only_the_shard_of_the_changed_page(
        run, site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "pagefind.log"
    wrapper = tmp_path / "pagefind"  # the real binary, with a copy of what it is sent
    wrapper.write_text(f"#!/bin/sh\ntee '{log}.'$$ | exec '{find_binary()}' \"$@\"\n")
    wrapper.chmod(stat.S_IRWXU)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(wrapper))
    sharded(site, size=2, checks=7)
    built(run, site)
    shards = len(shard_pages(site))
    assert sorted(pages_sent(log)) == sorted(
        f"/checks/check-{n}/" for n in range(1, 8))  # a first build indexes every check
    before = site.snapshot()

    site.entry("2021-01-03-check-3", title="Battery check 3", published="2021-01-03",
               body="Body of check number 3, now about solar panels.")
    for copy in tmp_path.glob("pagefind.log.*"):
        copy.unlink()
    result = built(run, site, "--profile")
    links = [f"/checks/check-{n}/" for n in range(1, 8)]
    count = shard_count(len(links), 2)
    same_shard = {link for link in links
                  if shard_of(link, count) == shard_of("/checks/check-3/", count)}
    assert sorted(pages_sent(log)) == sorted(same_shard)  # only the shard holding check 3
    assert len(same_shard) < len(links)
    assert f"(1 of {shards} shards indexed, the rest unchanged)" in result.err + result.out
    after = site.snapshot()
    changed = {path for path in after if after[path] != before.get(path)}
    changed_shards = {path.split("/")[1] for path in changed
                      if path.startswith("pagefind/shard-")}
    assert len(changed_shards) <= 1 and "checks/check-3/index.html" in changed

    cold = Site(tmp_path / "cold")  # the same site built from nothing: the same bytes
    built(run, site, "-o", str(cold.out), "--no-cache")
    assert cold.snapshot() == after


def test_filters_alone_read_json_listings_newest_first_in_pages(
        run, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listings, "PAGE_SIZE", 2)
    site.entry("2020-12-15-byd-car", title="BYD and Xiaomi car", companies="[BYD, Xiaomi]")
    site.entry("2021-03-08-byd-battery", title="BYD battery", verdict="misleading",
               published="2021-03-08")
    site.entry("2021-05-01-byd-again", title="BYD again", published="2021-05-01")
    built(run, site)
    form = site.html("search/index.html").select_one("form#fs-search-form")
    byd = form.select_one('select[name="company"] option[value="BYD"]')
    assert byd["data-listing"] == "/search/company/byd/1.json"
    first = json.loads((site.out / "search/company/byd/1.json").read_text())
    second = json.loads((site.out / "search/company/byd/2.json").read_text())
    assert first["total"] == 3 and first["next"] == "/search/company/byd/2.json"
    assert second["next"] is None
    checks = first["checks"] + second["checks"]
    assert [c[0] for c in checks] == ["/checks/byd-again/", "/checks/byd-battery/",
                                      "/checks/byd-car/"]  # newest first
    assert checks[1] == ["/checks/byd-battery/", "BYD battery", "8 March 2021", "2021-03-08",
                         "misleading", "Something was said"]
    false = form.select_one('select[name="verdict"] option[value="false"]')
    listing = json.loads((site.out / false["data-listing"].lstrip("/")).read_text())
    assert [c[0] for c in listing["checks"]] == ["/checks/byd-again/", "/checks/byd-car/"]


def test_filter_chunks_are_rewritten_in_sorted_order(run, site: Site) -> None:
    """Pagefind writes filter values in random order; the build sorts them (search.py)."""
    fill(site)
    built(run, site)
    chunks = {}
    for path in (site.out / "pagefind/filter").glob("*.pf_filter"):
        name, values = _read_pf(path.read_bytes())
        assert [value for value, _pages in values] == sorted(value for value, _ in values)
        chunks[name] = [value for value, _pages in values]
    assert chunks == {"company": ["BYD", "Xiaomi"], "verdict": ["false", "misleading", "true"]}
    meta = next((site.out / "pagefind").glob("pagefind.en_*.pf_meta"))
    entry = json.loads((site.out / "pagefind/pagefind-entry.json").read_text())
    assert meta.name == f"pagefind.{entry['languages']['en']['hash']}.pf_meta"
    filters = _read_pf(meta.read_bytes())[3]
    assert [name for name, _ in filters] == ["company", "verdict"]
    assert {f"{chunk}.pf_filter" for _, chunk in filters} == {
        p.name for p in (site.out / "pagefind/filter").iterdir()}


def test_the_index_follows_the_base_url_path(run, site: Site) -> None:
    site.write("content/site.yaml", SITE_YAML.replace(
        "https://checks.example.org/", "https://example.org/desk/"))
    fill(site)
    built(run, site)
    form = site.html("search/index.html").select_one("form#fs-search-form")
    assert form["data-shards"] == "/desk/pagefind/"
    assert site.html("index.html").select_one("form.site-search")["action"] == "/desk/search/"
    with SearchIndex() as index:  # results link with the sub-path, as pages do
        index.add("/desk/checks/x/", "<html lang='en'><body data-pagefind-body>x</body></html>")
        assert any(name.startswith("fragment/") for name, _ in index.files())


# -- search: false, and a Pagefind that cannot run ------------------------------------------


def test_search_false_builds_no_index_page_or_box_and_says_so(run, site: Site) -> None:
    site.write("content/site.yaml", SITE_YAML + "search: false\n")
    fill(site)
    result = built(run, site)
    notes = [line for line in result.out.splitlines() if line.startswith("note:")]
    assert notes == ["note: search is off ('search: false' in site.yaml): "
                     "no search page, search box or index"]
    assert result.err == ""
    assert not (site.out / "pagefind").exists()
    assert not (site.out / "search").exists()
    for path in site.out.rglob("*.html"):
        assert "site-search" not in path.read_text(encoding="utf-8")
    assert not built(run, site, "-q").out  # -q prints only errors


def test_a_site_with_search_off_starts_no_pagefind(
        run, site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = tmp_path / "started"
    path = tmp_path / "pagefind"
    path.write_text(f"#!/bin/sh\necho run >> '{started}'\nexec '{find_binary()}' \"$@\"\n")
    path.chmod(stat.S_IRWXU)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(path))  # what the pagefind package obeys
    fill(site)
    built(run, site, "--no-cache", "--jobs", "2")
    assert started.read_text().count("run") == 2  # search on: two jobs, two Pagefinds
    started.unlink()
    site.write("content/site.yaml", SITE_YAML + "search: false\n")
    built(run, site, "--no-cache", "--jobs", "2")
    assert not started.exists()


def test_a_build_reads_the_settings_once(run, site: Site, monkeypatch: pytest.MonkeyPatch,
                                        ) -> None:
    # They say whether Pagefind starts, before the content is loaded; read a second time
    # by the loader, an edit in between (in serve) could turn search on with no Pagefind.
    from generator import config, loader, pipeline

    reads: list[Path] = []

    def counting(site_dir: Path, *args: object) -> object:
        reads.append(site_dir)
        return config.load_config(site_dir, *args)

    monkeypatch.setattr(pipeline, "load_config", counting)
    monkeypatch.setattr(loader, "load_config", counting)
    fill(site)
    built(run, site, "--no-cache")
    assert reads == [site.root]
    assert (site.out / "pagefind" / "pagefind.js").is_file()
    assert (site.out / "search" / "index.html").is_file()


def test_strict_builds_pass_with_search_off(run, site: Site) -> None:
    site.write("content/site.yaml", SITE_YAML + "search: false\n")
    fill(site)
    built(run, site, "--strict")


# Answers the first request (the build's NewIndex) as Pagefind would, then nothing.
SILENT_PAGEFIND = """
import base64, json, sys
pending, answered = b"", False
while chunk := sys.stdin.buffer.read1(1 << 16):
    pending += chunk
    while b"," in pending and not answered:
        request, pending = pending.split(b",", 1)
        asked = json.loads(base64.b64decode(request))
        reply = {"message_id": asked["message_id"],
                 "payload": {"type": "NewIndex", "index_id": 1}}
        sys.stdout.buffer.write(base64.b64encode(json.dumps(reply).encode()) + b",")
        sys.stdout.flush()
        answered = True
"""


@pytest.mark.parametrize("binary", ["missing", "not-executable", "exits-at-once",
                                    "dies-midway", "stops-answering"])
def test_a_pagefind_that_cannot_run_fails_the_build_with_the_fix(
        run, site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, binary: str) -> None:
    fill(site)
    built(run, site)
    before = site.snapshot()
    path = tmp_path / "pagefind"
    if binary == "not-executable":
        path.write_text("not a program")
        path.chmod(stat.S_IRUSR)
    elif binary == "exits-at-once":
        path.write_text("#!/bin/sh\necho 'pagefind: broken install' >&2\nexit 3\n")
        path.chmod(stat.S_IRWXU)
    elif binary == "dies-midway":  # it starts an index, then its input ends mid-request
        real = find_binary()
        path.write_text(f"#!/bin/sh\ndd bs=1 count=2000 status=none | '{real}' \"$@\"\n")
        path.chmod(stat.S_IRWXU)
    elif binary == "stops-answering":  # it starts an index, then reads on, silent
        path.write_text(f"#!{sys.executable}\n{SILENT_PAGEFIND}")
        path.chmod(stat.S_IRWXU)
        monkeypatch.setattr("generator.search.REPLY_TIMEOUT", 2.0)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(path))  # what the pagefind package obeys
    # --no-cache: with nothing changed the build would not need the index at all
    result = run("build", str(site.root), "--no-cache")
    assert result.code == 1
    assert "Traceback" not in result.err
    first = result.err.splitlines()[0]
    assert first.startswith("content/site.yaml: search index: ")
    if binary == "dies-midway":  # it reads half a request, says so and stops: which
        # shows first depends on whether the build was still writing to it
        assert ("pagefind failed while reading a request: " in first
                or f"the pagefind binary {path} stopped" in first)
    elif binary == "stops-answering":
        assert f"the pagefind binary {path} said nothing for 2 s (waiting for " in first
    else:
        assert str(path) in first
    if binary == "exits-at-once":
        assert "exit status 3" in first and "broken install" in first
    assert "pip install --force-reinstall 'pagefind[extended]'" in result.err
    assert "'search: false'" in result.err
    assert site.snapshot() == before  # the last good site is untouched


# -- weight and assets ----------------------------------------------------------------------


def test_a_check_page_weighs_under_50_kb_with_its_css(run, tmp_path: Path) -> None:
    out = tmp_path / "example"
    result = run("build", str(REPO), "-o", str(out))
    assert result.code == 0, result.err
    css = sum(p.stat().st_size for p in (out / "assets").glob("*.css"))
    for page in (out / "checks").glob("*/index.html"):
        weight = page.stat().st_size + css
        assert weight < 50_000, f"{page}: {weight} bytes of HTML and CSS"


def test_pages_load_one_hashed_stylesheet_and_no_blocking_script(run, tmp_path: Path) -> None:
    site = Site(tmp_path)
    out = site.out
    assert run("build", str(REPO), "-o", str(out)).code == 0
    for path in sorted(out.rglob("*.html")):
        relpath = path.relative_to(out).as_posix()
        page = site.html(relpath)
        sheets = page.select('link[rel="stylesheet"]')
        assert len(sheets) == 1, relpath
        assert HASHED_ASSET.match(sheets[0]["href"]), relpath
        assert not page.select("style"), relpath
        for script in page.select("script"):
            if script.get("type") == "application/ld+json":
                continue
            assert script.has_attr("defer") and HASHED_ASSET.match(script["src"]), relpath
        scripts = {s["src"].split("/")[-1].split(".")[0] for s in page.select("script[src]")}
        if relpath == "search/index.html":
            assert scripts == {"search"}
        elif relpath.startswith("checks/"):
            assert scripts == {"share"}
        else:
            assert scripts == set(), relpath


PAGE = (b'<html lang="en"><head><link rel="stylesheet" href="/assets/style.1.css">'
        b'<script type="application/ld+json">{"a": 1}</script>'
        b'<script src="/assets/x.1.js" defer></script>'
        b'<meta property="og:image" data-pagefind-meta="image[content]" content="a.png">'
        b'<link rel="x" href="/y" data-pagefind-meta="y[href]"></head>'
        b'<body><article data-pagefind-body><h1>Title</h1><p>Text</p>'
        b'<script>if (a < b) { c(); }</script>'
        b'</article><section class="related" data-pagefind-ignore="all"><h2>Related</h2>'
        b'<section><p>Nested one</p></section><p>A check</p></section><footer>F</footer>'
        b'</body></html>')


@pytest.mark.parametrize(("change", "same"), [
    ((b"<p>A check</p>", b"<p>Another check</p>"), True),  # inside the ignored element
    ((b"Nested one", b"Nested two"), True),  # in an element nested in it
    ((b"<p>Text</p>", b"<p>Other text</p>"), False),  # the indexed article
    ((b"<footer>F</footer>", b"<footer>G</footer>"), False),  # outside both: kept in
    ((b"<p>A check</p>", b"<h1>A check</h1>"), False),  # a heading Pagefind might use
    ((b"<p>A check</p>", b'<img src="a.png">'), False),  # an image Pagefind might use
    ((b"style.1.css", b"style.2.css"), True),  # a renamed stylesheet
    ((b"x.1.js", b"x.2.js"), True),  # a renamed script
    ((b'{"a": 1}', b'{"a": 2}'), True),  # structured data
    ((b"c();", b"d();"), False),  # a script in the body: only the head's are left out
    ((b'href="/y"', b'href="/z"'), False),  # a link Pagefind reads metadata from
    ((b'content="a.png"', b'content="b.png"'), False),
])
def test_the_shard_digest_leaves_out_only_what_pagefind_skips_whole(change, same) -> None:
    """A page's digest (its search shard's cache key) ignores data-pagefind-ignore="all"
    elements and the head's scripts and links, and only them, and only where that is
    certainly safe."""
    old, new = change
    assert old in PAGE
    assert (page_digest(PAGE) == page_digest(PAGE.replace(old, new))) is same


@pytest.mark.parametrize("disguise", [
    b"<!-- <script> --><p>WORDS</p>",
    b"<!x<script>><p>WORDS</p><!x</script>>",  # a bogus comment
    b"<![CDATA[<script>]]><p>WORDS</p><![CDATA[</script>]]>",
    b"<textarea><script></textarea><p>WORDS</p><textarea></script></textarea>",
    b'<a data-pagefind-index-attrs="title" title="<script>WORDS</script>">a</a>',
    b'<img alt="<script>WORDS</script>">',
])
def test_no_text_pagefind_reads_is_hidden_from_the_shard_digest(disguise) -> None:
    page = PAGE.replace(b"<p>Text</p>", disguise)
    assert page_digest(page) != page_digest(page.replace(b"WORDS", b"OTHER"))


def test_a_quoted_angle_bracket_ends_no_link_tag_early() -> None:
    page = PAGE.replace(b"</head>", b'<link href="/a.png" title="x>y" '
                                    b'data-pagefind-meta="image[href]"></head>')
    assert page_digest(page) != page_digest(page.replace(b"/a.png", b"/b.png"))


# Pieces of markup that make finding "ignore all" start tags hard: the attribute as a
# tag's name, without the space before it, twice in a tag, quoted "<" and ">".
_MARKUP = [b"<", b">", b"<div", b"<p ", b" ", b"\n", b"\t", b"x", b'"', b"<a1", b"</div>",
           b'title="a<b"', b"<1", b"<_", b"<D", b'data-pagefind-ignore="all"',
           b' data-pagefind-ignore="all"', b'<data-pagefind-ignore="all"',
           b"data-pagefind-ignore=", b'"all"']


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(_MARKUP), max_size=16))
def test_ignored_elements_are_found_as_the_regular_expression_finds_them(pieces) -> None:
    """The fast search for data-pagefind-ignore="all" tags (from the attribute back to
    its tag) finds exactly what trying the expression at every position finds."""
    data = b"".join(pieces)
    expected = [(m.start(), m.end(), m.group(1)) for m in search._IGNORED_ALL.finditer(data)]
    assert [(m.start(), m.end(), m.group(1)) for m in search._ignored_all(data)] == expected


def test_an_ignored_element_without_its_end_stays_in_the_shard_digest() -> None:
    unclosed = PAGE.replace(b"</p></section><footer>", b"</p><footer>")
    changed = unclosed.replace(b"<p>A check</p>", b"<p>Another check</p>")
    assert page_digest(unclosed) != page_digest(changed)


# -- what Pagefind is given ---------------------------------------------------------------

@pytest.fixture(scope="module")
def pagefind():
    with SearchIndex() as service:
        yield service


def bundle_of(service: SearchIndex, pages: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The bundle Pagefind makes of ``pages`` (link, HTML)."""
    for url, html in pages:
        service.add(url, html.decode("utf-8"))
    files = service.files()
    service.reset()
    return files


def test_check_pages_go_to_pagefind_cut_to_their_article_with_the_same_index(
        run, site: Site, pagefind) -> None:
    """The default theme's check pages lose their header, related checks and footer, and
    Pagefind builds the same bundle from what is left."""
    fill(site)
    site.entry("2021-05-02-tricky", title="Tricky markup", companies="[BYD]", body=(
        'Code: `</article><script>alert(1)</script><!-- x -->` and "a<b" in a quote.\n\n'
        "| Model | Range |\n|---|---|\n| Seal | 570 km |\n\n"
        "> Quoted words\n\n![A car](https://example.com/car.png)\n\n"
        "```\n</div></body><h1>not a heading</h1>\n```\n"))
    built(run, site)
    pages = sorted((f"/checks/{path.parent.name}/", path.read_bytes())
                   for path in (site.out / "checks").glob("*/index.html"))
    cut = [(url, searchable(html)) for url, html in pages]
    assert len(pages) == 4
    for (_, html), (_, part) in zip(pages, cut, strict=True):
        assert len(part) < 0.8 * len(html)
        assert b'class="related"' in html and b'class="related"' not in part
    assert bundle_of(pagefind, cut) == bundle_of(pagefind, pages)


HEAD = b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>T</title>'
ARTICLE = b"<article data-pagefind-body><h1>Phones</h1><p>Batteries and words</p></article>"


@pytest.mark.parametrize("page", [
    HEAD + b"</head><body><p>No element is marked</p></body></html>",
    HEAD + b"</head><body><h1>Site</h1>" + ARTICLE + b"</body></html>",  # a default title
    HEAD + b'</head><body><span data-pagefind-meta="k:v"></span>' + ARTICLE + b"</body>",
    HEAD + b"</head><body>" + ARTICLE + b'<b data-pagefind-filter="f:x"></b></body>',
    HEAD + b"</head><body>" + ARTICLE + b'<b data-pagefind-sort="s:1"></b></body>',
    HEAD + b"</head><body><!-- <article> -->" + ARTICLE + b"</body></html>",
    HEAD + b"</head><body>" + ARTICLE + b"<script>'</article>'</script></body></html>",
    HEAD + b'</head><body><p title="</article>">x</p>' + ARTICLE + b"</body></html>",
    HEAD + b"<!-- </head> --></head><body>" + ARTICLE + b"</body></html>",
    HEAD + b"<script>'</head>'</script></head><body>" + ARTICLE + b"</body></html>",
    HEAD + b'<meta content="</head>"></head><body>' + ARTICLE + b"</body></html>",
    HEAD + b"</head><body><article data-pagefind-body><p>Never closed</p></body></html>",
    HEAD + b"</head><body data-pagefind-body><p>The whole body</p></body></html>",
])
def test_a_page_is_given_whole_when_cutting_it_is_not_certainly_safe(page) -> None:
    assert searchable(page) is page


def test_what_pagefind_skips_outside_the_marked_elements_is_cut() -> None:
    page = (HEAD + b'</head><body class="x"><header><img src="/logo.png" alt="Logo">'
            b"<nav><a href=/>Home</a></nav></header>" + ARTICLE
            + b'<section data-pagefind-ignore="all"><h2>Related</h2></section>'
            b"<div data-pagefind-body><p>Second part</p></div><footer>F</footer></body></html>")
    assert searchable(page) == (HEAD + b"</head><body>" + ARTICLE
                                + b"<div data-pagefind-body><p>Second part</p></div>"
                                + b"</body></html>")


_HEAD_PIECES = [b"<title>T</title>", b'<meta name="a" content="b">', b"<!-- </head> -->",
                b"<script>'</head>'</script>", b'<meta content="</head>">',
                b'<meta data-pagefind-meta="image[content]" content="/i.png">', b"<style>",
                b"</style>"]
# Markup around and inside the marked element: mostly what themes write, ...
_BODY_PIECES = [b"<p>words</p>", b"words ", b"<div>", b"</div>", b"<p>", b"</p>", b"<br>",
                b'<img src="/i.png" alt="A picture">', b"<h2>Title two</h2>", b"<svg/>",
                b'<h1 id="t">Heading</h1>', b"<li>item", b"<footer>", b"</footer>",
                b"<section><p>more words</p></section>", b"<article>", b"</article>",
                b'<div data-pagefind-ignore="all"><p>skipped</p></div>',
                b"<span data-pagefind-ignore>ignored</span>", b"<span>", b"</span>"]
# ... and at most two pieces of what Pagefind reads outside it or what could mislead.
_ODD_PIECES = [b'<span data-pagefind-meta="m:v"></span>',
               b'<span data-pagefind-filter="f:x"></span>', b'<b data-pagefind-sort="s:1">',
               b"<!-- c -->", b"<!--", b"-->", b"<script>", b"</script>", b'<a title="x<y">',
               b'<p title="a>b<div">', b"<template>", b"<div data-pagefind-body>",
               b"&lt;/div&gt;", b"</body>", b"</html>", b"<P>Upper</P>", b"<DIV>"]
_PIECES = st.lists(st.sampled_from(_BODY_PIECES), max_size=5)


@settings(max_examples=100, deadline=None)
@given(head=st.lists(st.sampled_from(_HEAD_PIECES), max_size=2),
       parts=st.tuples(_PIECES, _PIECES, _PIECES),
       odd=st.lists(st.tuples(st.sampled_from(_ODD_PIECES), st.integers(0, 2),
                              st.integers(0, 5)), max_size=2))
def test_pagefind_indexes_any_page_as_it_indexes_what_searchable_keeps(
        pagefind, head, parts, odd) -> None:
    """Whatever the markup, Pagefind makes the same bundle of the page as of the part
    ``searchable`` hands it (a second, plain page keeps the index from being empty)."""
    before, inside, after = (list(part) for part in parts)
    for piece, part, position in odd:
        (before, inside, after)[part].insert(position, piece)
    page = (HEAD + b"".join(head) + b"</head><body>" + b"".join(before)
            + b'<div class="x" data-pagefind-body>' + b"".join(inside) + b"</div>"
            + b"".join(after) + b"</body></html>")
    other = HEAD + b"</head><body>" + ARTICLE + b"</body></html>"
    whole = bundle_of(pagefind, [("/a/", other), ("/b/", page)])
    assert bundle_of(pagefind, [("/a/", other), ("/b/", searchable(page))]) == whole
