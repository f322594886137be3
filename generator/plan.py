"""The render plan: every page of the site, its URL, its template and its context.

Pure functions of the site graph. The build renders the plan; nothing here touches
templates or files, so the plan can be split between processes or inspected in tests.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .graph import SiteGraph
from .jsonld import claim_review, organization
from .model import Company, Entry, When
from .search import shard_folders
from .urls import Urls, output_file


@dataclass(frozen=True, slots=True)  # one per page: 130,000 on a large site
class PageSpec:
    """One HTML page to render: site ``path``, ``template`` name and its ``context``.

    ``source`` is the content file the page comes from (for error messages), ``lastmod``
    its last change (for the sitemap); ``indexed`` is false for pages crawlers skip.
    ``derived`` holds more context values, made only when the page renders: each is
    made by a function of the rest of the context (and of the site, which it knows),
    so page keys need not hash it (see :mod:`pagekeys`), and a rebuild that keeps the
    page never makes it. Pages of a kind share one ``derived``. ``file`` is the output
    file (:func:`~generator.urls.output_file`), made once: every step that keeps
    something per output file keys it by this one string.
    """

    path: str
    template: str
    context: dict[str, Any]
    source: str | None = None
    lastmod: When | None = None
    indexed: bool = True
    derived: Mapping[str, Callable[[dict[str, Any]], Any]] = field(default_factory=dict)
    file: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "file", output_file(self.path))  # frozen: set once, here

    def full_context(self) -> dict[str, Any]:
        """The context with the derived values made."""
        return {**self.context,
                **{name: make(self.context) for name, make in self.derived.items()}}


@dataclass(frozen=True, slots=True)
class DataFile:
    """One file of the site made by code, not a template (a feed, a search listing).

    ``make`` gives its bytes. They depend on the site's settings and companies, the same
    for every data file, and on ``entries`` (the checks it shows, each by what it was
    made from: ``Entry.fingerprint``) and ``facts`` (anything else: a count, whether a
    next part follows), so a rebuild finding them all as the last build did keeps the
    file without making it. ``entries`` is ``None`` for a file made on every build (a
    sitemap: it lists every page, and making it costs less than telling).
    """

    path: str
    make: Callable[[], bytes]
    entries: Sequence[Entry] | None = None
    facts: tuple[object, ...] = ()


@dataclass(frozen=True)
class Pager:
    """One page of a paginated listing; paths are site paths (use ``href``)."""

    items: list[Entry]
    number: int
    count: int
    total_items: int
    paths: list[str]

    @property
    def previous(self) -> str | None:
        return self.paths[self.number - 2] if self.number > 1 else None

    @property
    def next(self) -> str | None:
        return self.paths[self.number] if self.number < self.count else None

    def window(self, around: int = 2) -> list[PageLink | None]:
        """The pages a pagination bar links: the first, the last, ``around`` on each
        side of this one and, as landmarks, the nearest multiples of 10, 100 and 1,000
        below and above it, in order; ``None`` marks numbers left out between them (a
        gap of one number shows that number instead).

        Linking every page made each page of a 10,000-check listing carry 500 links (25
        of its 37 kB), and rendering them grew with the square of the listing. Without
        the landmarks, page 250 of 500 was 125 clicks from the first; with them, any page
        of 500 is at most 10 clicks from any other, and a bar has at most 17 items.
        """
        shown = {1, self.count, *range(self.number - around, self.number + around + 1)}
        step = 10
        while step < self.count:
            shown.update(((self.number - 1) // step * step, (self.number // step + 1) * step))
            step *= 10
        numbers = sorted(n for n in shown if 1 <= n <= self.count)
        links: list[PageLink | None] = []
        previous = 0
        for number in numbers:
            if number - previous == 2:  # a gap of one: show it
                links.append(PageLink(previous + 1, self.paths[previous]))
            elif number - previous > 2:
                links.append(None)
            links.append(PageLink(number, self.paths[number - 1]))
            previous = number
        return links


@dataclass(frozen=True)
class PageLink:
    """One page in a pagination bar (see :meth:`Pager.window`)."""

    number: int
    path: str  # a site path


def paginate(entries: list[Entry], per_page: int, route: Callable[[int], str]) -> Iterator[Pager]:
    """Split ``entries`` into pages; an empty listing still has its first page."""
    count = max(1, -(-len(entries) // per_page))
    paths = [route(n) for n in range(1, count + 1)]
    for number in range(1, count + 1):
        items = entries[(number - 1) * per_page : number * per_page]
        yield Pager(items, number, count, len(entries), paths)


def newest(entries: list[Entry]) -> When | None:
    """The latest change among ``entries``, for a listing's sitemap entry."""
    return max((e.modified for e in entries), default=None)


def initial(name: str) -> str:
    """The A–Z heading a name is listed under; ``#`` for digits and other scripts."""
    letter = unicodedata.normalize("NFKD", name[:1]).encode("ascii", "ignore").decode().upper()
    return letter if "A" <= letter <= "Z" else "#"


def company_index(graph: SiteGraph) -> list[tuple[str, list[tuple[Company, int]]]]:
    """Companies grouped by initial, A–Z, each with its number of published checks."""
    groups: dict[str, list[tuple[Company, int]]] = {}
    for company in sorted(graph.companies.values(), key=lambda c: (c.name.casefold(), c.slug)):
        count = len(graph.checks_by_company[company.slug])
        groups.setdefault(initial(company.name), []).append((company, count))
    return sorted(groups.items(), key=lambda item: (item[0] == "#", item[0]))


def plan_site(graph: SiteGraph, urls: Urls) -> Iterator[PageSpec]:
    """Every HTML page of the site, in a stable order."""
    per_page = graph.config.per_page
    latest = newest(graph.entries)

    org = organization(graph, urls)
    for pager in paginate(graph.entries, per_page, urls.home):
        context = {"pager": pager, "organization": org}
        yield PageSpec(pager.paths[pager.number - 1], "index.html", context,
                       lastmod=newest(pager.items))

    # What a check page shows that follows from its entry and the site alone: its verdict,
    # its companies, its ClaimReview (one function each for all check pages: a function
    # per page was 400 bytes a check, and a list of companies held per page 90 more).
    check_derived: dict[str, Callable[[dict[str, Any]], Any]] = {
        "verdict": lambda context: graph.verdict(context["entry"].verdict),
        "companies": lambda context: graph.company_list(context["entry"]),
        "claim_review": lambda context: claim_review(context["entry"], graph, urls),
    }
    for entry in graph.entries:
        context = {"entry": entry, "related": graph.related_checks[entry.slug]}
        yield PageSpec(urls.check(entry.slug), "check.html", context,
                       source=entry.source_path, lastmod=entry.modified,
                       derived=check_derived)

    yield PageSpec(urls.companies(), "companies.html", {"groups": company_index(graph)},
                   lastmod=latest)
    for slug, company in graph.companies.items():
        checks = graph.checks_by_company[slug]
        breakdown = graph.verdict_breakdown(slug)  # one for all the company's pages
        for pager in paginate(checks, per_page, lambda n, s=slug: urls.company(s, n)):
            context = {
                "company": company,
                "pager": pager,
                "breakdown": breakdown,
                "related_companies": graph.related_companies[slug],
            }
            yield PageSpec(pager.paths[pager.number - 1], "company.html", context,
                           source=company.source_path, lastmod=newest(pager.items))

    for verdict in graph.config.verdicts:
        checks = graph.checks_by_verdict[verdict.id]
        for pager in paginate(checks, per_page, lambda n, v=verdict.id: urls.verdict(v, n)):
            context = {"verdict": verdict, "pager": pager}
            yield PageSpec(pager.paths[pager.number - 1], "verdict.html", context,
                           lastmod=newest(pager.items))

    yield PageSpec(urls.tags(), "tags.html", {"tags": list(graph.tags.values())},
                   lastmod=latest)
    for tag in graph.tags.values():
        for pager in paginate(tag.entries, per_page, lambda n, t=tag.name: urls.tag(t, n)):
            yield PageSpec(pager.paths[pager.number - 1], "tag.html",
                           {"tag": tag, "pager": pager}, lastmod=newest(pager.items))

    counts = {v.id: len(graph.checks_by_verdict[v.id]) for v in graph.config.verdicts}
    yield PageSpec(urls.ratings(), "ratings.html", {"counts": counts}, lastmod=latest)
    last_correction = max((e.corrections[-1].date for e in graph.corrected), default=None)
    yield PageSpec(urls.corrections(), "corrections.html", {"entries": graph.corrected},
                   lastmod=last_correction)

    for page in graph.pages:
        yield PageSpec(urls.page(page.slug), "page.html", {"page": page},
                       source=page.source_path)

    if graph.config.search:  # results are made in the browser: nothing here for crawlers
        checked = [c for slug, c in graph.companies.items() if graph.checks_by_company[slug]]
        links = [urls.href(urls.check(entry.slug)) for entry in graph.entries]
        folders = shard_folders(links, graph.config.search_shard_size).values()
        shards = [urls.pagefind(folder) for folder in folders]  # the first is the main one
        yield PageSpec(urls.search(), "search.html", {"companies": checked, "shards": shards},
                       indexed=False)

    yield PageSpec(urls.not_found(), "404.html", {}, indexed=False)
