"""The build's steps, once the build stamp says there is something to do:
load → site graph → render plan → templates → writer.

Every error, from content or templates, is collected before the output folder changes;
only a build with none commits its files. ``factsite check`` runs the same build into a
:class:`~generator.writer.NullSink`.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import gc
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from markupsafe import Markup

from . import stamp
from .bodies import BodyFile
from .build import BuildOptions, BuildResult, Phases
from .cache import (
    CACHE_FILE,
    DiskCache,
    MappingWriter,
    MemoryCache,
    code_version,
    content_key,
    read_mapping,
)
from .claimreview import Finding, script_chunks, validate_scripts
from .config import load_config
from .diagnostics import BuildFailed, Report, Severity, locate
from .feeds import site_feeds
from .graph import SiteGraph, build_graph
from .jsonld import claimreview_feed, feed_item
from .linkcheck import LinkChecker
from .listings import search_listings
from .loader import load_site
from .model import Entry, StaticFile
from .pagekeys import GRAPH_READS_COVERED, GRAPH_READS_OF_COMPANIES, PageKeys, PageRecord
from .parallel import ForkedMap
from .plan import DataFile, PageSpec, plan_site
from .search import FIX_HINT, SearchFailed, SearchIndex, ShardedIndex, shards_of
from .sitemap import robots_txt, sitemaps
from .theme import CARD_TEMPLATE, TemplateFailed, Theme
from .urls import Hrefs, Urls, output_file
from .writer import NullSink, OutputWriter, UnsafeOutput, WriteStats


def build_site(
    options: BuildOptions,
    report: Report,
    phases: Phases,
    started: float,
    now: dt.datetime,
    *,
    write: bool,
    cache: MemoryCache | None,
    theme: Theme | None,
    progress: Callable[[int, int], None] | None,
    stamp_path: Path | None,
    inputs: stamp.Inputs,
    published: Callable[[WriteStats, str], None] | None = None,
) -> BuildResult:
    """Make the site (see :func:`generator.build.build`, which checked the build stamp
    and the output folder): the stamp is saved at ``stamp_path`` with ``inputs`` after a
    successful build; ``started`` is when the build began (``time.perf_counter()``).
    ``published``: see :func:`generator.build.build`."""
    site_dir = options.site_dir
    protected = [site_dir / "content", site_dir / "templates"]
    jobs = options.jobs or os.cpu_count() or 1
    config = load_config(site_dir, report, options.base_url)  # once: it says if search is on
    if config is None:
        raise BuildFailed(report)
    search = _start_search(jobs) if write and config.search else []
    # Python's cycle collector runs after every few hundred new objects, and each of its
    # full passes walks every object alive. Loading, the graph and the page keys make
    # millions of objects and (measured) almost no reference cycles, so it only cost
    # time: 0.8 s of a 6 s rebuild of 10,000 entries, 1.9 s of a cold build. It is
    # paused for them; after them, what they made is frozen (left out of later passes)
    # until the build ends. Rendering, which leaves cycles behind, runs with it on.
    collecting = gc.isenabled()
    gc.disable()
    # A cache kept by the caller may hold this build's entries for the next build: their
    # bodies stay in them then. Otherwise they wait in a temporary file (see bodies).
    owns_entries = cache is None
    bodies: BodyFile | None = None
    try:
        disk_cache = None
        if cache is None and options.cache_dir is not None:
            cache = disk_cache = DiskCache(options.cache_dir / CACHE_FILE)
        try:
            content = load_site(site_dir, report, config=config, cache=cache, jobs=jobs,
                                digests=inputs.digests())
        finally:
            if disk_cache is not None:
                disk_cache.flush()  # what was parsed is kept even when the build then fails
        if content is None:
            raise BuildFailed(report)
        if owns_entries:
            bodies = BodyFile()
            bodies.move(content.entries)
        phases.done("load (front matter, Markdown)")
        _release_freed_memory()  # what loading needed only for a while, and the bodies
        # With content errors the site is still rendered (into nothing) so that template
        # errors show up in the same run; the output folder is not touched.
        urls = Urls(content.config.base_url)
        links = LinkChecker(urls) if options.strict or not write else None
        write = write and not report.has_errors

        graph = build_graph(content, now, drafts=options.drafts, cache=cache)
        theme = theme or Theme(site_dir, compiled_dir=_compiled_templates(options.cache_dir))
        specs = list(plan_site(graph, urls))
        phases.done("site graph and plan")

        sink: OutputWriter | NullSink
        try:
            sink = (
                OutputWriter(options.output, protected=protected)
                if write
                else NullSink()
            )
        except UnsafeOutput as exc:
            report.error(options.output, None, str(exc))
            raise BuildFailed(report) from None

        notes: list[str] = []
        # Page keys let this build keep the pages whose inputs did not change since the
        # last one: only with a cache (to remember them in). A build that already has
        # content errors renders into nothing, to find template errors: it skips the
        # pages the last (successful) build rendered from the same inputs.
        keys: dict[str, str | None] = {}
        feed_key = ""
        records_slot = ""
        recorded: dict[str, PageRecord] = {}  # by the last successful build, by file
        if cache is not None and (write or report.has_errors):
            keys, key_notes, feed_key = _page_keys(specs, graph, theme, urls,
                                                   content.static_files, cache)
            notes.extend(key_notes)
            records_slot = _records_slot(options.output)
            recorded = read_mapping(cache, records_slot, "") or {}
        phases.done("page keys")
        _release_freed_memory()  # what hashing the pages needed for a while
        gc.freeze()
        if collecting:
            gc.enable()
        index: ShardedIndex | None = None
        committed = False
        try:
            pages_sink: Any = sink
            if isinstance(search, SearchFailed):  # only started with search on
                raise search
            # The index is fed the check pages as they are written; a build with content
            # errors writes nothing, so it needs none, nor does a check. They render in
            # the same order all the same, so that a template error names the same page.
            if graph.config.search:
                check_pages = _check_pages(specs, urls)
                if write and not report.has_errors:
                    index = ShardedIndex(sink, check_pages, graph.config.search_shard_size,
                                         lambda name: output_file(urls.pagefind(name)),
                                         search, cache, recorded)
                    pages_sink = index
                shard_by_file = (index.shard_by_file if index is not None
                                 else shards_of(check_pages, graph.config.search_shard_size))
                specs_in_order = _index_order(specs, shard_by_file, keys, recorded)
            else:
                notes.append("search is off ('search: false' in site.yaml): "
                             "no search page, search box or index")
                specs_in_order = specs
            early = (index is not None and published is not None and links is None
                     and _publishes_early(content.static_files, urls))
            records = _render_pages(specs_in_order, graph, urls, theme, content.static_files,
                                    pages_sink, report, progress, links, cache, keys,
                                    recorded, bodies, jobs,
                                    [] if isinstance(search, SearchFailed) else search,
                                    preview=early)
            phases.done(f"render pages ({records.rendered} rendered, "
                        f"{len(specs) - records.rendered} unchanged)")
            phases.templates = records.templates
            counts = ", ".join(f"{rule} {count:,}" for rule, count in records.ignored.items()
                               if count)
            if counts:
                notes.append(f"ClaimReview warnings not shown, as 'ignore_warnings' in "
                             f"site.yaml asks: {counts}")
            # The feeds and sitemaps make this process its largest. Small shards (two
            # Pagefinds) are finished meanwhile, on the other core, each Pagefind
            # stopping once its last bundle is out (see ShardedIndex); the last of large
            # ones (one Pagefind: past 70,000 checks, or one job) is waited for first,
            # so that its 250 MB are gone by then. An edit's one changed shard is still
            # in Pagefind here (about 1 s for 500 checks): what needs no bundle is made
            # before waiting for it. The static files come after: one must not replace a
            # bundle file.
            index_first = index is not None and len(index.services) < 2 and not early
            if index_first:
                _finish_index(index, sink, phases)
            for data in _data_files(graph, urls, specs):
                _write_data_file(data, sink, feed_key, recorded, records)
            phases.done("feeds, sitemaps, filter listings")
            sink.write_parts(output_file(urls.claimreview_feed()), claimreview_feed(
                graph, urls, _claimreview_items(specs, cache, feed_key)))
            phases.done("ClaimReview data feed")
            if index is not None and not index_first and not early:
                _finish_index(index, sink, phases)
            _copy_files(sink, theme, content.static_files, urls, report)
            if links is not None and not report.has_errors:
                _check_links(links, sink.produced, site_dir, report)
            if report.failed(options.strict):
                raise BuildFailed(report)
            if early:
                assert published is not None and isinstance(sink, OutputWriter)
                assert index is not None
                published(sink.publish(index.stale()), content.config.base_url)
                phases.done("published the pages")
                _finish_index(index, sink, phases)
            stats = sink.commit()
            committed = True
            # Every file's identity after the commit, looked up once for both records.
            outputs = (stamp.record_outputs(sink.root, sink.produced,
                                            _kept_identity(sink, recorded))
                       if isinstance(sink, OutputWriter) and (records_slot or stamp_path)
                       else {})
            if records_slot and cache is not None:
                kept = MappingWriter(cache, records_slot, "")
                for file, record in records.finished(outputs, index).items():
                    kept.add(file, record)
                kept.close()
            if stamp_path is not None:
                stamp.save(stamp_path, stamp.Stamp(
                    inputs.digest, outputs, len(specs),
                    _next_due(content.entries, now, options.drafts),
                    stamp.warning_records(report.items), notes, content.config.base_url,
                    inputs.files, inputs.taken_ns))
            phases.done("assets, static files, commit")
        except BuildFailed:
            sink.abort()
            raise
        except UnsafeOutput as exc:
            sink.abort()
            report.error(options.output, None, str(exc))
            raise BuildFailed(report) from None
        except SearchFailed as exc:
            sink.abort()
            report.error(site_dir / "content" / "site.yaml", None, f"search index: {exc}",
                         hint=FIX_HINT)
            raise BuildFailed(report) from None
        except BaseException:
            sink.abort()
            raise
        finally:
            if disk_cache is not None:
                disk_cache.close(forget_unused=committed)
        return BuildResult(report, stats, len(specs), time.perf_counter() - started, notes,
                           phases, content.config.base_url)
    finally:
        if not isinstance(search, SearchFailed):
            for service in search:  # stopped already, unless the build stopped early
                service.close()
        if bodies is not None:
            bodies.close()
        gc.unfreeze()  # a long-running caller (serve) can free this build's objects
        if collecting:
            gc.enable()


def _start_search(jobs: int) -> list[SearchIndex] | SearchFailed:
    """The Pagefinds a build that writes a site with search on indexes with (or why
    there are none, reported once the content is loaded).

    They start before the content is loaded, while this process is small: starting a
    program from a large process briefly shows the child at the parent's size. With two
    jobs or more, two of them, to index two shards at once (see
    search.PARALLEL_SHARD_PAGES). A check (nothing written) makes no index: nothing
    reads what Pagefind makes, and it was half of what checking 10,000 checks took.
    """
    try:
        search = [SearchIndex()]
    except SearchFailed as exc:
        return exc
    if jobs > 1:
        with contextlib.suppress(SearchFailed):  # one is enough, two are faster
            search.append(SearchIndex())
    return search


def _publishes_early(static_files: list[StaticFile], urls: Urls) -> bool:
    """Whether a preview that asks for it (``build(published=…)``, without the link
    checker, which needs the bundle) may publish its pages before it waits for the search
    index: its tabs then reload while Pagefind works. When the pages render on every
    core, the shards to index wait for them all (``ShardedIndex.defer``): a template edit
    that re-indexes every shard reloads after 9-10 s at 10,000 checks, not 24 s.

    Not when a static file lies in the bundle's folder: a clash with a bundle file must
    be found before anything is published.
    """
    bundle_folder = urls.pagefind().lstrip("/")
    return not any(item.relpath.startswith(bundle_folder) for item in static_files)


def _kept_identity(sink: OutputWriter, recorded: dict[str, PageRecord],
                   ) -> Callable[[str], tuple[int, int, int] | None]:
    """The identity of each file the build kept, as its record says: the sink kept it
    after checking that the file still has it (``can_keep``), and has not touched it
    since. Saves looking up again half the files of a one-file rebuild (0.06 s of
    its 24,000 at 10,000 checks)."""
    def known(relpath: str) -> tuple[int, int, int] | None:
        record = recorded.get(relpath) if relpath in sink.kept else None
        return record.stat if record is not None else None

    return known


def _finish_index(index: ShardedIndex, sink: OutputWriter | NullSink, phases: Phases) -> None:
    """Wait for the last shards and write their bundles (their Pagefinds stop then).
    The output folder is listed for the commit first (``OutputWriter.survey``): an
    edit's shard is usually still in Pagefind here."""
    sink.survey()
    index.finish()
    phases.done(f"search index: the last shard ({index.indexed} of "
                f"{len(index.folders)} shards indexed, the rest unchanged)")


# Rendering frees tens of kilobytes a page (its text, its bytes, the template's work),
# and the C allocator keeps what it can reuse in holes between what the build keeps
# (records, cards' places, file names). Given back every this many pages, a build of
# 100,000 checks grew 35 MB less while rendering (2 ms each time).
TRIM_EVERY = 1000


def _release_freed_memory() -> None:
    """Give memory that Python has freed back to the system.

    glibc's allocator keeps freed memory for reuse; loading a large site leaves some
    (file texts, parsed front matter, Markdown results in transit, each a window of
    files at a time) that the rest of the build never needs but would still hold. A
    no-op where the C library has no ``malloc_trim``.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def _compiled_templates(cache_dir: Path | None) -> Path | None:
    """Where this factsite keeps compiled templates in ``cache_dir``: a folder named
    after its code (see :class:`~generator.theme.Theme`). Those of other versions are
    removed, so a developer's edits do not pile them up."""
    if cache_dir is None:
        return None
    parent, version = cache_dir / "templates", code_version()
    with contextlib.suppress(OSError):
        for other in os.scandir(parent):
            if other.name != version and other.is_dir(follow_symlinks=False):
                shutil.rmtree(other.path, ignore_errors=True)
    return parent / version


def _next_due(entries: list[Entry], now: dt.datetime, drafts: bool) -> str | None:
    """When the next future-dated entry is published: the stamp expires then."""
    due = None if drafts else min(
        (e.published.moment for e in entries if not e.draft and e.published.moment > now),
        default=None)
    return due.isoformat() if due else None


def _records_slot(output: Path) -> str:
    """The cache slot of the page records of builds into ``output`` by this factsite:
    records of another factsite, or of another output folder, are never read."""
    return f"page-records:{code_version()}:{Path(os.path.realpath(output.absolute()))}"


def _same_key(file: str, key: str | None,
              recorded: dict[str, PageRecord]) -> PageRecord | None:
    """The last build's record of the output ``file`` if it was made under ``key`` too
    (a page's key, or a feed's: ``None`` for a file made on every build)."""
    record = recorded.get(file) if key is not None else None
    return record if record is not None and record.key == key else None


# Pages other than checks that render after the last search shard, per page of it: it
# takes Pagefind about 2.5 ms a page, a listing about 1 ms to render.
LISTINGS_AFTER_LAST_SHARD = 3


def _index_order(specs: list[PageSpec], shard_by_file: dict[str, int],
                 keys: dict[str, str | None],
                 recorded: dict[str, PageRecord]) -> list[PageSpec]:
    """The order pages render in with search on (``shard_by_file``: see
    :func:`search.shards_of`), whether this build indexes them or not (a check), so that
    both report problems in the same order.

    Check pages are grouped by shard: each shard is indexed as soon as its last page is
    out, and only one shard's pages wait in memory. Shards holding pages whose key
    changed come first, so Pagefind starts on them at once while the rest is kept or
    rendered. The other pages (listings, company and tag pages) are spread between the
    shards, so that Pagefind indexes each shard while some of them render: when they all
    came last, a first build ended rendering them alone, with Pagefind done and one core
    idle (2.5 s of 33 at 10,000 checks). After the last shard come as many of them as
    keep this process busy while Pagefind indexes it (``LISTINGS_AFTER_LAST_SHARD`` a
    page of it), so that Pagefind has stopped, and its memory is gone, when the feeds
    and sitemaps make this process its largest.
    """
    changed = {shard for file, shard in shard_by_file.items()
               if _same_key(file, keys.get(file), recorded) is None}
    shards = sorted(set(shard_by_file.values()), key=lambda shard: (shard not in changed, shard))
    groups: dict[int, list[PageSpec]] = {shard: [] for shard in shards}
    others: list[PageSpec] = []
    for spec in specs:
        shard = shard_by_file.get(spec.file)
        (others if shard is None else groups[shard]).append(spec)
    if len(shards) < 2:
        return [spec for shard in shards for spec in groups[shard]] + others
    last = len(others) - min(len(others), LISTINGS_AFTER_LAST_SHARD * len(groups[shards[-1]]))
    spread, gaps = others[:last], len(shards) - 1
    ordered: list[PageSpec] = []
    for position, shard in enumerate(shards[:-1]):
        ordered += groups[shard]
        ordered += spread[position * len(spread) // gaps:(position + 1) * len(spread) // gaps]
    return ordered + groups[shards[-1]] + others[last:]


def _copy_files(sink: OutputWriter | NullSink, theme: Theme, static_files: list[StaticFile],
                urls: Urls, report: Report) -> None:
    """The theme's assets under their hashed names, and the site's static files (one that
    would replace a generated file is an error)."""
    for asset in theme.assets.values():
        sink.copy(output_file(urls.asset(asset.published)), asset.source)
    for item in static_files:
        if item.relpath in sink.produced:
            report.error(item.source, None, f"static file would replace the generated "
                         f"'{item.relpath}'", hint="rename or move the static file")
        else:
            sink.copy(item.relpath, item.source)


def _check_pages(specs: list[PageSpec], urls: Urls) -> dict[str, str]:
    """Output file → link of every check page: the pages the search index holds."""
    return {s.file: urls.href(s.path) for s in specs if "entry" in s.context}


def _data_files(graph: SiteGraph, urls: Urls, specs: list[PageSpec]) -> Iterator[DataFile]:
    """Feeds, sitemaps, robots.txt and the search filter listings; the ClaimReview data
    feed is made apart (:func:`_claimreview_items`)."""
    yield from site_feeds(graph, urls)
    for path, data in sitemaps([(s.path, s.lastmod) for s in specs if s.indexed], urls):
        yield DataFile(path, partial(bytes, data))
    yield DataFile(urls.robots(), partial(robots_txt, urls))
    if graph.config.search:
        yield from search_listings(graph, urls)


def _write_data_file(data: DataFile, sink: OutputWriter | NullSink, feed_key: str,
                     recorded: dict[str, PageRecord], records: RenderedPages) -> None:
    """Keep ``data`` as the last build left it if it was made from the same inputs (the
    same ``feed_key`` and what :class:`DataFile` says), else make and write it. Making
    every feed and listing of 10,000 checks took 0.2 s of a one-file rebuild."""
    file = output_file(data.path)
    key = _data_key(data, feed_key)
    record = _same_key(file, key, recorded)
    if record is not None and sink.can_keep(file, record.stat):
        sink.keep(file)
    else:
        sink.write(file, data.make())
    if key is not None:
        records.pages[file] = PageRecord(key)


def _data_key(data: DataFile, feed_key: str) -> str | None:
    """What a data file is made from, hashed: ``feed_key`` (factsite's code, the settings
    and companies), its path, facts and entries (each by what it was made from); ``None``
    for a file made on every build."""
    if not feed_key or data.entries is None:
        return None
    digest = hashlib.blake2b(f"data\0{feed_key}\0{data.path}\0{data.facts!r}".encode(),
                             digest_size=16)
    for entry in data.entries:
        if not entry.fingerprint:  # not made from a file this build hashed
            return None
        digest.update(b"\0" + entry.fingerprint.encode())
    return digest.hexdigest()


def _claimreview_items(specs: list[PageSpec], cache: MemoryCache | DiskCache | None,
                       feed_key: str) -> Iterator[bytes]:
    """The data feed's items: the ClaimReview each check page embeds, one JSON line each.

    A line depends on its entry and on ``feed_key`` (settings, companies, factsite's
    code) only, so the last build's line for the same entry fingerprint is reused. The
    lines are made, cached and written one by one, never all held at once.
    """
    slot = "claimreview-items"
    keep = cache is not None and feed_key
    known = (read_mapping(cache, slot, feed_key) if keep else None) or {}
    made = MappingWriter(cache, slot, feed_key) if keep else None
    for spec in specs:
        make = spec.derived.get("claim_review")
        if make is None:
            continue
        fingerprint = spec.context["entry"].fingerprint
        line = known.get(fingerprint) if fingerprint else None
        if line is None:
            line = feed_item(make(spec.context))
        if fingerprint and made is not None:
            made.add(fingerprint, line)
        yield line
    if made is not None:
        made.close()


def base_context(
    graph: SiteGraph, urls: Urls, theme: Theme, static_files: list[StaticFile],
    cards: dict[tuple[str, str], Any],
    bodies: BodyFile | None = None,
) -> dict[str, Any]:
    """What every template sees: settings, the graph and the URL helpers; ``card()``
    keeps the check cards it renders in ``cards`` (packed, or in ``bodies``)."""
    static_names = {f.relpath for f in static_files}

    def asset(name: str) -> str:
        if name not in theme.assets:
            raise LookupError(f"asset '{name}' not found in templates/assets/")
        return urls.href(urls.asset(theme.assets[name].published))

    context: dict[str, Any] = {
        "site": graph.config,
        "graph": graph,
        "url": Hrefs(urls),
        "path": urls,
        "href": urls.href,
        "absolute": urls.absolute,
        "asset": asset,
        "has_static": lambda relpath: relpath.lstrip("/") in static_names,
        "footer_pages": [
            p for slug in ("about", "methodology", "corrections-policy") if (p := graph.page(slug))
        ],
    }
    # A check's card looks the same on every listing that shows it (home, company, verdict,
    # tag pages, related checks): render it once per build, not once per listing. Kept in
    # UTF-8 with the bodies when they are in a file: they are the most that rendering
    # holds (about 1.6 kB a check). Not compressed like the bodies: a card is read back
    # four to eight times, and compressing and unpacking them took a second of a first
    # build at 10,000 checks, more than reading them.
    ui: list[Any] = []

    def card(entry: Entry, heading: str = "h2") -> Any:
        key = (entry.slug, heading)
        kept = cards.get(key)
        if kept is None:
            if not ui:
                ui.append(theme.macros(CARD_TEMPLATE, context))
            html = ui[0].check_card(entry, heading)
            data = str(html).encode("utf-8", "surrogatepass")
            cards[key] = bodies.add(data) if bodies is not None else data
            return html
        data = kept if isinstance(kept, bytes) else kept.read()
        return Markup(data.decode("utf-8", "surrogatepass"))

    context["card"] = card
    return context


@dataclass
class RenderedPages:
    """What rendering the plan left: a record of every keyed page (and, once they are
    made, of every keyed feed and listing), for the next build."""

    pages: dict[str, PageRecord] = field(default_factory=dict)  # by output file
    rendered: int = 0
    # Page template → (seconds, pages) spent rendering it, for --profile.
    templates: dict[str, tuple[float, int]] = field(default_factory=dict)
    # ClaimReview warning rule the site ignores → how many of its findings were not shown.
    ignored: dict[str, int] = field(default_factory=dict)

    def timed(self, template: str, seconds: float) -> None:
        spent, pages = self.templates.get(template, (0.0, 0))
        self.templates[template] = (spent + seconds, pages + 1)

    def finished(self, outputs: dict[str, list[int]],
                 index: ShardedIndex | None) -> dict[str, PageRecord]:
        """The records, after the commit: one more for each search bundle file (keyed by
        its bundle), each with its file's identity in ``outputs``
        (:func:`stamp.record_outputs`) and, for an indexed page, the digest its search
        shard was keyed by."""
        if index is not None:
            self.pages.update((file, PageRecord(bundle))
                              for file, bundle in index.bundle_files.items())
        digests = index.digests if index is not None else {}
        for relpath, record in self.pages.items():
            identity = outputs.get(relpath)
            record.stat = (identity[0], identity[1], identity[2]) if identity else None
            record.digest = digests.get(relpath, "")
        return self.pages


def _page_keys(specs: list[PageSpec], graph: SiteGraph, theme: Theme, urls: Urls,
               static_files: list[StaticFile], cache: MemoryCache | DiskCache,
               ) -> tuple[dict[str, str | None], list[str], str]:
    """Output file → page key of every page, a note when the templates rule keys out,
    and the key the ClaimReview data feed's lines are kept under (see :mod:`pagekeys`)."""
    reads: set[str] = _of_templates(theme, cache, "graph-reads", theme.graph_reads)
    names = sorted({spec.template for spec in specs})
    templates: dict[str, str] = _of_templates(theme, cache, "template-keys",
                                              partial(theme.template_keys, names), *names)
    companies = sorted(graph.companies.values(), key=lambda c: c.slug)
    by_name = bool(reads & GRAPH_READS_OF_COMPANIES)  # then every page may show any company
    keys = PageKeys([
        code_version(), graph.config, urls.origin, urls.prefix,
        companies if by_name else None, graph.pages,
        sorted((a.name, a.published) for a in theme.assets.values()),
        sorted(f.relpath for f in static_files),
    ], None if by_name else graph.companies_shown)
    # A data feed line shows its entry, the settings and the companies it links.
    feed_key = keys.value_key([keys.site_key.hex(), companies])
    uncovered = reads - GRAPH_READS_COVERED
    if uncovered:
        names = ", ".join("graph" if n == "*" else f"graph.{n}" for n in sorted(uncovered))
        return {}, [f"templates use {names}: every page is rendered on every build"], feed_key
    # The keys wait in one buffer, not as strings, until the memo is gone: strings made
    # while it grows would sit among its objects and keep its memory from going back to
    # the system once it is freed. Hashing the pages of 100,000 checks left the build
    # 83 MB larger; now (with the trim after it) 6 MB, about what the keys take.
    unkeyed = bytes(16)  # a page whose context cannot be hashed
    raw = bytearray()
    for spec in specs:
        raw += keys.key(spec.path, templates[spec.template], spec.context) or unkeyed
    del keys
    page_keys: dict[str, str | None] = {}
    for at, spec in enumerate(specs):
        key = raw[16 * at:16 * at + 16]
        page_keys[spec.file] = key.hex() if key != unkeyed else None
    return page_keys, [], feed_key


def _of_templates(theme: Theme, cache: MemoryCache | DiskCache, kind: str,
                  find: Callable[[], Any], *names: str) -> Any:
    """What ``find`` finds in the templates (``Theme.graph_reads``, or the
    ``template_keys`` of the page templates ``names``), kept in the cache under the
    templates' hash: finding it parses every template (40 ms, an eighth of what hashing
    13,000 pages takes)."""
    key = content_key(kind, "\0".join([theme.fingerprint, *names]).encode())  # and the code
    found = cache.get(key)
    if found is None:
        found = find()
        cache.put(key, found)
    return found


def _render_pages(
    specs: list[PageSpec],
    graph: SiteGraph,
    urls: Urls,
    theme: Theme,
    static_files: list[StaticFile],
    sink: OutputWriter | NullSink,
    report: Report,
    progress: Callable[[int, int], None] | None = None,
    links: LinkChecker | None = None,
    cache: MemoryCache | DiskCache | None = None,
    keys: dict[str, str | None] | None = None,
    recorded: dict[str, PageRecord] | None = None,
    bodies: BodyFile | None = None,
    jobs: int = 1,
    services: Sequence[SearchIndex] = (),
    preview: bool = False,
) -> RenderedPages:
    """Render every page of the plan into ``sink``, except those whose key is unchanged
    and whose output file the sink can keep as the last build ``recorded`` it. The check
    cards wait in ``bodies`` if given (see :func:`base_context`). A rebuild with many
    pages to render renders them on ``jobs`` forked processes (see :func:`_renders`),
    which let go of the pipes to the Pagefind ``services``."""
    keys = keys or {}
    recorded = recorded or {}
    result = RenderedPages(ignored=dict.fromkeys(graph.config.ignore_warnings, 0))
    cards: dict[tuple[str, str], Any] = {}
    common = base_context(graph, urls, theme, static_files, cards, bodies)
    # The pages whose key changed render whatever the output folder holds: known at
    # once, so that many of them can render ahead, on forks. The others are kept if
    # their output file is as the last build left it, which is looked up as they come:
    # the first pages are those of the search shards that changed, and Pagefind starts
    # on them without waiting for 24,000 files to be looked up (0.2 s).
    # An output folder this build makes (output/ deleted, or a CI run with the cache of an
    # earlier one) keeps nothing: every page is one to render.
    same: list[PageRecord | None] = []
    for spec in specs:
        record = None if sink.fresh else _same_key(spec.file, keys.get(spec.file), recorded)
        # Under --strict, a record without the link checker's notes of the page is no use.
        same.append(None if links is not None and record is not None and record.links is None
                    else record)
    changed = [spec for spec, record in zip(specs, same, strict=True) if record is None]
    # A first build's other core indexes as the pages come: it renders them here. Not a
    # preview's first build from a cache that holds every shard's bundle (serve started
    # after factsite build): its few shards to index can wait for the pages.
    first_indexed = (not recorded and isinstance(sink, ShardedIndex)
                     and not (preview and sink.bundles_cached()))
    forked = (_renders(changed, common, theme, urls, jobs,
                       lambda: base_context(graph, urls, theme, static_files, {}), services)
              if jobs > 1 and not first_indexed and len(changed) >= PARALLEL_RENDER_MIN
              else None)
    if preview and forked is not None and isinstance(sink, ShardedIndex):
        sink.defer = True  # no core is free for Pagefind until the pages are published
    seen: set[tuple[str, int | None, str]] = set()
    # The ClaimReview findings of each check page, reported once all have rendered (see
    # _report_all_findings), not in the render order: that puts the changed search
    # shards first, so a rebuild would list them otherwise than a build from nothing.
    findings_of: list[tuple[Entry, Sequence[Finding]]] = []
    try:
        for done, (spec, record) in enumerate(zip(specs, same, strict=True)):
            if progress is not None:
                progress(done, len(specs))
            file = spec.file
            entry = spec.context.get("entry")
            if record is not None and sink.can_keep(file, record.stat):
                sink.keep(file)
                if entry is not None:
                    findings_of.append((entry, record.findings))
                if links is not None:
                    links.add_record(record.links)
                result.pages[file] = record
                continue
            result.rendered += 1
            html, seconds = (next(forked) if forked is not None and record is None
                             else _render_here(spec, common, theme, urls))
            if isinstance(html, TemplateFailed):
                failure = (html.path, html.line, html.message)
                if failure not in seen:  # a broken layout fails every page: say it once
                    seen.add(failure)
                    report.error(
                        html.path,
                        html.line,
                        f"template error: {html.message} (while rendering {spec.path})",
                        source_line=html.source_line,
                    )
                continue
            result.timed(spec.template, seconds)
            findings: Sequence[Finding] = ()
            if entry is not None and not report.has_errors:  # errors would cascade
                findings = _validate_claim_review(html, urls.absolute(spec.path), cache)
                findings_of.append((entry, findings))
            if links is not None:
                links.add_page(spec.path, html, spec.source)
            key = keys.get(file)
            if key is not None:
                result.pages[file] = PageRecord(
                    key, findings=findings, links=links.page_record(spec.path) if links else None)
            sink.write(file, html.encode("utf-8"))
            if result.rendered % TRIM_EVERY == 0:
                _release_freed_memory()
    finally:
        if forked is not None:
            forked.close()  # its children are reaped: done, or stopped by an error
    if not report.has_errors:  # errors from the content or the templates would cascade
        _report_all_findings(findings_of, report, result.ignored)
    # Freed now (see base_context), for the data feed and the commit to reuse: the
    # macros and the context refer to each other, so they would wait for the collector.
    cards.clear()
    if progress is not None:
        progress(len(specs), len(specs))
    return result


# A build that renders at least this many pages renders them on forked processes (a
# template, stylesheet or settings edit: every page; a build with the cache of an earlier
# one into a new output folder, as in CI; a check, which makes no search index: at
# 10,000 checks, 14.6-16.2 s became 11.5-12.4 s). Not a first build that indexes: it is
# busy on both cores already (Markdown, then Pagefind), and its forks would count its
# memory again in every process's size. Nor a preview's first build from nothing:
# deferring its whole index until the pages are out (ShardedIndex.defer) made a
# 10,000-check site 4 s slower (36 s against 32 s, one run each). From a cache that holds
# the bundles, it does (see _render_pages).
PARALLEL_RENDER_MIN = 1000


Rendered = tuple[str | TemplateFailed, float]  # a page's HTML (or its error), and seconds


def _render_here(spec: PageSpec, common: dict[str, Any], theme: Theme,
                 urls: Urls) -> Rendered:
    """One page rendered in this process with the seconds it took: its HTML, or the
    template error it met."""
    began = time.perf_counter()  # the derived values (the ClaimReview) count too
    context = {**common, **spec.full_context(), "page_path": spec.path,
               "canonical": urls.absolute(spec.path)}
    try:
        return theme.render(spec.template, context), time.perf_counter() - began
    except TemplateFailed as exc:
        return exc, 0.0


def _renders(specs: list[PageSpec], common: dict[str, Any], theme: Theme, urls: Urls,
             jobs: int, fork_context: Callable[[], dict[str, Any]],
             services: Sequence[SearchIndex] = (),
             ) -> ForkedMap[Rendered] | Generator[Rendered, None, None]:
    """:func:`_render_here` for each page of ``specs``, in order, on ``jobs`` forked
    processes, each with a base context of its own (``fork_context``: the check cards it
    renders must not go to this build's ``bodies`` file), no compiled templates written
    and no hold on the pipes to the Pagefind ``services`` (see
    :meth:`~generator.search.SearchIndex.disown`); in this process where it cannot fork.
    Close the result when done."""
    forked: dict[str, Any] = {}

    def start() -> None:
        forked.update(fork_context())
        theme.env.bytecode_cache = None  # the parent writes them: no two writers
        for service in services:
            service.disown()

    if hasattr(os, "fork"):  # POSIX
        with contextlib.suppress(OSError):  # a process limit: render here
            return ForkedMap(lambda spec: _render_here(spec, forked, theme, urls), specs,
                             jobs, start=start)
    return (_render_here(spec, common, theme, urls) for spec in specs)


def _check_links(links: LinkChecker, produced: set[str], site_dir: Path,
                 report: Report) -> None:
    """Report every internal link, anchor or asset reference that points nowhere."""
    for relpath in sorted(produced):  # feeds, assets, static files (pages are known)
        links.add_file("/" + relpath)
    for broken in links.broken():
        source = broken.source or f"output{broken.page}"
        line = locate(site_dir / broken.source, broken.target) if broken.source else None
        report.error(source, line, f"broken link to '{broken.target}' on {broken.page}: "
                     f"{broken.reason}")


def _validate_claim_review(html: str, page_url: str,
                           cache: MemoryCache | DiskCache | None) -> list[Finding]:
    """Check the ClaimReview the check page really carries, template overrides and all.

    The findings depend only on the page's comments and scripts and its address, so they
    are cached by those: a page rendered again for its related checks or a new stylesheet
    name is not validated again (nor its 13 kB hashed).
    """
    scripts = script_chunks(html)
    key = content_key("claimreview", scripts.encode(), page_url.encode())
    findings = cache.get(key) if cache is not None else None
    if findings is None:
        findings = validate_scripts(scripts, page_url)
        if cache is not None:
            cache.put(key, findings)
    return findings


def _report_all_findings(found: list[tuple[Entry, Sequence[Finding]]], report: Report,
                         ignored: dict[str, int]) -> None:
    """Report the check pages' ClaimReview findings by source file, as the loader
    reports its problems, each at the front matter line it concerns, up to the first
    page whose findings hold an error: a template that writes broken JSON-LD gives every
    check page the same errors. Those of the rules in ``ignored`` (``ignore_warnings``
    in site.yaml) are counted instead."""
    for entry, findings in sorted(found, key=lambda item: item[0].source_path):
        for finding in findings:
            if finding.rule in ignored:
                ignored[finding.rule] += 1
                continue
            line = entry.line_of(finding.field) or 1  # a page-level problem: the file itself
            report.add(entry.source_path, line, finding.message, severity=finding.severity)
        if any(finding.severity is Severity.ERROR for finding in findings):
            break
