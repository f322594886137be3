"""The feeds and sitemaps are written as text for speed; they must stay what ElementTree wrote.

ElementTree is the reference here: the escaping helpers are compared with its serializer,
the sitemaps with a tree-built copy of the old code, and a feed full of hostile strings
must parse back to exactly those strings (nothing breaks out of its element or attribute).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

from generator.feeds import ATOM, atom_feed, xml_attr, xml_leaf, xml_text
from generator.model import Entry, Verdict, When, pack_html
from generator.sitemap import SITEMAP_NS, sitemaps
from generator.urls import Urls

HOSTILE = [
    "", " ", "plain", "a & b", "<b>x</b>", "\"double\" 'single'", "]]>", "&amp;", "&#x27;",
    "cr\r lf\n crlf\r\n tab\t", "ünïcødé — 中文 🎉", "</title><script>alert(1)</script>",
    '" onload="x', "  padded  ",
]
# Characters XML 1.0 forbids: ElementTree writes them as they are, and so do the helpers.
FORBIDDEN = ["vt \x0b", "nul \x00", "esc \x1b"]


@pytest.mark.parametrize("value", HOSTILE + FORBIDDEN)
def test_escaping_matches_elementtree(value):
    attribute = ET.Element("t", {"a": value})
    assert f'<t a="{xml_attr(value)}" />' == ET.tostring(attribute, encoding="unicode")
    text = ET.Element("t")
    text.text = value
    assert xml_leaf("", "t", value) == ET.tostring(text, encoding="unicode")
    if value:
        assert xml_leaf("", "t", value) == f"<t>{xml_text(value)}</t>"


def _graph(strings: list[str]) -> SimpleNamespace:
    """The least of a SiteGraph that :func:`atom_feed` reads, with ``strings`` everywhere."""
    verdict = Verdict(id="v&<\"'", label=strings[0], color="red")
    companies = {f"c{n}": SimpleNamespace(slug=f"c{n}", name=s) for n, s in enumerate(strings)}
    config = SimpleNamespace(title="T", base_url="https://h.example.org", language="en",
                             description="d", publisher=None)
    return SimpleNamespace(config=config, verdict=lambda _id: verdict,
                           company_list=lambda e: [companies[s] for s in e.companies],
                           companies=companies)


def test_hostile_strings_parse_back_unchanged():
    strings = [s for s in HOSTILE if s.strip()]
    graph = _graph(strings)
    day = When(dt.datetime(2024, 1, 2, tzinfo=dt.UTC))
    entries = [Entry(slug=f"e{n}", source_path="x", title=s, claim=s, verdict="v", published=day,
                     author=s, summary=s, companies=list(graph.companies), body=pack_html(s))
               for n, s in enumerate(strings)]
    data = atom_feed(graph=graph, urls=Urls("https://h.example.org"), title=strings[1],
                     feed_path="/feed.xml", page_path="/", entries=entries, with_body=True)
    root = ET.fromstring(data)
    ns = {"a": ATOM}
    assert root.findtext("a:title", namespaces=ns) == strings[1]
    items = root.findall("a:entry", ns)
    assert len(items) == len(strings)
    for item, value in zip(items, strings, strict=True):
        # A parser turns CR and CR LF in text into LF (XML 1.0 §2.11), as for ElementTree.
        text = value.replace("\r\n", "\n").replace("\r", "\n")
        assert item.findtext("a:title", namespaces=ns) == text
        assert item.findtext("a:author/a:name", namespaces=ns) == text
        assert item.findtext("a:content", namespaces=ns).endswith(text)
        labels = [c.get("label") for c in item.findall("a:category", ns)]
        assert labels == [strings[0], *strings]  # attributes keep even CR, LF and tab


def _old_sitemaps(pages, urls, limit):
    """The ElementTree sitemaps this module's text writer replaced (the reference)."""

    def xml(root):
        ET.indent(root)
        return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"

    def urlset(chunk):
        root = ET.Element("urlset", {"xmlns": SITEMAP_NS})
        for path, lastmod in chunk:
            item = ET.SubElement(root, "url")
            ET.SubElement(item, "loc").text = urls.absolute(path)
            if lastmod is not None:
                ET.SubElement(item, "lastmod").text = lastmod.isoformat()
        return xml(root)

    if len(pages) <= limit:
        return [(urls.sitemap(), urlset(pages))]
    files, index = [], ET.Element("sitemapindex", {"xmlns": SITEMAP_NS})
    for number, start in enumerate(range(0, len(pages), limit), start=1):
        chunk = pages[start : start + limit]
        files.append((urls.sitemap_part(number), urlset(chunk)))
        item = ET.SubElement(index, "sitemap")
        ET.SubElement(item, "loc").text = urls.absolute(urls.sitemap_part(number))
        dated = [when for _, when in chunk if when is not None]
        if dated:
            ET.SubElement(item, "lastmod").text = max(dated).isoformat()
    return [*files, (urls.sitemap(), xml(index))]


@pytest.mark.parametrize("limit", [1, 3, 50_000])
@pytest.mark.parametrize("count", [0, 1, 8])
def test_sitemaps_match_elementtree(limit, count):
    urls = Urls("https://h.example.org/sub&dir/")
    tz = dt.timezone(dt.timedelta(hours=8))
    pages = [(f"/checks/c{n}&<'\"/", None if n % 3 == 0 else
              When(dt.datetime(2020, 1, n + 1, tzinfo=tz), has_time=n % 2 == 0))
             for n in range(count)]
    assert list(sitemaps(pages, urls, limit)) == _old_sitemaps(pages, urls, limit)
