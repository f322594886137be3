"""``/sitemap.xml`` (sitemaps.org protocol) and ``/robots.txt`` pointing to it.

A site with more pages than one sitemap may list gets a sitemap index at
``/sitemap.xml`` and the pages split over ``/sitemap-1.xml``, ``/sitemap-2.xml`` …
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

from .model import When
from .urls import Urls

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
MAX_URLS = 50_000  # the protocol's limit for one file

Lastmods = list[tuple[str, When | None]]


def _xml(root: ET.Element) -> bytes:
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _urlset(pages: Lastmods, urls: Urls) -> bytes:
    root = ET.Element("urlset", {"xmlns": SITEMAP_NS})
    for path, lastmod in pages:
        item = ET.SubElement(root, "url")
        ET.SubElement(item, "loc").text = urls.absolute(path)
        if lastmod is not None:
            ET.SubElement(item, "lastmod").text = lastmod.isoformat()
    return _xml(root)


def sitemaps(pages: Lastmods, urls: Urls, limit: int = MAX_URLS) -> Iterator[tuple[str, bytes]]:
    """The sitemap files for ``pages`` (site path, last modification) as (site path, bytes)."""
    if len(pages) <= limit:
        yield urls.sitemap(), _urlset(pages, urls)
        return
    index = ET.Element("sitemapindex", {"xmlns": SITEMAP_NS})
    for number, start in enumerate(range(0, len(pages), limit), start=1):
        chunk = pages[start : start + limit]
        path = urls.sitemap_part(number)
        yield path, _urlset(chunk, urls)
        item = ET.SubElement(index, "sitemap")
        ET.SubElement(item, "loc").text = urls.absolute(path)
        dated = [when for _, when in chunk if when is not None]
        if dated:
            ET.SubElement(item, "lastmod").text = max(dated).isoformat()
    yield urls.sitemap(), _xml(index)


def robots_txt(urls: Urls) -> bytes:
    return f"User-agent: *\nAllow: /\n\nSitemap: {urls.absolute(urls.sitemap())}\n".encode()
