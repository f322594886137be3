"""``/sitemap.xml`` (sitemaps.org protocol) and ``/robots.txt`` pointing to it.

A site with more pages than one sitemap may list gets a sitemap index at
``/sitemap.xml`` and the pages split over ``/sitemap-1.xml``, ``/sitemap-2.xml`` …

The XML is written as text, as the feeds are (see :mod:`.feeds`): the same bytes
ElementTree gave, in a fraction of the time.
"""

from __future__ import annotations

from collections.abc import Iterator

from .feeds import xml_document, xml_leaf
from .model import When
from .urls import Urls

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
MAX_URLS = 50_000  # the protocol's limit for one file

Lastmods = list[tuple[str, When | None]]


def _item(tag: str, loc: str, lastmod: When | None) -> str:
    """One ``<url>`` or ``<sitemap>`` with its location and, when known, last change."""
    if lastmod is None:
        return f"  <{tag}>\n{xml_leaf('    ', 'loc', loc)}\n  </{tag}>"
    return (f"  <{tag}>\n{xml_leaf('    ', 'loc', loc)}\n"
            f"{xml_leaf('    ', 'lastmod', lastmod.isoformat())}\n  </{tag}>")


def _root(tag: str, items: list[str]) -> bytes:
    """The document with root ``tag`` holding ``items``; ``<tag … />`` when there are none."""
    if not items:
        return xml_document([f'<{tag} xmlns="{SITEMAP_NS}" />'])
    return xml_document([f'<{tag} xmlns="{SITEMAP_NS}">', *items, f"</{tag}>"])


def _urlset(pages: Lastmods, urls: Urls) -> bytes:
    return _root("urlset", [_item("url", urls.absolute(path), lastmod) for path, lastmod in pages])


def sitemaps(pages: Lastmods, urls: Urls, limit: int = MAX_URLS) -> Iterator[tuple[str, bytes]]:
    """The sitemap files for ``pages`` (site path, last modification) as (site path, bytes)."""
    if len(pages) <= limit:
        yield urls.sitemap(), _urlset(pages, urls)
        return
    index = []
    for number, start in enumerate(range(0, len(pages), limit), start=1):
        chunk = pages[start : start + limit]
        path = urls.sitemap_part(number)
        yield path, _urlset(chunk, urls)
        dated = [when for _, when in chunk if when is not None]
        index.append(_item("sitemap", urls.absolute(path), max(dated) if dated else None))
    yield urls.sitemap(), _root("sitemapindex", index)


def robots_txt(urls: Urls) -> bytes:
    return f"User-agent: *\nAllow: /\n\nSitemap: {urls.absolute(urls.sitemap())}\n".encode()
