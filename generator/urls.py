"""Every URL of the site, in one place.

Routes return *site paths* such as ``/checks/byd-xiaomi-car/``: the path below
``base_url``. :meth:`Urls.href` turns one into a link that works when the site is hosted
under a sub-path, :meth:`Urls.absolute` into a full URL for feeds and canonical links, and
:func:`output_file` into the file that holds it. Templates never write paths themselves.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from urllib.parse import quote, urlsplit


def tag_slug(tag: str) -> str:
    """The URL segment of a tag: lower case, words joined by ``-``, letters of any script."""
    text = unicodedata.normalize("NFKC", tag).lower()
    return re.sub(r"[^\w]+|_+", "-", text).strip("-") or "tag"


def output_file(path: str) -> str:
    """The output file for a site path: ``/a/b/`` → ``a/b/index.html``, ``/x.xml`` → ``x.xml``."""
    relative = path.lstrip("/")
    if relative == "" or relative.endswith("/"):
        relative += "index.html"
    return relative


# The characters quote() leaves as they are in a link: these, and its own safe ones.
_SAFE = "/#?=&%:@!$'()*+,;~"
_PLAIN_LINK = re.compile(f"[A-Za-z0-9_.\\-{re.escape(_SAFE)}]*")


class Urls:
    """The routes of one site, relative to its ``base_url``."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.prefix = parts.path.rstrip("/")  # "" or "/factdesk"
        # A listing links the same few hundred paths thousands of times over. Not many
        # more are kept: every check's link passes here too, once or twice (65,536 of
        # them took 17 MB at 100,000 checks).
        self.href = functools.lru_cache(maxsize=4096)(self._href)  # type: ignore[method-assign]

    # -- turning a site path into a link ---------------------------------------------------

    def _href(self, path: str) -> str:
        """A host-relative link: ``/factdesk/checks/x/`` for a sub-path site."""
        link = self.prefix + path
        # Most links are plain ASCII, which quote() would give back as they are, ten
        # times slower than this test: every check's link is made several times per
        # build (sitemap, feeds, search listings), more than the cache above keeps.
        return link if _PLAIN_LINK.fullmatch(link) else quote(link, safe=_SAFE)

    def absolute(self, path: str) -> str:
        return self.origin + self.href(path)

    # -- routes ----------------------------------------------------------------------------

    @staticmethod
    def _paged(base: str, page: int) -> str:
        return base if page <= 1 else f"{base}page/{page}/"

    def home(self, page: int = 1) -> str:
        return self._paged("/", page)

    def check(self, slug: str) -> str:
        return f"/checks/{slug}/"

    def companies(self) -> str:
        return "/companies/"

    def company(self, slug: str, page: int = 1) -> str:
        return self._paged(f"/companies/{slug}/", page)

    def company_feed(self, slug: str) -> str:
        return f"/companies/{slug}/feed.xml"

    def verdict(self, verdict_id: str, page: int = 1) -> str:
        return self._paged(f"/verdicts/{verdict_id}/", page)

    def tags(self) -> str:
        return "/tags/"

    def tag(self, tag: str, page: int = 1) -> str:
        return self._paged(f"/tags/{tag_slug(tag)}/", page)

    def page(self, slug: str) -> str:
        return f"/{slug}/"

    def ratings(self) -> str:
        return "/ratings/"

    def corrections(self) -> str:
        return "/corrections/"

    def corrections_feed(self) -> str:
        return "/corrections/feed.xml"

    def claimreview_feed(self) -> str:
        return "/claimreview.json"

    def robots(self) -> str:
        return "/robots.txt"

    def search(self) -> str:
        return "/search/"

    def search_listing(self, kind: str, key: str, page: int = 1) -> str:
        """One page of the checks of a company or verdict, for the search page (JSON)."""
        return f"/search/{kind}/{key}/{page}.json"

    def pagefind(self, name: str = "") -> str:
        """The search index bundle (``pagefind.js``, its chunks), or one file of it."""
        return f"/pagefind/{name}"

    def feed(self) -> str:
        return "/feed.xml"

    def sitemap(self) -> str:
        return "/sitemap.xml"

    def sitemap_part(self, number: int) -> str:
        return f"/sitemap-{number}.xml"

    def not_found(self) -> str:
        return "/404.html"

    def asset(self, name: str) -> str:
        return f"/assets/{name}"

    def static(self, relpath: str) -> str:
        """A file copied from ``content/static/``; ``/logo.svg`` and ``logo.svg`` alike."""
        return "/" + relpath.lstrip("/")


class Hrefs:
    """The routes of :class:`Urls` as ready-made links, for templates: ``url.check(slug)``."""

    def __init__(self, urls: Urls) -> None:
        self._urls = urls

    def __getattr__(self, name: str):
        route = getattr(self._urls, name)
        return lambda *args, **kwargs: self._urls.href(route(*args, **kwargs))
