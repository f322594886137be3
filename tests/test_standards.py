"""Standards, checked by real consumers of the built site, not by our own parsers.

- ClaimReview and Organization JSON-LD: ``extruct`` (what fact-check aggregators use),
  compared with the front matter (read with ``yaml``) and the visible page (``bs4``);
- Atom feeds (RFC 4287): ``feedparser``;
- sitemaps: ``xmlschema`` with the official sitemaps.org XSDs kept in ``tests/data/``;
- ``/claimreview.json``: the schema.org DataFeed envelope, item for item against the
  ClaimReview that ``extruct`` finds in each check page;
- meta tags, transparency links and byte-for-byte determinism.

Every site is built through the command line into a temp folder: the repo's example site,
and generated sites with varied content (claimants that are known companies, an unrated
verdict, hostile text, drafts and future entries, a sub-path ``base_url``).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import extruct
import feedparser
import pytest
import xmlschema
import yaml
from bs4 import BeautifulSoup, Tag
from conftest import NOW, REPO, Site

from generator.model import When
from generator.sitemap import SITEMAP_NS, sitemaps
from generator.urls import Urls

DATA = Path(__file__).resolve().parent / "data"
SITEMAP_XSD = DATA / "sitemap.xsd"  # sitemaps.org urlset schema (source noted in the file)
SITEINDEX_XSD = DATA / "siteindex.xsd"  # sitemaps.org sitemapindex schema
ATOM_TYPE = "application/atom+xml"
SCHEMA_ORG = "https://schema.org"
NOW_MOMENT = dt.datetime.fromisoformat(NOW)

HOSTILE_CLAIM = 'Acme said "</script><script>alert(1)</script>" <!-- & then --> more'
HOSTILE_TITLE = "Is </script><script>alert(2)</script> <!-- safe?"
HOSTILE_CLAIMANT = "Someone </script><!-- x"


# -- reading the sources the way an author wrote them ------------------------------------------


def front_matter(path: Path) -> dict[str, Any]:
    """The YAML front matter of a Markdown file (a plain YAML reader, not the generator's)."""
    match = re.match(r"---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", path.read_text("utf-8"), re.S)
    assert match, f"{path} has no front matter"
    data = yaml.safe_load(match.group(1)) or {}
    assert isinstance(data, dict)
    return data


def _text(value: Any) -> str:
    """A scalar as the author meant it: YAML's ``false``/``true`` are the verdict ids."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@dataclass
class Source:
    """One entry as authored: its front matter and where the site will publish it."""

    slug: str
    fm: dict[str, Any]
    tz: ZoneInfo

    def moment(self, key: str) -> dt.datetime | None:
        return moment(self.fm.get(key), self.tz)

    def iso(self, key: str) -> str | None:
        value = self.fm.get(key)
        return None if value is None else value.isoformat()

    @property
    def published(self) -> dt.datetime:
        value = self.moment("published")
        assert value is not None
        return value

    @property
    def modified_key(self) -> str:
        """``updated`` when it is given (and later than ``published``), else ``published``."""
        updated = self.moment("updated")
        return "updated" if updated and updated > self.published else "published"

    @property
    def is_published(self) -> bool:
        return not self.fm.get("draft") and self.published <= NOW_MOMENT

    @property
    def verdict(self) -> str:
        return _text(self.fm["verdict"])

    @property
    def claim_urls(self) -> list[str]:
        return [str(u) for u in _list(self.fm.get("claim_urls"))]

    @property
    def corrections(self) -> list[dict[str, Any]]:
        return sorted(_list(self.fm.get("corrections")), key=lambda c: moment(c["date"], self.tz))


def moment(value: Any, tz: ZoneInfo) -> dt.datetime | None:
    """A front matter date as an aware moment: a plain date is midnight in the site's zone."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    assert isinstance(value, dt.date), value
    return dt.datetime.combine(value, dt.time(), tzinfo=tz)


@dataclass
class Built:
    """A site folder and the output the CLI built from it."""

    site_dir: Path
    out: Path

    @cached_property
    def config(self) -> dict[str, Any]:
        return yaml.safe_load((self.site_dir / "content/site.yaml").read_text("utf-8"))

    @property
    def base(self) -> str:
        """``base_url`` with exactly one trailing slash."""
        return self.config["base_url"].rstrip("/") + "/"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.get("timezone", "UTC"))

    @property
    def verdicts(self) -> dict[str, dict[str, Any]]:
        assert "verdicts" in self.config, "these tests read the scale from site.yaml"
        return {_text(v["id"]): v for v in self.config["verdicts"]}

    @property
    def publisher(self) -> dict[str, str]:
        pub = self.config.get("publisher")
        if pub:
            return {"name": pub["name"], "url": pub["url"]}
        return {"name": self.config["title"], "url": self.base}  # the home page

    @property
    def contact_url(self) -> str | None:
        contact = self.config.get("contact")
        if contact and "@" in contact and "://" not in contact:
            return f"mailto:{contact}"
        return contact

    @cached_property
    def entries(self) -> list[Source]:
        """Every entry file, newest first (by ``published``, then slug)."""
        found = []
        for path in sorted((self.site_dir / "content/entries").rglob("*.md")):
            fm = front_matter(path)
            slug = fm.get("slug") or re.sub(r"^\d{4}-\d{2}-\d{2}-", "", path.stem)
            found.append(Source(str(slug), fm, self.tz))
        return sorted(found, key=lambda s: (s.published, s.slug), reverse=True)

    @property
    def published(self) -> list[Source]:
        return [s for s in self.entries if s.is_published]

    @property
    def unpublished(self) -> list[Source]:
        return [s for s in self.entries if not s.is_published]

    @cached_property
    def companies(self) -> dict[str, dict[str, Any]]:
        return {
            p.stem: front_matter(p)
            for p in sorted((self.site_dir / "content/companies").glob("*.md"))
        }

    def company_slug(self, name: str) -> str | None:
        """The company a name refers to: its slug, name or an alias, in any case."""
        wanted = str(name).strip().casefold()
        for slug, fm in self.companies.items():
            keys = [slug, fm["name"], *_list(fm.get("aliases"))]
            if wanted in {str(k).casefold() for k in keys}:
                return slug
        return None

    # -- the output ----------------------------------------------------------------------

    def url(self, relpath: str) -> str:
        """The public URL of an output file: ``a/index.html`` → ``<base>a/``."""
        rel = relpath[: -len("index.html")] if relpath.endswith("index.html") else relpath
        return self.base + rel

    def file_of(self, url: str) -> Path:
        """The output file that serves an absolute URL of this site."""
        assert url.startswith(self.base), f"{url} is not under {self.base}"
        rel = url[len(self.base) :].split("#")[0]
        if rel == "" or rel.endswith("/"):
            rel += "index.html"
        return self.out / rel

    def check_url(self, slug: str) -> str:
        return self.base + f"checks/{slug}/"

    def html_files(self) -> list[str]:
        return sorted(p.relative_to(self.out).as_posix() for p in self.out.rglob("*.html"))

    def text(self, relpath: str) -> str:
        return (self.out / relpath).read_text("utf-8")

    def soup(self, relpath: str) -> BeautifulSoup:
        return BeautifulSoup(self.text(relpath), "html.parser")

    def jsonld(self, relpath: str) -> list[dict[str, Any]]:
        """The JSON-LD items of a page, as extruct (the consumer) reads them."""
        data = extruct.extract(self.text(relpath), base_url=self.url(relpath),
                               syntaxes=["json-ld"], uniform=False)
        return data["json-ld"]

    def feed(self, relpath: str) -> feedparser.FeedParserDict:
        parsed = feedparser.parse((self.out / relpath).read_bytes())
        assert not parsed.bozo, f"{relpath}: {parsed.get('bozo_exception')}"
        assert parsed.version == "atom10", relpath
        return parsed


def build(run, site_dir: Path, out: Path, *args: str) -> Built:
    result = run("build", str(site_dir), "-o", str(out), *args)
    assert result.code == 0, result.err
    return Built(site_dir, out)


# -- a generated site with varied content -------------------------------------------------------

VARIED_YAML = """\
title: Test Desk
base_url: {base_url}
language: {language}
description: Checks of claims about companies.
{publisher}{contact}timezone: Asia/Shanghai
per_page: 3
verdicts:
  - {{id: "true", label: "Correct", rating: 6, color: "#1a7f37", description: "Accurate."}}
  - {{id: half, label: "Half right", rating: 4, color: "#bf8700"}}
  - {{id: "false", label: "Wrong", rating: 2, color: "#cf222e"}}
  - {{id: unproven, label: "Not proven", color: "#6e7781"}}
"""

PUBLISHER = "publisher: {name: Test Desk Media, url: https://media.example.net/}\n"
HELIO = "---\nname: Helio Mobile\naliases: [Helio]\nwebsite: https://helio.example.com\n---\n\nTelco.\n"


def make_varied(
    site: Site,
    base_url: str = "https://checks.example.org/",
    language: str = "en-GB",
    contact: bool = True,
    publisher: bool = True,
) -> None:
    """A site whose entries exercise every optional ClaimReview field and edge case."""
    site.write("content/site.yaml", VARIED_YAML.format(
        base_url=base_url, language=language,
        publisher=PUBLISHER if publisher else "",
        contact="contact: desk@example.org\n" if contact else ""))
    site.write("content/companies/helio.md", HELIO)
    for slug, title in (("about", "About us"), ("methodology", "How we check"),
                        ("corrections-policy", "Corrections policy")):
        site.write(f"content/pages/{slug}.md", f"---\ntitle: {title}\n---\n\nText.\n")
    # A known company by alias (BYD: website and Wikidata), with every optional field.
    site.entry(
        "2020/2020-12-15-byd-car", title="Is BYD building a car with Xiaomi?",
        claim="BYD and Xiaomi are launching a jointly built car", verdict="false",
        companies="[BYD, xiaomi]",
        extra="""\
            claimant: BYD Auto
            claim_date: 2020-12-14
            claim_urls: [https://social.example.com/post/1, https://forum.example.net/t/2]
            verdict_explanation: Both companies denied it.
            updated: 2020-12-20
            author: A. Reporter
            summary: Both companies denied it; the pictures were fabricated.
            tags: [automotive, rumor]
            corrections:
              - {date: 2020-12-20, type: update, note: Added Xiaomi's response.}
            """,
    )
    # A known company by lower-case name; a date-time ``published``; no summary.
    site.entry(
        "2021/2021-03-08-byd-battery", title="Do BYD batteries last forever?",
        claim="BYD batteries never wear out", verdict="half", companies="[比亚迪]",
        published="2021-03-08T09:30:00+08:00",
        extra='claimant: byd\nclaim_urls: ["https://video.example.com/v/9?t=1&lang=en"]',
    )
    # An unrated verdict, and a known company without links (no sameAs).
    site.entry(
        "2022/2022-05-01-xiaomi-phone", published="2022-05-01",
        title="Is a Xiaomi phone made of glass?",
        claim="The new Xiaomi phone is made entirely of glass", verdict="unproven",
        companies="[xiaomi]",
        extra="claimant: Xiaomi\nclaim_date: 2022-04-30\nsummary: Nobody could confirm it.",
    )
    # Hostile text everywhere a string reaches the page, the feeds and the JSON-LD.
    site.entry(
        "2023/2023-07-01-hostile", published="2023-07-01", title=yaml_quote(HOSTILE_TITLE),
        claim=yaml_quote(HOSTILE_CLAIM), verdict="false", companies="[Acme Foods]",
        extra=f"""\
            claimant: {yaml_quote(HOSTILE_CLAIMANT)}
            verdict_explanation: {yaml_quote("It is </script> false <!-- really")}
            summary: {yaml_quote("A <script>summary</script> & <!-- more")}
            """,
    )
    # A company with a website only; corrections authored out of order.
    site.entry(
        "2024/2024-01-10-helio-wifi", published="2024-01-10",
        title="Does Helio give away free Wi-Fi?",
        claim="Helio customers get free Wi-Fi on every flight", verdict="true",
        companies="[helio]",
        extra="""\
            claimant: Helio Mobile
            claim_date: 2024-01-09
            verdict_explanation: The offer is real.
            updated: 2024-02-01
            corrections:
              - {date: 2024-02-01, type: clarification, note: Named the airline.}
              - {date: 2024-01-20, note: Fixed the date of the offer.}
            """,
    )
    # Neither of these may appear anywhere in the output.
    site.entry(
        "2024/2024-06-01-secret-draft-check", published="2024-06-01",
        title="Secret draft about BYD",
        claim="A draft claim zqxdraft", companies="[BYD]", extra="draft: true",
    )
    site.entry(
        "2026/2026-06-01-embargoed-future-check", title="Embargoed future check",
        claim="A future claim zqxfuture", published="2026-06-01", companies="[BYD]",
    )


def yaml_quote(text: str) -> str:
    """A YAML single-quoted scalar."""
    return "'" + text.replace("'", "''") + "'"


@pytest.fixture
def example(run, tmp_path) -> Built:
    """The repo's example site, built through the CLI."""
    return build(run, REPO, tmp_path / "example-out")


@pytest.fixture
def varied(run, site) -> Built:
    make_varied(site)
    return build(run, site.root, site.out)


@pytest.fixture
def subpath(run, site) -> Built:
    """Hosted under a sub-path (written without the trailing slash); no publisher."""
    make_varied(site, base_url="https://host.example.org/fact/desk", language="zh-Hans",
                publisher=False)
    return build(run, site.root, site.out)


ALL_SITES = ["example", "varied", "subpath"]


@pytest.fixture(params=ALL_SITES)
def built(request) -> Built:
    return request.getfixturevalue(request.param)


# -- small readers --------------------------------------------------------------------------------


def meta(soup: BeautifulSoup, key: str) -> str | None:
    tag = soup.find("meta", attrs={"property": key}) or soup.find("meta", attrs={"name": key})
    return tag.get("content") if tag else None


def link_hrefs(soup: BeautifulSoup, rel: str, type_: str | None = None) -> list[str]:
    return [
        tag["href"]
        for tag in soup.find_all("link", href=True)
        if rel in (tag.get("rel") or []) and (type_ is None or tag.get("type") == type_)
    ]


def canonical(soup: BeautifulSoup) -> str | None:
    hrefs = link_hrefs(soup, "canonical")
    assert len(hrefs) <= 1
    return hrefs[0] if hrefs else None


def visible(tag: Tag) -> str:
    """The text a reader sees (screen-reader-only spans left out), whitespace collapsed."""
    tag = copy.copy(tag)
    for hidden in tag.select(".visually-hidden"):
        hidden.decompose()
    return " ".join(tag.get_text().split())


def ld_scripts(html: str) -> list[str]:
    """The raw text of every JSON-LD script element, as the HTML tokenizer ends them."""
    return re.findall(r'<script type="application/ld\+json">(.*?)</script', html, re.S | re.I)


def claim_reviews(built: Built, relpath: str) -> list[dict[str, Any]]:
    return [d for d in built.jsonld(relpath) if d.get("@type") == "ClaimReview"]


def the_claim_review(built: Built, slug: str) -> dict[str, Any]:
    reviews = claim_reviews(built, f"checks/{slug}/index.html")
    assert len(reviews) == 1, f"{slug}: {len(reviews)} ClaimReviews"
    return reviews[0]


# == 1. ClaimReview ==============================================================================


def assert_claim_review_matches(built: Built, source: Source) -> None:
    """Every ClaimReview field against the front matter and the visible page."""
    fm, slug = source.fm, source.slug
    relpath = f"checks/{slug}/index.html"
    page_url = built.url(relpath)
    soup = built.soup(relpath)
    review = the_claim_review(built, slug)
    verdict = built.verdicts[source.verdict]

    assert review["@context"] in (SCHEMA_ORG, SCHEMA_ORG + "/")
    # The claim: markup, front matter and claim box agree.
    box = soup.select_one(".claim-box")
    assert box is not None, slug
    assert review["claimReviewed"] == fm["claim"]
    assert fm["claim"] in box.get_text()
    assert box.select_one(".claim-text").get_text() == fm["claim"]

    # The rating: label always; numbers from the scale only for rated verdicts.
    rating = review["reviewRating"]
    assert rating["@type"] == "Rating"
    assert rating["alternateName"] == verdict["label"]
    badge = box.select_one(".verdict-box .verdict")
    assert badge is not None and visible(badge) == verdict["label"], slug
    scale = [v["rating"] for v in built.verdicts.values() if "rating" in v]
    if "rating" in verdict:
        for key in ("ratingValue", "bestRating", "worstRating"):
            assert isinstance(rating[key], int) and not isinstance(rating[key], bool), key
        assert rating["ratingValue"] == verdict["rating"]
        assert rating["bestRating"] == max(scale)
        assert rating["worstRating"] == min(scale)
        assert 1 <= rating["worstRating"] <= rating["ratingValue"] <= rating["bestRating"]
    else:
        assert not {"ratingValue", "bestRating", "worstRating"} & rating.keys(), rating
    if fm.get("verdict_explanation"):
        assert rating["ratingExplanation"] == fm["verdict_explanation"]
        assert visible(box.select_one(".verdict-explanation")) == " ".join(
            fm["verdict_explanation"].split())
    else:
        assert "ratingExplanation" not in rating

    # url: the canonical link, on the page's own host.
    assert review["url"] == canonical(soup) == page_url
    assert urlsplit(review["url"]).netloc == urlsplit(page_url).netloc

    # The publisher as author.
    assert review["author"]["@type"] == "Organization"
    assert review["author"]["name"] == built.publisher["name"]
    assert review["author"]["url"] == built.publisher["url"]

    # Dates: markup, front matter and the byline's <time datetime>.
    assert review["datePublished"] == source.iso("published")
    assert review["dateModified"] == source.iso(source.modified_key)
    times = [t["datetime"] for t in soup.select(".byline time")]
    assert times[0] == review["datePublished"]
    if fm.get("updated"):
        assert times[1] == source.iso("updated") == review["dateModified"]
    else:
        assert len(times) == 1

    # The claim reviewed: who said it, when and where.
    item = review["itemReviewed"]
    assert item["@type"] == "Claim"
    if fm.get("claimant"):
        author = item["author"]
        assert author["name"] == fm["claimant"]
        assert box.select_one(".claimant").get_text() == fm["claimant"]
        company = built.company_slug(fm["claimant"])
        if company is None:
            assert "sameAs" not in author
        else:
            cfm = built.companies[company]
            links = [cfm.get("website")]
            if cfm.get("wikidata"):
                links.append(f"https://www.wikidata.org/wiki/{cfm['wikidata']}")
            assert _list(author.get("sameAs")) == [u for u in links if u], author
    else:
        assert "author" not in item
    if fm.get("claim_date"):
        assert item["datePublished"] == source.iso("claim_date")
        assert box.select_one(".claim-meta time")["datetime"] == item["datePublished"]
    else:
        assert "datePublished" not in item
    if source.claim_urls:
        assert [a["url"] for a in item["appearance"]] == source.claim_urls
        assert all(a["@type"] == "CreativeWork" for a in item["appearance"])
        assert item["firstAppearance"]["url"] == source.claim_urls[0]
        shown = [a["href"] for a in box.select(".claim-meta a[href]")]
        assert shown == source.claim_urls
    else:
        assert "appearance" not in item and "firstAppearance" not in item


def test_claim_review_on_every_check_page_matches_front_matter_and_page(built):
    assert built.published
    for source in built.published:
        assert_claim_review_matches(built, source)
    # Exactly the published checks have pages, and only check pages carry a ClaimReview.
    pages = {p.parent.name for p in (built.out / "checks").glob("*/index.html")}
    assert pages == {s.slug for s in built.published}
    for relpath in built.html_files():
        if not relpath.startswith("checks/"):
            assert claim_reviews(built, relpath) == [], relpath


def test_claimant_that_is_a_known_company_gets_same_as(varied):
    byd = ["https://www.byd.com", "https://www.wikidata.org/wiki/Q747014"]
    by_alias = the_claim_review(varied, "byd-car")["itemReviewed"]["author"]
    assert by_alias == {"@type": "Organization", "name": "BYD Auto", "sameAs": byd}
    by_name = the_claim_review(varied, "byd-battery")["itemReviewed"]["author"]
    assert by_name["name"] == "byd" and by_name["sameAs"] == byd
    website_only = the_claim_review(varied, "helio-wifi")["itemReviewed"]["author"]
    assert website_only["sameAs"] in (["https://helio.example.com"], "https://helio.example.com")
    no_links = the_claim_review(varied, "xiaomi-phone")["itemReviewed"]["author"]
    assert "sameAs" not in no_links
    unknown = the_claim_review(varied, "hostile")["itemReviewed"]["author"]
    assert "sameAs" not in unknown


def test_unrated_verdict_gets_a_textual_rating_only(varied):
    rating = the_claim_review(varied, "xiaomi-phone")["reviewRating"]
    assert rating == {"@type": "Rating", "alternateName": "Not proven"}
    rated = the_claim_review(varied, "byd-battery")["reviewRating"]
    # The scale of site.yaml, not a fixed 1–5.
    assert (rated["ratingValue"], rated["bestRating"], rated["worstRating"]) == (4, 6, 2)


def test_hostile_text_stays_inside_the_json_ld_and_round_trips(varied):
    relpath = "checks/hostile/index.html"
    html = varied.text(relpath)
    # Nothing from content opens or ends an element: the only script is the JSON-LD one.
    assert "<script>alert" not in html
    assert html.count("<!--") == 0
    raw = ld_scripts(html)
    assert len(raw) == 1
    for dangerous in ("</script", "<script", "<!--", "-->"):
        assert dangerous not in raw[0].lower()
    assert json.loads(raw[0])["claimReviewed"] == HOSTILE_CLAIM
    soup = varied.soup(relpath)
    # The only inline script is the JSON-LD; the rest are the theme's own asset files.
    inline = [s for s in soup.find_all("script") if not s.get("src")]
    assert [s.get("type") for s in inline] == ["application/ld+json"]
    for tag in soup.find_all("script", src=True):
        assert "/assets/" in tag["src"] and not tag.get_text(), tag
    # extruct (lxml) reads exactly the authored strings back.
    review = the_claim_review(varied, "hostile")
    assert review["claimReviewed"] == HOSTILE_CLAIM
    assert review["name"] == HOSTILE_TITLE
    assert review["itemReviewed"]["author"]["name"] == HOSTILE_CLAIMANT
    assert review["reviewRating"]["ratingExplanation"] == "It is </script> false <!-- really"
    # The visible page shows the same text, as text.
    assert soup.select_one(".claim-text").get_text() == HOSTILE_CLAIM
    assert soup.select_one("h1").get_text() == HOSTILE_TITLE
    assert meta(soup, "og:description") == "A <script>summary</script> & <!-- more"


def test_organization_on_the_home_page_points_at_the_policy_pages(built):
    orgs = [d for d in built.jsonld("index.html") if d.get("@type") == "Organization"]
    assert len(orgs) == 1
    org = orgs[0]
    assert org["name"] == built.publisher["name"]
    assert org["url"] == built.publisher["url"]
    expected = {
        "publishingPrinciples": "about/",
        "verificationFactCheckingPolicy": "methodology/",
        "correctionsPolicy": "corrections-policy/",
    }
    for prop, path in expected.items():
        assert org[prop] == built.base + path, prop
        assert built.file_of(org[prop]).is_file(), org[prop]


# == 2. Atom feeds ===============================================================================


def feed_paths(built: Built) -> list[str]:
    return ["feed.xml", "corrections/feed.xml",
            *(f"companies/{slug}/feed.xml" for slug in built.companies)]


def assert_atom_entries(built: Built, parsed, expected: list[Source]) -> None:
    """The entries of a site or company feed: order, ids, dates and the verdict."""
    urls = [built.check_url(s.slug) for s in expected]
    assert [e.link for e in parsed.entries] == urls
    for entry, source in zip(parsed.entries, expected, strict=True):
        page = built.soup(f"checks/{source.slug}/index.html")
        assert entry.id == canonical(page) == built.check_url(source.slug)
        assert dt.datetime.fromisoformat(entry.published) == source.published
        assert dt.datetime.fromisoformat(entry.updated) == source.moment(source.modified_key)
        assert entry.title == source.fm["title"]
        verdict = built.verdicts[source.verdict]
        verdict_tags = [t for t in entry.tags if t.get("term") == source.verdict]
        assert len(verdict_tags) == 1 and verdict_tags[0].get("label") == verdict["label"]
        assert verdict["label"] in entry.summary
    # Newest first.
    published = [dt.datetime.fromisoformat(e.published) for e in parsed.entries]
    assert published == sorted(published, reverse=True)
    if parsed.entries:
        newest = max(dt.datetime.fromisoformat(e.updated) for e in parsed.entries)
        assert dt.datetime.fromisoformat(parsed.feed.updated) == newest


def test_feeds_parse_and_carry_the_published_checks(built):
    for relpath in feed_paths(built):
        parsed = built.feed(relpath)
        assert parsed.feed.id == built.base + relpath
        assert parsed.feed.title
        selves = [ln.href for ln in parsed.feed.links if ln.rel == "self"]
        assert selves == [built.base + relpath]
        ids = [e.id for e in parsed.entries]
        assert len(ids) == len(set(ids)), relpath

    assert_atom_entries(built, built.feed("feed.xml"), built.published)
    for slug in built.companies:
        expected = [
            s for s in built.published
            if slug in {built.company_slug(c) for c in _list(s.fm.get("companies"))}
        ]
        parsed = built.feed(f"companies/{slug}/feed.xml")
        assert_atom_entries(built, parsed, expected)
        alternates = [ln.href for ln in parsed.feed.links if ln.rel == "alternate"]
        assert alternates == [built.base + f"companies/{slug}/"]


def test_corrections_feed_lists_corrected_checks_latest_change_first(built):
    corrected = [s for s in built.published if s.corrections]
    assert corrected
    corrected.sort(key=lambda s: moment(s.corrections[-1]["date"], s.tz), reverse=True)
    parsed = built.feed("corrections/feed.xml")
    assert [e.link for e in parsed.entries] == [built.check_url(s.slug) for s in corrected]
    for entry, source in zip(parsed.entries, corrected, strict=True):
        latest = moment(source.corrections[-1]["date"], source.tz)
        assert dt.datetime.fromisoformat(entry.updated) == latest
        assert entry.id.startswith(built.check_url(source.slug))
        assert source.corrections[-1]["note"] in entry.summary


def test_feed_ids_stay_the_same_when_the_site_grows(run, site, tmp_path):
    make_varied(site)
    first = build(run, site.root, tmp_path / "one")
    before = {
        path: {e.link: e.id for e in first.feed(path).entries} for path in feed_paths(first)
    }
    site.entry("2025/2025-01-01-new-byd-check", title="A newer BYD check",
               claim="BYD said something new", companies="[BYD]", published="2025-01-01",
               extra="corrections:\n  - {date: 2025-01-02, note: Fixed a typo.}")
    second = build(run, site.root, tmp_path / "two")
    for path, ids in before.items():
        after = {e.link: e.id for e in second.feed(path).entries}
        for link, entry_id in ids.items():
            assert after[link] == entry_id, (path, link)
    assert second.feed("feed.xml").entries[0].link == second.check_url("new-byd-check")
    assert second.feed("companies/byd/feed.xml").entries[0].link == second.check_url(
        "new-byd-check")


def test_pages_link_to_their_feeds(built):
    site_feed = built.base + "feed.xml"
    for relpath in built.html_files():
        soup = built.soup(relpath)
        feeds = [urljoin(built.url(relpath), h) for h in link_hrefs(soup, "alternate", ATOM_TYPE)]
        assert site_feed in feeds, relpath
        for url in feeds:
            assert built.file_of(url).is_file(), (relpath, url)
        company = re.fullmatch(r"companies/([^/]+)/(?:page/\d+/)?index\.html", relpath)
        if company:
            assert built.base + f"companies/{company.group(1)}/feed.xml" in feeds, relpath
        if relpath == "corrections/index.html":
            assert built.base + "corrections/feed.xml" in feeds


# == 3. Sitemap ==================================================================================


# Pages for people only, marked noindex and left out of the sitemap: the 404 page and the
# search page (its results are made in the browser).
NOINDEX_PAGES = {"404.html", "search/index.html"}


def noindexed(built: Built) -> set[str]:
    return {
        relpath for relpath in built.html_files()
        if "noindex" in (meta(built.soup(relpath), "robots") or "")
    }


def sitemap_urls(built: Built) -> list[tuple[str, str | None]]:
    root = ET.parse(built.out / "sitemap.xml").getroot()
    ns = {"s": SITEMAP_NS}
    assert root.tag == f"{{{SITEMAP_NS}}}urlset"
    return [
        (u.findtext("s:loc", namespaces=ns), u.findtext("s:lastmod", namespaces=ns))
        for u in root.findall("s:url", ns)
    ]


def is_undated(built: Built, relpath: str) -> bool:
    """Pages whose content carries no date: free pages, and listings with no check in them.

    The content model gives free pages no date, and a company or verdict with no published
    check (or a site with no correction) has none either; every other page has a lastmod.
    """
    first = relpath.split("/")[0]
    page = built.site_dir / f"content/pages/{first}.md"
    if relpath == f"{first}/index.html" and page.is_file():
        return True
    listing = re.fullmatch(r"(companies/[^/]+|verdicts/[^/]+|corrections)/index\.html", relpath)
    return bool(listing) and built.soup(relpath).select_one("main time") is None


def test_sitemap_validates_and_lists_every_published_page_once(built):
    schema = xmlschema.XMLSchema(SITEMAP_XSD)
    schema.validate(built.out / "sitemap.xml")  # raises with the reason when invalid

    listed = sitemap_urls(built)
    locs = [loc for loc, _ in listed]
    assert len(locs) == len(set(locs)), "a page is listed twice"
    # Crawl the output: every page except those made for people only (noindex).
    hidden = noindexed(built)
    assert hidden <= NOINDEX_PAGES, f"unexpected noindex pages: {hidden - NOINDEX_PAGES}"
    assert "404.html" in hidden
    crawled = {
        built.url(relpath) for relpath in built.html_files()
        if relpath.endswith("index.html") and relpath not in hidden
    }
    assert set(locs) == crawled

    lastmods = dict(listed)
    for source in built.published:
        assert lastmods[built.check_url(source.slug)] == source.iso(source.modified_key)
    for relpath in built.html_files():
        if relpath in hidden or not relpath.endswith("index.html"):
            continue
        if not is_undated(built, relpath):
            assert lastmods[built.url(relpath)], f"{relpath} has no lastmod"
    assert lastmods[built.base]  # the home page


def test_robots_txt_names_the_absolute_sitemap_url(built):
    robots = (built.out / "robots.txt").read_text("utf-8")
    lines = [line.strip() for line in robots.splitlines()]
    assert f"Sitemap: {built.base}sitemap.xml" in lines
    assert built.file_of(built.base + "sitemap.xml").is_file()


def _pages(count: int) -> list[tuple[str, When | None]]:
    tz = dt.timezone(dt.timedelta(hours=8))
    pages: list[tuple[str, When | None]] = [("/", None)]
    for n in range(1, count):
        day = dt.datetime(2020, 1, n, tzinfo=tz)
        pages.append((f"/checks/c{n}/", When(day, has_time=n % 2 == 0)))
    return pages


@pytest.mark.parametrize("base_url", ["https://checks.example.org", "https://h.example.org/sub/"])
def test_sitemap_index_split_validates(base_url):
    urls = Urls(base_url)
    pages = _pages(7)
    files = dict(sitemaps(pages, urls, limit=3))
    assert set(files) == {"/sitemap.xml", "/sitemap-1.xml", "/sitemap-2.xml", "/sitemap-3.xml"}

    urlset = xmlschema.XMLSchema(SITEMAP_XSD)
    siteindex = xmlschema.XMLSchema(SITEINDEX_XSD)
    siteindex.validate(files["/sitemap.xml"].decode())
    ns = {"s": SITEMAP_NS}
    index = ET.fromstring(files["/sitemap.xml"])
    parts = index.findall("s:sitemap", ns)
    assert [p.findtext("s:loc", namespaces=ns) for p in parts] == [
        urls.absolute(f"/sitemap-{n}.xml") for n in (1, 2, 3)]

    listed = []
    for number, part in enumerate(parts, start=1):
        data = files[f"/sitemap-{number}.xml"]
        urlset.validate(data.decode())
        root = ET.fromstring(data)
        locs = [u.findtext("s:loc", namespaces=ns) for u in root.findall("s:url", ns)]
        assert 1 <= len(locs) <= 3
        listed += locs
        # The index's lastmod is the latest change among the part's pages.
        chunk = pages[(number - 1) * 3 : number * 3]
        dated = [when for _, when in chunk if when is not None]
        expected = max(dated, key=lambda w: w.moment).isoformat() if dated else None
        assert part.findtext("s:lastmod", namespaces=ns) == expected
    assert listed == [urls.absolute(path) for path, _ in pages]

    # At the limit, one plain urlset.
    single = dict(sitemaps(pages, urls, limit=len(pages)))
    assert list(single) == ["/sitemap.xml"]
    urlset.validate(single["/sitemap.xml"].decode())


# == 4. The ClaimReview data feed =================================================================


def test_claimreview_data_feed_of_no_checks_and_of_one(site, run) -> None:
    """The feed's items are joined as bytes around a head and a tail: with none, and
    with one, it is still one JSON document (and its lines as documented)."""
    result = run("build", str(site.root), "-q")
    assert result.code == 0, result.err
    text = (site.out / "claimreview.json").read_text("utf-8")
    assert json.loads(text)["dataFeedElement"] == []
    assert text.endswith('"dataFeedElement": [\n\n ]\n}\n')
    site.entry("2021-01-01-one", title="Café «one»", body="Words.")
    result = run("build", str(site.root), "-q")
    assert result.code == 0, result.err
    text = (site.out / "claimreview.json").read_text("utf-8")
    (element,) = json.loads(text)["dataFeedElement"]
    assert element["item"][0]["name"] == "Café «one»"
    line, rest = text.split('"dataFeedElement": [\n', 1)[1].split("\n", 1)
    assert json.loads(line) == element and rest == " ]\n}\n"  # one line per item


def test_claimreview_data_feed_holds_one_item_per_published_check(built):
    feed = json.loads((built.out / "claimreview.json").read_text("utf-8"))
    assert feed["@context"] in (SCHEMA_ORG, SCHEMA_ORG + "/")
    assert feed["@type"] == "DataFeed"
    elements = feed["dataFeedElement"]
    assert [e["url"] for e in elements] == [built.check_url(s.slug) for s in built.published]
    for element, source in zip(elements, built.published, strict=True):
        assert element["@type"] == "DataFeedItem"
        embedded = the_claim_review(built, source.slug)
        assert embedded.pop("@context") in (SCHEMA_ORG, SCHEMA_ORG + "/")
        assert isinstance(element["item"], list) and len(element["item"]) == 1
        # The same JSON, under the feed's @context.
        assert element["item"][0] == embedded
        assert element["url"] == embedded["url"]
        assert element["dateModified"] == embedded["dateModified"]


# == 5. Meta ======================================================================================


def test_every_page_has_canonical_open_graph_twitter_and_lang(built):
    language = built.config.get("language", "en")
    for relpath in built.html_files():
        soup = built.soup(relpath)
        assert soup.html.get("lang") == language, relpath
        link = canonical(soup)
        if relpath in NOINDEX_PAGES:
            assert "noindex" in (meta(soup, "robots") or ""), relpath
            assert link is None or link == built.url(relpath), relpath
        else:
            assert link == built.url(relpath), relpath
            assert urlsplit(link).scheme in ("http", "https") and urlsplit(link).netloc
            assert meta(soup, "og:url") == link
        for key in ("og:title", "og:description", "og:url", "og:type", "twitter:card"):
            assert meta(soup, key), f"{relpath}: no {key}"
        assert meta(soup, "og:title") == soup.title.get_text()

    for source in built.published:
        soup = built.soup(f"checks/{source.slug}/index.html")
        description = source.fm.get("summary") or source.fm["claim"]
        assert meta(soup, "og:type") == "article"
        assert meta(soup, "og:description") == description
        assert meta(soup, "description") == description
        assert meta(soup, "twitter:description") == description
        assert meta(soup, "twitter:label1") == "Verdict"
        assert meta(soup, "twitter:data1") == built.verdicts[source.verdict]["label"]


def test_description_falls_back_to_the_claim(varied):
    soup = varied.soup("checks/byd-battery/index.html")
    assert meta(soup, "og:description") == "BYD batteries never wear out"


def test_transparency_links_on_every_page(built):
    contact = built.contact_url
    assert contact
    targets = {built.base + p for p in ("methodology/", "ratings/", "corrections/")}
    for relpath in built.html_files():
        soup = built.soup(relpath)
        here = built.url(relpath)
        links = {urljoin(here, a["href"]) for a in soup.find_all("a", href=True)}
        assert targets <= links, f"{relpath}: {targets - links}"
        footer = soup.find("footer")
        submit = [a for a in footer.find_all("a", href=True)
                  if "submit a claim" in a.get_text().lower()]
        assert [a["href"] for a in submit] == [contact], relpath
    for source in built.published:
        soup = built.soup(f"checks/{source.slug}/index.html")
        report = [a for a in soup.find_all("a", href=True)
                  if "report an error" in a.get_text().lower()]
        assert [a["href"] for a in report] == [contact], source.slug
    for path in targets:
        assert built.file_of(path).is_file()


def test_no_contact_links_without_a_contact(run, site):
    make_varied(site, contact=False)
    built = build(run, site.root, site.out)
    for relpath in ["index.html", "checks/byd-car/index.html"]:
        text = built.soup(relpath).get_text().lower()
        assert "submit a claim" not in text and "report an error" not in text


# == Drafts, future entries and determinism =======================================================


def test_drafts_and_future_entries_appear_nowhere(varied):
    hidden = varied.unpublished
    assert {s.slug for s in hidden} == {"secret-draft-check", "embargoed-future-check"}
    markers = [m for s in hidden for m in (s.slug, s.fm["title"], s.fm["claim"])]
    for path in varied.out.rglob("*"):
        if path.is_file():
            data = path.read_text("utf-8", errors="replace")
            for marker in markers:
                assert marker not in data, f"{marker!r} in {path.relative_to(varied.out)}"


STANDARD_FILES = ("feed.xml", "corrections/feed.xml", "sitemap.xml", "robots.txt",
                  "claimreview.json")


@pytest.mark.parametrize("which", ["example", "varied"])
def test_two_builds_give_byte_identical_feeds_sitemap_and_data_feed(run, site, tmp_path, which):
    if which == "varied":
        make_varied(site)
        source = site.root
    else:
        source = REPO
    one = build(run, source, tmp_path / "one")
    two = build(run, source, tmp_path / "two")
    files = [*STANDARD_FILES, *(f"companies/{slug}/feed.xml" for slug in one.companies)]
    for relpath in files:
        assert (one.out / relpath).read_bytes() == (two.out / relpath).read_bytes(), relpath
