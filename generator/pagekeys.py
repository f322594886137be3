"""Page keys: one hash of everything a page's HTML depends on.

A rebuild renders a page only when its key differs from the one the last build recorded
(or its output file is no longer the one that build wrote); otherwise the file stays as
it is. A key covers:

- the *site key*: factsite's own code, the site settings, every free page, the published
  asset names and the static files, which any page may show (the footer links the free
  pages);
- the page's address, its template's key (``Theme.template_keys``: the sources of its
  template, of those it extends, includes or imports, and of the check cards' macros;
  editing ``company.html`` renders the company pages only) and its *context*, walked
  value by value: the entries it shows (each by what it was made from, see
  ``Entry.fingerprint``, or else by all its fields, and with the companies shown beside
  it, see ``SiteGraph.companies_shown``), their pagers, counts. Values a page spec
  *derives* (a check page's verdict, companies and ClaimReview, made from the entry, the
  settings and the companies shown with it) are covered by what they are made from.

Templates also see ``graph``. Reading the settings or free pages off it is covered by the
site key, and so are the companies when a template reads them off it by name
(``graph.companies``, ``graph.find_company``): every company is then part of the site
key, so editing one renders every page again. Otherwise a company is part of the keys of
the pages that show it or a check of it only. Anything else (``graph.entries`` in a
custom sidebar, say) would make a page depend on every check, so a theme that does it
gets no page keys at all and every page renders on every build, which is always correct.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .model import Company, Entry, Page, pickled_by_fields

# What templates may read off ``graph`` and still have page keys: parts of the site key,
# or (company_list, verdict) functions of values the page's context holds.
GRAPH_READS_COVERED = frozenset({
    "config", "companies", "pages", "menu", "page", "company_keys", "find_company",
    "company_list", "verdict",
})
# Reads that reach any company by name: with them, every company is part of the site key.
GRAPH_READS_OF_COMPANIES = frozenset({"companies", "company_keys", "find_company"})


@pickled_by_fields  # kept in the cache for the next build
@dataclass(slots=True)  # one per output file: 240,000 at 100,000 checks
class PageRecord:
    """What a build knows about one page it wrote, for the next build to reuse (or about
    one file of the search bundle: its ``key`` is then that of the shard's bundle).

    ``digest`` is, for an indexed page, the hash its search shard is keyed by; ``stat``
    (size, mtime_ns, inode) is of the output file after the build, so a file touched
    since is rendered again. ``findings`` are the ClaimReview findings of a check page,
    ``links`` the link checker's record of the page (``None`` unless strict).
    """

    key: str
    digest: str = ""  # of what the search index reads of it (search.page_digest), if indexed
    stat: tuple[int, int, int] | None = None
    findings: Sequence[Any] = ()  # not a list per page: 130,000 pages at 100,000 checks
    links: Any = None


class PageKeys:
    """Computes page keys; one instance per build.

    Entries, pagers and listings appear on many pages (an entry on its own page, on
    listings, as a related check; a tag's list on each of its pages): each object is
    hashed once, remembered by identity. The memo holds the object too, so its identity
    cannot pass to another object while the memo lives.
    """

    def __init__(self, site_parts: list[Any],
                 companies_shown: Callable[[Entry], list[Company]] | None = None) -> None:
        self._memo: dict[int, tuple[Any, bytes]] = {}
        self._companies_shown = companies_shown  # hashed with each entry a page shows
        digest = hashlib.blake2b(digest_size=16)
        for part in site_parts:
            self._feed(digest, part)
        self.site_key = digest.digest()

    def key(self, path: str, template: str, context: dict[str, Any]) -> bytes | None:
        """The page's key (16 bytes), ``template`` being its template's key
        (``Theme.template_keys``); ``None`` when its context holds a value that cannot be
        hashed (the page is then rendered every time)."""
        digest = hashlib.blake2b(self.site_key, digest_size=16)
        try:
            self._feed(digest, path)
            self._feed(digest, template)
            for name, value in context.items():
                self._feed(digest, name)
                self._feed(digest, value)
        except TypeError:
            return None
        return digest.digest()

    def value_key(self, value: Any) -> str:
        """The hash of one value, walked as page contexts are (for other caches keyed
        by the same inputs)."""
        digest = hashlib.blake2b(digest_size=16)
        self._feed(digest, value)
        return digest.hexdigest()

    def _feed(self, digest: Any, value: Any) -> None:
        kind = type(value)
        if kind is str:
            encoded = value.encode("utf-8", "surrogatepass")
            digest.update(b"\x02%d:" % len(encoded))
            digest.update(encoded)
        elif value is None or kind is int or kind is float or kind is bool:
            digest.update(f"\x01{value!r}".encode())
        elif kind is Entry or kind is list or kind is tuple or kind is dict or (
                dataclasses.is_dataclass(value) and not isinstance(value, type)):
            known = self._memo.get(id(value))
            if known is None:
                known = self._memo[id(value)] = (value, self._digest_of(value))
            digest.update(known[1])
        elif isinstance(value, str):  # Markup: its characters are what renders
            self._feed(digest, str(value))
        elif hasattr(value, "isoformat"):  # date, datetime
            digest.update(f"\x07{kind.__name__}{value.isoformat()}".encode())
        else:
            raise TypeError(f"no page key for a {kind.__name__}")

    def _digest_of(self, value: Any) -> bytes:
        """The hash of one list, tuple, dict or dataclass instance, by its contents."""
        kind = type(value)
        if kind is Entry and value.fingerprint:  # made from exactly these inputs
            digest = hashlib.blake2b(b"\x03" + value.fingerprint.encode(), digest_size=16)
            self._feed_companies(digest, value)
            return digest.digest()
        if kind is Entry or kind is Company or kind is Page:
            # Every field by its repr (plain data all the way down); the body by its bytes
            # (an entry's as packed: the same HTML always packs to the same bytes).
            fields = [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)
                      if f.name not in ("body", "body_html")]
            digest = hashlib.blake2b(repr((kind.__name__, fields)).encode(), digest_size=16)
            digest.update(value.packed_body() if kind is Entry else
                          value.body_html.encode("utf-8", "surrogatepass"))
            if kind is Entry:
                self._feed_companies(digest, value)
            return digest.digest()
        digest = hashlib.blake2b(kind.__qualname__.encode(), digest_size=16)
        if kind is dict:
            digest.update(b"%d:" % len(value))
            for name, item in value.items():
                self._feed(digest, name)
                self._feed(digest, item)
        elif kind is list or kind is tuple:
            digest.update(b"%d:" % len(value))
            for item in value:
                self._feed(digest, item)
        else:
            for f in dataclasses.fields(value):
                self._feed(digest, getattr(value, f.name))
        return digest.digest()

    def _feed_companies(self, digest: Any, entry: Entry) -> None:
        """The companies shown with ``entry`` (its chips, its claimant's links), each
        hashed once: a page showing the entry shows them too."""
        if self._companies_shown is not None:
            for company in self._companies_shown(entry):
                self._feed(digest, company)
