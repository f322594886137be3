"""The validated content model: plain dataclasses, no I/O.

Everything here has already been checked by :mod:`generator.loader`; templates and the
site graph can rely on the types without checking again.

A build holds every entry of the site at once (100,000 on a large archive), so the
classes that come once or more per entry use ``slots``: no per-object ``__dict__``
(a ``When`` takes 48 bytes instead of 350).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # bodies imports this module: the type alone, for the annotation
    from .bodies import StoredBody


_Class = TypeVar("_Class", bound=type)


def pickled_by_fields(cls: _Class) -> _Class:
    """Pickle instances of the dataclass ``cls`` as a call of ``cls`` with its fields.

    The cache keeps every entry pickled, with its dates, sources and warnings. For a
    class with ``slots=True``, dataclasses pickle the fields through a state setter
    that looks the fields up again for every object: taking 10,000 entries from the
    cache took 0.14 s that way, 0.08 s this way (and 10% fewer bytes). Apply it above
    ``@dataclass``.
    """
    names = tuple(item.name for item in dataclasses.fields(cls))

    def __reduce__(self: Any) -> tuple[Any, tuple[Any, ...]]:
        return cls, tuple(getattr(self, name) for name in names)

    cls.__reduce__ = __reduce__  # type: ignore[assignment]
    return cls


@pickled_by_fields
@dataclass(frozen=True, order=True, slots=True)
class When:
    """A date or date-time as authored; ``moment`` is timezone-aware for comparisons."""

    moment: dt.datetime
    has_time: bool = False

    @property
    def date(self) -> dt.date:
        return self.moment.date()

    def isoformat(self) -> str:
        """``YYYY-MM-DD`` for a date, full ISO 8601 with offset for a date-time."""
        return self.moment.isoformat() if self.has_time else self.date.isoformat()


@dataclass(frozen=True)
class Verdict:
    """One step of the site's rating scale, ordered best to worst in ``SiteConfig``."""

    id: str
    label: str
    color: str
    rating: int | None = None
    description: str = ""


@dataclass(frozen=True)
class Publisher:
    name: str
    url: str
    logo: str | None = None


@dataclass
class SiteConfig:
    """Settings from ``content/site.yaml`` with defaults filled in."""

    title: str
    base_url: str
    language: str = "en"
    description: str = ""
    publisher: Publisher | None = None
    contact: str | None = None
    timezone: str = "UTC"
    per_page: int = 20
    search: bool = True
    search_shard_size: int | None = None  # checks per search index shard; None: automatic
    allow_html: bool = False
    verdicts: list[Verdict] = field(default_factory=list)
    ignore_warnings: tuple[str, ...] = ()  # ClaimReview warning rules not reported
    lines: dict[str, int] = field(default_factory=dict)  # "publisher.logo" → line in site.yaml

    @property
    def contact_url(self) -> str | None:
        """``contact`` as a link: an email address becomes ``mailto:``."""
        if self.contact and "@" in self.contact and "://" not in self.contact:
            return f"mailto:{self.contact}"
        return self.contact

    def verdict(self, verdict_id: str) -> Verdict:
        for verdict in self.verdicts:  # a handful: a loop beats building a dict
            if verdict.id == verdict_id:
                return verdict
        raise KeyError(f"no verdict '{verdict_id}'")  # the loader checked every entry's

    @property
    def best_rating(self) -> int | None:
        ratings = [v.rating for v in self.verdicts if v.rating is not None]
        return max(ratings) if ratings else None

    @property
    def worst_rating(self) -> int | None:
        ratings = [v.rating for v in self.verdicts if v.rating is not None]
        return min(ratings) if ratings else None


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Source:
    url: str
    title: str | None = None
    archive_url: str | None = None


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Correction:
    date: When
    note: str
    type: str = "correction"  # correction | update | clarification


@dataclass
class Company:
    slug: str
    name: str
    source_path: str
    aliases: list[str] = field(default_factory=list)
    website: str | None = None
    wikidata: str | None = None
    industry: str | None = None
    body_html: str = ""

    @property
    def wikidata_url(self) -> str | None:
        return f"https://www.wikidata.org/wiki/{self.wikidata}" if self.wikidata else None


# The front matter keys of an entry, in the order its field_lines follow.
ENTRY_KEYS = (
    "title", "slug", "claim", "claim_quote", "claimant", "claim_date", "claim_urls", "verdict",
    "verdict_explanation", "companies", "published", "updated", "author", "tags", "summary",
    "sources", "corrections", "draft",
)  # fmt: skip


@pickled_by_fields
@dataclass(slots=True)
class Entry:
    """One fact-check. ``companies`` holds resolved company slugs, in authored order."""

    slug: str
    source_path: str
    title: str
    claim: str
    verdict: str
    published: When
    claim_quote: str | None = None
    claimant: str | None = None
    claim_date: When | None = None
    claim_urls: list[str] = field(default_factory=list)
    verdict_explanation: str | None = None
    companies: list[str] = field(default_factory=list)
    updated: When | None = None
    author: str | None = None
    tags: list[str] = field(default_factory=list)
    summary: str | None = None
    sources: list[Source] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    draft: bool = False
    # The rendered body, packed (pack_html): a build holds every entry at once but reads
    # each body once or twice (its page, the main feed). Packed, the bodies of 10,000
    # entries take 16 MB instead of 78 MB (100,000: 160 MB instead of 820 MB); a build
    # then moves them to a temporary file (a StoredBody: see generator.bodies).
    body: bytes | StoredBody = field(default=b"", repr=False)
    # The line of each of ENTRY_KEYS in the file (0: not given), as one character each,
    # whose code is the line (see line_of): 70 bytes per entry, where a tuple of ints
    # took 180 and a dict 1,000 (a site holds all of them).
    field_lines: str = ""
    # A hash of everything the entry was made from (its file's bytes, where it is, the
    # settings it was checked against), set by the loader; page keys use it.
    fingerprint: str = field(default="", repr=False, compare=False)

    def line_of(self, key: str | None) -> int | None:
        """The source line of front matter field ``key`` (for later checks' messages)."""
        if key not in ENTRY_KEYS:
            return None
        position = ENTRY_KEYS.index(key)
        line = ord(self.field_lines[position]) if position < len(self.field_lines) else 0
        return line or None

    @property
    def body_html(self) -> str:
        """The body as HTML (what templates print with ``| safe``)."""
        return unpack_html(self.packed_body())

    def packed_body(self) -> bytes:
        """The body as :func:`pack_html` packed it, wherever it is kept."""
        return self.body if isinstance(self.body, bytes) else self.body.read()

    @property
    def modified(self) -> When:
        """The last change: ``updated`` when given, else ``published``."""
        return self.updated if self.updated and self.updated > self.published else self.published


@dataclass
class Page:
    """A free page from ``content/pages/``, served at ``/<slug>/``."""

    slug: str
    title: str
    source_path: str
    menu: int | None = None
    description: str | None = None
    body_html: str = ""


@dataclass
class StaticFile:
    """A file under ``content/static/`` copied to ``relpath`` in the output."""

    relpath: str
    source: Path


@dataclass
class Content:
    """Everything loaded from a site folder, before cross-linking."""

    config: SiteConfig
    entries: list[Entry]
    companies: list[Company]
    pages: list[Page]
    static_files: list[StaticFile]


def pack_html(html: str) -> bytes:
    """``html`` in UTF-8, compressed (fast zlib): :attr:`Entry.body`."""
    return zlib.compress(html.encode("utf-8", "surrogatepass"), 1) if html else b""


def unpack_html(packed: bytes) -> str:
    """The HTML that :func:`pack_html` packed."""
    return zlib.decompress(packed).decode("utf-8", "surrogatepass") if packed else ""
