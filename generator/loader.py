"""Loading a site folder into the validated content model.

Reads ``content/`` (entries, companies, pages, static files) and returns a
:class:`~generator.model.Content`. Every problem is recorded in the report with its file
and line; loading goes on past errors so that one run lists all of them. Loading knows
nothing about templates or output.
"""

from __future__ import annotations

import dataclasses
import html
import os
import re
import urllib.parse
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .cache import DiskCache, MemoryCache, NoCache, content_key, file_digest
from .config import load_config, verdict_key
from .diagnostics import Diagnostic, Report, Severity, did_you_mean
from .fields import Fields
from .frontmatter import Document, SourceError, decode, parse_markdown_file
from .markdown import (
    BATCH,
    PARALLEL_MIN,
    MarkdownRenderer,
    Rendered,
    Workers,
)
from .model import (
    ENTRY_KEYS,
    Company,
    Content,
    Correction,
    Entry,
    Page,
    SiteConfig,
    Source,
    StaticFile,
    pack_html,
)

COMPANY_KEYS = ("name", "aliases", "website", "wikidata", "industry")
PAGE_KEYS = ("title", "menu", "description")
SOURCE_KEYS = ("title", "url", "archive_url")
CORRECTION_KEYS = ("date", "type", "note")
CORRECTION_TYPES = ("correction", "update", "clarification")

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}-")
_WIKIDATA = re.compile(r"^Q[1-9][0-9]*$")

# Free pages are served at /<slug>/ beside the generated sections; these names are taken.
RESERVED_SLUGS = frozenset({
    "checks", "companies", "verdicts", "tags", "page", "search", "pagefind", "ratings",
    "corrections", "assets", "feed.xml", "sitemap.xml", "robots.txt", "404", "claimreview.json",
})  # fmt: skip


def slugify(text: str) -> str:
    """A plain ``[a-z0-9-]`` slug suggestion for a title or file name."""
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "untitled"


@dataclass(frozen=True)
class Body:
    """The Markdown body of a content file: what rendering it and warning about it need."""

    path: Path
    text: str
    line: int  # the file line the body starts on

    @classmethod
    def of(cls, doc: Document) -> Body:
        return cls(doc.path, doc.body, doc.body_line)


@dataclass
class _Loader:
    site_dir: Path
    config: SiteConfig
    report: Report
    renderer: MarkdownRenderer
    cache: MemoryCache | DiskCache | NoCache
    jobs: int = 1  # processes for rendering Markdown
    company_keys: dict[str, str] = field(default_factory=dict)  # lower-cased key → slug
    spellings: dict[str, str] = field(default_factory=dict)  # lower-cased key → as authored
    # Content file path → file_digest of its bytes, where known without reading it (the
    # build stamp's record of files unchanged since it looked).
    digests: dict[str, str] = field(default_factory=dict)
    _entry_settings: bytes = b""  # see _entry_key
    _shown: dict[Path, str] = field(default_factory=dict)  # see shown()

    def __post_init__(self) -> None:
        self.content_dir = self.site_dir / "content"
        self.tz = zoneinfo.ZoneInfo(self.config.timezone)
        self.site_root = self.site_dir.resolve()

    # -- files ---------------------------------------------------------------------------

    def shown(self, path: Path) -> str:
        """``path`` as messages show it (``Report.display_path``), worked out once per
        file while loading: each entry's is needed two or three times."""
        shown = self._shown.get(path)
        if shown is None:
            shown = self._shown[path] = self.report.display_path(path)
        return shown

    def markdown_files(self, folder: str) -> list[Path]:
        """The ``.md`` files under ``content/<folder>/``, recursively, in a stable order:
        each folder's files by name, then its subfolders by name (as ``os.walk`` gives
        them). A link to a folder is not followed; a linked file is kept if it resolves
        inside the site.

        ``os.scandir``, not ``os.walk`` and ``os.path.islink``: a directory entry already
        says whether it is a link, and this looks at every check on every build (the
        ``lstat`` per file was 0.1 s of a one-file rebuild of 10,000 checks).
        """
        found: list[Path] = []
        pending = [self.content_dir / folder]
        while pending:
            here = pending.pop()
            try:
                with os.scandir(here) as scan:
                    items = sorted(scan, key=lambda item: item.name)
            except OSError:
                continue  # as os.walk: a folder that cannot be listed holds nothing
            folders: list[Path] = []
            here_inside: bool | None = None  # resolved once per folder, not per file
            for item in items:
                if item.name.startswith("."):
                    continue
                if item.is_dir():
                    if not item.is_symlink():
                        folders.append(here / item.name)
                elif item.name.endswith(".md"):
                    path = here / item.name
                    link = item.is_symlink()
                    if link:
                        inside = self.inside_site(path)
                    else:
                        if here_inside is None:
                            here_inside = self.inside_site(here, report=False)
                        inside = here_inside or self.inside_site(path)
                    if inside:
                        found.append(path)
                        # Shown in messages and part of its cache key: worked out now,
                        # while it is known whether the file is a link.
                        self._shown[path] = self.report.display_path(path, link=link)
            pending += reversed(folders)  # the first is listed next
        return found

    def inside_site(self, path: Path, report: bool = True) -> bool:
        """Refuse (with an error) a file or link that resolves outside the site folder."""
        if path.resolve().is_relative_to(self.site_root):
            return True
        if not report:
            return False
        self.report.error(
            path,
            None,
            "symbolic link points outside the site folder; refused",
            hint="copy the file into the site instead of linking to it",
        )
        return False

    def read_bytes(self, path: Path) -> bytes | None:
        """The bytes of a content file; ``None``, with an error reported, if unreadable."""
        try:
            return path.read_bytes()
        except OSError as exc:
            self.report.error(path, None, f"cannot read file: {exc.strerror}")
            return None

    def read(self, path: Path, raw: bytes | None = None, cached: bool = True) -> Document | None:
        """Parse one Markdown file (whose bytes may be given as ``raw``); parsed documents
        are cached by content hash (unless ``cached`` is false)."""
        if raw is None:
            raw = self.read_bytes(path)
            if raw is None:
                return None
        key = content_key("doc", raw)
        cached_doc = self.cache.get(key) if cached else None
        if cached_doc is not None:  # kept without its text: that is the bytes just read
            return dataclasses.replace(cached_doc, path=path, text=decode(raw))
        try:
            doc = parse_markdown_file(decode(raw), path)
        except SourceError as exc:
            text = raw.decode("utf-8", "replace")
            lines = text.splitlines()
            source = lines[exc.line - 1] if exc.line and 0 < exc.line <= len(lines) else None
            self.report.error(path, exc.line, exc.message, hint=exc.hint, source_line=source)
            return None
        if cached:
            self.cache.put(key, dataclasses.replace(doc, text=""))
        return doc

    @property
    def _whole_entries_only(self) -> bool:
        """Whether entries skip the caches of their steps (parsed front matter, rendered
        Markdown) and are cached whole only.

        Those steps are looked up only when an entry's key changed while its file did not
        (companies or settings were edited). A cache that forgets what a build did not
        use (the disk cache) has dropped them by then, after any build that took the
        entries whole; writing them would only slow the cold build down (about 2 s of
        pickling and compressing on 10,000 entries). A ``MemoryCache`` passed to the build
        keeps them: there, editing a company file does not parse and render every entry
        again. (``factsite serve`` no longer keeps one: adding or renaming a company
        renders every body again there too.)
        """
        return self.cache.forgets_unused

    def _markdown_key(self, body: Body) -> str:
        # (the parser's version is in every key: cache.code_version)
        return content_key("md", body.text.encode(), str(self.config.allow_html).encode())

    def render_body(self, doc: Document) -> str:
        body = Body.of(doc)
        key = self._markdown_key(body)
        rendered = self.cache.get(key)
        if rendered is None:
            rendered = self.renderer.render(body.text)
            self.cache.put(key, rendered)
        return self._accept(body, rendered)

    def render_bodies(self, pending: list[tuple[Entry, Body]],
                      workers: Workers | None = None) -> Callable[[], None]:
        """Start rendering many bodies: cache misses go to the worker processes together,
        if there are enough of them to be worth starting the workers (``PARALLEL_MIN``)
        or the workers run already.

        Returns at once; calling the result waits for the workers, then sets each entry's
        ``body`` (and warns about the links each body dropped).
        """
        cached = not self._whole_entries_only
        keys = [self._markdown_key(body) for _, body in pending] if cached else []
        results = [self.cache.get(key) for key in keys] if cached else [None] * len(pending)
        misses = [i for i, rendered in enumerate(results) if rendered is None]
        texts = [pending[i][1].text for i in misses]
        if workers is not None and texts and (workers.started or len(texts) >= PARALLEL_MIN):
            waiting = workers.start(texts, self.config.allow_html)
        else:
            done = [self.renderer.render(text) for text in texts]
            waiting = lambda: done  # noqa: E731

        def finish() -> None:
            for i, rendered in zip(misses, waiting(), strict=True):
                results[i] = rendered
                if cached:
                    self.cache.put(keys[i], rendered)
            for (entry, body), rendered in zip(pending, results, strict=True):
                entry.body = pack_html(self._accept(body, rendered))

        return finish

    def _accept(self, body: Body, rendered: Rendered) -> str:
        """The HTML of a rendered body, after warning about each link it dropped."""
        for url in dict.fromkeys(rendered.dropped_links):  # an image's link is checked twice
            offset = _line_in(body.text, url)
            lines = body.text.splitlines()
            self.report.warning(
                body.path,
                body.line + offset,
                f"link to '{url}' dropped: only http, https, mailto and relative links are allowed",
                source_line=lines[offset] if offset < len(lines) else None,
            )
        return rendered.html

    # -- companies -----------------------------------------------------------------------

    def companies(self) -> list[Company]:
        companies: list[Company] = []
        owner_of: dict[str, Company] = {}
        for path in self.markdown_files("companies"):
            doc = self.read(path)
            if doc is None:
                continue
            fields = Fields(doc, self.report, COMPANY_KEYS)
            fields.check_keys("company")
            slug = path.stem
            if not SLUG.match(slug):
                fields.problem(
                    (),
                    f"company file name '{path.name}' is not a plain slug",
                    hint=f"rename it to '{slugify(slug)}.md' (lowercase a-z, 0-9, '-')",
                )
            name = fields.text("name", required=True)
            aliases = fields.text_list("aliases")
            website = fields.url("website")
            wikidata = fields.text("wikidata")
            if wikidata and not _WIKIDATA.match(wikidata):
                fields.problem(
                    ("wikidata",), f"'wikidata' must be an item id like Q747014, not '{wikidata}'"
                )
                wikidata = None
            if not fields.ok or name is None:
                continue
            company = Company(
                slug=slug,
                name=name,
                source_path=self.shown(path),
                aliases=aliases,
                website=website,
                wikidata=wikidata,
                industry=fields.text("industry"),
                body_html=self.render_body(doc),
            )
            for index, key in enumerate([slug, name, *aliases]):
                lowered = key.lower()
                other = owner_of.get(lowered)
                if other is not None and other is not company:
                    where = ("aliases", index - 2) if index >= 2 else ("name",)
                    fields.problem(
                        where,
                        f"'{key}' already names company '{other.name}' ({other.source_path})",
                        hint="each slug, name and alias must belong to one company",
                    )
                owner_of.setdefault(lowered, company)
            companies.append(company)
        self.company_keys = {key: company.slug for key, company in owner_of.items()}
        for company in companies:  # suggest the name for a near-miss of a slug or name
            for key, shown in [(company.slug, company.name), (company.name, company.name),
                               *((alias, alias) for alias in company.aliases)]:
                self.spellings.setdefault(key.lower(), shown)
        return companies

    # -- entries -------------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        entries: list[Entry] = []
        fresh: list[Entry] = []  # made from their files in this run (not from the cache)
        slug_owner: dict[str, str] = {}
        files = self.markdown_files("entries")
        start = len(self.report.items)
        # Their processes start with the first window that has enough Markdown to render
        # (see markdown.Workers): a rebuild after a few edits renders them here.
        workers = Workers(self.jobs) if self.jobs > 1 else None
        try:
            # Files are read a window at a time, and each window's bodies render on the
            # workers while this process reads the next: only two windows' Markdown is
            # held at once, not that of the whole site.
            # A window is a batch for each worker, so all of them render at once.
            window = BATCH * max(1, self.jobs)
            finish: Callable[[], None] = lambda: None  # noqa: E731
            for first in range(0, len(files), window):
                pending: list[tuple[Entry, Body]] = []
                self._read_entries(files[first : first + window], entries, pending, slug_owner)
                started = self.render_bodies(pending, workers)
                finish()
                finish = started
                fresh += [entry for entry, _ in pending]
            finish()
        finally:
            if workers is not None:
                workers.close()
        self._by_file(files, start)
        self._keep_entries(fresh, start)
        return entries

    def _entry_key(self, digest: str, path: Path) -> str:
        """The cache key of the entry (and its diagnostics) made from the file whose bytes
        hash to ``digest`` (:func:`~generator.cache.file_digest`): those bytes, where the
        file is shown, and every setting entries are checked against (verdicts, time
        zone, companies, raw HTML)."""
        if not self._entry_settings:  # hashed once: the companies alone can be large
            self._entry_settings = content_key("entry-settings", repr((
                self.config, sorted(self.company_keys.items()), sorted(self.spellings.items()),
            )).encode()).encode()
        return content_key("entry", digest.encode(), self.shown(path).encode(),
                           self._entry_settings)

    def _by_file(self, files: list[Path], start: int) -> None:
        """Order the diagnostics reported since ``start`` by file, each file's in the order
        they were found, so a build from the cache reports exactly as one without."""
        order = {self.shown(path): n for n, path in enumerate(files)}
        found = self.report.items[start:]
        found.sort(key=lambda d: order.get(d.path, len(order)))  # stable
        self.report.items[start:] = found

    def _keep_entries(self, fresh: list[Entry], start: int) -> None:
        """Cache each newly made entry with its diagnostics, unless it has errors."""
        diagnostics: dict[str, list[Diagnostic]] = {}
        for item in self.report.items[start:]:
            diagnostics.setdefault(item.path, []).append(item)
        for entry in fresh:
            own = diagnostics.get(entry.source_path, [])
            if not any(d.severity is Severity.ERROR for d in own):
                self.cache.put(entry.fingerprint, (entry, own))

    def _read_entries(self, files: list[Path], entries: list[Entry],
                      pending: list[tuple[Entry, Body]], slug_owner: dict[str, str]) -> None:
        # A file the build stamp knows unchanged is not even read if its entry is cached:
        # those entries are asked for together.
        known = {path: self._entry_key(digest, path) for path in files
                 if (digest := self.digests.get(str(path))) is not None}
        found = self.cache.get_many(known.values())
        for path in files:
            raw = None
            key = known.get(path)
            if key is None:
                raw = self.read_bytes(path)
                if raw is None:
                    continue
                key = self._entry_key(file_digest(raw), path)
                cached = self.cache.get(key)
            else:
                cached = found.get(key)
            if cached is not None and cached[0].slug not in slug_owner:
                entry, diagnostics = cached  # as it was made from these bytes before
                self.report.extend(diagnostics)
                slug_owner[entry.slug] = entry.source_path
                entries.append(entry)
                continue
            if raw is None:
                raw = self.read_bytes(path)
                if raw is None:
                    continue
                key = self._entry_key(file_digest(raw), path)  # the bytes now read
            doc = self.read(path, raw, cached=not self._whole_entries_only)
            if doc is None:
                continue
            entry = self.entry(doc)
            if entry is None:
                continue
            entry.fingerprint = key  # its cache key: what it was made from
            if entry.slug in slug_owner:
                line = doc.line_of("slug")
                self.report.error(
                    path,
                    line,
                    f"duplicate slug '{entry.slug}': {slug_owner[entry.slug]} has the same slug",
                    hint="give one of them a different 'slug:' or file name",
                    source_line=doc.source_line(line),
                )
                continue
            slug_owner[entry.slug] = entry.source_path
            entries.append(entry)
            pending.append((entry, Body.of(doc)))

    def entry(self, doc: Document) -> Entry | None:
        fields = Fields(doc, self.report, ENTRY_KEYS)
        fields.check_keys("entry")
        slug = fields.text("slug") or _DATE_PREFIX.sub("", doc.path.stem)
        if not SLUG.match(slug):
            where = ("slug",) if "slug" in doc.data else ()
            fields.problem(
                where,
                f"slug '{slug}' is not a plain slug (lowercase a-z, 0-9, '-')",
                hint=f"use '{slugify(slug)}'",
            )
        title = fields.text("title", required=True)
        claim = fields.text("claim", required=True)
        verdict = self.verdict(fields)
        published = fields.when("published", self.tz, required=True)
        entry = Entry(
            slug=slug,
            source_path=self.shown(doc.path),
            title=title or "",
            claim=claim or "",
            verdict=verdict or "",
            published=published,  # type: ignore[arg-type]  # checked through fields.ok
            claim_quote=fields.text("claim_quote"),
            claimant=fields.text("claimant"),
            claim_date=fields.when("claim_date", self.tz),
            claim_urls=[
                u
                for keys, item in fields.text_items("claim_urls")
                if (u := fields.url_value(item, keys))
            ],
            verdict_explanation=fields.text("verdict_explanation"),
            companies=self.resolve_companies(fields),
            updated=fields.when("updated", self.tz),
            author=fields.text("author"),
            tags=_unique(fields.text_list("tags")),
            summary=fields.text("summary"),
            sources=self.sources(fields),
            corrections=self.corrections(fields),
            draft=fields.boolean("draft", False),
            field_lines="".join(chr(doc.lines.get((key,), 0)) for key in ENTRY_KEYS),
        )
        if entry.updated and published and entry.updated < published:
            fields.problem(
                ("updated",), "'updated' is earlier than 'published'", severity=Severity.WARNING
            )
        if not fields.ok:
            return None
        return entry

    def verdict(self, fields: Fields) -> str | None:
        value = fields.data.get("verdict")
        if value is None or (isinstance(value, str) and not value.strip()):
            fields.missing("verdict")
            return None
        verdict_id = verdict_key(value)
        ids = [v.id for v in self.config.verdicts]
        if verdict_id in ids:
            return verdict_id
        by_label = {v.label.lower(): v.id for v in self.config.verdicts}
        guess = by_label.get(verdict_id.lower()) or did_you_mean(verdict_id, ids)
        if guess is None:
            label_guess = did_you_mean(verdict_id, by_label)
            guess = by_label[label_guess.lower()] if label_guess else None
        hint = f"did you mean '{guess}'?" if guess else None
        fields.problem(
            ("verdict",), f"unknown verdict '{verdict_id}' (known: {', '.join(ids)})", hint=hint
        )
        return None

    def resolve_companies(self, fields: Fields) -> list[str]:
        slugs: list[str] = []
        for keys, name in fields.text_items("companies"):
            slug = self.company_keys.get(name.lower())
            if slug is not None:
                if slug not in slugs:
                    slugs.append(slug)
                continue
            guess = did_you_mean(name, self.company_keys)
            hint = f"did you mean '{self.spellings[guess]}'? " if guess else ""
            hint += f'To add it, run: factsite new company "{name}"'
            fields.problem(keys, f"unknown company '{name}'", hint=hint)
        return slugs

    def sources(self, fields: Fields) -> list[Source]:
        value = fields.data.get("sources")
        if value is None:
            return []
        if not isinstance(value, list):
            value = [value]
        sources: list[Source] = []
        for index, item in enumerate(value):
            keys = ("sources", index)
            if isinstance(item, dict):
                fields.check_nested_keys(keys, item, SOURCE_KEYS, "source")
                if item.get("url") is None:
                    fields.problem(keys, "source is missing its 'url'")
                    continue
                url = fields.url_value(item["url"], (*keys, "url"))
                archive = item.get("archive_url")
                archive = fields.url_value(archive, (*keys, "archive_url")) if archive else None
                title = fields.text_value(item.get("title"), (*keys, "title"))
                if url:
                    sources.append(Source(url=url, title=title, archive_url=archive))
            else:
                url = fields.url_value(item, keys)
                if url:
                    sources.append(Source(url=url))
        return sources

    def corrections(self, fields: Fields) -> list[Correction]:
        value = fields.data.get("corrections")
        if value is None:
            return []
        if not isinstance(value, list):
            fields.problem(
                ("corrections",), "'corrections' must be a list of {date: …, type: …, note: …}"
            )
            return []
        corrections: list[Correction] = []
        for index, item in enumerate(value):
            keys = ("corrections", index)
            if not isinstance(item, dict):
                fields.problem(
                    keys,
                    "each correction must be a mapping like "
                    "{date: 2020-12-16, type: update, note: …}",
                )
                continue
            fields.check_nested_keys(keys, item, CORRECTION_KEYS, "correction")
            kind = fields.text_value(item.get("type"), (*keys, "type")) or "correction"
            if kind not in CORRECTION_TYPES:
                guess = did_you_mean(kind, CORRECTION_TYPES)
                fields.problem(
                    (*keys, "type"),
                    f"unknown correction type '{kind}' (known: {', '.join(CORRECTION_TYPES)})",
                    hint=f"did you mean '{guess}'?" if guess else None,
                )
                continue
            if item.get("date") is None:
                fields.problem(keys, "correction is missing its 'date'")
                continue
            date = fields.when_value(item["date"], (*keys, "date"), self.tz)
            note = fields.text_value(item.get("note"), (*keys, "note"))
            if note is None:
                fields.problem(keys, "correction is missing its 'note'")
                continue
            if date:
                corrections.append(Correction(date=date, note=note, type=kind))
        return sorted(corrections, key=lambda c: c.date)

    # -- pages and static files ------------------------------------------------------------

    def pages(self) -> list[Page]:
        pages: list[Page] = []
        for path in self.markdown_files("pages"):
            doc = self.read(path)
            if doc is None:
                continue
            fields = Fields(doc, self.report, PAGE_KEYS)
            fields.check_keys("page")
            slug = path.relative_to(self.content_dir / "pages").with_suffix("").as_posix()
            if not SLUG.match(slug):
                fields.problem(
                    (),
                    f"page file name '{slug}' is not a plain slug",
                    hint=f"rename it to '{slugify(slug)}.md' directly in content/pages/",
                )
            elif slug in RESERVED_SLUGS:
                fields.problem(
                    (),
                    f"page '{slug}' would replace the generated /{slug}/ pages",
                    hint="choose another file name",
                )
            title = fields.text("title", required=True)
            menu = fields.integer("menu", None, minimum=0)
            if fields.ok:
                pages.append(
                    Page(
                        slug=slug,
                        title=title or "",
                        menu=menu,
                        description=fields.text("description"),
                        source_path=self.shown(path),
                        body_html=self.render_body(doc),
                    )
                )
        return pages

    def static_files(self) -> list[StaticFile]:
        root = self.content_dir / "static"
        files: list[StaticFile] = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if self.inside_site(Path(dirpath) / d))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if self.inside_site(path):
                    files.append(StaticFile(path.relative_to(root).as_posix(), path))
        return files


def load_site(
    site_dir: Path,
    report: Report,
    *,
    config: SiteConfig | None = None,
    base_url: str | None = None,
    cache: MemoryCache | DiskCache | None = None,
    jobs: int = 1,
    digests: dict[str, str] | None = None,
) -> Content | None:
    """Load and validate a whole site; ``None`` when its settings cannot be read.

    ``config``: the settings, when the caller has read them already (``load_config``,
    with ``base_url``); they are read here otherwise.

    ``digests`` maps content file paths to the :func:`~generator.cache.file_digest` of
    their bytes where those are known already (the build stamp's); such files are read
    only if their entry is not in ``cache``.

    With a readable ``site.yaml`` everything else is loaded even if it has errors, so the
    report is complete; the caller checks ``report.errors`` before going on.
    """
    if config is None:
        config = load_config(site_dir, report, base_url)
    if config is None:
        return None
    loader = _Loader(
        site_dir,
        config,
        report,
        MarkdownRenderer(config.allow_html),
        cache if cache is not None else NoCache(),
        jobs=jobs,
        digests=digests or {},
    )
    companies = loader.companies()
    content = Content(
        config=config,
        entries=loader.entries(),
        companies=companies,
        pages=loader.pages(),
        static_files=loader.static_files(),
    )
    logo = config.publisher.logo if config.publisher else None
    if logo and logo.lstrip("/") not in {f.relpath for f in content.static_files}:
        report.warning(site_dir / "content" / "site.yaml", config.lines.get("publisher.logo"),
                       f"publisher logo '{logo}' is not a file in content/static/",
                       hint="add the file, or fix the path (it is relative to content/static/)")
    return content


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _line_in(text: str, url: str) -> int:
    """The 0-based line of ``text`` holding link ``url``, which Markdown may have decoded
    from entities and then %-encoded (``"`` → ``%22``); 0 when it cannot be found."""
    for number, line in enumerate(text.split("\n")):
        plain = html.unescape(line)
        if url in line or url in plain or urllib.parse.unquote(url) in plain:
            return number
    return 0
