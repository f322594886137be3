"""schema.org structured data: ClaimReview per check, the publisher, the DataFeed.

Built from the site graph as plain dicts; :func:`script` embeds one in a page so that no
string from content can end the script element. :mod:`generator.claimreview` checks
the rendered result against Google's fact-check rules.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from .graph import SiteGraph
from .model import Entry, When
from .urls import Urls

CONTEXT = "https://schema.org"

# Free pages that describe the publisher's policies, as Organization properties.
POLICY_PAGES = (
    ("publishingPrinciples", "about"),
    ("verificationFactCheckingPolicy", "methodology"),
    ("correctionsPolicy", "corrections-policy"),
)


def _date(when: When | None) -> str | None:
    return when.isoformat() if when else None


def publisher(graph: SiteGraph, urls: Urls) -> dict[str, Any]:
    """The publishing Organization: name, url and logo."""
    config = graph.config
    pub = config.publisher
    data: dict[str, Any] = {
        "@type": "Organization",
        "name": pub.name if pub else config.title,
        "url": pub.url if pub else config.base_url,
    }
    if pub and pub.logo:
        data["logo"] = {"@type": "ImageObject", "url": urls.absolute(urls.static(pub.logo))}
    return data


def organization(graph: SiteGraph, urls: Urls) -> dict[str, Any]:
    """The publisher with its policies, for the home page."""
    data = {"@context": CONTEXT, **publisher(graph, urls)}
    if graph.config.description:
        data["description"] = graph.config.description
    for prop, slug in POLICY_PAGES:
        if graph.page(slug):
            data[prop] = urls.absolute(urls.page(slug))
    if graph.config.contact_url and graph.config.contact_url.startswith("http"):
        data["actionableFeedbackPolicy"] = graph.config.contact_url
    return data


def _claimant(entry: Entry, graph: SiteGraph) -> dict[str, Any] | None:
    if not entry.claimant:
        return None
    data: dict[str, Any] = {"@type": "Organization", "name": entry.claimant}
    company = graph.claimant_company(entry)
    if company is not None:
        same_as = [u for u in (company.website, company.wikidata_url) if u]
        if same_as:
            data["sameAs"] = same_as
    return data


def claim_review(entry: Entry, graph: SiteGraph, urls: Urls) -> dict[str, Any]:
    """The ClaimReview of one check, as Google's fact-check rules describe it."""
    verdict = graph.verdict(entry.verdict)
    rating: dict[str, Any] = {"@type": "Rating", "alternateName": verdict.label}
    if verdict.rating is not None:
        rating["ratingValue"] = verdict.rating
        rating["bestRating"] = graph.config.best_rating
        rating["worstRating"] = graph.config.worst_rating
    if entry.verdict_explanation:
        rating["ratingExplanation"] = entry.verdict_explanation

    claim: dict[str, Any] = {"@type": "Claim"}
    author = _claimant(entry, graph)
    if author:
        claim["author"] = author
    if entry.claim_date:
        claim["datePublished"] = _date(entry.claim_date)
    if entry.claim_urls:
        claim["appearance"] = [{"@type": "CreativeWork", "url": u} for u in entry.claim_urls]
        claim["firstAppearance"] = {"@type": "CreativeWork", "url": entry.claim_urls[0]}

    data: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "ClaimReview",
        "url": urls.absolute(urls.check(entry.slug)),
        "claimReviewed": entry.claim,
        "datePublished": _date(entry.published),
        "dateModified": _date(entry.modified),
        "author": publisher(graph, urls),
        "reviewRating": rating,
        "itemReviewed": claim,
    }
    if entry.title:
        data["name"] = entry.title
    return data


def feed_item(page_review: dict[str, Any]) -> bytes:
    """One check page's ClaimReview as an item of the data feed: a line of JSON, UTF-8.

    The feed's own ``@context`` covers its items, so theirs is left out.
    """
    review = {k: v for k, v in page_review.items() if k != "@context"}
    element = {
        "@type": "DataFeedItem",
        "url": review["url"],
        "dateCreated": review["datePublished"],
        "dateModified": review["dateModified"],
        "item": [review],
    }
    return json.dumps(element, ensure_ascii=False, separators=(",", ":")).encode()


def claimreview_feed(graph: SiteGraph, urls: Urls, items: Iterable[bytes]) -> Iterator[bytes]:
    """``/claimreview.json``: the check pages' ClaimReviews as a schema.org DataFeed,
    from their :func:`feed_item` lines, in parts to write as they come (90 MB at 100,000
    checks: neither the file nor its lines are ever held whole)."""
    newest = max((e.modified for e in graph.entries), default=None)
    feed: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "DataFeed",
        "name": f"{graph.config.title}: fact-checks",
        "url": urls.absolute(urls.claimreview_feed()),
        "publisher": publisher(graph, urls),
    }
    if newest:
        feed["dateModified"] = newest.isoformat()
    # One line per item, by the C encoder: json's indented output is made by its pure
    # Python encoder, about 1 GB of small strings for 100,000 checks.
    head = json.dumps(feed, ensure_ascii=False, indent=1)
    yield f'{head[:-2]},\n "dataFeedElement": [\n'.encode()
    first = True
    for item in items:
        if not first:
            yield b",\n"
        first = False
        yield item
    yield b"\n ]\n}\n"


_SCRIPT_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                                  "\u2028": "\\u2028", "\u2029": "\\u2029"})  # fmt: skip


def script_json(data: dict[str, Any]) -> str:
    """JSON for inside ``<script>``: ``<``, ``>`` and ``&`` escaped, so no text can end it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.translate(_SCRIPT_ESCAPES)


def script(data: dict[str, Any]) -> str:
    """A complete ``<script type="application/ld+json">`` element."""
    return f'<script type="application/ld+json">{script_json(data)}</script>'
