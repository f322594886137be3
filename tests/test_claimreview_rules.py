"""The ClaimReview rules of generator.claimreview, one broken-markup case per rule.

Each case starts from a valid ClaimReview embedded in a small HTML page, breaks one thing
and expects exactly one finding. Case ids are the rule ids of docs/claimreview.md.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from generator.claimreview import (
    WARNING_RULES,
    Finding,
    extract_jsonld,
    script_chunks,
    validate_claim_review,
    validate_page,
    validate_scripts,
)
from generator.diagnostics import Severity

PAGE_URL = "https://factdesk.example.org/checks/byd-xiaomi-car/"
ERROR, WARNING = Severity.ERROR, Severity.WARNING
DELETE = object()

VALID: dict[str, Any] = {
    "@context": "https://schema.org",
    "@type": "ClaimReview",
    "url": PAGE_URL,
    "claimReviewed": "BYD and Xiaomi are launching a jointly built car",
    "datePublished": "2020-12-15",
    "dateModified": "2020-12-16",
    "author": {
        "@type": "Organization",
        "name": "Fact Desk",
        "url": "https://factdesk.example.org/",
    },
    "reviewRating": {
        "@type": "Rating",
        "ratingValue": 1,
        "bestRating": 5,
        "worstRating": 1,
        "alternateName": "False",
        "ratingExplanation": "Both companies denied it.",
    },
    "itemReviewed": {
        "@type": "Claim",
        "datePublished": "2020-12-14",
        "author": {"@type": "Organization", "name": "Posts shared on social media"},
        "appearance": [{"@type": "CreativeWork", "url": "https://social.example.com/post/123"}],
        "firstAppearance": {"@type": "CreativeWork", "url": "https://social.example.com/post/123"},
    },
}

BREADCRUMBS = {
    "@context": "https://schema.org",
    "@type": "BreadcrumbList",
    "itemListElement": [
        {
            "@type": "ListItem",
            "position": 1,
            "name": "Home",
            "item": "https://factdesk.example.org/",
        }
    ],
}


def block(data: Any) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def page(*blocks: str) -> str:
    """A small check page with the given script elements in its head."""
    head = "\n".join(blocks)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Check</title>\n'
        f"{head}\n</head><body><h1>BYD and Xiaomi</h1><p>Rated <b>False</b>.</p></body></html>"
    )


def changed(*edits: tuple[str, Any]) -> dict[str, Any]:
    """A copy of VALID with dotted paths set to new values (or removed with DELETE)."""
    review = copy.deepcopy(VALID)
    for path, value in edits:
        *parents, last = path.split(".")
        node = review
        for key in parents:
            node = node[key]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return review


def check(review: dict[str, Any]) -> list[Finding]:
    return validate_page(page(block(BREADCRUMBS), block(review)), PAGE_URL)


# (rule id, edits, severity, field, phrase in the message)
CASES = [
    ("CR104-context-missing", [("@context", DELETE)], ERROR, None, "'@context' is missing"),
    ("CR104-context-other", [("@context", "https://example.org")], ERROR, None,
     "not https://schema.org"),
    ("CR110-url-missing", [("url", DELETE)], ERROR, None, "'url' is missing"),
    ("CR111-url-relative", [("url", "/checks/byd-xiaomi-car/")], ERROR, None,
     "absolute http(s) URL"),
    ("CR111-url-scheme", [("url", "ftp://factdesk.example.org/checks/byd-xiaomi-car/")], ERROR,
     None, "absolute http(s) URL"),
    ("CR112-url-other-host", [("url", "https://other.example.net/checks/byd-xiaomi-car/")],
     ERROR, None, "host 'other.example.net'"),
    ("CR113-url-not-canonical", [("url", "https://factdesk.example.org/checks/other/")], ERROR,
     None, "not this page's canonical URL"),
    ("CR120-claim-missing", [("claimReviewed", DELETE)], ERROR, "claim",
     "'claimReviewed' is missing or empty"),
    ("CR120-claim-empty", [("claimReviewed", "  ")], ERROR, "claim",
     "'claimReviewed' is missing or empty"),
    ("CR120-claim-not-text", [("claimReviewed", ["a", "b"])], ERROR, "claim",
     "must be text, not a list"),
    ("CR121-claim-too-long", [("claimReviewed", "BYD " + "and Xiaomi " * 8)], WARNING, "claim",
     "Google shows at most 75 (shorten 'claim')"),
    ("CR122-claim-has-verdict", [("claimReviewed", "False cure claims")], WARNING, "claim",
     "contains the verdict 'False'"),
    ("CR122-claim-has-verdict-phrase",
     [("claimReviewed", "Cars are MOSTLY  TRUE to size"), ("reviewRating.alternateName",
                                                          "Mostly true")],
     WARNING, "claim", "contains the verdict 'Mostly true'"),
    ("CR130-author-missing", [("author", DELETE)], ERROR, None, "'author' is missing"),
    ("CR130-author-no-name", [("author", {"@type": "Organization"})], ERROR, None,
     "'author' has no 'name'"),
    ("CR140-published-missing", [("datePublished", DELETE)], ERROR, "published",
     "'datePublished' is missing"),
    ("CR141-published-not-iso", [("datePublished", "15/12/2020")], ERROR, "published",
     "not an ISO 8601 date"),
    ("CR141-published-impossible", [("datePublished", "2020-02-30")], ERROR, "published",
     "not an ISO 8601 date"),
    ("CR142-modified-not-iso", [("dateModified", "December 16, 2020")], ERROR, "updated",
     "'dateModified' is 'December 16, 2020', not an ISO 8601 date"),
    ("CR143-modified-before-published", [("dateModified", "2020-12-14")], ERROR, "updated",
     "'dateModified' 2020-12-14 is before 'datePublished' 2020-12-15"),
    ("CR150-rating-missing", [("reviewRating", DELETE)], ERROR, "verdict",
     "'reviewRating' is missing"),
    ("CR150-rating-not-object", [("reviewRating", "False")], ERROR, "verdict",
     "must be a Rating object"),
    ("CR151-label-missing", [("reviewRating.alternateName", DELETE)], ERROR, "verdict",
     "'reviewRating.alternateName' is missing or empty"),
    ("CR151-label-empty", [("reviewRating.alternateName", "")], ERROR, "verdict",
     "'reviewRating.alternateName' is missing or empty"),
    ("CR152-rating-incomplete", [("reviewRating.bestRating", DELETE)], ERROR, "verdict",
     "has 'ratingValue' and 'worstRating' but not 'bestRating'"),
    ("CR153-rating-fraction", [("reviewRating.ratingValue", 1.5)], ERROR, "verdict",
     "'reviewRating.ratingValue' must be a whole number, not 1.5"),
    ("CR153-rating-text", [("reviewRating.bestRating", "five")], ERROR, "verdict",
     "'reviewRating.bestRating' must be a whole number, not 'five'"),
    ("CR153-rating-null", [("reviewRating.worstRating", None)], ERROR, "verdict",
     "must be a whole number, not null"),
    ("CR153-rating-boolean", [("reviewRating.ratingValue", True)], ERROR, "verdict",
     "must be a whole number, not true"),
    ("CR154-worst-below-1", [("reviewRating.worstRating", 0), ("reviewRating.ratingValue", 0)],
     ERROR, "verdict", "'reviewRating.worstRating' is 0; Google requires at least 1"),
    ("CR155-best-not-above-worst", [("reviewRating.bestRating", 1)], ERROR, "verdict",
     "'reviewRating.bestRating' 1 must be greater than 'worstRating' 1"),
    ("CR156-value-above-best", [("reviewRating.ratingValue", 6)], ERROR, "verdict",
     "'reviewRating.ratingValue' 6 is outside the scale 1 to 5"),
    ("CR156-value-below-worst", [("reviewRating.ratingValue", "0")], ERROR, "verdict",
     "'reviewRating.ratingValue' 0 is outside the scale 1 to 5"),
    ("CR160-item-missing", [("itemReviewed", DELETE)], ERROR, None,
     "'itemReviewed' is missing"),
    ("CR161-item-not-claim", [("itemReviewed.@type", "CreativeWork")], ERROR, None,
     "'@type' 'CreativeWork', not 'Claim'"),
    ("CR161-item-no-type", [("itemReviewed.@type", DELETE)], ERROR, None,
     "'itemReviewed' has no '@type'"),
    ("CR162-claimant-missing", [("itemReviewed.author", DELETE)], WARNING, "claimant",
     "'itemReviewed.author' is missing"),
    ("CR162-claimant-no-name", [("itemReviewed.author.name", "")], WARNING, "claimant",
     "'itemReviewed.author' has no 'name'"),
    ("CR163-claim-date-not-iso", [("itemReviewed.datePublished", "14.12.2020")], ERROR,
     "claim_date", "'itemReviewed.datePublished' is '14.12.2020', not an ISO 8601 date"),
    ("CR164-claim-date-after-check", [("itemReviewed.datePublished", "2020-12-20")], WARNING,
     "claim_date", "after the check's 'datePublished' 2020-12-15"),
    ("CR165-appearance-url",
     [("itemReviewed.appearance", [{"@type": "CreativeWork", "url": "social.example.com/p"}])],
     ERROR, "claim_urls", "'itemReviewed.appearance[0].url' must be an absolute http(s) URL"),
    ("CR165-appearance-plain-url", [("itemReviewed.appearance", ["javascript:alert(1)"])],
     ERROR, "claim_urls", "'itemReviewed.appearance[0]' must be an absolute http(s) URL"),
    ("CR165-first-appearance-url", [("itemReviewed.firstAppearance.url", "")], ERROR,
     "claim_urls", "'itemReviewed.firstAppearance.url' must be an absolute http(s) URL"),
    ("CR166-no-appearance",
     [("itemReviewed.appearance", DELETE), ("itemReviewed.firstAppearance", DELETE)], WARNING,
     "claim_urls", "no 'appearance' or 'firstAppearance'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "edits", "severity", "field", "phrase"),
    [pytest.param(case[0][:5], *case[1:], id=case[0]) for case in CASES],
)
def test_one_broken_rule_gives_one_finding(rule, edits, severity, field, phrase):
    findings = check(changed(*edits))
    assert [(f.severity, f.field) for f in findings] == [(severity, field)], findings
    assert phrase in findings[0].message
    assert findings[0].message.startswith("ClaimReview: ")
    # A warning names its rule, by which a site may ignore it; an error cannot be.
    assert findings[0].rule == (rule if severity is WARNING else None)
    assert (rule in WARNING_RULES) == (severity is WARNING)


def test_every_warning_rule_is_tested():
    assert {case[0][:5] for case in CASES if case[2] is WARNING} == set(WARNING_RULES)


def test_valid_example_has_no_findings():
    assert check(VALID) == []


def test_textual_rating_has_no_findings():
    rating = {"@type": "Rating", "alternateName": "Unproven", "ratingExplanation": "No data."}
    assert check(changed(("reviewRating", rating))) == []
    assert check(changed(("reviewRating", {"@type": "Rating", "alternateName": "Unproven"}))) == []


def test_known_company_claimant_and_date_times_are_valid():
    review = changed(
        ("itemReviewed.author", {
            "@type": "Organization",
            "name": "BYD",
            "sameAs": ["https://www.byd.com", "https://www.wikidata.org/wiki/Q747014"],
        }),
        ("datePublished", "2020-12-15T09:30:00+08:00"),
        ("dateModified", "2020-12-15T02:00:00Z"),  # 09:30+08:00 is 01:30Z, so later
        ("itemReviewed.datePublished", "2020-12-15"),  # same day as the check: fine
        ("reviewRating.ratingValue", "1"),
        ("reviewRating.bestRating", "5"),
        ("reviewRating.worstRating", 1.0),
    )  # fmt: skip
    assert check(review) == []


def test_cr121_message_reads_well_after_a_location():
    claim = "A" * 92
    [finding] = check(changed(("claimReviewed", claim)))
    assert finding == Finding(
        WARNING,
        "ClaimReview: 'claimReviewed' is 92 characters; Google shows at most 75 (shorten 'claim')",
        "claim",
        "CR121",
    )


def test_cr122_verdict_label_must_be_a_whole_word():
    assert check(changed(("claimReviewed", "Falsetto singers endorse the car"))) == []


def test_cr113_url_compares_as_a_url_not_as_text():
    review = changed(("url", "HTTPS://FactDesk.example.org:443/checks/byd-xiaomi-car/"))
    assert check(review) == []
    encoded = "https://factdesk.example.org/checks/%E6%AF%94%E4%BA%9A%E8%BF%AA/"
    review = changed(("url", "https://factdesk.example.org/checks/比亚迪/"))
    assert validate_page(page(block(review)), encoded) == []


def test_cr102_no_claim_review_is_an_error():
    [finding] = validate_page(page(block(BREADCRUMBS)), PAGE_URL)
    assert (finding.severity, finding.field) == (ERROR, None)
    assert "no ClaimReview" in finding.message
    [finding] = validate_page("<html><body>nothing here</body></html>", PAGE_URL)
    assert "no ClaimReview" in finding.message


def test_cr103_two_claim_reviews_are_an_error():
    findings = validate_page(page(block(VALID), block(BREADCRUMBS), block(VALID)), PAGE_URL)
    assert [(f.severity, f.field) for f in findings] == [(ERROR, None)]
    assert "2 ClaimReview objects" in findings[0].message
    assert "exactly one" in findings[0].message


def test_cr101_invalid_json_is_an_error():
    broken = '<script type="application/ld+json">{"@type": "ClaimReview",}</script>'
    values, findings = extract_jsonld(page(block(BREADCRUMBS), broken))
    assert values == [BREADCRUMBS]
    assert [(f.severity, f.field) for f in findings] == [(ERROR, None)]
    assert findings[0].message.startswith("JSON-LD block 2 is not valid JSON: ")
    assert "line 1, column" in findings[0].message
    # the broken block is probably the ClaimReview: no second error about it missing
    assert validate_page(page(block(BREADCRUMBS), broken), PAGE_URL) == findings


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("", "JSON-LD block 1 is empty"),
        ('{"ratingValue": NaN}', "NaN is not allowed"),
        ("{'single': 'quotes'}", "not valid JSON"),
    ],
)
def test_cr101_unreadable_blocks(text, phrase):
    html = f'<script type="application/ld+json">{text}</script>'
    values, findings = extract_jsonld(html)
    assert values == []
    assert [(f.severity, f.field) for f in findings] == [(ERROR, None)]
    assert phrase in findings[0].message


def test_cr101_unterminated_block_is_an_error():
    values, findings = extract_jsonld(f"<html><head>{block(VALID)[: -len('</script>')]}")
    assert values == []
    assert [f.message for f in findings] == ["JSON-LD block 1 has no closing </script> tag"]


def test_script_safe_escapes_parse():
    claim = "Xiaomi ad said </script><b>“fast” & cheap</b>"
    review = changed(("claimReviewed", claim))
    text = json.dumps(review, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    assert "</script>" not in text
    html = page(f'<script type="application/ld+json">{text}</script>')
    values, findings = extract_jsonld(html)
    assert findings == []
    assert values[0]["claimReviewed"] == claim
    assert validate_page(html, PAGE_URL) == []


def test_graph_wrapper_and_top_level_array():
    review = changed(("@context", DELETE))  # inherited from the wrapper
    breadcrumbs = {k: v for k, v in BREADCRUMBS.items() if k != "@context"}
    wrapped = {"@context": "https://schema.org", "@graph": [breadcrumbs, review]}
    assert validate_page(page(block(wrapped)), PAGE_URL) == []
    assert validate_page(page(block([BREADCRUMBS, VALID])), PAGE_URL) == []
    broken = {
        "@context": "https://schema.org",
        "@graph": [changed(("@context", DELETE), ("url", DELETE))],
    }
    [finding] = validate_page(page(block(broken)), PAGE_URL)
    assert "'url' is missing" in finding.message
    doubled = {"@context": "https://schema.org", "@graph": [review, review]}
    [finding] = validate_page(page(block(doubled)), PAGE_URL)
    assert "2 ClaimReview objects" in finding.message
    nested = {"@context": "https://schema.org", "@type": "WebPage", "mainEntity": review}
    assert validate_page(page(block(nested)), PAGE_URL) == []


def test_the_first_of_several_claim_reviews_is_validated():
    first = changed(("url", DELETE))
    findings = validate_page(page(block([first, VALID])), PAGE_URL)
    assert ["2 ClaimReview objects" in f.message for f in findings] == [True, False]
    assert "'url' is missing" in findings[1].message


def test_only_ld_json_scripts_are_read():
    html = page(
        "<script>var x = '<script type=\"application/ld+json\">{}</' + 'script>';</script>",
        '<!-- <script type="application/ld+json">{"@type": "ClaimReview"}</script> -->',
        '<SCRIPT TYPE="Application/LD+JSON; charset=utf-8">' + json.dumps(VALID) + "</SCRIPT>",
    )
    values, findings = extract_jsonld(html)
    assert (values, findings) == ([VALID], [])
    assert validate_page(html, PAGE_URL) == []


@pytest.mark.parametrize(
    "html",
    [
        page(block(BREADCRUMBS), block(VALID)),
        page(block(changed(("url", DELETE), ("claimReviewed", "False " * 20)))),
        page(block(VALID), block(VALID)),
        page(block(BREADCRUMBS), '<script type="application/ld+json">{"a": 1,}</script>'),
        page("<script>var x = '<script type=\"application/ld+json\">{}</' + 'script>';"
             "</script>",
             '<!-- <script type="application/ld+json">{"@type": "ClaimReview"}</script> -->',
             '<SCRIPT TYPE="Application/LD+JSON">' + json.dumps(VALID) + "</SCRIPT >"),
        page("<!-- a comment -->", "<script>1 < 2</script>", block(VALID), "<!-- -->"),
        f"<html><head>{block(VALID)[: -len('</script>')]}",
        page(),
        "<p>no scripts, no ld+json</p>",
        "<p>ld+json in the text only</p>",
    ],
)
def test_the_scripts_alone_give_the_findings_of_the_page(html):
    """The build validates (and caches the findings of) :func:`script_chunks` of each
    page, not the page: the two must give the same findings, whatever the markup."""
    scripts = script_chunks(html)
    assert validate_page(scripts, PAGE_URL) == validate_page(html, PAGE_URL)
    assert validate_scripts(scripts, PAGE_URL) == validate_page(html, PAGE_URL)
    assert script_chunks(scripts) == scripts
    assert len(scripts) < len(html) or not html


def test_findings_come_in_a_fixed_order():
    review = changed(
        ("@context", "http://example.org"),
        ("claimReviewed", "Completely False: " + "x" * 80),
        ("datePublished", "yesterday"),
        ("reviewRating.ratingValue", 9),
        ("itemReviewed.author", DELETE),
    )
    findings = validate_claim_review(review, PAGE_URL)
    assert [f.field for f in findings] == [
        None, "claim", "claim", "published", "verdict", "claimant",
    ]  # fmt: skip
    assert validate_claim_review(review, PAGE_URL) == findings


def test_validate_claim_review_does_not_change_its_input():
    review = changed(("reviewRating.ratingValue", 7))
    before = copy.deepcopy(review)
    validate_claim_review(review, PAGE_URL)
    assert review == before
