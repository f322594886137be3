"""Atom feeds (RFC 4287): the site, each company, and the corrections log.

Entry ids are the checks' canonical URLs, so they stay the same from build to build;
``updated`` comes from the content (never the build time), so the same input gives the
same bytes.

The XML is written as text rather than built with ElementTree: a site has hundreds of
feeds, and building and serializing element trees was most of their cost. The bytes are
those ``ElementTree.indent`` and ``ElementTree.tostring`` gave before (two-space indent,
``<tag />`` for an empty element, attributes in the order written), and every value goes
through :func:`xml_text` or :func:`xml_attr`, which escape exactly as ElementTree does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import partial
from html import escape

from .graph import SiteGraph
from .model import Entry, Verdict, When
from .plan import DataFile
from .urls import Urls

ATOM = "http://www.w3.org/2005/Atom"
FEED_SIZE = 50  # the newest entries a feed carries
_EPOCH = When(dt.datetime(1970, 1, 1, tzinfo=dt.UTC), has_time=True)
_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>"  # as ElementTree writes it


def xml_text(value: str) -> str:
    """Character data escaped as ElementTree escapes it: ``&``, ``<`` and ``>``.

    Other characters pass through unchanged, as in ElementTree, even the control
    characters XML 1.0 forbids.
    """
    # Testing first skips the copy for the usual string with nothing to escape.
    if "&" in value:
        value = value.replace("&", "&amp;")  # first, or it would mangle the entities below
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    return value


def xml_attr(value: str) -> str:
    """A double-quoted attribute value escaped as ElementTree escapes it: as :func:`xml_text`
    plus ``"``, and CR, LF and tab, which a parser would otherwise turn into spaces."""
    value = xml_text(value)
    if '"' in value:
        value = value.replace('"', "&quot;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    if "\n" in value:
        value = value.replace("\n", "&#10;")
    if "\t" in value:
        value = value.replace("\t", "&#09;")
    return value


def xml_leaf(indent: str, tag: str, text: str | None) -> str:
    """The line ``<tag>text</tag>``; ``<tag />`` when there is no text, as in ElementTree."""
    if not text:
        return f"{indent}<{tag} />"
    return f"{indent}<{tag}>{xml_text(text)}</{tag}>"


def xml_document(lines: list[str]) -> bytes:
    """The XML declaration, the lines and a final newline, encoded as ElementTree did.

    ``xmlcharrefreplace`` turns what UTF-8 cannot encode (lone surrogates) into
    character references instead of failing, as ElementTree's writer does.
    """
    return "\n".join([_DECLARATION, *lines, ""]).encode("utf-8", "xmlcharrefreplace")


def _timestamp(when: When) -> str:
    """RFC 3339 date-time, as Atom requires (a plain date becomes midnight in its zone)."""
    return when.moment.isoformat()


def _entry_html(entry: Entry, verdict: Verdict, with_body: bool) -> str:
    """The feed content: claim, verdict and (in the main feed) the body of the check."""
    parts = [f"<p><strong>Claim:</strong> {escape(entry.claim)}</p>",
             f"<p><strong>Verdict:</strong> {escape(verdict.label)}"]
    if entry.verdict_explanation:
        parts.append(f" — {escape(entry.verdict_explanation)}")
    parts.append("</p>")
    return "".join(parts) + (entry.body_html if with_body else "")


def _feed(graph: SiteGraph, urls: Urls, title: str, feed_path: str, page_path: str,
          updated: When) -> list[str]:
    """The lines opening the ``<feed>`` with what every feed of the site says about itself."""
    config = graph.config
    feed_url = urls.absolute(feed_path)
    lines = [f'<feed xmlns="{ATOM}" xml:lang="{xml_attr(config.language)}">',
             xml_leaf("  ", "id", feed_url),
             xml_leaf("  ", "title", title)]
    if config.description:
        lines.append(xml_leaf("  ", "subtitle", config.description))
    lines += [
        xml_leaf("  ", "updated", _timestamp(updated)),
        f'  <link rel="self" type="application/atom+xml" href="{xml_attr(feed_url)}" />',
        f'  <link rel="alternate" type="text/html" href="{xml_attr(urls.absolute(page_path))}" />',
        "  <author>",
        xml_leaf("    ", "name", config.publisher.name if config.publisher else config.title),
        xml_leaf("    ", "uri", config.publisher.url if config.publisher else config.base_url),
        "  </author>",
        "  <generator>factsite</generator>",
    ]
    return lines


def _entry(entry: Entry, graph: SiteGraph, urls: Urls, with_body: bool) -> str:
    """One ``<entry>`` of :func:`atom_feed`: its lines, indented as in a feed, joined."""
    verdict = graph.verdict(entry.verdict)
    link = urls.absolute(urls.check(entry.slug))
    lines = ["  <entry>",
             xml_leaf("    ", "id", link),
             xml_leaf("    ", "title", entry.title),
             f'    <link rel="alternate" type="text/html" href="{xml_attr(link)}" />',
             xml_leaf("    ", "published", _timestamp(entry.published)),
             xml_leaf("    ", "updated", _timestamp(entry.modified))]
    if entry.author:
        lines += ["    <author>", xml_leaf("      ", "name", entry.author), "    </author>"]
    lines.append(f'    <category term="{xml_attr(verdict.id)}" label="{xml_attr(verdict.label)}"'
                 f' scheme="{xml_attr(urls.absolute(urls.ratings()))}" />')
    companies = xml_attr(urls.absolute(urls.companies()))
    for company in graph.company_list(entry):
        lines.append(f'    <category term="{xml_attr(company.slug)}"'
                     f' label="{xml_attr(company.name)}" scheme="{companies}" />')
    content = xml_text(_entry_html(entry, verdict, with_body))
    lines += [xml_leaf("    ", "summary", f"{verdict.label}: {entry.summary or entry.claim}"),
              f'    <content type="html">{content}</content>',
              "  </entry>"]
    return "\n".join(lines)


def atom_feed(
    *,
    graph: SiteGraph,
    urls: Urls,
    title: str,
    feed_path: str,
    page_path: str,
    entries: list[Entry],
    with_body: bool = False,
    cache: dict[int, str] | None = None,
) -> bytes:
    """One Atom feed of ``entries`` (newest first), linking to itself and its HTML page.

    ``with_body`` puts each check's whole text in the feed (the main feed only: company
    feeds would repeat every body once per company and stay short instead).

    ``cache`` keeps the written entries by ``id(entry)`` for the next feeds of the same
    graph, urls and ``with_body``: a check of several companies is in each of their feeds.
    """
    entries = entries[:FEED_SIZE]
    newest = max((e.modified for e in entries), default=_EPOCH)
    lines = _feed(graph, urls, title, feed_path, page_path, newest)
    for entry in entries:
        written = cache.get(id(entry)) if cache is not None else None
        if written is None:
            written = _entry(entry, graph, urls, with_body)
            if cache is not None:
                cache[id(entry)] = written
        lines.append(written)
    lines.append("</feed>")
    return xml_document(lines)


def corrections_feed(graph: SiteGraph, urls: Urls) -> bytes:
    """The corrections log as a feed: one entry per corrected check, latest change first."""
    newest = max((e.corrections[-1].date for e in graph.corrected), default=_EPOCH)
    lines = _feed(graph, urls, f"{graph.config.title}: corrections and updates",
                  urls.corrections_feed(), urls.corrections(), newest)
    for entry in graph.corrected[:FEED_SIZE]:
        latest = entry.corrections[-1]
        link = urls.absolute(urls.check(entry.slug))
        notes = "".join(
            f"<li>{escape(c.type.capitalize())}, {c.date.date.isoformat()}: {escape(c.note)}</li>"
            for c in reversed(entry.corrections))
        lines += [
            "  <entry>",
            # One id per check and correction count: a new correction is a new feed entry.
            xml_leaf("    ", "id", f"{link}#correction-{len(entry.corrections)}"),
            xml_leaf("    ", "title", f"{latest.type.capitalize()}: {entry.title}"),
            f'    <link rel="alternate" type="text/html" href="{xml_attr(link)}" />',
            xml_leaf("    ", "updated", _timestamp(latest.date)),
            xml_leaf("    ", "summary", f"{latest.type.capitalize()}: {latest.note}"),
            f'    <content type="html">{xml_text(f"<ul>{notes}</ul>")}</content>',
            "  </entry>",
        ]
    lines.append("</feed>")
    return xml_document(lines)


def site_feeds(graph: SiteGraph, urls: Urls) -> Iterator[DataFile]:
    """Every feed of the site; each is made only if asked for (see :class:`DataFile`)."""
    title = graph.config.title
    yield DataFile(urls.feed(), partial(
        atom_feed, graph=graph, urls=urls, title=title, feed_path=urls.feed(),
        page_path=urls.home(), entries=graph.entries, with_body=True),
        graph.entries[:FEED_SIZE])
    # Company feeds share entries; the graph keeps them all alive, so no id is reused.
    cache: dict[int, str] = {}
    for slug, company in graph.companies.items():
        checks = graph.checks_by_company[slug]
        yield DataFile(urls.company_feed(slug), partial(
            atom_feed, graph=graph, urls=urls, title=f"{title}: {company.name}",
            feed_path=urls.company_feed(slug), page_path=urls.company(slug),
            entries=checks, cache=cache), checks[:FEED_SIZE])
    yield DataFile(urls.corrections_feed(), partial(corrections_feed, graph, urls),
                   graph.corrected[:FEED_SIZE])
