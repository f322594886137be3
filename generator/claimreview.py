"""Google's fact-check rules, checked on the ClaimReview JSON-LD of each rendered check page.

Google Fact Check Explorer ingests the ``ClaimReview`` a check page embeds as
``<script type="application/ld+json">``. The build runs :func:`validate_page` on the
*rendered* HTML, so a broken template override is caught as well as a bad entry::

    Finding                 one problem, with the entry front-matter key it comes from
    extract_jsonld          every JSON-LD block of a page, parsed
    validate_claim_review   the rules for one ClaimReview object
    validate_page           exactly one ClaimReview per check page, then its rules
    validate_scripts        the same, given the page's script_chunks

Every rule is documented, with its id, in ``docs/claimreview.md``. Only the standard
library is used; findings come in a fixed order so builds are reproducible.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from .diagnostics import Severity, describe
from .model import pickled_by_fields

MAX_CLAIM_LENGTH = 75  # Google: keep claimReviewed under 75 characters for mobile
SCHEMA_ORG = ("https://schema.org", "http://schema.org")
_TYPE_PREFIXES = ("schema:", "https://schema.org/", "http://schema.org/")
_RATING_KEYS = ("ratingValue", "bestRating", "worstRating")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
)
_WHOLE = re.compile(r"[+-]?[0-9]+(?:\.0+)?")


@pickled_by_fields
@dataclass(frozen=True, slots=True)  # cached with each check page
class Finding:
    """One problem with a page's ClaimReview.

    ``field`` is the entry front-matter key the problem comes from, so the build can point
    at its line: ``claim``, ``verdict``, ``claimant``, ``claim_urls``, ``claim_date``,
    ``published``, ``updated``, ``verdict_explanation``; ``None`` when the template, the
    site settings or the generator are at fault.
    """

    severity: Severity
    message: str
    field: str | None = None
    rule: str | None = None  # a warning's rule (WARNING_RULES), by which a site ignores it


# The rules of the warnings (see docs/claimreview.md): Google's recommendations, which a
# site may choose not to follow (``ignore_warnings`` in site.yaml). Errors cannot be.
WARNING_RULES = ("CR121", "CR122", "CR162", "CR164", "CR166")


# Findings are shared (they are frozen): most repeat on many pages (a site whose checks
# leave out claim_urls gets the same warning on each), and a build keeps every page's
# findings until it ends (120,000 at 100,000 checks of the benchmark corpus: 25 MB as
# copies).
@functools.lru_cache(maxsize=4096)
def _error(message: str, field: str | None = None) -> Finding:
    return Finding(Severity.ERROR, message, field)


@functools.lru_cache(maxsize=4096)
def _warning(rule: str, message: str, field: str | None = None) -> Finding:
    return Finding(Severity.WARNING, message, field, rule)


# -- reading the JSON-LD blocks of a page -------------------------------------------------


class _ScriptBlocks(HTMLParser):
    """Collects the raw text of every ``application/ld+json`` script, in page order.

    Script content is raw text to the parser: comments, ``&amp;`` and tags inside it are
    kept as written, exactly as a browser or crawler reads them.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.unterminated = False
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and self._current is None and _is_jsonld(attrs):
            self._current = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._current is not None:
            self.blocks.append("".join(self._current))
            self._current = None

    def close(self) -> None:
        super().close()
        if self._current is not None:  # the page ended inside the script
            self.blocks.append("".join(self._current))
            self.unterminated = True
            self._current = None


def _is_jsonld(attrs: list[tuple[str, str | None]]) -> bool:
    for name, value in attrs:
        if name == "type" and value is not None:
            return value.split(";", 1)[0].strip().lower() == "application/ld+json"
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


_LD_JSON = re.compile(r"ld\+json", re.IGNORECASE)  # matches all that .lower() would
_CHUNKS = re.compile(r"<!--.*?-->|<script\b.*?(?:</script\s*>|\Z)", re.DOTALL | re.IGNORECASE)


def script_chunks(html: str) -> str:
    """Only the comments and script elements of ``html``, in order: all that
    :func:`validate_page` reads of a page, which gives the same findings for them as
    for the whole page.

    The parser then sees the same script blocks (a script inside a comment still does not
    count) while skipping the rest of the page: a check page is mostly body text, and the
    build validates every one of them. The build also keys its cache of findings by
    them, so a page whose related checks or stylesheet changed is not validated again.
    """
    if _LD_JSON.search(html) is None:  # (html.lower() took 30 µs of a check page's 110)
        return ""
    return "".join(match.group(0) for match in _CHUNKS.finditer(html))


def extract_jsonld(html: str) -> tuple[list[Any], list[Finding]]:
    """Every application/ld+json block in html, parsed; a block that is not valid JSON is an
    error Finding. Blocks are numbered from 1 in page order in the messages."""
    return _parsed_blocks(script_chunks(html))


def _parsed_blocks(scripts: str) -> tuple[list[Any], list[Finding]]:
    """:func:`extract_jsonld` of a page's :func:`script_chunks`."""
    parser = _ScriptBlocks()
    parser.feed(scripts)
    parser.close()
    values: list[Any] = []
    findings: list[Finding] = []
    last = len(parser.blocks)
    for number, text in enumerate(parser.blocks, start=1):
        if parser.unterminated and number == last:
            findings.append(_error(f"JSON-LD block {number} has no closing </script> tag"))
            continue
        if not text.strip():
            findings.append(_error(f"JSON-LD block {number} is empty"))
            continue
        try:
            values.append(json.loads(text, parse_constant=_reject_constant))
        except json.JSONDecodeError as exc:
            findings.append(
                _error(
                    f"JSON-LD block {number} is not valid JSON: {exc.msg} "
                    f"(line {exc.lineno}, column {exc.colno} of the block)"
                )
            )
        except (ValueError, RecursionError) as exc:
            findings.append(_error(f"JSON-LD block {number} is not valid JSON: {exc}"))
    return values, findings


# -- finding the ClaimReviews ---------------------------------------------------------------


def _types(node: dict[str, Any]) -> list[str]:
    """The ``@type`` values of a node, without a schema.org prefix."""
    value = node.get("@type")
    names = value if isinstance(value, list) else [value]
    found = []
    for name in names:
        if isinstance(name, str):
            for prefix in _TYPE_PREFIXES:
                if name.startswith(prefix):
                    name = name[len(prefix) :]
                    break
            found.append(name)
    return found


def _claim_reviews(value: Any) -> list[dict[str, Any]]:
    """Every ClaimReview node in a parsed block, in document order.

    Top-level arrays, ``@graph`` wrappers and ClaimReviews nested in other nodes all count.
    A node without its own ``@context`` gets the one of its nearest enclosing node.
    """
    found: list[dict[str, Any]] = []
    stack: list[tuple[Any, Any]] = [(value, None)]  # (node, inherited @context)
    while stack:
        node, context = stack.pop()
        if isinstance(node, list):
            stack += [(item, context) for item in reversed(node)]
        elif isinstance(node, dict):
            context = node.get("@context", context)
            if "ClaimReview" not in _types(node):
                stack += [(v, context) for k, v in reversed(node.items()) if k != "@context"]
            elif "@context" not in node and context is not None:
                found.append({"@context": context, **node})
            else:
                found.append(node)
    return found


def validate_page(html: str, page_url: str) -> list[Finding]:
    """Extract, require exactly one ClaimReview on the page, validate it.

    When a JSON-LD block could not be read and no ClaimReview was found, only the JSON error
    is reported: the broken block most likely is the ClaimReview. With more than one, the
    first is validated.
    """
    return validate_scripts(script_chunks(html), page_url)


def validate_scripts(scripts: str, page_url: str) -> list[Finding]:
    """:func:`validate_page` of the page whose :func:`script_chunks` are ``scripts``: for
    a caller that has them already (the build keys its cache of findings by them)."""
    values, findings = _parsed_blocks(scripts)
    reviews = [review for value in values for review in _claim_reviews(value)]
    if not reviews:
        if not findings:
            findings.append(
                _error(
                    "ClaimReview: this check page has no ClaimReview JSON-LD "
                    "(does a template override drop the structured-data block?)"
                )
            )
        return findings
    if len(reviews) > 1:
        findings.append(
            _error(
                f"ClaimReview: this check page has {len(reviews)} ClaimReview objects; "
                "it must have exactly one (is the structured-data block included twice?)"
            )
        )
    return findings + validate_claim_review(reviews[0], page_url)


# -- the rules for one ClaimReview ---------------------------------------------------------


def validate_claim_review(review: dict[str, Any], page_url: str) -> list[Finding]:
    """Rules for one ClaimReview object; ``page_url`` is the canonical URL of its page."""
    findings: list[Finding] = []
    findings += _check_context(review)
    findings += _check_url(review, page_url)
    findings += _check_claim(review)
    findings += _check_author(review)
    published, dates = _check_dates(review)
    findings += dates
    findings += _check_rating(review)
    findings += _check_item(review, published)
    return findings


def _check_context(review: dict[str, Any]) -> list[Finding]:
    if "@context" not in review:
        return [_error("ClaimReview: '@context' is missing; it must be https://schema.org")]
    context = review["@context"]
    if _is_schema_org(context):
        return []
    return [_error(f"ClaimReview: '@context' is {_show(context)}, not https://schema.org")]


def _is_schema_org(context: Any) -> bool:
    if isinstance(context, str):
        return context.strip().rstrip("/").lower() in SCHEMA_ORG
    if isinstance(context, list):
        return any(_is_schema_org(item) for item in context)
    if isinstance(context, dict):
        return _is_schema_org(context.get("@vocab"))
    return False


def _check_url(review: dict[str, Any], page_url: str) -> list[Finding]:
    url = review.get("url")
    if url is None or url == "":
        return [_error(f"ClaimReview: 'url' is missing; it must be this page's URL, {page_url}")]
    if not _is_web_url(url):
        return [_error(f"ClaimReview: 'url' must be an absolute http(s) URL, not {_show(url)}")]
    host, page_host = _host(url), _host(page_url)
    if host != page_host:
        return [
            _error(
                f"ClaimReview: 'url' is on host '{host}', not on this page's host "
                f"'{page_host}'; Google requires the fact check's own domain"
            )
        ]
    if _canonical(url) != _canonical(page_url):
        return [
            _error(
                f"ClaimReview: 'url' is {url}, not this page's canonical URL {page_url} "
                "(check 'base_url' in site.yaml and template overrides)"
            )
        ]
    return []


def _is_web_url(value: Any) -> bool:
    if not isinstance(value, str) or not value or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. a malformed port or IPv6 literal
        return False


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _canonical(url: str) -> tuple[str, str, str, str, str]:
    """A URL in a form where equal addresses compare equal: case of scheme and host,
    default port, empty path and percent-encoding of the path do not matter."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed URL equals only itself
        return "", url, "", "", ""
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = (parts.hostname or "") + (
        f":{port}" if port and (scheme, port) not in (("http", 80), ("https", 443)) else ""
    )
    path = quote(unquote(parts.path or "/"), safe="/#?=&:@!$'()*+,;~")
    return scheme, netloc, path, parts.query, parts.fragment


def _check_claim(review: dict[str, Any]) -> list[Finding]:
    claim = review.get("claimReviewed")
    if claim is None or (isinstance(claim, str) and not claim.strip()):
        return [_error("ClaimReview: 'claimReviewed' is missing or empty (set 'claim')", "claim")]
    if not isinstance(claim, str):
        return [
            _error(f"ClaimReview: 'claimReviewed' must be text, not {_describe(claim)}", "claim")
        ]
    findings = []
    if len(claim) > MAX_CLAIM_LENGTH:
        findings.append(
            _warning(
                "CR121",
                f"ClaimReview: 'claimReviewed' is {len(claim)} characters; "
                f"Google shows at most {MAX_CLAIM_LENGTH} (shorten 'claim')",
                "claim",
            )
        )
    rating = review.get("reviewRating")
    label = rating.get("alternateName") if isinstance(rating, dict) else None
    if isinstance(label, str) and label.strip():
        words = r"\s+".join(re.escape(word) for word in label.split())
        if re.search(rf"(?<!\w){words}(?!\w)", claim, re.IGNORECASE):
            findings.append(
                _warning(
                    "CR122",
                    f"ClaimReview: 'claimReviewed' contains the verdict '{label.strip()}'; "
                    "Google wants the claim alone, the verdict goes in 'reviewRating' "
                    "(reword 'claim')",
                    "claim",
                )
            )
    return findings


def _check_author(review: dict[str, Any]) -> list[Finding]:
    problem = _named(review.get("author"), "author")
    if problem is None:
        return []
    return [
        _error(
            f"ClaimReview: {problem}; Google needs the organisation that publishes the check "
            "(check 'publisher' in site.yaml)"
        )
    ]


def _named(value: Any, where: str) -> str | None:
    """What is wrong with a Person or Organization value that needs a name, if anything."""
    if value is None or value == [] or value == "":
        return f"'{where}' is missing"
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = _named(item, f"{where}[{index}]")
            if problem:
                return problem
        return None
    if not isinstance(value, dict):
        return f"'{where}' must be an Organization or Person object, not {_describe(value)}"
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        return f"'{where}' has no 'name'"
    return None


# -- dates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Moment:
    """An ISO 8601 date or date-time as found in the markup."""

    text: str
    moment: dt.datetime
    has_time: bool

    def before(self, other: _Moment) -> bool:
        """Whether this is earlier; a date (or a date-time without offset next to one with
        an offset) compares by calendar day only, so no time zone is guessed."""
        aware = self.moment.tzinfo is not None
        if self.has_time and other.has_time and aware == (other.moment.tzinfo is not None):
            return self.moment < other.moment
        return self.moment.date() < other.moment.date()


def _parse_moment(value: Any) -> _Moment | None:
    if not isinstance(value, str):
        return None
    try:
        if _DATE.fullmatch(value):
            return _Moment(value, dt.datetime.fromisoformat(value), False)
        if _DATE_TIME.fullmatch(value):
            return _Moment(value, dt.datetime.fromisoformat(value.replace(",", ".")), True)
    except ValueError:  # a month 13 or a 30 February
        return None
    return None


def _not_iso(where: str, value: Any, key: str) -> Finding:
    return _error(
        f"ClaimReview: '{where}' is {_show(value)}, not an ISO 8601 date like 2020-12-15 "
        f"or date-time like 2020-12-15T09:30:00+08:00 (check '{key}')",
        key,
    )


def _check_dates(review: dict[str, Any]) -> tuple[_Moment | None, list[Finding]]:
    """``datePublished`` and ``dateModified``; returns the publication date when valid."""
    findings = []
    value = review.get("datePublished")
    published = _parse_moment(value)
    if value is None or value == "":
        findings.append(
            _error("ClaimReview: 'datePublished' is missing (set 'published')", "published")
        )
    elif published is None:
        findings.append(_not_iso("datePublished", value, "published"))
    if "dateModified" in review:
        value = review["dateModified"]
        modified = _parse_moment(value)
        if modified is None:
            findings.append(_not_iso("dateModified", value, "updated"))
        elif published is not None and modified.before(published):
            findings.append(
                _error(
                    f"ClaimReview: 'dateModified' {modified.text} is before 'datePublished' "
                    f"{published.text} (check 'updated')",
                    "updated",
                )
            )
    return published, findings


# -- the rating ---------------------------------------------------------------------------


def _whole_number(value: Any) -> int | None:
    """An int, a float without fraction or a string of a whole number → its value."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        return int(value.strip().split(".", 1)[0])
    return None


def _check_rating(review: dict[str, Any]) -> list[Finding]:
    rating = review.get("reviewRating")
    if rating is None:
        return [_error("ClaimReview: 'reviewRating' is missing (check 'verdict')", "verdict")]
    if not isinstance(rating, dict):
        return [
            _error(
                f"ClaimReview: 'reviewRating' must be a Rating object, not {_describe(rating)}",
                "verdict",
            )
        ]
    findings = []
    label = rating.get("alternateName")
    if not isinstance(label, str) or not label.strip():
        findings.append(
            _error(
                "ClaimReview: 'reviewRating.alternateName' is missing or empty; it is the "
                "verdict Google shows (check 'verdict' and its label in site.yaml)",
                "verdict",
            )
        )
    given = [key for key in _RATING_KEYS if key in rating]
    if not given:
        return findings  # a textual rating
    absent = [key for key in _RATING_KEYS if key not in rating]
    if absent:
        findings.append(
            _error(
                f"ClaimReview: 'reviewRating' has {_names(given)} but not {_names(absent)}; "
                "give all three numbers or none (check the verdict's 'rating' in site.yaml)",
                "verdict",
            )
        )
    numbers: dict[str, int] = {}
    for key in given:
        number = _whole_number(rating[key])
        if number is None:
            findings.append(
                _error(
                    f"ClaimReview: 'reviewRating.{key}' must be a whole number, "
                    f"not {_show(rating[key])}",
                    "verdict",
                )
            )
        else:
            numbers[key] = number
    value, best, worst = (numbers.get(key) for key in _RATING_KEYS)
    if worst is not None and worst < 1:
        findings.append(
            _error(
                f"ClaimReview: 'reviewRating.worstRating' is {worst}; Google requires at least 1 "
                "(check the verdict ratings in site.yaml)",
                "verdict",
            )
        )
    if best is not None and worst is not None:
        if best <= worst:
            findings.append(
                _error(
                    f"ClaimReview: 'reviewRating.bestRating' {best} must be greater than "
                    f"'worstRating' {worst} (check the verdict ratings in site.yaml)",
                    "verdict",
                )
            )
        elif value is not None and not worst <= value <= best:
            findings.append(
                _error(
                    f"ClaimReview: 'reviewRating.ratingValue' {value} is outside the scale "
                    f"{worst} to {best} (check the verdict's 'rating' in site.yaml)",
                    "verdict",
                )
            )
    return findings


# -- the claim ----------------------------------------------------------------------------


def _check_item(review: dict[str, Any], published: _Moment | None) -> list[Finding]:
    item = review.get("itemReviewed")
    if item is None:
        return [_error("ClaimReview: 'itemReviewed' is missing; it must be a Claim object")]
    if not isinstance(item, dict):
        return [
            _error(f"ClaimReview: 'itemReviewed' must be a Claim object, not {_describe(item)}")
        ]
    findings = []
    if "@type" not in item:
        findings.append(_error("ClaimReview: 'itemReviewed' has no '@type'; it must be 'Claim'"))
    elif "Claim" not in _types(item):
        findings.append(
            _error(f"ClaimReview: 'itemReviewed' has '@type' {_show(item['@type'])}, not 'Claim'")
        )
    problem = _named(item.get("author"), "itemReviewed.author")
    if problem:
        findings.append(
            _warning(
                "CR162",
                f"ClaimReview: {problem}; Google shows who made the claim (set 'claimant')",
                "claimant",
            )
        )
    if "datePublished" in item:
        value = item["datePublished"]
        claimed = _parse_moment(value)
        if claimed is None:
            findings.append(_not_iso("itemReviewed.datePublished", value, "claim_date"))
        elif published is not None and published.before(claimed):
            findings.append(
                _warning(
                    "CR164",
                    f"ClaimReview: the claim was made on {claimed.text} "
                    f"('itemReviewed.datePublished'), after the check's 'datePublished' "
                    f"{published.text} (check 'claim_date')",
                    "claim_date",
                )
            )
    findings += _check_appearances(item)
    return findings


def _check_appearances(item: dict[str, Any]) -> list[Finding]:
    findings = []
    present = False
    for key in ("appearance", "firstAppearance"):
        value = item.get(key)
        if value is None or value == []:
            continue
        present = True
        works = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, work in works:
            where = f"itemReviewed.{key}" + (f"[{index}]" if index is not None else "")
            if isinstance(work, dict):
                if "url" not in work:
                    continue  # an inline CreativeWork without a link
                where, url = f"{where}.url", work["url"]
            else:
                url = work
            if not _is_web_url(url):
                findings.append(
                    _error(
                        f"ClaimReview: '{where}' must be an absolute http(s) URL, "
                        f"not {_show(url)} (check 'claim_urls')",
                        "claim_urls",
                    )
                )
    if not present:
        findings.append(
            _warning(
                "CR166",
                "ClaimReview: 'itemReviewed' has no 'appearance' or 'firstAppearance'; "
                "Google recommends linking where the claim was made (add 'claim_urls')",
                "claim_urls",
            )
        )
    return findings


# -- wording ------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    """How a JSON value reads in a message: 'a list', 'text', 'an object', 'null' …"""
    return describe(value, mapping="an object", none="null")


def _show(value: Any) -> str:
    """A value quoted for a message, shortened when long."""
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "…"
        return f"'{text}'"
    if isinstance(value, (dict, list)):
        return _describe(value)
    return json.dumps(value)


def _names(keys: list[str]) -> str:
    quoted = [f"'{key}'" for key in keys]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
