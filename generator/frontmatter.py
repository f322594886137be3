"""Reading authored files: decoding, front matter splitting and YAML with line numbers.

This is the only module that imports ``yaml``. The loader follows YAML 1.2 where
PyYAML's 1.1 defaults surprise authors: ``yes``/``no``/``on``/``off`` stay strings, and
dates stay strings so that the content model can parse them and report a bad one with
its line instead of PyYAML raising from deep inside the loader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .diagnostics import describe

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~8x faster

_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader with YAML 1.2 booleans and no implicit timestamps."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

KeyPath = tuple[str | int, ...]


class SourceError(Exception):
    """A file cannot be read as authored text; ``line`` is 1-based or ``None``."""

    def __init__(self, message: str, line: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.hint = hint


@dataclass
class Document:
    """A decoded text file split into YAML data and a Markdown body.

    ``lines`` maps key paths such as ``("sources", 1, "url")`` to the 1-based line of
    that key (or list item) in the file, so later checks can point at it.
    """

    path: Path
    text: str
    data: dict[str, Any]
    body: str = ""
    body_line: int = 1
    lines: dict[KeyPath, int] = field(default_factory=dict)
    duplicate_keys: list[tuple[str, int]] = field(default_factory=list)

    def line_of(self, *keys: str | int) -> int:
        """The line of the deepest known key along ``keys`` (the file start if none)."""
        while keys:
            if keys in self.lines:
                return self.lines[keys]
            keys = keys[:-1]
        return 1

    def source_line(self, line: int) -> str | None:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else None


def decode(raw: bytes) -> str:
    """UTF-8 text with any BOM removed and CRLF/CR line endings made ``\\n``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SourceError(
            f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            line,
            "save the file with UTF-8 encoding",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def parse_yaml(text: str, path: Path, first_line: int = 1) -> Document:
    """Parse a whole YAML file (or a front matter block starting at ``first_line``)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + first_line if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        hint = _opened_at(exc, first_line)
        raise SourceError(f"YAML syntax error: {problem}", line, hint) from None
    except yaml.YAMLError as exc:
        raise SourceError(f"YAML error: {exc}", first_line) from None
    finally:
        loader.dispose()
    doc = Document(path=path, text=text, data={})
    if data is None:
        return doc
    if not isinstance(data, dict):
        raise SourceError(
            f"expected a mapping of 'key: value' lines, got {describe(data)}",
            node.start_mark.line + first_line,
        )
    doc.data = {str(k): v for k, v in data.items()}
    _record_lines(node, (), first_line, doc)
    return doc


def _opened_at(exc: yaml.MarkedYAMLError, first_line: int) -> str | None:
    """A hint naming the line of an unclosed quote or bracket: YAML only notices it later,
    often at the end of the front matter."""
    opened, problem = exc.context_mark, exc.problem_mark
    if opened is None or problem is None or opened.line == problem.line:
        return None
    if not any(what in (exc.context or "") for what in ("quoted scalar", "flow ")):
        return None
    return f"a quote or bracket opened on line {opened.line + first_line} may not be closed"


def _record_lines(
    node: yaml.Node, path: KeyPath, first_line: int, doc: Document, walked: set[int] | None = None
) -> None:
    """Record key and item lines; a node shared by YAML aliases is walked only once, so a
    recursive alias or a 'billion laughs' cannot hang the build."""
    walked = set() if walked is None else walked
    if id(node) in walked:
        return
    walked.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + first_line
            if key in seen and not path:
                doc.duplicate_keys.append((key, line))
            seen.add(key)
            doc.lines[(*path, key)] = line
            _record_lines(value_node, (*path, key), first_line, doc, walked)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            doc.lines[(*path, index)] = item.start_mark.line + first_line
            _record_lines(item, (*path, index), first_line, doc, walked)


_FENCE = re.compile(r"^---[ \t]*$", re.MULTILINE)


def parse_markdown_file(text: str, path: Path) -> Document:
    """Split ``---`` front matter from the body and parse it."""
    if not text.strip():
        raise SourceError("file is empty", 1, "start it with a '---' front matter block")
    first = text.split("\n", 1)[0]
    if first.rstrip() != "---":
        raise SourceError(
            "missing front matter: the file must start with a '---' line",
            1,
            "put the YAML fields between two '---' lines at the top of the file",
        )
    closing = _FENCE.search(text, len(first) + 1)
    if closing is None:
        raise SourceError(
            "front matter opened on line 1 is never closed with a '---' line",
            1,
            "add a line '---' after the last front matter field",
        )
    yaml_text = text[len(first) + 1 : closing.start()]
    doc = parse_yaml(yaml_text, path, first_line=2)
    doc.text = text
    body_start = closing.end() + 1
    doc.body = text[body_start:]
    doc.body_line = text.count("\n", 0, body_start) + 1
    return doc
