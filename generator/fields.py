"""Typed reading of YAML fields, with every problem recorded as ``path:line: message``.

Shared by the site settings and the content loader so that a bad date, a list where text
belongs or a misspelt key reads the same in every file.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from .diagnostics import Report, Severity, describe, did_you_mean
from .frontmatter import Document, KeyPath
from .markdown import is_safe_url
from .model import When

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEB_URL = re.compile(r"^https?://[^\s/?#]+\.[^\s]*$|^https?://localhost", re.IGNORECASE)


class Fields:
    """Typed access to one document's mapping; problems go to ``report``."""

    def __init__(self, doc: Document, report: Report, known: Iterable[str]) -> None:
        self.doc = doc
        self.data = doc.data
        self.report = report
        self.known = tuple(known)
        self.ok = True

    # -- reporting ---------------------------------------------------------------------

    def problem(
        self,
        keys: KeyPath,
        message: str,
        hint: str | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        line = self.doc.line_of(*keys)
        if severity is Severity.ERROR:
            self.ok = False
        self.report.add(
            self.doc.path,
            line,
            message,
            severity=severity,
            hint=hint,
            source_line=self.doc.source_line(line),
        )

    def check_keys(self, kind: str) -> None:
        """Warn about unknown keys (likely typos) and keys given twice."""
        for key in self.data:
            if key not in self.known:
                guess = did_you_mean(key, self.known)
                self.problem(
                    (key,),
                    f"unknown {kind} field '{key}'",
                    hint=(
                        f"did you mean '{guess}'?"
                        if guess
                        else f"known fields: {', '.join(self.known)}"
                    ),
                    severity=Severity.WARNING,
                )
        for key, line in self.doc.duplicate_keys:
            self.report.warning(
                self.doc.path,
                line,
                f"field '{key}' is given more than once; the last one wins",
                source_line=self.doc.source_line(line),
            )

    def check_nested_keys(
        self, keys: KeyPath, mapping: dict[Any, Any], known: tuple[str, ...], kind: str
    ) -> None:
        """Warn about unknown keys inside a nested mapping (a source, a verdict …)."""
        for key in mapping:
            if key not in known:
                guess = did_you_mean(str(key), known)
                self.problem((*keys, str(key)), f"unknown {kind} field '{key}'",
                             hint=f"did you mean '{guess}'?" if guess else None,
                             severity=Severity.WARNING)

    # -- scalar fields -------------------------------------------------------------------

    def text_value(self, value: Any, keys: KeyPath) -> str | None:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if value is None:
            return None
        self.problem(keys, f"'{_name(keys)}' must be text, not {describe(value)}")
        return None

    def text(self, key: str, required: bool = False) -> str | None:
        raw = self.data.get(key)
        value = self.text_value(raw, (key,))
        if value is None and required and (raw is None or isinstance(raw, str)):
            self.missing(key)  # absent or blank; other types were reported as such
        return value

    def missing(self, key: str) -> None:
        if key in self.data:
            self.problem((key,), f"required field '{key}' is empty")
        else:
            self.problem((), f"missing required field '{key}'", hint=f"add a line '{key}: …'")

    def text_items(self, key: str) -> list[tuple[KeyPath, str]]:
        """Each text of a list with its key path, for what is found wrong with one item
        later; a single text value counts as a one-item list, at the key itself."""
        value = self.data.get(key)
        if value is None:
            return []
        listed = isinstance(value, list)
        items = []
        for index, item in enumerate(value if listed else [value]):
            keys: KeyPath = (key, index) if listed else (key,)
            text = self.text_value(item, keys)
            if text is not None:
                items.append((keys, text))
        return items

    def text_list(self, key: str) -> list[str]:
        """A list of text; a single text value counts as a one-item list."""
        return [text for _, text in self.text_items(key)]

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if isinstance(value, bool):
            return value
        self.problem((key,), f"'{key}' must be true or false, not {value!r}")
        return default

    def integer(self, key: str, default: int | None, minimum: int = 1) -> int | None:
        value = self.data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problem((key,), f"'{key}' must be a whole number ≥ {minimum}, not {value!r}")
            return default
        return value

    def when(self, key: str, tz: dt.tzinfo, required: bool = False) -> When | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.missing(key)
            return None
        return self.when_value(value, (key,), tz)

    def when_value(self, value: Any, keys: KeyPath, tz: dt.tzinfo) -> When | None:
        """Parse ``YYYY-MM-DD`` or an ISO 8601 date-time; naive times are in ``tz``."""
        name = _name(keys)
        expected = "expected YYYY-MM-DD or an ISO 8601 date-time like 2020-12-15T09:30:00+08:00"
        if not isinstance(value, str):
            self.problem(keys, f"'{name}' must be a date, not {describe(value)}", hint=expected)
            return None
        text = value.strip()
        try:
            if _DATE_ONLY.match(text):
                day = dt.date.fromisoformat(text)
                return When(dt.datetime.combine(day, dt.time(), tzinfo=tz), has_time=False)
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            self.problem(keys, f"'{name}' is not a valid date: '{text}'", hint=expected)
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return When(moment, has_time=True)

    def url_value(self, value: Any, keys: KeyPath, web_only: bool = True) -> str | None:
        """An absolute http(s) URL (or, with ``web_only=False``, also mailto/relative)."""
        text = self.text_value(value, keys)
        if text is None:
            return None
        if web_only and not _WEB_URL.match(text):
            self.problem(
                keys,
                f"'{_name(keys)}' must be an absolute http(s) URL, not '{text}'",
                hint="write it as https://…",
            )
            return None
        if not web_only and not is_safe_url(text):
            self.problem(
                keys,
                f"'{_name(keys)}' uses a scheme that is not allowed: '{text}'",
                hint="only http, https, mailto and relative links are allowed",
            )
            return None
        return text

    def url(self, key: str) -> str | None:
        return self.url_value(self.data.get(key), (key,))


def _name(keys: KeyPath) -> str:
    """``('sources', 1, 'url')`` → ``sources[2].url`` (1-based for authors)."""
    out = ""
    for key in keys:
        out += f"[{key + 1}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out
