"""Strict mode's link checker: internal links, ``#anchors`` and assets that point nowhere.

The build feeds every rendered page to :meth:`LinkChecker.add_page` and every other file
it produces to :meth:`LinkChecker.add_file`; :meth:`LinkChecker.broken` then lists each
link whose page, file or element does not exist::

    BrokenLink     one link that points nowhere: page, content file, target, reason
    LinkChecker    collects pages and files, then checks every internal link

Pages are not kept: per page only its element ids and its internal link targets are
recorded. Paths given to the checker and named in its reasons are *site paths* below
``base_url`` (``/checks/x/``), as :mod:`generator.urls` defines them; links in the HTML
carry ``base_url``'s path (``/factdesk/checks/x/``), which the checker strips.

Attributes are found with a regular expression, not an HTML parser. In factsite's HTML
(Jinja escapes ``"`` in text and attribute values, markdown-it does the same) a
double-quoted ``href="…"`` can only be an attribute, so those are trusted once comments,
``<script>`` and ``<style>`` are cut out. A page with a single-quoted or unquoted
candidate (hand-written HTML, or ``id=3`` in prose) is read again tag by tag, the way
the HTML tokenizer reads it: exact, and slower.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from html.entities import html5 as _ENTITIES
from operator import itemgetter
from sys import intern
from urllib.parse import quote, unquote, urljoin, urlsplit

from .urls import Urls, output_file

# -- finding attributes ----------------------------------------------------------------------

# The fast path. Every "=" is a candidate: a literal first character lets the regex engine
# skip ahead quickly. The look-behinds keep those that end href, src, srcset or id (group 1:
# their last two letters) or name (group 2), in lower or upper case, after a space or a
# quote. Group 3 is a double-quoted value, group 4 any other value as written.
_NAMES = ("href", "src", "srcset", "id", "name")
_ATTRS = re.compile(
    "=(?<=(?:(ef|rc|et|id|EF|RC|ET|ID)|(me|ME))=)(?:"
    + "|".join(
        f"""(?<=[\\s"'{":" if name == "href" else ""}]{spelling}=)"""
        for name in _NAMES
        for spelling in (name, name.upper())
    )
    + r""")[ \t\n\r\f]*(?:"([^"]*)"|('[^']*'|[^\s>"'][^\s>]*))"""
)
_LINK = frozenset({"ef", "rc", "EF", "RC"})  # href, src
_SRCSET = frozenset({"et", "ET"})
_ending_of, _name_of, _other_of = itemgetter(0), itemgetter(1), itemgetter(3)

# One attribute found: (last two letters of href, src, srcset or id, else ""; those of
# an <a name>, else ""; the value without its quotes, character references not decoded;
# "" once the value is known to be double-quoted).
_Attr = tuple[str, str, str, str]

# Where markup is not markup: comments, and the text of script and style elements.
_RAW_START = re.compile(r"<(?:!--|([sS][cC][rR][iI][pP][tT]|[sS][tT][yY][lL][eE])(?=[\s/>]))")
_COMMENT = re.compile(r"<!--(?:-?>|.*?(?:--!?>|\Z))", re.DOTALL)
_RAW_END = {
    "script": re.compile(r"</script[\s/>]", re.IGNORECASE),
    "style": re.compile(r"</style[\s/>]", re.IGNORECASE),
}

# The exact path: the tokenizer's rules for a start tag and its attributes.
_TAG_OPEN = re.compile(r"<([A-Za-z][^\s/>]*)")
_ATTR_AT = re.compile(
    r"""[\s/]*(?:([^\s/>][^\s/>=]*)(?:[ \t\n\r\f]*=[ \t\n\r\f]*("[^"]*"|'[^']*'|[^\s>]*))?)?"""
)

_ENTITY = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]*;?)")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_NETLOC = re.compile(r"//([^/?#]*)")
_SPACE = " \t\n\r\f"  # HTML's whitespace, stripped from URLs
_SPACE_OR_COMMA = _SPACE + ","
_SPACE_OR_QUOTE = _SPACE + "\"'"
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def strip_raw_text(html: str) -> str:
    """``html`` without comments and without the text of its script and style elements.

    A script or style start tag is kept, for its own ``src`` or ``href``.
    """
    raw = _RAW_START.search(html)
    if raw is None:
        return html
    kept = []
    pos = 0
    while raw is not None:
        kept.append(html[pos : raw.start()])
        element = raw.group(1)
        if element is None:
            comment = _COMMENT.match(html, raw.start())
            pos = comment.end() if comment else len(html)
        else:
            tag_end = html.find(">", raw.end())
            tag_end = len(html) if tag_end == -1 else tag_end + 1
            kept.append(html[raw.start() : tag_end])
            end = _RAW_END[element.lower()].search(html, tag_end)
            pos = end.start() if end else len(html)
        raw = _RAW_START.search(html, pos)
    kept.append(html[pos:])
    return "".join(kept)


def _decode_entity(match: re.Match[str]) -> str:
    ref = match.group(1)
    if ref[0] == "#" or ref[-1] == ";":
        return html_lib.unescape(match.group(0))
    # A named reference without ";" counts in an attribute only as a whole legacy name
    # not followed by "=": "?a=1&copy=2" keeps its "&copy".
    if ref in _ENTITIES and match.string[match.end() : match.end() + 1] != "=":
        return _ENTITIES[ref]
    return match.group(0)


def decode(value: str) -> str:
    """An attribute value with its character references decoded: ``&amp;`` → ``&``."""
    return _ENTITY.sub(_decode_entity, value) if "&" in value else value


def srcset_urls(value: str) -> list[str]:
    """The image URLs of a ``srcset``: ``a.jpg 1x, b.jpg 2x`` → ``a.jpg``, ``b.jpg``."""
    urls = []
    pos, end = 0, len(value)
    while pos < end:
        while pos < end and value[pos] in _SPACE_OR_COMMA:
            pos += 1
        start = pos
        while pos < end and value[pos] not in _SPACE:
            pos += 1
        url = value[start:pos]
        if url.endswith(","):  # "a.jpg,b.jpg 2x": a URL without descriptors
            urls.append(url.rstrip(","))
            continue
        urls.append(url)
        depth = 0  # descriptors run to the next comma outside parentheses
        while pos < end and (value[pos] != "," or depth):
            depth += {"(": 1, ")": -1}.get(value[pos], 0)
            pos += 1
    return [url for url in urls if url]


def _on_a_element(html: str, attribute: str, count: int, start: int) -> bool:
    """Whether one of the ``count`` places after ``start`` that hold ``attribute``
    (``name="x"``) is an ``<a>`` start tag."""
    at = html.find(attribute, start)
    while at != -1:
        if html[at - 1] in _SPACE_OR_QUOTE:  # not data-name="x"
            tag = html.rfind("<", 0, at)
            if html[tag + 1 : tag + 2] in ("a", "A") and html[tag + 2 : tag + 3] in _SPACE:
                return True
            count -= 1
            if count == 0:
                return False
        at = html.find(attribute, at + len(attribute))
    return False


def scan(html: str) -> set[_Attr]:
    """Every distinct href, src, srcset, id and ``<a name>`` of a page.

    Reads the page with :data:`_ATTRS`, or with :func:`scan_exact` when it has a
    single-quoted or unquoted value.
    """
    html = strip_raw_text(html)
    # A name is an anchor on <a> only: the head's (<meta name>) are left out, the body's
    # (rare) looked up one by one.
    body = html.find("</head>") + 1  # 0 when there is none: all of it is the body
    found = _ATTRS.findall(html, body)
    attrs = set(found)
    if body:
        attrs.update(filter(_ending_of, _ATTRS.findall(html, 0, body)))
    if any(map(_other_of, attrs)):
        return scan_exact(html)
    for attr in list(filter(_name_of, attrs)):
        spelling = "name" if attr[1] == "me" else "NAME"
        if not _on_a_element(html, f'{spelling}="{attr[2]}"', found.count(attr), body):
            attrs.discard(attr)
    return attrs


def scan_exact(html: str) -> set[_Attr]:
    """What :func:`scan` finds, reading every start tag as the HTML tokenizer does.

    Slower; for pages with single-quoted or unquoted attributes. ``html`` has been through
    :func:`strip_raw_text`.
    """
    attrs = set()
    pos = 0
    while (tag := _TAG_OPEN.search(html, pos)) is not None:
        element = tag.group(1).lower()
        attr = _ATTR_AT.match(html, tag.end())  # always matches, if only the empty string
        while attr and attr.group(1):
            name, value = attr.group(1).lower(), attr.group(2)
            if value is not None and value[:1] in ('"', "'"):
                value = value[1:-1]
            if name == "xlink:href":
                name = "href"
            if value is None or name not in _NAMES:
                pass
            elif name != "name":
                attrs.add((name[-2:], "", value, ""))
            elif element == "a":
                attrs.add(("", "me", value, ""))
            attr = _ATTR_AT.match(html, attr.end())
        pos = attr.end() if attr else tag.end()
    return attrs


# -- checking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokenLink:
    """One internal link that points nowhere."""

    page: str  # site path of the page holding the link, e.g. "/checks/x/"
    source: str | None  # the content file that page comes from, if any
    target: str  # the link as written in the HTML (href/src value, entities decoded)
    reason: str  # "no page at /companies/nope/", "no element with id 'x' on /checks/y/"


# A link: (target as written, site path or None when outside the site, fragment).
_Link = tuple[str, str | None, str]
_UNKNOWN: _Link = ("", None, "")  # not yet in the cache (None there means "not internal")


@dataclass(frozen=True)
class _Page:
    path: str
    source: str | None
    ids: frozenset[str]
    links: tuple[_Link, ...]


class LinkChecker:
    """Collects a site's pages and files, then finds internal links that point nowhere."""

    def __init__(self, urls: Urls) -> None:
        parts = urlsplit(urls.origin)
        self._scheme = parts.scheme.lower()
        self._host = _host(self._scheme, parts.netloc)
        self._origin = f"{self._scheme}://{self._host}"
        self._prefix = unquote(urls.prefix)  # "" or "/factdesk", decoded
        self._pages: dict[str, _Page] = {}  # by output file as a site path: "/x/index.html"
        self._files: set[str] = set()  # every produced file as a site path
        # Where the href and src values that do not depend on the page point to:
        # host-relative and absolute URLs; None when not internal.
        self._known: dict[str, _Link | None] = {}

    # -- collecting ----------------------------------------------------------------------

    def add_page(self, path: str, html: str, source: str | None = None) -> None:
        """Record one rendered page: its element ids and its internal links."""
        path = "/" + path.lstrip("/")
        ids: set[str] = set()
        links: list[_Link] = []
        known = self._known
        for ending, _, value, _ in scan(html):
            if ending in _LINK:
                link = known.get(value, _UNKNOWN)
                if link is _UNKNOWN:
                    link = self._resolve(decode(value).strip(_SPACE), path, value)
                if link is not None:
                    links.append(link)
            elif ending in _SRCSET:
                for url in srcset_urls(decode(value)):
                    if (link := self._resolve(url, path)) is not None:
                        links.append(link)
            else:  # id, <a name>
                ids.add(intern(decode(value) if "&" in value else value))
        file = "/" + output_file(path)
        self._files.add(file)
        self._pages[file] = _Page(path, source, frozenset(ids), tuple(links))

    def page_record(self, path: str) -> _Page:
        """What :meth:`add_page` recorded for the page at ``path``, for a later build
        that keeps the page without rendering it (see :meth:`add_record`)."""
        return self._pages["/" + output_file(path)]

    def add_record(self, record: _Page) -> None:
        """Record a page as :meth:`page_record` returned it (same site address)."""
        file = "/" + output_file(record.path)
        self._files.add(file)
        self._pages[file] = record

    def add_file(self, path: str) -> None:
        """Record a produced file that is not a page (feed.xml, an asset, logo.svg)."""
        self._files.add("/" + path.lstrip("/"))

    # -- resolving -----------------------------------------------------------------------

    def _resolve(self, target: str, page: str, value: str | None = None) -> _Link | None:
        """Where ``target`` on ``page`` points; ``None`` when it is not internal.

        A result that does not depend on the page is remembered under ``value``, the
        attribute value it comes from.
        """
        if not target or target.startswith(("#", "?")):
            return (target, page, target.partition("#")[2])  # this page
        if target.startswith("/") and not target.startswith("//"):  # host-relative
            link = self._internal(target, urljoin(self._origin, target))
        elif (scheme := _SCHEME.match(target)) is not None or target.startswith("//"):
            link = self._absolute(target, scheme)
        else:  # relative to the page
            base = self._origin + quote(self._prefix + page, safe="/")
            return self._internal(target, urljoin(base, target))
        if value is not None:
            self._known[value] = link
        return link

    def _absolute(self, target: str, scheme: re.Match[str] | None) -> _Link | None:
        """The link to an absolute URL (``https://…``, ``//host/…``) if it is internal."""
        rest = target
        if scheme is not None:
            if scheme.group(1).lower() != self._scheme:
                return None  # mailto:, tel:, data:, javascript:, http: on an https: site
            rest = target[scheme.end() :]
        netloc = _NETLOC.match(rest)  # the default port may be written
        if netloc is None or _host(self._scheme, netloc.group(1)) != self._host:
            return None
        url = urljoin(self._origin, rest)
        if self._prefix and not _in_prefix(unquote(urlsplit(url).path), self._prefix):
            return None  # another site on the same host
        return self._internal(target, url)

    def _internal(self, target: str, url: str) -> _Link:
        """The link to ``url``, an absolute URL on the site's origin."""
        parts = urlsplit(url)
        path = unquote(parts.path) if "%" in parts.path else parts.path
        if self._prefix:
            if not _in_prefix(path, self._prefix):
                return (target, None, parts.fragment)
            path = path[len(self._prefix) :]
        return (target, path or "/", parts.fragment)

    # -- checking ------------------------------------------------------------------------

    def _file_for(self, path: str) -> str | None:
        """The produced file a site path is served from, if any."""
        if path.endswith("/"):
            file = path + "index.html"
            return file if file in self._files else None
        if path in self._files:
            return path
        file = path + "/index.html"  # hosts redirect /x to /x/
        return file if file in self._files else None

    def _problem(self, link: _Link) -> str | None:
        """Why ``link`` points nowhere, or ``None`` when it is fine."""
        _target, path, fragment = link
        if path is None:
            return f"outside the site, whose pages are under {self._prefix}/"
        file = self._file_for(path)
        if file is None:
            is_file = "." in path.rpartition("/")[2]
            return f"no file at {path}" if is_file else f"no page at {path}"
        page = self._pages.get(file)
        if page is None or not fragment or fragment.lower() == "top":
            return None  # a fragment into a file that is not a page is not checked
        if fragment in page.ids or unquote(fragment) in page.ids:
            return None
        return f"no element with id '{unquote(fragment)}' on {page.path}"

    def broken(self) -> list[BrokenLink]:
        """Every link that points nowhere, by page, then target."""
        problems: dict[_Link, str | None] = {}
        found: dict[tuple[str, str], BrokenLink] = {}
        for page in self._pages.values():
            for link in page.links:
                if link not in problems:
                    problems[link] = self._problem(link)
                reason = problems[link]
                if reason is not None and (page.path, link[0]) not in found:
                    found[page.path, link[0]] = BrokenLink(page.path, page.source, link[0], reason)
        return [found[key] for key in sorted(found)]


def _host(scheme: str, netloc: str) -> str:
    """``netloc`` in lower case without the scheme's default port: ``example.org``."""
    netloc = netloc.lower().rstrip(":")
    port = _DEFAULT_PORTS.get(scheme)
    return netloc.removesuffix(port) if port else netloc


def _in_prefix(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")
