"""Problems found in a site's content, reported as ``path:line: message``.

Every step that reads authored files (front matter, site.yaml, templates) records what is
wrong in a :class:`Report` instead of raising, so one run shows every mistake at once::

    Diagnostic            one problem: file, line, message, optional hint
    Report                the problems of one build, in the order they were found
    BuildFailed           raised by the build once a report holds errors
    condense()            the diagnostics to print, with repeated warnings counted

Only :class:`BuildFailed` crosses module boundaries; the command line turns it into an
exit status without a traceback.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from .model import pickled_by_fields


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"


@pickled_by_fields  # cached with each entry
@dataclass(frozen=True, slots=True)  # one per warning: 120,000 at 100,000 checks
class Diagnostic:
    """One problem in one file. ``line`` is 1-based; ``None`` when no line applies."""

    path: str
    line: int | None
    message: str
    severity: Severity = Severity.ERROR
    hint: str | None = None
    source_line: str | None = None

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def format(self) -> str:
        """The plain text form: ``path:line: message`` then hint and offending line."""
        prefix = "" if self.severity is Severity.ERROR else "warning: "
        text = f"{self.location}: {prefix}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        if self.source_line is not None and self.line:
            text += f"\n    {self.line:>4} | {self.source_line.rstrip()}"
        return text

    def format_github(self) -> str:
        """A GitHub Actions workflow command, shown as an annotation on the file."""
        kind = "error" if self.severity is Severity.ERROR else "warning"
        where = f"file={self.path}" + (f",line={self.line}" if self.line else "")
        message = self.message + (f" ({self.hint})" if self.hint else "")
        message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return f"::{kind} {where}::{message}"


@dataclass
class Report:
    """Collects the diagnostics of one build; ``root`` makes paths relative for display."""

    root: Path | None = None
    items: list[Diagnostic] = field(default_factory=list)
    _error_count: int = 0
    # Every path shown so far. One handed back (an entry's source_path, in a finding of
    # its rendered page) is itself: resolved again, it would be taken as relative to the
    # working folder ("content/content/…" from inside content/). The paths given are not
    # remembered: at 100,000 checks that took 20 MB to the end of the build, while the
    # loader, which names each file several times, keeps its own until it is done.
    _shown: set[str] = field(default_factory=set, repr=False)
    _resolved_root: str | None = field(default=None, repr=False)
    _real_folders: dict[str, str] = field(default_factory=dict, repr=False)

    def display_path(self, path: Path | str, *, link: bool | None = None) -> str:
        """``path`` as messages show it: relative to ``root`` when inside it. ``link``
        says whether ``path`` is a symbolic link, when the caller knows already."""
        if isinstance(path, str) and path in self._shown:
            return path
        shown = self._relative(Path(path), link)
        self._shown.add(shown)
        return shown

    def _relative(self, path: Path, link: bool | None = None) -> str:
        if self.root is not None:
            if self._resolved_root is None:  # with a final "/", to test prefixes with
                self._resolved_root = str(self.root.resolve()).rstrip("/") + "/"
            # A file that is not a link resolves inside its folder's real path: folders
            # are resolved once each, not once per file (plain strings: every file of a
            # large site passes here).
            folder, name = os.path.split(str(path))
            plain = name not in ("", ".", "..") and not (
                os.path.islink(path) if link is None else link)
            if plain:
                real = self._real_folders.get(folder)
                if real is None:
                    real = self._real_folders[folder] = os.path.realpath(folder or ".")
                resolved = os.path.join(real, name)
            else:
                resolved = str(path.resolve())
            if resolved.startswith(self._resolved_root):
                return resolved[len(self._resolved_root):]
        return path.as_posix()

    @property
    def has_errors(self) -> bool:
        """Whether any error was reported (cheap: builds ask once per page)."""
        return self._error_count > 0

    def add(
        self,
        path: Path | str,
        line: int | None,
        message: str,
        *,
        severity: Severity = Severity.ERROR,
        hint: str | None = None,
        source_line: str | None = None,
    ) -> None:
        self.items.append(
            Diagnostic(self.display_path(path), line, message, severity, hint, source_line)
        )
        if severity is Severity.ERROR:
            self._error_count += 1

    def error(self, path: Path | str, line: int | None, message: str, **kw: object) -> None:
        self.add(path, line, message, severity=Severity.ERROR, **kw)  # type: ignore[arg-type]

    def warning(self, path: Path | str, line: int | None, message: str, **kw: object) -> None:
        self.add(path, line, message, severity=Severity.WARNING, **kw)  # type: ignore[arg-type]

    def extend(self, other: Iterable[Diagnostic]) -> None:
        for item in other:
            self.items.append(item)
            self._error_count += item.severity is Severity.ERROR

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.WARNING]

    def failed(self, strict: bool = False) -> bool:
        """Whether the build must stop: any error, or under ``strict`` any warning."""
        return self.has_errors or (strict and len(self.items) > 0)


class BuildFailed(Exception):
    """The site has content or template errors; ``report`` lists them all."""

    def __init__(self, report: Report) -> None:
        super().__init__(f"{len(report.errors)} error(s)")
        self.report = report


# A migrated archive repeats the same few warnings on thousands of checks (the benchmark's
# 10,000 give 11,475, most for a missing 'claim_urls'). Printed whole they bury the
# errors and anything new, so past this many of one kind only a count is printed.
WARNINGS_PER_KIND = 10

_NUMBER = re.compile(r"\b\d+\b")


def warning_kind(item: Diagnostic) -> str:
    """What makes two warnings "the same": the message with the numbers that stand on
    their own masked. 'claimReviewed' is 82 and is 91 characters are one kind, and
    'sources[2].url' is 'sources[3].url'; unknown fields 'legacy_1' and 'legacy_2' are
    two."""
    return _NUMBER.sub("#", item.message)


@dataclass(frozen=True, slots=True)
class Condensed:
    """``shown`` to print in order; for each kind of warning past ``per_kind``, ``more``
    holds the first one not shown and how many were not shown, commonest kind first."""

    shown: list[Diagnostic]
    more: list[tuple[Diagnostic, int]]
    per_kind: int | None

    def more_lines(self, hint: str) -> list[str]:
        """The lines that count what was left out; ``hint`` says how to see it all."""
        if not self.more:
            return []
        total = sum(count for _, count in self.more)
        width = len(f"{self.more[0][1]:,}")
        return [
            f"factsite: {total:,} more warning(s) not shown (only the first {self.per_kind} "
            f"of each kind are; {hint}):",
            *(f"  {count:>{width},} like {item.location}: {item.message}"
              for item, count in self.more),
        ]


def condense(items: Sequence[Diagnostic], per_kind: int | None = WARNINGS_PER_KIND) -> Condensed:
    """Every error, and the first ``per_kind`` warnings of each kind (all when ``None``)."""
    if per_kind is None:
        return Condensed(list(items), [], None)
    shown: list[Diagnostic] = []
    seen: dict[str, int] = {}
    first_hidden: dict[str, Diagnostic] = {}
    for item in items:
        if item.severity is Severity.WARNING:
            kind = warning_kind(item)
            count = seen[kind] = seen.get(kind, 0) + 1
            if count > per_kind:
                first_hidden.setdefault(kind, item)
                continue
        shown.append(item)
    more = [(item, seen[kind] - per_kind) for kind, item in first_hidden.items()]
    more.sort(key=lambda pair: -pair[1])  # stable: equal counts stay in the order found
    return Condensed(shown, more, per_kind)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word`` (case-insensitive), if one is close enough."""
    by_lower: dict[str, str] = {}
    for choice in choices:
        by_lower.setdefault(choice.lower(), choice)
    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[matches[0]] if matches else None


def locate(path: Path, needle: str) -> int | None:
    """The first line of file ``path`` containing ``needle``, for problems found in the
    output (a broken link) that must point back at the source."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    offset = text.find(needle)
    return text.count("\n", 0, offset) + 1 if offset >= 0 else None


def describe(value: object, mapping: str = "a mapping", none: str = "nothing") -> str:
    """How a parsed value reads to an author: 'a list', 'text', 'a number' …

    YAML says "a mapping" and "nothing"; JSON callers pass "an object" and "null".
    """
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return mapping
    return none if value is None else type(value).__name__
