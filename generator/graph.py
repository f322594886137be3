"""The site graph: published entries cross-linked with companies, verdicts and tags.

Built once from the content model, before anything is rendered. Every listing a template
shows is computed here, so no template loops over all entries to find its own.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .cache import AnyCache, content_key
from .model import Company, Content, Entry, Page, SiteConfig, Verdict
from .urls import tag_slug

RELATED_CHECKS = 4
RELATED_COMPANIES = 6
# Related checks are looked for among this many neighbours in time on each shared
# company or tag, which keeps the work per entry bounded on archives of any size.
_RELATED_WINDOW = 40


@dataclass
class Tag:
    name: str
    slug: str
    entries: list[Entry] = field(default_factory=list)


@dataclass(frozen=True)
class VerdictCount:
    verdict: Verdict
    count: int
    share: float  # of the company's checks, 0..1


@dataclass
class SiteGraph:
    """Everything the templates need, with the relations computed once."""

    config: SiteConfig
    entries: list[Entry]  # published, newest first
    companies: dict[str, Company]  # by slug, A–Z by name
    pages: list[Page]
    checks_by_company: dict[str, list[Entry]]
    checks_by_verdict: dict[str, list[Entry]]
    tags: dict[str, Tag]  # by slug, A–Z
    related_checks: dict[str, list[Entry]]
    related_companies: dict[str, list[tuple[Company, int]]]
    corrected: list[Entry]  # with a correction or update, latest correction first
    company_keys: dict[str, str] = field(default_factory=dict)  # casefolded name → slug

    def find_company(self, name: str) -> Company | None:
        """The company with this slug, name or alias (any case), if there is one."""
        slug = self.company_keys.get(name.strip().casefold())
        return self.companies[slug] if slug else None

    def company_list(self, entry: Entry) -> list[Company]:
        return [self.companies[slug] for slug in entry.companies]

    def claimant_company(self, entry: Entry) -> Company | None:
        """The company that made the claim, when the claimant is one of ours by name."""
        return self.find_company(entry.claimant) if entry.claimant else None

    def companies_shown(self, entry: Entry) -> list[Company]:
        """Every company a page showing ``entry`` may show: those it names, and its
        claimant's company (its ClaimReview links it)."""
        shown = self.company_list(entry)
        claimant = self.claimant_company(entry)
        return [*shown, claimant] if claimant is not None else shown

    def verdict(self, verdict_id: str) -> Verdict:
        return self.config.verdict(verdict_id)

    def verdict_breakdown(self, company_slug: str) -> list[VerdictCount]:
        """Counts of each verdict among a company's checks, in scale order, zeros left out."""
        counts = Counter(e.verdict for e in self.checks_by_company[company_slug])
        total = sum(counts.values()) or 1
        return [
            VerdictCount(v, counts[v.id], counts[v.id] / total)
            for v in self.config.verdicts
            if counts[v.id]
        ]

    @property
    def menu(self) -> list[Page]:
        return sorted((p for p in self.pages if p.menu is not None), key=lambda p: (p.menu, p.slug))

    def page(self, slug: str) -> Page | None:
        return next((p for p in self.pages if p.slug == slug), None)


def is_published(entry: Entry, now: dt.datetime, drafts: bool) -> bool:
    """Drafts and entries dated in the future are published only with ``drafts``."""
    return drafts or (not entry.draft and entry.published.moment <= now)


def newest_first(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (e.published.moment, e.slug), reverse=True)


def build_graph(content: Content, now: dt.datetime, drafts: bool = False,
                cache: AnyCache | None = None) -> SiteGraph:
    """Cross-link ``content`` as of ``now`` (timezone-aware); ``cache`` keeps the related
    checks for the next build (see :func:`_kept_related_checks`)."""
    entries = newest_first([e for e in content.entries if is_published(e, now, drafts)])
    companies = {
        c.slug: c for c in sorted(content.companies, key=lambda c: (c.name.casefold(), c.slug))
    }

    by_company: dict[str, list[Entry]] = {slug: [] for slug in companies}
    by_verdict: dict[str, list[Entry]] = {v.id: [] for v in content.config.verdicts}
    tags: dict[str, Tag] = {}
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for entry in entries:
        for slug in entry.companies:
            by_company[slug].append(entry)
        by_verdict[entry.verdict].append(entry)
        for slug, name in {tag_slug(t): t for t in reversed(entry.tags)}.items():
            # "AI" and "ai" share a page; an entry carrying both is listed there once.
            tags.setdefault(slug, Tag(name, slug)).entries.append(entry)
            spellings[slug][name] += 1
    for slug, tag in tags.items():
        # Named as most checks spell it (the newest's spelling among equals): one new
        # check spelling it otherwise does not rename the page of hundreds.
        counted = spellings[slug]
        if len(counted) > 1:
            tag.name = max(counted, key=counted.__getitem__)
    tags = dict(sorted(tags.items(), key=lambda item: (item[1].name.lower(), item[0])))

    corrected = sorted(
        (e for e in entries if e.corrections),
        key=lambda e: (e.corrections[-1].date.moment, e.published.moment, e.slug),
        reverse=True,
    )
    return SiteGraph(
        config=content.config,
        entries=entries,
        companies=companies,
        pages=sorted(content.pages, key=lambda p: p.slug),
        checks_by_company=by_company,
        checks_by_verdict=by_verdict,
        tags=tags,
        related_checks=_kept_related_checks(entries, by_company, tags, cache),
        related_companies=_related_companies(entries, companies),
        corrected=corrected,
        company_keys={
            key.casefold(): c.slug for c in companies.values()
            for key in (c.slug, c.name, *c.aliases)
        },
    )


def _kept_related_checks(
    entries: list[Entry], by_company: dict[str, list[Entry]], tags: dict[str, Tag],
    cache: AnyCache | None,
) -> dict[str, list[Entry]]:
    """:func:`_related_checks`, from the last build's where it can be.

    With no entry's companies, tags or place among the published changed (an edit of a
    body, a title, a claim), the last build's are taken back: on 10,000 entries they take
    0.3 s to find, a tenth of such an edit's rebuild, and 20 ms to check and take back.
    With the same entries in the same places but some with other companies or tags (an
    edit of a check's companies), only the rows of entries that share a company or tag
    with one of them, before or after, are found again (see :func:`_related_positions`).
    Rows are taken back only from this very factsite (another may rank otherwise). One
    slot holds them, so a cache kept between builds does not grow by one per edit."""
    if cache is None:
        return _related_checks(entries, by_company, tags)
    signatures = [(entry.slug, entry.companies, entry.tags) for entry in entries]
    key = content_key("related-checks", *(repr(sig).encode() for sig in signatures))
    made_by = content_key("related-checks")  # this factsite: rows of another are not reused
    kept = cache.get(RELATED_SLOT)
    if not (isinstance(kept, tuple) and len(kept) == 4 and kept[3] == made_by):
        kept = None
    if kept is not None and kept[0] == key:
        rows = kept[1]
    else:
        again = (_rows_to_find_again(kept[2], entries, by_company, tags)
                 if kept is not None else None)
        rows = _related_positions(entries, by_company, tags,
                                  None if again is None else (again, kept[1]))
        cache.put(RELATED_SLOT, (key, rows, signatures, made_by))
    return _as_entries(entries, rows)


Signature = tuple[str, list[str], list[str]]  # an entry's slug, companies and tags


def _rows_to_find_again(before: list[Signature], entries: list[Entry],
                        by_company: dict[str, list[Entry]], tags: dict[str, Tag],
                        ) -> set[int] | None:
    """The positions of the entries whose related checks may differ from those found for
    ``before``: the changed ones and those in a company or tag list that one joined or
    left. ``None`` (all of them) when the entries are not the same ones in the same
    places."""
    if len(before) != len(entries) or any(
            old[0] != entry.slug for old, entry in zip(before, entries, strict=True)):
        return None
    changed = [me for me, (old, entry) in enumerate(zip(before, entries, strict=True))
               if old != (entry.slug, entry.companies, entry.tags)]
    moved_companies = {slug for me in changed
                       for slug in (*before[me][1], *entries[me].companies)}
    moved_tags = {tag_slug(tag) for me in changed for tag in (*before[me][2], *entries[me].tags)}
    lists = [by_company.get(slug, []) for slug in moved_companies]
    lists += [tags[slug].entries for slug in moved_tags if slug in tags]
    position = {id(entry): me for me, entry in enumerate(entries)}
    return {*changed, *(position[id(entry)] for listed in lists for entry in listed)}


RELATED_SLOT = "related-checks"  # the cache slot of the last related checks


def _related_checks(
    entries: list[Entry], by_company: dict[str, list[Entry]], tags: dict[str, Tag]
) -> dict[str, list[Entry]]:
    """For each entry, the entries sharing most companies (weight 2) and tags (weight 1)."""
    return _as_entries(entries, _related_positions(entries, by_company, tags))


def _as_entries(entries: list[Entry], rows: list[list[int]]) -> dict[str, list[Entry]]:
    """Each entry's slug → the entries at the positions of its row."""
    return {entry.slug: [entries[at] for at in row]
            for entry, row in zip(entries, rows, strict=True)}


def _related_positions(
    entries: list[Entry], by_company: dict[str, list[Entry]], tags: dict[str, Tag],
    again: tuple[set[int], list[list[int]]] | None = None,
) -> list[list[int]]:
    """:func:`_related_checks` as positions in ``entries``, one row per entry; with
    ``again`` (positions, rows), only the rows of the entries at those positions are
    found, the others are taken from the rows given: an entry's row depends only on the
    entries around it in the lists of its own companies and tags.

    Ties go to the entry that comes first in ``entries`` (the newer one). This runs over a
    few hundred candidates per entry, so it is shaped for speed: entries are handled as
    their position in ``entries``, and each candidate's rank is packed into one integer,
    ``score * n - position``, so the tally is plain int arithmetic and the best are found
    by sorting ints, with no key function. ``-packed % n`` gives the position back.
    """
    n = len(entries)
    position = {id(e): i for i, e in enumerate(entries)}
    # Per company or tag: its entries as positions, where each sits in that list (the
    # last place, if listed twice), and the weight of a shared one in packed units.
    lists: dict[tuple[str, str], tuple[list[int], dict[int, int], int]] = {}

    def add(key: tuple[str, str], listed: list[Entry], weight: int) -> None:
        positions = [position[id(e)] for e in listed]
        lists[key] = positions, {p: i for i, p in enumerate(positions)}, weight * n

    for slug, lst in by_company.items():
        add(("c", slug), lst, 2)
    for slug, tag in tags.items():
        add(("t", slug), tag.entries, 1)

    slugs: dict[str, str] = {}  # tag → tag_slug(tag), which is slow-ish to recompute
    found: list[list[int]] = list(again[1]) if again is not None else [[] for _ in entries]
    for me in sorted(again[0]) if again is not None else range(n):
        entry = entries[me]
        keys = [("c", slug) for slug in entry.companies]
        for t in entry.tags:
            if t not in slugs:
                slugs[t] = tag_slug(t)
            keys.append(("t", slugs[t]))  # an entry tagged both "AI" and "ai" counts it twice
        packed: dict[int, int] = {}  # position → score * n - position
        get = packed.get
        for key in keys:
            positions, index, weight = lists[key]
            at = index[me]
            for p in positions[max(0, at - _RELATED_WINDOW) : at + _RELATED_WINDOW + 1]:
                packed[p] = get(p, -p) + weight
        packed.pop(me, None)  # not related to itself
        best = sorted(packed.values(), reverse=True)[:RELATED_CHECKS]
        found[me] = [-v % n for v in best]
    return found


def _related_companies(
    entries: list[Entry], companies: dict[str, Company]
) -> dict[str, list[tuple[Company, int]]]:
    """For each company, the companies named in the same checks, most shared first."""
    together: dict[str, Counter[str]] = defaultdict(Counter)
    for entry in entries:
        for slug in entry.companies:
            for other in entry.companies:
                if other != slug:
                    together[slug][other] += 1

    def ranked(slug: str) -> list[tuple[Company, int]]:
        counts = together[slug]
        order = sorted(counts, key=lambda o: (-counts[o], companies[o].name.casefold(), o))
        return [(companies[o], counts[o]) for o in order[:RELATED_COMPANIES]]

    return {slug: ranked(slug) for slug in companies}
