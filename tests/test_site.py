"""Whole sites built through the command line, read back as HTML and followed link by link.

The expected listings are computed here from the entries the tests write, never from the
generator's own graph, so a wrong cross-link in the generator cannot hide itself.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup
from conftest import REPO, entry_text

from generator.plan import Pager

# -- reading a built site ------------------------------------------------------------------


def file_for(out: Path, path: str, prefix: str = "/") -> Path:
    """The output file that serves host path ``path`` (``/a/`` → ``a/index.html``)."""
    assert path.startswith(prefix), f"{path} is not under {prefix}"
    relative = unquote(urlsplit(path).path[len(prefix) :])
    if relative == "" or relative.endswith("/"):
        relative += "index.html"
    return out / relative


def soup(out: Path, path: str, prefix: str = "/") -> BeautifulSoup:
    target = file_for(out, path, prefix)
    assert target.is_file(), f"no page at {path} ({target})"
    return BeautifulSoup(target.read_text(encoding="utf-8"), "html.parser")


def html_files(out: Path) -> dict[str, BeautifulSoup]:
    return {
        p.relative_to(out).as_posix(): BeautifulSoup(p.read_text(encoding="utf-8"), "html.parser")
        for p in sorted(out.rglob("*.html"))
    }


def check_slug(href: str, prefix: str = "/") -> str:
    match = re.fullmatch(re.escape(prefix) + r"checks/([a-z0-9-]+)/", href)
    assert match, f"not a check link: {href}"
    return match.group(1)


def listing(out: Path, start: str, prefix: str = "/") -> tuple[list[str], list[str]]:
    """The check slugs listed from ``start`` on, following ``rel=next``; and the page paths."""
    slugs: list[str] = []
    paths: list[str] = []
    path: str | None = start
    while path is not None:
        assert path not in paths, f"pagination loops back to {path}"
        paths.append(path)
        page = soup(out, path, prefix)
        lists = page.select("main ol.check-list")
        assert len(lists) <= 1, f"{path} has more than one check list"
        if lists:
            slugs += [check_slug(a["href"], prefix) for a in lists[0].select(".card-title a")]
        nxt = page.find("a", rel="next")
        if nxt is not None:
            prev = soup(out, nxt["href"], prefix).find("a", rel="prev")
            assert prev is not None and prev["href"] == path, f"rel=prev after {path} is wrong"
        path = nxt["href"] if nxt is not None else None
    return slugs, paths


def page_url(relpath: str, base_url: str) -> str:
    """The absolute URL a file of the output is served at."""
    if relpath == "index.html":
        relpath = ""
    elif relpath.endswith("/index.html"):
        relpath = relpath[: -len("index.html")]
    return base_url + relpath


def check_links(out: Path, base_url: str) -> int:
    """Assert every link into the site resolves, fragments included; return how many.

    Links written by templates must be host paths under the site path; authored Markdown
    (inside ``.prose``) may also link relatively, and those links are resolved as a
    browser would. Links to other hosts and ``mailto:`` are not followed.
    """
    parts = urlsplit(base_url)
    origin, prefix = f"{parts.scheme}://{parts.netloc}", parts.path
    pages = html_files(out)
    assert pages, "no HTML in the output"
    ids = {rel: [t["id"] for t in page.find_all(id=True)] for rel, page in pages.items()}
    problems: list[str] = []
    checked = 0
    for rel, page in pages.items():
        duplicates = sorted({i for i in ids[rel] if ids[rel].count(i) > 1})
        if duplicates:
            problems.append(f"{rel}: duplicate ids {duplicates}")
        here = page_url(rel, base_url)
        for tag in page.find_all(lambda t: t.has_attr("href") or t.has_attr("src")):
            for attr in ("href", "src"):
                value = tag.get(attr)
                if value is None:
                    continue
                scheme = urlsplit(value).scheme
                if scheme and scheme not in ("http", "https"):
                    assert scheme == "mailto", f"{rel}: unexpected link {value}"
                    continue
                authored = tag.find_parent(class_="prose") is not None
                generated = not scheme and not value.startswith("#") and not authored
                if generated and not value.startswith(prefix):
                    problems.append(f"{rel}: {attr}={value} is not under {prefix}")
                    continue
                target = urlsplit(urljoin(here, value))
                if f"{target.scheme}://{target.netloc}" != origin:
                    continue  # another site
                if not target.path.startswith(prefix):
                    problems.append(f"{rel}: {value} leaves the site path {prefix}")
                    continue
                checked += 1
                file = file_for(out, target.path, prefix)
                if not file.is_file():
                    problems.append(f"{rel}: {attr}={value} → missing {file.relative_to(out)}")
                    continue
                if target.fragment:
                    target_rel = file.relative_to(out).as_posix()
                    if unquote(target.fragment) not in ids.get(target_rel, []):
                        problems.append(f"{rel}: {value} → no id '{target.fragment}'")
    assert not problems, "\n".join(problems)
    return checked


# -- a generated site ------------------------------------------------------------------------

# Besides BYD, Xiaomi and Acme Foods (never checked) from conftest: one more company with
# checks, and three without checks: one lower case, one whose file name is not its name.
EXTRA_COMPANIES = {
    "northwind": "---\nname: Northwind Foods\naliases: [Northwind]\n---\n\nFood.\n",
    "google": "---\nname: Alphabet\naliases: [Google]\n---\n",
    "ebay": "---\nname: eBay\n---\n",
    # renamed: the file keeps the old slug, so slug order and name order differ
    "zeta-holdings": "---\nname: Abacus Holdings\naliases: [Zeta Holdings]\n---\n",
}
NAMES = {
    "acme": "Acme Foods",
    "byd": "BYD",
    "northwind": "Northwind Foods",
    "xiaomi": "Xiaomi",
    "google": "Alphabet",
    "ebay": "eBay",
    "zeta-holdings": "Abacus Holdings",
}
# Each company is named in front matter in several ways: by name, slug, alias, any case.
SPELLINGS = {
    "byd": ["BYD", "byd", "BYD Auto", "比亚迪"],
    "xiaomi": ["Xiaomi", "小米", "XIAOMI"],
    "northwind": ["Northwind Foods", "northwind", "Northwind"],
    "acme": ["Acme Foods"],
}
COMBOS = [
    ["byd"],
    ["xiaomi"],
    ["northwind"],
    ["byd", "xiaomi"],
    ["xiaomi", "northwind"],
    ["byd"],
    ["northwind", "byd"],
]
SCORED = ["true", "mostly-true", "mixed", "misleading", "false"]  # "unproven" stays empty
VERDICT_IDS = [*SCORED, "unproven"]
VERDICT_LABELS = ["True", "Mostly true", "Mixed", "Misleading", "False", "Unproven"]
# entry number → its corrections as authored (deliberately not in date order)
CORRECTIONS = {
    2: [("2025-06-01", "update"), ("2021-05-01", "correction")],
    7: [("2022-01-10", "clarification")],
    11: [("2024-02-02", "correction")],
    19: [("2023-08-08", "update")],
}


@dataclass
class Spec:
    slug: str
    title: str
    published: str
    verdict: str
    companies: list[str]
    tags: list[str] = field(default_factory=list)
    corrections: list[tuple[str, str]] = field(default_factory=list)
    draft: bool = False
    body: str = "Body text."

    @property
    def moment(self) -> dt.datetime:
        if "T" in self.published:
            return dt.datetime.fromisoformat(self.published)
        return dt.datetime.fromisoformat(self.published + "T00:00:00+00:00")

    @property
    def last_correction(self) -> str:
        return max(d for d, _ in self.corrections)

    def text(self, index: int) -> str:
        names = [SPELLINGS[c][index % len(SPELLINGS[c])] for c in self.companies]
        extra = []
        if self.tags:
            extra.append("tags: [" + ", ".join(self.tags) + "]")
        if self.corrections:
            extra.append("corrections:")
            extra += [
                f"  - {{date: {d}, type: {kind}, note: Fixed on {d}.}}"
                for d, kind in self.corrections
            ]
        if self.draft:
            extra.append("draft: true")
        return entry_text(
            title=self.title,
            claim=f"Claim {self.slug}",
            verdict=self.verdict,
            published=self.published,
            companies="[" + ", ".join(names) + "]",
            extra="\n".join(extra),
            body=self.body,
        )


BODY_WITH_LINKS = """\
## Background

What we found[^1], on our [rating scale](../../ratings/) and [below](#what-we-found).

### What we found

| Source | Says |
| --- | --- |
| Company | No |

[^1]: A footnote.
"""


def published_specs() -> list[Spec]:
    start = dt.date(2021, 1, 4)
    specs = []
    for i in range(25):
        published = (start + dt.timedelta(days=37 * i)).isoformat()
        if i == 24:
            published = "2025-12-31T23:59:00+00:00"  # one minute before the pinned clock
        tags = []
        if i % 2 == 0:
            tags.append("rumor")
        if i % 3 == 0:
            tags.append("Electric Cars")
        if i % 5 == 0:
            tags.append("电动车")
        specs.append(
            Spec(
                slug=f"check-{i:02d}",
                title=f"Check {i:02d} about {' and '.join(NAMES[c] for c in COMBOS[i % 7])}",
                published=published,
                verdict=SCORED[i % 5],
                companies=COMBOS[i % 7],
                tags=tags,
                corrections=CORRECTIONS.get(i, []),
                body=BODY_WITH_LINKS if i % 4 == 0 else f"Body of check {i}.",
            )
        )
    return specs


def hidden_specs() -> list[Spec]:
    """A draft and two entries dated after the pinned clock (2026-01-01T00:00Z)."""
    return [
        Spec(
            "draft-check",
            "Unpublished draft about BYD",
            "2024-05-05",
            "unproven",
            ["byd"],
            tags=["rumor", "Draft Only Tag"],
            corrections=[("2025-09-09", "update")],
            draft=True,
        ),
        Spec(
            "future-check",
            "Future check about Acme",
            "2026-03-01",
            "unproven",
            ["acme", "xiaomi"],
            tags=["Future Tag"],
        ),
        Spec(
            "future-time-check",
            "Check one second in the future",
            "2026-01-01T00:00:01+00:00",
            "false",
            ["northwind"],
        ),
    ]


PAGES = {
    "about": "---\ntitle: About the desk\n---\n\nWho we are.\n",
    "methodology": "---\ntitle: How we check\n---\n\nHow.\n",
    "corrections-policy": "---\ntitle: Corrections policy\n---\n\nWe fix mistakes.\n",
    "press": "---\ntitle: Press room\nmenu: 1\n---\n\nFor journalists.\n",
}


def write_generated(site) -> list[Spec]:
    """Fill ``site`` with the generated entries, a fourth company and free pages."""
    for slug, text in EXTRA_COMPANIES.items():
        site.write(f"content/companies/{slug}.md", text)
    specs = published_specs() + hidden_specs()
    for index, spec in enumerate(specs):
        year = spec.published[:4]
        site.write(f"content/entries/{year}/{spec.published[:10]}-{spec.slug}.md", spec.text(index))
    for slug, text in PAGES.items():
        site.write(f"content/pages/{slug}.md", text)
    site.write("content/static/images/chart.png", b"\x89PNG fake image bytes")
    return specs


def newest_first(specs: list[Spec]) -> list[str]:
    return [s.slug for s in sorted(specs, key=lambda s: s.moment, reverse=True)]


@pytest.fixture
def generated(site, run):
    """The generated site built into ``site.out``; returns the specs that are published."""
    write_generated(site)
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    return published_specs()


# -- cross-links -------------------------------------------------------------------------------


def test_generated_site_has_enough_to_paginate(generated, site):
    assert len(generated) == 25
    # per_page is 3, so every listing below spans several pages
    for company in ("byd", "xiaomi", "northwind"):
        assert sum(company in s.companies for s in generated) > 3


def test_home_lists_every_published_check_newest_first(generated, site):
    slugs, paths = listing(site.out, "/")
    assert slugs == newest_first(generated)
    assert paths == ["/"] + [f"/page/{n}/" for n in range(2, 10)]
    assert not (site.out / "page" / "1").exists()
    assert not (site.out / "page" / "10").exists()


def pagination_bar(out: Path, path: str) -> list[str]:
    """A listing page's pagination bar as text: numbers, "[n]" for this page, "…"."""
    bar = soup(out, path).select_one("nav.pagination ol")
    return [("[" + li.get_text() + "]") if li.find("span", attrs={"aria-current": "page"})
            else li.get_text() for li in bar.find_all("li")]


def test_pagination_links_the_ends_and_the_neighbours_of_each_page(generated, site):
    # 25 checks, 3 a page: 9 pages
    assert pagination_bar(site.out, "/") == ["[1]", "2", "3", "…", "9"]
    assert pagination_bar(site.out, "/page/5/") == ["1", "2", "3", "4", "[5]", "6", "7",
                                                    "8", "9"]
    assert pagination_bar(site.out, "/page/6/") == ["1", "…", "4", "5", "[6]", "7", "8", "9"]
    # every page is reached from the first by following the numbered links
    seen, pending = set(), ["/"]
    while pending:
        path = pending.pop()
        seen.add(path)
        page = soup(site.out, path)
        assert len(page.select("nav.pagination li")) <= 9  # never every page
        for link in page.select("nav.pagination li a"):
            assert link["aria-label"] == f"Page {link.get_text()}"  # for screen readers
            if link["href"] not in seen:
                pending.append(link["href"])
    assert seen == {"/"} | {f"/page/{n}/" for n in range(2, 10)}


def test_a_long_listing_links_a_few_pages_from_each():
    paths = ["/"] + [f"/page/{n}/" for n in range(2, 501)]
    linked: dict[int, list[int]] = {}
    for number in range(1, 501):
        links = Pager([], number, 500, 10_000, paths).window()
        numbers = linked[number] = [link.number for link in links if link is not None]
        assert len(links) <= 17 and numbers == sorted(set(numbers))
        assert {1, 500, number} <= set(numbers)
        # the neighbours, and the nearest tens and hundreds as landmarks
        assert set(range(max(1, number - 2), min(500, number + 2) + 1)) <= set(numbers)
        for step in (10, 100):
            for landmark in ((number - 1) // step * step, (number // step + 1) * step):
                assert landmark in numbers or not 1 <= landmark <= 500, (number, landmark)
        assert all(paths[link.number - 1] == link.path for link in links if link)
        for at, link in enumerate(links):
            if link is None:  # a gap between two shown pages, of more than one page
                assert links[at + 1].number - links[at - 1].number > 2
            elif at and links[at - 1] is not None:
                assert link.number == links[at - 1].number + 1
    # Any page is a few clicks from any other (before the landmarks: up to 125).
    for start in range(1, 501):
        clicks, reached = 0, {start}
        while len(reached) < 500:
            reached |= {n for page in reached for n in linked[page]}
            clicks += 1
        assert clicks <= 10, start


def test_each_company_lists_exactly_its_checks_across_pages(generated, site):
    for company in ("byd", "xiaomi", "northwind"):
        expected = newest_first([s for s in generated if company in s.companies])
        slugs, paths = listing(site.out, f"/companies/{company}/")
        assert slugs == expected, company
        assert len(paths) == -(-len(expected) // 3)
        assert paths[1:] == [f"/companies/{company}/page/{n}/" for n in range(2, len(paths) + 1)]
        heading = soup(site.out, f"/companies/{company}/").find(id="fs-checks-heading")
        assert f"({len(expected)})" in heading.get_text()


def test_each_check_links_to_each_of_its_companies(generated, site):
    for spec in generated:
        page = soup(site.out, f"/checks/{spec.slug}/")
        links = [a["href"] for a in page.select(".check-companies a")]
        assert links == [f"/companies/{c}/" for c in spec.companies], spec.slug
        names = [a.get_text(strip=True) for a in page.select(".check-companies a")]
        assert names == [NAMES[c] for c in spec.companies]


def test_company_without_checks_has_a_page_and_count_zero(generated, site):
    slugs, paths = listing(site.out, "/companies/acme/")
    assert slugs == [] and paths == ["/companies/acme/"]
    page = soup(site.out, "/companies/acme/")
    assert page.find("h1").get_text(strip=True) == "Acme Foods"
    assert "not published any checks" in page.find("main").get_text()


def company_index(out: Path, prefix: str = "/") -> list[tuple[str, str, int]]:
    rows = []
    for item in soup(out, prefix + "companies/", prefix).select(".company-list li"):
        link = item.find("a")
        count = re.fullmatch(r"(\d+) checks?", item.select_one(".count").get_text(strip=True))
        assert count, item
        rows.append((link.get_text(strip=True), link["href"], int(count.group(1))))
    return rows


def test_companies_index_is_a_to_z_with_counts(generated, site):
    rows = company_index(site.out)
    expected = [
        (NAMES[slug], f"/companies/{slug}/", sum(slug in s.companies for s in generated))
        for slug in sorted(NAMES, key=lambda slug: NAMES[slug].casefold())
    ]
    assert rows == expected
    assert [name for name, _, _ in rows] == [
        "Abacus Holdings",
        "Acme Foods",
        "Alphabet",
        "BYD",
        "eBay",
        "Northwind Foods",
        "Xiaomi",
    ]
    assert ("Acme Foods", "/companies/acme/", 0) in rows
    assert ("Alphabet", "/companies/google/", 0) in rows
    page = soup(site.out, "/companies/")
    assert [h.get_text() for h in page.select(".az-group h2")] == ["A", "B", "E", "N", "X"]
    for heading in page.select(".az-group h2"):  # each name under its own initial
        names = [a.get_text() for a in heading.find_parent("section").select(".company-list a")]
        assert all(n[0].upper() == heading.get_text() for n in names), names


def test_verdict_pages_list_exactly_their_checks(generated, site):
    for verdict in VERDICT_IDS:
        expected = newest_first([s for s in generated if s.verdict == verdict])
        slugs, _ = listing(site.out, f"/verdicts/{verdict}/")
        assert slugs == expected, verdict
    assert soup(site.out, "/verdicts/unproven/").select("ol.check-list") == []


def test_ratings_page_lists_every_verdict_with_counts(generated, site):
    page = soup(site.out, "/ratings/")
    rows = page.select("dl.ratings .rating")
    assert [r.select_one("dt a")["href"] for r in rows] == [f"/verdicts/{v}/" for v in VERDICT_IDS]
    labels = [r.select_one("dt").get_text(" ", strip=True) for r in rows]
    assert labels == [f"Verdict: {label}" for label in VERDICT_LABELS]
    for row, verdict in zip(rows, VERDICT_IDS, strict=True):
        count = sum(s.verdict == verdict for s in generated)
        assert row.select_one(".count").get_text(strip=True).startswith(f"{count} check")
        assert row.select_one("dd").get_text(strip=True) != f"{count} checks"  # has a description


def tag_index(out: Path, prefix: str = "/") -> dict[str, tuple[str, int]]:
    found = {}
    for link in soup(out, prefix + "tags/", prefix).select(".tag-cloud a"):
        name = link.contents[0].strip()
        count = int(link.select_one(".count").get_text().strip("()"))
        found[name] = (link["href"], count)
    return found


def test_tag_pages_list_exactly_their_checks(generated, site):
    tags = tag_index(site.out)
    expected_names = {t for s in generated for t in s.tags}
    assert set(tags) == expected_names
    assert tags["Electric Cars"][0] == "/tags/electric-cars/"
    assert unquote(tags["电动车"][0]) == "/tags/电动车/"
    for name, (href, count) in tags.items():
        expected = newest_first([s for s in generated if name in s.tags])
        slugs, _ = listing(site.out, href)
        assert slugs == expected, name
        assert count == len(expected)
    # a check page links each of its tags to the same page
    page = soup(site.out, "/checks/check-00/")
    assert {a.get_text(): a["href"] for a in page.select(".tags a")} == {
        name: tags[name][0] for name in ("rumor", "Electric Cars", "电动车")
    }


def test_tags_spelt_differently_share_a_page_named_as_most_checks_spell_it(site, run):
    for n, (tag, published) in enumerate([("COVID-19", "2021-01-01"), ("COVID-19", "2021-02-01"),
                                          ("covid-19", "2021-03-01")]):
        site.entry(f"check-{n}", title=f"Check {n}", published=published,
                   extra=f"tags: [{tag}, Covid 19]")  # another spelling, same page, once
    assert run("build", str(site.root), "-q").code == 0
    assert tag_index(site.out) == {"COVID-19": ("/tags/covid-19/", 3)}  # not the newest's
    page = soup(site.out, "/tags/covid-19/")
    assert page.select_one("h1").get_text().strip() == "COVID-19"
    slugs, _ = listing(site.out, "/tags/covid-19/")
    assert slugs == ["check-2", "check-1", "check-0"]  # each once, newest first
    site.entry("check-3", title="Check 3", published="2021-04-01", extra="tags: [covid-19]")
    assert run("build", str(site.root), "-q").code == 0  # now equal: the newest's spelling
    assert tag_index(site.out) == {"covid-19": ("/tags/covid-19/", 4)}


def test_related_checks_share_a_company_or_tag(generated, site):
    by_slug = {s.slug: s for s in generated}
    seen_any = False
    for spec in generated:
        page = soup(site.out, f"/checks/{spec.slug}/")
        related = [check_slug(a["href"]) for a in page.select(".related .card-title a")]
        assert spec.slug not in related
        assert len(related) == len(set(related)) <= 4
        for slug in related:
            other = by_slug[slug]  # KeyError: a draft or future check
            shared = set(other.companies) & set(spec.companies) or set(other.tags) & set(spec.tags)
            assert shared, f"{slug} is listed as related to {spec.slug}"
        seen_any = seen_any or bool(related)
    assert seen_any


def test_corrections_page_lists_corrected_checks_latest_correction_first(generated, site):
    page = soup(site.out, "/corrections/")
    items = page.select("ol.corrections-index > li")
    slugs = [check_slug(item.select_one(".card-title a")["href"]) for item in items]
    corrected = [s for s in generated if s.corrections]
    expected = [s.slug for s in sorted(corrected, key=lambda s: s.last_correction, reverse=True)]
    assert slugs == expected == ["check-02", "check-11", "check-19", "check-07"]
    # within one check, newest first too
    dates = [t["datetime"] for t in items[0].select(".corrections-log time")]
    assert dates == ["2025-06-01", "2021-05-01"]
    # and on the check page, in the order they happened
    log = soup(site.out, "/checks/check-02/").select(".corrections-log time")
    assert [t["datetime"] for t in log] == ["2021-05-01", "2025-06-01"]


def test_drafts_and_future_entries_appear_nowhere(generated, site):
    hidden = hidden_specs()
    for spec in hidden:
        assert not (site.out / "checks" / spec.slug).exists()
    for tag in ("draft-only-tag", "future-tag"):
        assert not (site.out / "tags" / tag).exists()
    for rel, page in html_files(site.out).items():
        text = str(page)
        for spec in hidden:
            assert f"/checks/{spec.slug}/" not in text, f"{rel} links to {spec.slug}"
            assert spec.title not in text, f"{rel} shows {spec.title}"
    assert ("Acme Foods", "/companies/acme/", 0) in company_index(site.out)


def test_drafts_flag_publishes_drafts_and_future_entries(site, run, tmp_path):
    specs = write_generated(site)
    out = tmp_path / "with-drafts"
    result = run("build", str(site.root), "--drafts", "-o", str(out))
    assert result.code == 0, result.err
    slugs, _ = listing(out, "/")
    assert slugs == newest_first(specs)
    for spec in hidden_specs():
        page = soup(out, f"/checks/{spec.slug}/")
        assert page.find("h1").get_text(strip=True) == spec.title
    assert listing(out, "/companies/acme/")[0] == ["future-check"]
    assert "draft-check" in listing(out, "/companies/byd/")[0]
    assert listing(out, "/verdicts/unproven/")[0] == ["future-check", "draft-check"]
    assert listing(out, "/tags/draft-only-tag/")[0] == ["draft-check"]
    corrections = soup(out, "/corrections/").select("ol.corrections-index .card-title a")
    assert check_slug(corrections[0]["href"]) == "draft-check"
    assert "Draft" in soup(out, "/checks/draft-check/").select_one(".kicker").get_text()
    check_links(out, "https://checks.example.org/")


def test_free_pages_and_footer_links_on_every_page(generated, site):
    for slug, text in PAGES.items():
        title = re.search(r"title: (.*)", text).group(1)
        assert soup(site.out, f"/{slug}/").find("h1").get_text(strip=True) == title
    pages = html_files(site.out)
    assert "404.html" in pages
    for rel, page in pages.items():
        footer = [a["href"] for a in page.select("footer a")]
        for slug in ("about", "methodology", "corrections-policy"):
            assert f"/{slug}/" in footer, f"{rel} footer lacks /{slug}/"
        assert "/press/" in [a["href"] for a in page.select("header nav a")], rel
        assert len(page.find_all("main")) == 1, rel
        assert page.find("html").get("lang") == "en", rel


def test_site_without_free_pages_links_none_of_them(site, run):
    """A site with no free pages: footer has none of them, every page still well-formed."""
    site.entry("2021-01-01-only", title="Only check")
    assert run("build", str(site.root)).code == 0
    for rel, page in html_files(site.out).items():
        hrefs = [a["href"] for a in page.select("footer a")]
        assert "/about/" not in hrefs, rel
        assert len(page.find_all("main")) == 1
        assert page.find("html")["lang"] == "en"


# -- links -------------------------------------------------------------------------------------


def test_links_of_the_example_site_resolve(run, tmp_path):
    out = tmp_path / "out"
    result = run("build", str(REPO), "-o", str(out))
    assert result.code == 0, result.err
    assert check_links(out, "https://factdesk.example.org/") > 100


def test_links_of_the_example_site_resolve_under_a_sub_path(run, tmp_path):
    out = tmp_path / "out"
    base = "https://example.org/factdesk/"
    result = run("build", str(REPO), "-o", str(out), "--base-url", base)
    assert result.code == 0, result.err
    assert check_links(out, base) > 100


def test_links_of_a_generated_site_resolve(generated, site):
    checked = check_links(site.out, "https://checks.example.org/")
    assert checked > 500
    # the fragments written in Markdown were among them
    page = soup(site.out, "/checks/check-00/")
    assert page.find("a", href="#fn1") is not None
    assert page.find("a", href="#what-we-found") is not None


def test_link_checker_notices_a_broken_link(generated, site):
    """The checker itself: a dangling link and a dangling fragment are both reported."""
    target = site.out / "about" / "index.html"
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("</main>", '<a href="/nowhere/">x</a></main>'), "utf-8")
    with pytest.raises(AssertionError, match="nowhere"):
        check_links(site.out, "https://checks.example.org/")
    target.write_text(text.replace("</main>", '<a href="/ratings/#nope">x</a></main>'), "utf-8")
    with pytest.raises(AssertionError, match="nope"):
        check_links(site.out, "https://checks.example.org/")


# -- hosting under a sub-path ------------------------------------------------------------------


def assert_under_prefix(out: Path, base: str) -> None:
    prefix = urlsplit(base).path
    for rel, page in html_files(out).items():
        for tag in page.find_all(lambda t: t.has_attr("href") or t.has_attr("src")):
            value = tag.get("href") or tag.get("src")
            if urlsplit(value).scheme or value.startswith("#"):
                continue
            if tag.find_parent(class_="prose") and not value.startswith("/"):
                continue  # relative links written in Markdown; check_links resolves them
            assert value.startswith(prefix), f"{rel}: {value}"
        canonical = page.find("link", rel="canonical")
        if rel != "404.html":
            assert canonical["href"].isascii(), rel  # percent-encoded
            assert unquote(canonical["href"]) == page_url(rel, base), rel
    check_links(out, base)


def test_sub_path_hosting(site, run):
    specs = write_generated(site)
    site.write(
        "content/site.yaml",
        (site.root / "content/site.yaml")
        .read_text()
        .replace("https://checks.example.org/", "https://example.org/factdesk/"),
    )
    assert run("build", str(site.root)).code == 0
    assert_under_prefix(site.out, "https://example.org/factdesk/")
    slugs, paths = listing(site.out, "/factdesk/companies/byd/", "/factdesk/")
    assert slugs == newest_first([s for s in specs[:25] if "byd" in s.companies])
    assert paths[1] == "/factdesk/companies/byd/page/2/"
    page = soup(site.out, "/factdesk/", "/factdesk/")
    assert page.find("link", rel="stylesheet")["href"].startswith("/factdesk/assets/style.")
    tag = tag_index(site.out, "/factdesk/")["电动车"][0]
    assert tag == "/factdesk/tags/%E7%94%B5%E5%8A%A8%E8%BD%A6/"
    assert soup(site.out, "/factdesk/404.html", "/factdesk/").find("a", href="/factdesk/")


def test_base_url_option_overrides_site_yaml(site, run):
    write_generated(site)
    base = "https://mirror.example.net/archive/checks/"
    assert run("build", str(site.root), "--base-url", base).code == 0
    assert_under_prefix(site.out, base)
    canonical = soup(site.out, "/archive/checks/checks/check-03/", "/archive/checks/")
    assert canonical.find("link", rel="canonical")["href"] == base + "checks/check-03/"


def test_base_url_without_trailing_slash_is_the_same_site(site, run):
    site.entry("2021-01-01-one", title="One")
    base = "https://example.org/factdesk"
    assert run("build", str(site.root), "--base-url", base).code == 0
    assert_under_prefix(site.out, base + "/")


# -- template overrides ------------------------------------------------------------------------


def test_site_check_template_replaces_the_default(site, run):
    site.entry("2021-01-01-one", title="One")
    site.write(
        "templates/check.html",
        '{% extends "base.html" %}\n'
        "{% block head %}{{ claim_review | jsonld }}{% endblock %}\n"
        '{% block main %}<p id="custom">Custom {{ entry.title }}</p>{% endblock %}\n',
    )
    assert run("build", str(site.root)).code == 0
    page = site.html("checks/one/index.html")
    assert page.find(id="custom").get_text() == "Custom One"
    assert page.select(".claim-box") == []
    assert site.html("index.html").find(id="custom") is None  # other pages keep theirs


SITE_BASE = """\
{% extends "!theme/base.html" %}
{% block head %}<meta name="x-desk" content="custom">{{ super() }}{% endblock %}
"""


def test_site_base_template_can_extend_the_theme_one(site, run):
    site.entry("2021-01-01-one", title="One")
    site.write("content/pages/about.md", "---\ntitle: About\n---\n\nUs.\n")
    site.write("templates/base.html", SITE_BASE)
    # a page template of the site's own that leaves the head block to the layout
    site.write(
        "templates/page.html",
        '{% extends "base.html" %}{% block main %}<h1>{{ page.title }}</h1>{% endblock %}',
    )
    assert run("build", str(site.root)).code == 0
    about = site.html("about/index.html")
    assert about.find("meta", attrs={"name": "x-desk"})["content"] == "custom"
    assert about.find("h1").get_text() == "About"
    assert about.select("footer a")  # the rest of the theme's layout is there
    for rel, page in html_files(site.out).items():
        assert len(page.find_all("main")) == 1, rel
        assert page.find("link", rel="stylesheet"), rel
    check = site.html("checks/one/index.html")
    assert check.find("h1").get_text(strip=True) == "One"
    assert check.select(".claim-box")


def test_site_base_template_head_block_reaches_every_page(site, run):
    """A site-wide addition to <head> (analytics, verification) shows on every page."""
    site.entry("2021-01-01-one", title="One")
    site.write("templates/base.html", SITE_BASE)
    assert run("build", str(site.root)).code == 0
    for rel, page in html_files(site.out).items():
        assert page.find("meta", attrs={"name": "x-desk"}) is not None, rel
    # and the pages' own head content is still there
    check = site.html("checks/one/index.html")
    assert check.find("script", type="application/ld+json") is not None


def test_site_stylesheet_replaces_the_default(site, run, tmp_path):
    site.entry("2021-01-01-one", title="One")
    assert run("build", str(site.root), "-o", str(tmp_path / "before")).code == 0
    [default] = (tmp_path / "before" / "assets").glob("style.*.css")

    css = b"body { color: rebeccapurple; }\n"
    site.write("templates/assets/style.css", css)
    assert run("build", str(site.root)).code == 0
    [custom] = (site.out / "assets").glob("style.*.css")
    assert custom.name != default.name
    assert custom.read_bytes() == css
    for rel, page in html_files(site.out).items():
        assert page.find("link", rel="stylesheet")["href"] == f"/assets/{custom.name}", rel


# -- security ----------------------------------------------------------------------------------

SCRIPT_BODY = "Before.\n\n<script>alert('body')</script>\n\nAfter.\n"


def test_raw_html_in_body_is_escaped_by_default(site, run):
    site.entry("2021-01-01-one", title="One", body=SCRIPT_BODY)
    assert run("build", str(site.root)).code == 0
    page = site.html("checks/one/index.html")
    assert page.select(".prose script") == []
    # the only scripts are the page's own JSON-LD and the theme's deferred assets
    inline = [s for s in page.find_all("script") if not s.has_attr("src")]
    assert {s.get("type") for s in inline} <= {"application/ld+json"}
    assert all(s["src"].startswith("/assets/") for s in page.find_all("script", src=True))
    assert "alert(" not in "".join(s.get_text() for s in page.find_all("script"))
    assert "<script>alert('body')</script>" in page.select_one(".prose").get_text()


def test_raw_html_in_body_is_rendered_when_allowed(site, run):
    site.write(
        "content/site.yaml", (site.root / "content/site.yaml").read_text() + "allow_html: true\n"
    )
    site.entry("2021-01-01-one", title="One", body=SCRIPT_BODY)
    assert run("build", str(site.root)).code == 0
    scripts = site.html("checks/one/index.html").select(".prose script")
    assert [s.get_text() for s in scripts] == ["alert('body')"]


@pytest.mark.parametrize(
    "target", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<b>x</b>"]
)
def test_unsafe_link_schemes_are_dropped(site, run, target):
    site.entry("2021-01-01-one", title="One", body=f"[click me]({target}) and ![pic]({target})\n")
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    assert "dropped" in result.err  # the author is told
    for rel, page in html_files(site.out).items():
        for tag in page.find_all(lambda t: t.has_attr("href") or t.has_attr("src")):
            value = (tag.get("href") or tag.get("src")).strip().lower()
            assert not value.startswith(("javascript:", "data:")), f"{rel}: {tag}"


def test_html_in_a_title_is_escaped_everywhere(site, run):
    evil = "<img src=x onerror=alert(1)>"
    site.entry(
        "2021-01-01-one",
        title=f'"{evil} Acme"',
        claim=f'"{evil} claim"',
        extra=f'tags: ["{evil}"]\nsummary: "{evil} summary"\n',
    )
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    pages = html_files(site.out)
    for rel, page in pages.items():
        assert page.find_all("img", onerror=True) == [], rel
        assert "<img src=x" not in (site.out / rel).read_text(encoding="utf-8"), rel
    shown = {
        "checks/one/index.html",
        "index.html",
        "companies/byd/index.html",
        "verdicts/false/index.html",
        "tags/index.html",
    }
    for rel in shown:
        assert evil in pages[rel].get_text(), rel
    check = pages["checks/one/index.html"]
    assert check.find("h1").get_text() == f"{evil} Acme"
    assert check.find("title").get_text().startswith(f"{evil} Acme")
    assert check.find("meta", attrs={"name": "description"})["content"] == f"{evil} summary"
    [tag_link] = check.select(".tags a")
    tag_page = soup(site.out, tag_link["href"])
    assert tag_page.find("h1").get_text(strip=True) == evil


def test_markdown_tables_footnotes_and_heading_ids(site, run):
    site.entry("2021-01-01-one", title="One", body=BODY_WITH_LINKS)
    assert run("build", str(site.root)).code == 0
    prose = site.html("checks/one/index.html").select_one(".prose")
    assert prose.find("h2", id="background").get_text() == "Background"
    assert prose.find("h3", id="what-we-found") is not None
    table = prose.find("table")
    assert [th.get_text() for th in table.select("thead th")] == ["Source", "Says"]
    assert [td.get_text() for td in table.select("tbody td")] == ["Company", "No"]
    ref = prose.select_one("sup.footnote-ref a")
    note = prose.find(id=ref["href"][1:])
    assert note is not None and "A footnote." in note.get_text()
    check_links(site.out, "https://checks.example.org/")


# -- static files ------------------------------------------------------------------------------


def test_static_files_are_copied(site, run):
    site.entry("2021-01-01-one", title="One")
    site.write("content/static/favicon.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>")
    site.write("content/static/images/a b.png", b"\x89PNG\x00\x01")
    assert run("build", str(site.root)).code == 0
    assert (site.out / "images" / "a b.png").read_bytes() == b"\x89PNG\x00\x01"
    assert (site.out / "favicon.svg").is_file()
    icon = site.html("index.html").find("link", rel="icon")
    assert icon["href"] == "/favicon.svg"


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_symlink_out_of_the_site_in_static_is_refused(site, run, tmp_path, kind):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("do not publish")
    site.entry("2021-01-01-one", title="One")
    link = site.root / "content" / "static" / "leak"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(secret / "key.txt" if kind == "file" else secret)
    result = run("build", str(site.root))
    assert result.code == 1
    assert "symbolic link points outside the site folder" in result.err
    assert "content/static/leak" in result.err
    assert not site.out.exists()


def test_entry_files_behind_links_and_dots(site, run, tmp_path):
    """Entries are the ``.md`` files under content/entries/, in subfolders too: a linked
    file counts if it resolves inside the site and is refused otherwise; a linked folder
    is not entered, and files and folders whose names start with a dot are not read."""
    from conftest import entry_text

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "leak.md").write_text(entry_text(title="Leaked"), encoding="utf-8")
    site.entry("2021-01-01-one", title="One")
    site.write("content/entries/2020/05/2020-05-05-deep.md", entry_text(title="Deep"))
    site.write("content/shared/2021-02-02-shared.md", entry_text(title="Shared"))
    site.write("content/entries/.hidden/2021-03-03-hidden.md", entry_text(title="Hidden"))
    site.write("content/entries/.2021-04-04-dot.md", entry_text(title="Dot"))
    entries = site.root / "content" / "entries"
    (entries / "2021-02-02-shared.md").symlink_to(site.root / "content" / "shared" /
                                                  "2021-02-02-shared.md")
    (entries / "linked-folder").symlink_to(site.root / "content" / "shared",
                                           target_is_directory=True)
    (entries / "outside-folder").symlink_to(outside, target_is_directory=True)
    assert run("build", str(site.root)).code == 0
    titles = {a.get_text(strip=True) for a in site.html("index.html").select("h2 a, h3 a")}
    assert {"One", "Deep", "Shared"} <= titles
    assert not titles & {"Leaked", "Hidden", "Dot"}
    assert sorted(p.name for p in (site.out / "checks").iterdir()) == ["deep", "one", "shared"]
    (entries / "2021-05-05-leak.md").symlink_to(outside / "leak.md")
    result = run("build", str(site.root))
    assert result.code == 1
    assert ("content/entries/2021-05-05-leak.md: symbolic link points outside the site "
            "folder; refused") in result.err
    assert "Leaked" not in (site.out / "index.html").read_text(encoding="utf-8")


def test_symlink_inside_the_site_in_static_is_followed(site, run):
    site.write("content/shared/logo.svg", "<svg/>")
    link = site.root / "content" / "static" / "logo.svg"
    link.parent.mkdir(parents=True)
    link.symlink_to(site.root / "content" / "shared" / "logo.svg")
    assert run("build", str(site.root)).code == 0
    assert (site.out / "logo.svg").read_text() == "<svg/>"
    assert not (site.out / "logo.svg").is_symlink()
