"""The persistent cache and parallel Markdown never change what is built."""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import pickle
import sqlite3
import subprocess
import sys
from collections import Counter

import pytest
from conftest import NOW, SITE_YAML, Site, snapshot

from generator import cache, markdown, parallel, pipeline
from generator.bodies import BodyFile, StoredBody
from generator.build import BuildOptions
from generator.build import build as build_site
from generator.cache import DiskCache, MappingWriter, MemoryCache, read_mapping
from generator.diagnostics import BuildFailed, Report
from generator.loader import load_site
from generator.model import pack_html, unpack_html


def build(run, site, out, *extra: str) -> None:
    result = run("build", str(site), "-o", str(out), "-q", *extra)
    assert result.code == 0, result.err


def tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def corpus(site: Site, entries: int) -> None:
    """Enough varied entries for the Markdown workers to start (≥ 200 bodies)."""
    verdicts = ["true", "mostly-true", "mixed", "misleading", "false", "unproven"]
    companies = ["[BYD]", "[xiaomi, byd auto]", "Acme Foods", "[比亚迪]"]
    for n in range(entries):
        body = (f"## Part {n}\n\nText *{n}* with a [link](https://example.org/{n}) and a "
                f"footnote[^1].\n\n| a | b |\n|---|---|\n| {n} | {n * 2} |\n\n"
                f"[^1]: Note {n}.\n\n- item\n- 第{n}项\n")
        site.entry(f"2020-01-01-check-{n}", title=f"Check {n}", body=body,
                   verdict=verdicts[n % 6], companies=companies[n % 4],
                   published=f"20{10 + n % 15}-0{1 + n % 9}-1{n % 9}",
                   extra=f"tags: [t{n % 7}, shared]")


def factsite(*args: str) -> None:
    """The CLI in a process of its own, as a user runs it."""
    done = subprocess.run([sys.executable, "-m", "generator", *args], capture_output=True,
                          text=True, env={**os.environ, "FACTSITE_NOW": NOW}, timeout=300)
    assert done.returncode == 0, done.stderr


def test_serial_parallel_cold_and_warm_builds_are_identical(site, tmp_path):
    corpus(site, 300)
    # Shards of 60 checks: in parallel, two Pagefinds index them two at a time.
    site.write("content/site.yaml", SITE_YAML + "search_shard_size: 60\n")
    root = str(site.root)
    factsite("build", root, "-o", str(tmp_path / "serial"), "-q", "--jobs", "1", "--no-cache")
    factsite("build", root, "-o", str(tmp_path / "parallel"), "-q", "--jobs", "2")  # cold
    assert (site.root / ".factsite-cache" / "cache.sqlite").is_file()
    factsite("build", root, "-o", str(tmp_path / "warm"), "-q", "--jobs", "2")  # all cached
    serial = tree(tmp_path / "serial")
    assert len(serial) > 300
    assert tree(tmp_path / "parallel") == serial
    assert tree(tmp_path / "warm") == serial


@pytest.fixture
def forked(monkeypatch) -> list[int]:
    """The number of pages each forked rendering of a build is given, as they start;
    pages render on forks from 10 on (not 1,000: a small site)."""
    started: list[int] = []

    def counted(function, items, count, **options):
        started.append(len(items))
        return parallel.ForkedMap(function, items, count, **options)

    monkeypatch.setattr(pipeline, "PARALLEL_RENDER_MIN", 10)
    monkeypatch.setattr(pipeline, "ForkedMap", counted)
    return started


def test_pages_rendered_on_forked_processes_are_those_of_a_serial_build(
        site, run, tmp_path, forked):
    corpus(site, 60)
    out = tmp_path / "out"
    build(run, site.root, out, "--jobs", "2")
    assert forked == []  # a first build renders here (see PARALLEL_RENDER_MIN)
    site.write("templates/check.html", '{% extends "!theme/check.html" %}'
               '{% block title %}Edited: {{ super() }}{% endblock %}')
    build(run, site.root, out, "--jobs", "2")
    pages = sum(1 for name in tree(out) if name.startswith("checks/"))
    assert forked == [pages] == [60]  # every check page: their template changed
    build(run, site.root, tmp_path / "serial", "--jobs", "1", "--no-cache")
    assert tree(out) == tree(tmp_path / "serial")
    assert "Edited: Check 7" in (out / "checks" / "check-7" / "index.html").read_text()

    # A template error met in a forked process is reported as in this one, once.
    site.write("templates/check.html", '{% extends "!theme/check.html" %}'
               '{% block title %}{{ entry.title.nothing.deeper }}{% endblock %}')
    forked.clear()
    failed = run("build", str(site.root), "-o", str(out), "--jobs", "2")
    assert forked == [pages] and failed.code == 1
    serial = run("build", str(site.root), "-o", str(out), "--jobs", "1")
    assert serial.code == 1 and failed.err == serial.err
    assert failed.err.count("template error") == 1 and "check.html:1" in failed.err


def test_a_preview_first_build_renders_on_forks_from_a_cache_holding_every_bundle(
        site, run, tmp_path, forked):
    """serve starts from factsite build's cache, which holds every search shard's bundle:
    its first build renders on forks (a shard to index would wait for the pages) and
    makes the site factsite build made. From nothing, it renders here, as any first
    build, Pagefind indexing beside it."""
    site.write("content/site.yaml", SITE_YAML + "search_shard_size: 20\n")
    corpus(site, 60)
    build(run, site.root, site.out, "--jobs", "2")
    assert forked == []

    def preview(out: str, cache_dir: str) -> dict[str, bytes]:
        build_site(BuildOptions(site_dir=site.root, out_dir=tmp_path / out, jobs=2,
                                now=dt.datetime.fromisoformat(NOW),
                                cache_dir=tmp_path / cache_dir),
                   published=lambda stats, base_url: None)
        return snapshot(tmp_path / out)

    cache.seed_cache(site.root / ".factsite-cache", tmp_path / "seeded")
    assert preview("seeded-out", "seeded") == snapshot(site.out)
    assert len(forked) == 1 and forked[0] > 60  # every page: 60 checks and the listings
    forked.clear()
    assert preview("new-out", "new-cache") == snapshot(site.out)
    assert forked == []


def test_a_check_renders_on_forked_processes_and_reports_as_a_serial_one(
        site, run, forked):
    """A check makes no search index, so its second core is free from the start: it
    renders on forks even with nothing cached, and says exactly what a serial check says."""
    corpus(site, 60)
    site.entry("2021-01-01-long", title="Long", claim="A claim " * 12)  # a warning
    serial = run("check", str(site.root), "--jobs", "1")
    assert forked == [] and serial.code == 1  # the warning fails a check
    parallel_run = run("check", str(site.root), "--jobs", "2")
    assert len(forked) == 1 and forked[0] > 61  # every page: 61 checks and the listings
    assert parallel_run.err == serial.err and "'claimReviewed' is " in serial.err


def test_a_forked_map_keeps_the_order_and_reports_a_failure():
    seen_here: list[int] = []

    def square(n: int) -> int:
        seen_here.append(n)  # in a child's copy of the list: never this one
        return n * n

    started: list[str] = []
    assert list(parallel.ForkedMap(square, range(23), 3, chunk=4,
                                   start=lambda: started.append("child"))) == [
        n * n for n in range(23)]
    assert seen_here == [] and started == []
    assert list(parallel.ForkedMap(square, [], 2)) == []

    def fails(n: int) -> int:
        if n == 9:
            raise ValueError("nine")
        return n

    results = parallel.ForkedMap(fails, range(12), 2, chunk=5)
    assert [next(results) for _ in range(5)] == [0, 1, 2, 3, 4]  # the first chunk is good
    with pytest.raises(parallel.ChildFailed, match="ValueError: nine"):
        list(results)
    results.close()

    unread = parallel.ForkedMap(square, range(1000), 2, chunk=10)
    pids = [pid for pid, _ in unread._children]
    unread.close()  # never read: its children are stopped and reaped all the same
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_a_build_that_cannot_fork_renders_its_pages_itself(site, run, tmp_path, monkeypatch):
    corpus(site, 30)
    out = tmp_path / "out"
    build(run, site.root, out, "--jobs", "2")
    site.write("templates/check.html", '{% extends "!theme/check.html" %}'
               '{% block title %}Edited: {{ super() }}{% endblock %}')

    def no_fork():
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    build(run, site.root, out, "--jobs", "2")
    build(run, site.root, tmp_path / "serial", "--jobs", "1", "--no-cache")
    assert tree(out) == tree(tmp_path / "serial")


def test_markdown_workers_do_the_work_and_keep_the_order(monkeypatch) -> None:
    texts = [f"# Text {n}\n\n[a](https://example.org/{n}) [b](javascript:alert({n}))"
             for n in range(300)]
    serial = [markdown.MarkdownRenderer(False).render(text) for text in texts]

    def not_here(allow_html, texts):  # the workers are fresh processes: not patched
        raise AssertionError("rendered in the parent, not in the workers")

    monkeypatch.setattr(markdown, "_render_chunk", not_here)
    monkeypatch.setattr(markdown, "BATCH", 7)  # many batches, taken in turn by two workers
    workers = markdown.Workers(2)
    try:
        parallel = workers.start(texts, False)()
    finally:
        workers.close()
    assert parallel == serial
    assert parallel[7].dropped_links == ["javascript:alert(7)"]
    assert "example.org/299" in parallel[-1].html


def test_workers_take_texts_again_and_again_and_survive_a_dead_worker(monkeypatch) -> None:
    texts = [f"Text *{n}* [x](javascript:{n})" for n in range(40)]
    expected = [markdown.MarkdownRenderer(False).render(text) for text in texts]
    monkeypatch.setattr(markdown, "BATCH", 3)
    workers = markdown.Workers(2)
    try:
        first = workers.start(texts[:20], False)
        second = workers.start(texts[20:], False)  # handed out before the first is back
        assert second() + first() == expected[20:] + expected[:20]
        for process in workers.processes:
            process.kill()
            process.wait()
        # Both workers are gone: their threads render the batches in this process.
        assert workers.start(texts, False)() == expected
    finally:
        workers.close()
    assert workers.processes == []


def test_entries_read_a_window_at_a_time_build_as_one_pass(site, run, tmp_path,
                                                           monkeypatch) -> None:
    """Loading reads a window of files, then renders their bodies on the workers while
    it reads the next: many small windows give the same site and the same messages, in
    the same order, as one serial pass."""
    corpus(site, 240)
    site.entry("2020-01-01-check-17", title="Check 17", body="[bad](javascript:alert(1)) x",
               companies="[byd]", extra="tags: [bad link]")
    site.entry("2020-01-01-check-200", title="Check 200", body="Fine.", verdict="flase")
    site.entry("2020-01-01-check-201", title="Check 201", body="[x](vbscript:y)")
    serial = run("build", str(site.root), "-o", str(tmp_path / "serial"), "--jobs", "1",
                 "--no-cache")
    monkeypatch.setattr("generator.loader.BATCH", 7)  # windows of 14 files, 18 of them
    windows = run("build", str(site.root), "-o", str(tmp_path / "windows"), "--jobs", "2",
                  "--no-cache")
    assert serial.code == windows.code == 1  # the unknown verdict
    assert "did you mean 'false'" in serial.err
    assert "javascript:alert(1)" in serial.err and "vbscript:y" in serial.err
    assert windows.err == serial.err
    site.entry("2020-01-01-check-200", title="Check 200", body="Fine.", verdict="false")
    serial = run("build", str(site.root), "-o", str(tmp_path / "serial"), "--jobs", "1",
                 "--no-cache")
    windows = run("build", str(site.root), "-o", str(tmp_path / "windows"), "--jobs", "2")
    assert serial.code == windows.code == 0
    assert windows.err.replace(str(tmp_path / "windows"), "OUT") == \
        serial.err.replace(str(tmp_path / "serial"), "OUT")
    assert snapshot(tmp_path / "windows") == snapshot(tmp_path / "serial")


def test_markdown_workers_start_only_for_enough_bodies(site, run, monkeypatch) -> None:
    """A first build hands its windows of bodies to worker processes; a rebuild after
    one edit renders its one body itself, without starting two Pythons for it."""
    started: list[int] = []
    start = markdown.Workers._start_processes

    def recording(workers: markdown.Workers) -> None:
        started.append(workers.count)
        start(workers)

    monkeypatch.setattr(markdown.Workers, "_start_processes", recording)
    monkeypatch.setattr("generator.loader.PARALLEL_MIN", 10)
    corpus(site, 30)
    assert run("build", str(site.root), "--jobs", "2").code == 0
    assert started == [2]
    site.entry("2020-01-01-check-3", title="Check 3", body="A new body.")
    assert run("build", str(site.root), "--jobs", "2").code == 0
    assert started == [2]  # not again
    assert "A new body." in (site.out / "checks" / "check-3" / "index.html").read_text()
    monkeypatch.setattr("generator.loader.PARALLEL_MIN", 1)  # one body is enough now
    site.entry("2020-01-01-check-3", title="Check 3", body="Another body.")
    assert run("build", str(site.root), "--jobs", "2").code == 0
    assert started == [2, 2]
    assert "Another body." in (site.out / "checks" / "check-3" / "index.html").read_text()


def test_the_disk_cache_keeps_entries_whole_and_memory_keeps_their_steps(site, run,
                                                                        tmp_path) -> None:
    """Parsed front matter and rendered Markdown of entries are only ever looked up when
    an entry's key changed and its file did not; the disk cache drops what a build did
    not use, so they are not written there. The dev server's memory cache keeps them."""
    corpus(site, 30)
    build(run, site.root, site.out)
    with sqlite3.connect(site.root / ".factsite-cache" / "cache.sqlite") as db:
        kinds = Counter(key.split(":")[0] for (key,) in db.execute("SELECT key FROM item"))
    assert kinds["entry"] == 30
    assert kinds["doc"] == kinds["md"] == 3  # the three companies' files only
    memory = MemoryCache()
    build_site(BuildOptions(site.root, tmp_path / "served"), cache=memory)
    kept = Counter(key.split(":")[0] for key in memory._items)
    assert kept["entry"] == kept["doc"] - 3 == kept["md"] - 3 == 30


def test_a_build_leaves_the_cycle_collector_as_it_found_it(site, tmp_path) -> None:
    """The build pauses Python's cycle collector while loading and freezes what it
    loaded; the dev server builds again and again in one process, so every build, even
    a failed one, must hand both back, or each would keep its site alive for good."""
    corpus(site, 20)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    build_site(BuildOptions(site.root, tmp_path / "one"), cache=MemoryCache())
    assert gc.isenabled() and gc.get_freeze_count() == 0
    site.entry("2020-01-01-check-3", title="Broken", body="x", verdict="no such verdict")
    with pytest.raises(BuildFailed):
        build_site(BuildOptions(site.root, tmp_path / "two"), cache=MemoryCache())
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:  # a caller that runs without the collector keeps it off
        build_site(BuildOptions(site.root, tmp_path / "three", drafts=True))
    except BuildFailed:
        pass
    finally:
        assert not gc.isenabled()
        gc.enable()


def test_entries_hold_their_bodies_packed(site, tmp_path) -> None:
    """An entry keeps its rendered body compressed (a build holds every entry at once);
    ``body_html`` gives back exactly the HTML, whatever its characters."""
    for html in ("", "<p>plain</p>\n", "<p>比亚迪 «é» \U0001f600 \ud800</p>" * 50):
        assert unpack_html(pack_html(html)) == html
    text = "<p>Many words, again and again.</p>\n" * 200
    assert len(pack_html(text)) < len(text) // 10
    site.entry("2021-01-01-one", title="One", body="Some *words* — 比亚迪.\n\n" * 30)
    content = load_site(site.root, Report(root=site.root))
    (entry,) = content.entries
    assert isinstance(entry.body, bytes) and len(entry.body) < len(entry.body_html) // 5
    assert entry.body_html.count("<p>Some <em>words</em> — 比亚迪.</p>") == 30


def test_a_build_keeps_the_bodies_in_a_temporary_file(site, tmp_path, monkeypatch) -> None:
    """After loading, a build moves the packed bodies out of its entries into a temporary
    file and reads each back when a page shows it; a build whose entries a kept cache
    shares (the dev server's) leaves them in the entries."""
    corpus(site, 30)
    content = load_site(site.root, Report(root=site.root))
    packed = {entry.slug: entry.body for entry in content.entries}
    html = {entry.slug: entry.body_html for entry in content.entries}
    bodies = BodyFile()
    bodies.move(content.entries)
    for entry in content.entries:
        assert isinstance(entry.body, StoredBody)
        assert entry.body_html == html[entry.slug] and "<table>" in html[entry.slug]
        assert entry.packed_body() == packed[entry.slug]
        copy = pickle.loads(pickle.dumps(entry))  # another process gets the bytes
        assert copy.body == packed[entry.slug] and copy.body_html == html[entry.slug]
    bodies.close()

    # Packed HTML added while a build renders is read back before and after its batch
    # is written to the file.
    monkeypatch.setattr("generator.bodies._WRITE_BATCH", 100)
    bodies = BodyFile()
    stored = [bodies.add(bytes([n]) * (n + 1)) for n in range(20)]
    assert stored[19].read() == bytes([19]) * 20  # waiting for its batch
    assert [s.read() for s in stored] == [bytes([n]) * (n + 1) for n in range(20)]
    bodies.close()

    moved: list[int] = []
    added: list[bytes] = []

    class CountingBodyFile(BodyFile):
        def move(self, entries):
            entries = list(entries)
            moved.append(len(entries))
            super().move(entries)

        def add(self, data):
            added.append(data)
            return super().add(data)

    monkeypatch.setattr("generator.pipeline.BodyFile", CountingBodyFile)
    now = dt.datetime.fromisoformat(NOW)
    build_site(BuildOptions(site.root, tmp_path / "own", now=now))
    assert moved == [30]
    # The check cards wait in the file too: each rendered once per heading it is shown
    # under (h2 on the home page, h3 among related checks and on company pages).
    assert sorted(added[:30]) == sorted(packed.values())  # the bodies, moved
    cards = [card.decode() for card in added[30:]]  # in UTF-8: read often, not packed
    assert len(cards) > 30
    assert all(card.startswith('<article class="card">') for card in cards)
    assert len(set(cards)) == len(cards)
    page = (tmp_path / "own" / "checks" / "check-7" / "index.html").read_text()
    assert "<em>7</em>" in page and "第7项" in page
    memory = MemoryCache()
    build_site(BuildOptions(site.root, tmp_path / "kept", now=now), cache=memory)
    assert moved == [30]
    kept = [value[0] for key, value in memory._items.items() if key.startswith("entry:")]
    assert len(kept) == 30 and all(isinstance(entry.body, bytes) for entry in kept)
    assert tree(tmp_path / "kept") == tree(tmp_path / "own")


def test_an_edit_after_a_warm_build_shows(site, run, tmp_path):
    site.entry("2021-01-01-one", title="One", body="First words.")
    build(run, site.root, site.out)
    site.entry("2021-01-01-one", title="One", body="Second words.")
    build(run, site.root, site.out)
    assert "Second words." in (site.out / "checks" / "one" / "index.html").read_text()


def test_has_says_whether_a_key_holds_a_value_without_reading_it(tmp_path):
    disk = DiskCache(tmp_path / "c.sqlite")
    disk.put("kept", b"x" * 1000)
    assert disk.has("kept") and not disk.has("other")  # not flushed yet
    disk.close()
    disk = DiskCache(tmp_path / "c.sqlite")
    assert disk.has("kept") and not disk.has("other")  # from the file
    disk.close()
    (tmp_path / "c.sqlite").write_bytes(b"not a database")
    assert not DiskCache(tmp_path / "c.sqlite").has("kept")
    memory = MemoryCache()
    memory.put("kept", 1)
    assert memory.has("kept") and not memory.has("other")
    assert not cache.NoCache().has("kept")


def test_a_corrupt_cache_is_rebuilt_not_trusted(site, run):
    site.entry("2021-01-01-one", title="One", body="Words.")
    build(run, site.root, site.out)
    cache = site.root / ".factsite-cache" / "cache.sqlite"
    cache.write_bytes(b"this is not a database" * 100)
    site.entry("2021-01-01-one", title="One", body="Other words.")
    build(run, site.root, site.out)
    assert "Other words." in (site.out / "checks" / "one" / "index.html").read_text()
    with sqlite3.connect(cache) as db:  # started afresh and usable again
        assert db.execute("SELECT count(*) FROM item").fetchone()[0] > 0


def test_compiled_templates_are_kept_and_never_trusted_over_their_source(site, run,
                                                                         tmp_path):
    """Templates are compiled once and kept in the cache folder (a folder per factsite
    code: others are removed); an edited template is compiled again, and a damaged
    compiled one too, the site as built from nothing."""
    site.entry("2021-01-01-one", title="One", body="Words.")
    stale = site.root / ".factsite-cache" / "templates" / "an-older-factsite"
    stale.mkdir(parents=True)
    (stale / "x.cache").write_bytes(b"old")
    build(run, site.root, site.out)
    assert not stale.exists()
    (compiled,) = (site.root / ".factsite-cache" / "templates").iterdir()
    files = sorted(compiled.iterdir())
    assert len(files) >= 5  # base, check, index, macros, ...

    site.write("templates/check.html", '{% extends "!theme/check.html" %}'
               '{% block title %}Edited: {{ super() }}{% endblock %}')
    build(run, site.root, site.out)
    assert site.html("checks/one/index.html").title.string.startswith("Edited: ")
    site.write("templates/check.html", '{% extends "!theme/check.html" %}'
               '{% block title %}Again: {{ super() }}{% endblock %}')
    build(run, site.root, site.out)
    assert site.html("checks/one/index.html").title.string.startswith("Again: ")

    for number, file in enumerate(sorted(compiled.iterdir())):
        data = file.read_bytes()  # cut short, or bytes after a good header, or garbage
        file.write_bytes([data[: len(data) // 2], data[:40] + b"\x00" * 200, b"junk"][number % 3])
    site.entry("2021-01-01-one", title="One", body="Other words.")  # not skipped: rendered
    build(run, site.root, site.out)
    assert tree(site.out) == fresh(run, site, tmp_path)


def fresh(run, site, tmp_path) -> dict[str, bytes]:
    """The site built from nothing, without the cache, into a folder of its own."""
    out = tmp_path / "fresh"
    build(run, site.root, out, "--no-cache")
    return tree(out)


STAMP_DAMAGE = {
    "inputs as lists": lambda s: {**s, "inputs": {k: [1, 2, 3, "d"] for k in s["inputs"]}},
    "due not a moment": lambda s: {**s, "due": "soon"},
    "due without offset": lambda s: {**s, "due": "2099-01-01T00:00:00"},
    "due a number": lambda s: {**s, "due": 5},
    "taken_ns a string": lambda s: {**s, "inputs_taken_ns": "now"},
    "warnings cut": lambda s: {**s, "warnings": [["a.md", 1]]},
    "notes numbers": lambda s: {**s, "notes": [1, 2]},
    "not an object": lambda s: [s],
}


@pytest.mark.parametrize("damage", list(STAMP_DAMAGE))
def test_a_damaged_stamp_is_ignored_not_trusted(site, run, damage):
    """A stamp of this factsite's version whose fields are not what it writes (damaged,
    edited by hand) is ignored: the next build is made as without one."""
    site.entry("2021-01-01-one", title="One", body="Words.")
    build(run, site.root, site.out)
    path = site.root / ".factsite-cache" / "stamp.json"
    stamp = json.loads(path.read_text(encoding="utf-8"))
    for body in ("Words.", "Other words."):  # nothing changed, then an edit
        path.write_text(json.dumps(STAMP_DAMAGE[damage](stamp)), encoding="utf-8")
        site.entry("2021-01-01-one", title="One", body=body)
        result = run("build", str(site.root), "-o", str(site.out), "--profile")
        assert result.code == 0 and "Traceback" not in result.err, result.err
        trusted = "nothing changed" in result.err
        # Wrong records of input files only make the files be read and hashed again (so
        # with nothing changed, the stamp holds); any other damage: it is ignored.
        assert not trusted or (damage == "inputs as lists" and body == "Words.")
        assert body in (site.out / "checks" / "one" / "index.html").read_text()
        if not trusted:  # the build wrote a stamp of its own
            assert json.loads(path.read_text(encoding="utf-8")) != STAMP_DAMAGE[damage](stamp)


def test_cached_objects_come_back_equal_field_for_field() -> None:
    """Entries, their dates, sources, corrections and warnings, page records and
    findings are pickled as calls with their fields (``model.pickled_by_fields``)."""
    from generator.claimreview import Finding
    from generator.diagnostics import Diagnostic, Severity
    from generator.model import Correction, Entry, Source, When
    from generator.pagekeys import PageRecord

    day = When(dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC), has_time=True)
    entry = Entry("slug", "content/entries/a.md", "Title", "Claim", "false", day,
                  claim_quote="Quote", claimant="Someone", claim_date=day,
                  claim_urls=["https://a.example/"], verdict_explanation="Why",
                  companies=["byd"], updated=day, author="Ann", tags=["t"], summary="S",
                  sources=[Source("https://b.example/", "B", "https://c.example/")],
                  corrections=[Correction(day, "Fixed", "update")], draft=True,
                  body=pack_html("<p>x</p>"), field_lines="\x01\x02", fingerprint="fp")
    warning = Diagnostic("a.md", 3, "message", Severity.WARNING, "hint", "line")
    finding = Finding(Severity.WARNING, "message", "field")
    record = PageRecord("key", "digest", (1, 2, 3), (finding, finding), {"links": 1})
    for value in (entry, warning, finding, record, day):
        again = pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
        assert type(again) is type(value) and again == value
    shared = pickle.loads(pickle.dumps(record)).findings
    assert shared[0] is shared[1]  # one object, as the findings made by lru_cache are


def test_small_values_are_stored_plain_large_ones_compressed(tmp_path) -> None:
    path = tmp_path / "cache.sqlite"
    small, large = {"entry": "x" * 100}, ["words " * 40_000]
    cache = DiskCache(path)
    cache.put("small", small)
    cache.put("large", large)
    assert cache.get("small") == small and cache.get("large") == large  # before writing
    cache.close()
    with sqlite3.connect(path) as db:
        stored = dict(db.execute("SELECT key, value FROM item"))
        assert stored["small"][:1] == b"\x80"  # a pickle as it is
        assert len(stored["large"]) < len("words " * 40_000) // 10  # compressed
        db.execute("INSERT INTO item VALUES ('damaged', x'789c0000')")
        db.execute("INSERT INTO item VALUES ('cut', ?)", (stored["small"][:20],))
    again = DiskCache(path)
    assert again.get("small") == small and again.get("large") == large
    assert again.get("damaged") is None and again.get("cut") is None  # misses, no errors


def test_a_foreign_cache_is_started_afresh(tmp_path):
    path = tmp_path / "cache.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE meta (schema TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('factsite-cache 1 0.0.0-other')")
        db.execute("CREATE TABLE item (key TEXT PRIMARY KEY, value BLOB)")
        db.execute("INSERT INTO item VALUES ('k', x'00')")
    cache = DiskCache(path)
    assert cache.get("k") is None
    cache.put("k", {"fresh": True})
    cache.close()
    assert DiskCache(path).get("k") == {"fresh": True}


def test_a_damaged_value_is_a_miss(tmp_path):
    path = tmp_path / "cache.sqlite"
    cache = DiskCache(path)
    cache.put("k", [1, 2, 3])
    cache.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE item SET value = x'deadbeef' WHERE key = 'k'")
    assert DiskCache(path).get("k") is None


def test_many_values_are_taken_at_once_as_one_by_one(tmp_path, monkeypatch):
    """get_many gives what get would for each key: values kept and values just put,
    not missing or damaged ones, across several queries; every key counts as used."""
    monkeypatch.setattr(DiskCache, "MANY", 3)
    path = tmp_path / "cache.sqlite"
    cache = DiskCache(path)
    for n in range(8):
        cache.put(f"k{n}", [n])
    cache.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE item SET value = x'deadbeef' WHERE key = 'k5'")
    cache = DiskCache(path)
    cache.put("new", "just put")
    keys = [f"k{n}" for n in range(8)] + ["new", "missing"]
    found = cache.get_many(keys)
    assert found == {key: cache.get(key) for key in keys if cache.get(key) is not None}
    assert sorted(found) == ["k0", "k1", "k2", "k3", "k4", "k6", "k7", "new"]
    cache.close(forget_unused=True)
    with sqlite3.connect(path) as db:  # what get_many took was used: kept
        assert db.execute("SELECT count(*) FROM item").fetchone()[0] == 9
    memory = MemoryCache()
    memory.put("a", 1)
    assert memory.get_many(["a", "b"]) == {"a": 1}


def test_unused_values_are_dropped(tmp_path):
    path = tmp_path / "cache.sqlite"
    first = DiskCache(path)
    first.put("old", 1)
    first.put("kept", 2)
    first.close()
    second = DiskCache(path)
    assert second.get("kept") == 2
    second.close()
    assert DiskCache(path).get("old") is None


@pytest.mark.parametrize("failed", [False, True])
def test_used_keys_held_a_batch_at_a_time_still_decide_what_stays(tmp_path, monkeypatch,
                                                                  failed):
    """The keys a build used go to a temporary table a batch at a time (a large site
    uses hundreds of thousands); what a successful build used, in any batch, stays."""
    monkeypatch.setattr(DiskCache, "USED_BATCH", 3)
    path = tmp_path / "cache.sqlite"
    first = DiskCache(path)
    for n in range(10):
        first.put(f"key-{n}", n)
    first.close()
    second = DiskCache(path)
    used = [second.get(f"key-{n}") for n in (0, 2, 3, 5, 7, 2, 0)]
    second.keep("key-9")
    second.put("new", "value")
    assert used == [0, 2, 3, 5, 7, 2, 0] and len(second._used) < 3
    second.close(forget_unused=not failed)
    third = DiskCache(path)
    kept = {n for n in range(10) if third.get(f"key-{n}") is not None}
    assert kept == (set(range(10)) if failed else {0, 2, 3, 5, 7, 9})
    assert third.get("new") == "value"
    third.close()


@pytest.mark.parametrize("make_cache", ["memory", "disk"])
def test_a_large_mapping_is_kept_in_chunks_and_read_back_whole(tmp_path, make_cache):
    def new_cache():
        if make_cache == "memory":
            return shared
        return DiskCache(tmp_path / "cache.sqlite")

    shared = MemoryCache()
    cache = new_cache()
    pairs = {f"checks/c{n}/index.html": ("record", n) for n in range(2_345)}
    writer = MappingWriter(cache, "records", "tag-1", size=500)
    for key, value in pairs.items():
        writer.add(key, value)
    assert read_mapping(cache, "records", "tag-1") is None  # not readable before close()
    writer.close()
    assert writer.chunks == 5
    cache.close()

    cache = new_cache()
    assert read_mapping(cache, "records", "tag-1") == pairs
    assert read_mapping(cache, "records", "tag-2") is None  # made from something else
    assert read_mapping(cache, "nothing", "tag-1") is None
    # A later, shorter mapping whose head is lost: its chunks never mix with the old head.
    shorter = MappingWriter(cache, "records", "tag-1", size=500)
    shorter.add("only", 1)
    shorter._put_chunk()
    assert read_mapping(cache, "records", "tag-1") is None
    shorter.close()
    assert read_mapping(cache, "records", "tag-1") == {"only": 1}
    cache.close()


def test_no_cache_writes_no_cache_folder(site, run):
    site.entry("2021-01-01-one", title="One")
    build(run, site.root, site.out, "--no-cache")
    assert not (site.root / ".factsite-cache").exists()


# -- the build stamp: a rebuild with nothing changed does nothing -------------------------


def test_a_build_with_nothing_changed_loads_no_renderer(site, run):
    """The build stamp is checked before the pipeline, Jinja, the loader and the Markdown
    parser are imported: a build with nothing to do never pays for them (a fifth of its
    time)."""
    site.entry("2021-01-01-one", title="One", body="Words.")
    build(run, site.root, site.out)
    probe = ("import sys; from generator.cli import main; code = main(['build', sys.argv[1], "
             "'-q']); print(code, *(name in sys.modules for name in ('generator.pipeline', "
             "'jinja2', 'generator.loader', 'generator.scaffold', 'markdown_it')))")

    def loaded() -> str:
        done = subprocess.run([sys.executable, "-c", probe, str(site.root)],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "FACTSITE_NOW": NOW})
        return done.stdout.strip()

    assert loaded() == "0 False False False False False"
    site.entry("2021-01-01-one", title="One", body="Other words.")
    assert loaded() == "0 True True True False True"  # something to do: the whole pipeline


def test_nothing_changed_means_nothing_rendered_and_warnings_repeated(site, run):
    site.entry("2021-01-01-one", title="One", extra="verdcit: x")
    first = run("build", str(site.root))
    assert first.code == 0 and "unknown entry field 'verdcit'" in first.err
    before = site.snapshot()
    again = run("build", str(site.root), "--profile")
    assert again.code == 0
    assert "fingerprint: nothing changed" in again.err
    assert again.err.count("unknown entry field 'verdcit'") == 1  # still reported
    assert " 0 written" in again.out and site.snapshot() == before


@pytest.fixture
def upgrade(tmp_path, monkeypatch):
    """``upgrade(version)`` installs (or upgrades to) ``version`` of a library
    ``fakelib``, counted among those whose versions factsite's code version covers."""
    folder = tmp_path / "lib"
    (folder / "fakelib").mkdir(parents=True)
    (folder / "fakelib" / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(cache, "LIBRARIES", (*cache.LIBRARIES, ("fakelib", "fakelib")))

    def install(version: str) -> None:
        for old in folder.glob("fakelib-*.dist-info"):
            old.rmdir()  # as pip does
        (folder / f"fakelib-{version}.dist-info").mkdir()
        cache.code_version.cache_clear()  # as a new process would find it

    yield install
    cache.code_version.cache_clear()  # back to the real libraries alone


def test_the_code_version_covers_the_libraries_versions(tmp_path, upgrade):
    (tmp_path / "lib" / "fakelib_extra-2.0.dist-info").mkdir()  # another distribution
    upgrade("1.0")
    found = cache.library_versions()
    assert "fakelib-1.0.dist-info" in found and not any("extra" in f for f in found)
    assert any(f.lower().startswith("jinja2-") for f in found)
    before = cache.code_version()
    upgrade("1.1")
    assert "fakelib-1.1.dist-info" in cache.library_versions()
    assert cache.code_version() != before


@pytest.mark.parametrize("change", ["entry", "template", "output", "extra", "clock", "option",
                                    "library"])
def test_any_change_means_a_full_build(site, run, monkeypatch, upgrade, change):
    upgrade("1.0")
    site.entry("2021-01-01-one", title="One")
    site.entry("later", title="Later", published="2026-06-01")  # after the pinned clock
    assert run("build", str(site.root)).code == 0
    page = site.out / "checks" / "one" / "index.html"
    args: list[str] = []
    if change == "entry":
        site.entry("2021-01-01-one", title="One, edited")
    elif change == "template":
        site.write("templates/404.html", '{% extends "!theme/404.html" %}')
    elif change == "output":
        page.write_text("tampered")
    elif change == "extra":
        (site.out / "checks" / "stray.html").write_text("not the site's")
    elif change == "clock":
        monkeypatch.setenv("FACTSITE_NOW", "2026-07-01T00:00:00+00:00")
    elif change == "library":  # upgraded: the cached Markdown, pages… may not be its
        upgrade("1.1")
    else:
        args = ["--drafts"]
    result = run("build", str(site.root), "--profile", *args)
    assert result.code == 0, result.err
    assert "fingerprint: nothing changed" not in result.err
    assert "tampered" not in page.read_text()
    assert not (site.out / "checks" / "stray.html").exists()
    if change == "entry":
        assert "One, edited" in page.read_text()
    if change in ("clock", "option"):
        assert (site.out / "checks" / "later" / "index.html").is_file()


def test_a_failed_build_forgets_the_stamp(site, run):
    site.entry("2021-01-01-one", title="One")
    assert run("build", str(site.root)).code == 0
    site.entry("2021-01-01-one", title="One", verdict="flase")
    assert run("build", str(site.root)).code == 1
    site.entry("2021-01-01-one", title="One")  # back to the first bytes
    result = run("build", str(site.root), "--profile")
    assert result.code == 0
    assert "fingerprint: nothing changed" not in result.err


def test_an_edit_hidden_from_the_file_clock_is_still_seen(site, run):
    """Input files are re-read only when size, mtime or inode changed, except those that
    changed just before the last build looked: same-size bytes with the old mtime put
    back (a clock too coarse to tell two saves apart) are read again."""
    path = site.entry("2021-01-01-one", title="Title A")
    assert run("build", str(site.root)).code == 0
    info = path.stat()
    path.write_text(path.read_text(encoding="utf-8").replace("Title A", "Title B"),
                    encoding="utf-8")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))  # size and mtime as before
    assert path.stat().st_size == info.st_size
    result = run("build", str(site.root), "--profile")
    assert result.code == 0
    assert "fingerprint: nothing changed" not in result.err
    assert "Title B" in (site.out / "checks" / "one" / "index.html").read_text()


def test_the_stamp_reads_only_files_that_changed(site, run, monkeypatch):
    """After a build, a rebuild hashes the files whose size or time changed, and the
    ones changed shortly before the last look; an old untouched file is not read."""
    old = site.entry("2021-01-01-old", title="Old")
    new = site.entry("2021-01-02-new", title="New")
    long_ago = 1_600_000_000_000_000_000
    for path in site.root.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(long_ago, long_ago))
    assert run("build", str(site.root)).code == 0
    opened: list[str] = []
    real_open = open

    def spy(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    from generator import stamp
    monkeypatch.setattr(stamp, "open", spy, raising=False)
    new.write_text(new.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    assert run("build", str(site.root)).code == 0
    assert str(new) in opened and str(old) not in opened


def test_a_large_stamp_is_written_as_the_bytes_of_one_json_dump_and_read_back(tmp_path):
    # Written in batches (its large dicts and lists), byte for byte json.dumps' text.
    from generator import stamp

    made = stamp.Stamp(
        "f" * 40, {f"checks/c{n}/index.html": [n, n * 7, n * 3] for n in range(10_000)}, 9,
        warnings=[[f"e{n}.md", n, "é \"quoted\"", None, None] for n in range(9_000)],
        notes=["a note"], inputs={f"/s/{n}.md": f"{n} {n} {n} d" for n in range(5_000)})
    path = tmp_path / "stamp.json"
    stamp.save(path, made)
    assert path.read_text(encoding="utf-8") == json.dumps(
        {"version": stamp.STAMP_VERSION, **vars(made)})
    assert stamp.load(path) == made
