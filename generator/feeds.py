"""Atom feeds (RFC 4287): the site, each company, and the corrections log.

Entry ids are the checks' canonical URLs, so they stay the same from build to build;
``updated`` comes from the content (never the build time), so the same input gives the
same bytes.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html import escape

from .graph import SiteGraph
from .model import Entry, When
from .urls import Urls

ATOM = "http://www.w3.org/2005/Atom"
FEED_SIZE = 50  # the newest entries a feed carries
_EPOCH = When(dt.datetime(1970, 1, 1, tzinfo=dt.UTC), has_time=True)


def _timestamp(when: When) -> str:
    """RFC 3339 date-time, as Atom requires (a plain date becomes midnight in its zone)."""
    return when.moment.isoformat()


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _entry_html(entry: Entry, graph: SiteGraph, with_body: bool) -> str:
    """The feed content: claim, verdict and (in the main feed) the body of the check."""
    verdict = graph.verdict(entry.verdict)
    parts = [f"<p><strong>Claim:</strong> {escape(entry.claim)}</p>",
             f"<p><strong>Verdict:</strong> {escape(verdict.label)}"]
    if entry.verdict_explanation:
        parts.append(f" — {escape(entry.verdict_explanation)}")
    parts.append("</p>")
    return "".join(parts) + (entry.body_html if with_body else "")


def _feed(graph: SiteGraph, urls: Urls, title: str, feed_path: str, page_path: str,
          updated: When) -> ET.Element:
    """The ``<feed>`` element with what every feed of the site says about itself."""
    config = graph.config
    feed = ET.Element("feed", {"xmlns": ATOM, "xml:lang": config.language})
    _sub(feed, "id", urls.absolute(feed_path))
    _sub(feed, "title", title)
    if config.description:
        _sub(feed, "subtitle", config.description)
    _sub(feed, "updated", _timestamp(updated))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=urls.absolute(feed_path))
    _sub(feed, "link", rel="alternate", type="text/html", href=urls.absolute(page_path))
    author = _sub(feed, "author")
    _sub(author, "name", config.publisher.name if config.publisher else config.title)
    _sub(author, "uri", config.publisher.url if config.publisher else config.base_url)
    _sub(feed, "generator", "factsite")
    return feed


def atom_feed(
    *,
    graph: SiteGraph,
    urls: Urls,
    title: str,
    feed_path: str,
    page_path: str,
    entries: list[Entry],
    with_body: bool = False,
) -> bytes:
    """One Atom feed of ``entries`` (newest first), linking to itself and its HTML page.

    ``with_body`` puts each check's whole text in the feed (the main feed only: company
    feeds would repeat every body once per company and stay short instead).
    """
    entries = entries[:FEED_SIZE]
    newest = max((e.modified for e in entries), default=_EPOCH)
    feed = _feed(graph, urls, title, feed_path, page_path, newest)

    for entry in entries:
        verdict = graph.verdict(entry.verdict)
        item = _sub(feed, "entry")
        link = urls.absolute(urls.check(entry.slug))
        _sub(item, "id", link)
        _sub(item, "title", entry.title)
        _sub(item, "link", rel="alternate", type="text/html", href=link)
        _sub(item, "published", _timestamp(entry.published))
        _sub(item, "updated", _timestamp(entry.modified))
        if entry.author:
            _sub(_sub(item, "author"), "name", entry.author)
        _sub(item, "category", term=verdict.id, label=verdict.label,
             scheme=urls.absolute(urls.ratings()))
        for company in graph.company_list(entry):
            _sub(item, "category", term=company.slug, label=company.name,
                 scheme=urls.absolute(urls.companies()))
        summary = f"{verdict.label}: {entry.summary or entry.claim}"
        _sub(item, "summary", summary)
        _sub(item, "content", _entry_html(entry, graph, with_body), type="html")
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def corrections_feed(graph: SiteGraph, urls: Urls) -> bytes:
    """The corrections log as a feed: one entry per corrected check, latest change first."""
    newest = max((e.corrections[-1].date for e in graph.corrected), default=_EPOCH)
    feed = _feed(graph, urls, f"{graph.config.title}: corrections and updates",
                 urls.corrections_feed(), urls.corrections(), newest)
    for entry in graph.corrected[:FEED_SIZE]:
        latest = entry.corrections[-1]
        item = _sub(feed, "entry")
        link = urls.absolute(urls.check(entry.slug))
        # One id per check and correction count: a new correction is a new feed entry.
        _sub(item, "id", f"{link}#correction-{len(entry.corrections)}")
        _sub(item, "title", f"{latest.type.capitalize()}: {entry.title}")
        _sub(item, "link", rel="alternate", type="text/html", href=link)
        _sub(item, "updated", _timestamp(latest.date))
        notes = "".join(
            f"<li>{escape(c.type.capitalize())}, {c.date.date.isoformat()}: {escape(c.note)}</li>"
            for c in reversed(entry.corrections))
        _sub(item, "summary", f"{latest.type.capitalize()}: {latest.note}")
        _sub(item, "content", f"<ul>{notes}</ul>", type="html")
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def site_feeds(graph: SiteGraph, urls: Urls) -> Iterator[tuple[str, bytes]]:
    """Every feed of the site as (site path, bytes)."""
    title = graph.config.title
    yield urls.feed(), atom_feed(graph=graph, urls=urls, title=title, feed_path=urls.feed(),
                                 page_path=urls.home(), entries=graph.entries, with_body=True)
    for slug, company in graph.companies.items():
        yield urls.company_feed(slug), atom_feed(
            graph=graph, urls=urls, title=f"{title}: {company.name}",
            feed_path=urls.company_feed(slug), page_path=urls.company(slug),
            entries=graph.checks_by_company[slug])
    yield urls.corrections_feed(), corrections_feed(graph, urls)
