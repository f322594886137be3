"""The check lists behind the search page's filters, as small JSON files.

A search with words goes to the Pagefind index. A search with filters alone (a verdict,
a company, or both) needs no words: it is a listing, newest first, which these files
hold. (Pagefind answers a filter-only query by downloading every chunk of its word
index: about 12 MB for 10,000 checks, thousands of requests for 100,000.)

Each company and each verdict gets ``/search/<kind>/<key>/<page>.json``, pages of
:data:`PAGE_SIZE` checks, newest first, like the company and verdict pages::

    {"total": 36, "next": "/search/company/acme/2.json",
     "checks": [[link, title, date, isodate, verdict id, claim], ...]}

``next`` is null on the last page. The same site gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial

from .graph import SiteGraph
from .model import Entry
from .plan import DataFile
from .theme import format_date
from .urls import Urls

PAGE_SIZE = 500


def search_listings(graph: SiteGraph, urls: Urls) -> Iterator[DataFile]:
    """Every listing file; each is made only if asked for (see :class:`DataFile`)."""
    for slug in graph.companies:
        yield from _listing(graph.checks_by_company[slug], "company", slug, urls)
    for verdict in graph.config.verdicts:
        yield from _listing(graph.checks_by_verdict[verdict.id], "verdict", verdict.id, urls)


def _listing(entries: list[Entry], kind: str, key: str, urls: Urls) -> Iterator[DataFile]:
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    for number in range(1, pages + 1):
        chunk = entries[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        yield DataFile(urls.search_listing(kind, key, number),
                       partial(_page, chunk, len(entries), kind, key, number, pages, urls),
                       chunk, (len(entries), pages))


def _page(chunk: list[Entry], total: int, kind: str, key: str, number: int, pages: int,
          urls: Urls) -> bytes:
    """One page of a listing: ``chunk`` of the ``total`` checks, page ``number`` of ``pages``."""
    data = {
        "total": total,
        "next": urls.href(urls.search_listing(kind, key, number + 1)) if number < pages else None,
        "checks": [[urls.href(urls.check(e.slug)), e.title, format_date(e.published),
                    e.published.date.isoformat(), e.verdict, e.claim] for e in chunk],
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
