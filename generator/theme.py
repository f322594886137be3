"""The theme: Jinja templates and assets, a site's own overriding the default ones.

This is the only module that imports ``jinja2``. A site's ``templates/NAME`` replaces the
default template of that name, and can extend the original as ``!theme/NAME``. Files in
``templates/assets/`` are published under content-hashed names (``style.3f2a….css``) so
browsers may cache them for ever; templates link them with ``asset('style.css')``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.bccache
import jinja2.meta
from markupsafe import Markup

from . import default_theme_dir
from .jsonld import script
from .model import When

ASSETS = "assets"
# The template whose macros the build calls from Python for any page (a check's card,
# rendered once per build and reused by every listing; see pipeline.base_context).
CARD_TEMPLATE = "macros.html"


class _CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept in a folder between runs (compiling the theme's templates
    takes a tenth of a second, a third of what a one-file rebuild renders).

    Jinja uses a file again only with its own and Python's versions in the header and
    the hash of the template's source; the caller names the folder after factsite's
    code, which sets how templates are compiled. A file that does not load is compiled
    again, and one that cannot be written is no error: it is only a cache.
    """

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # damaged: compiled again, and the file replaced
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache(folder: Path) -> jinja2.BytecodeCache | None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # no place to keep them: compiled in every run
    return _CompiledTemplates(str(folder))


class TemplateFailed(Exception):
    """A template could not be compiled or rendered; points at the template's line."""

    def __init__(self, path: str, line: int | None, message: str, source_line: str | None):
        super().__init__(message)
        self.path = path
        self.line = line
        self.message = message
        self.source_line = source_line

    def __reduce__(self) -> tuple[Any, ...]:  # pickled: sent back by a forked renderer
        return TemplateFailed, (self.path, self.line, self.message, self.source_line)


def published_name(name: str, data: bytes) -> str:
    """The name an asset with these bytes is published under: ``style.0123456789.css``."""
    digest = hashlib.sha256(data).hexdigest()[:10]
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{digest}.{ext}" if dot else f"{name}.{digest}"


@dataclass(frozen=True)
class Asset:
    name: str  # as templates ask for it: "style.css"
    published: str  # "style.0123456789.css"
    source: Path


class Theme:
    """Templates and assets of one site, with the Jinja environment kept warm."""

    def __init__(self, site_dir: Path, theme_dir: Path | None = None,
                 compiled_dir: Path | None = None) -> None:
        """``compiled_dir``: a folder to keep compiled templates in between runs (each is
        used again only for the same source; ``None``: compiled in memory only)."""
        self.theme_dir = theme_dir or default_theme_dir()
        self.site_templates = site_dir / "templates"
        self.search_dirs = self._search_dirs()
        self.env = jinja2.Environment(
            loader=self._loader(),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            bytecode_cache=_bytecode_cache(compiled_dir) if compiled_dir else None,
        )
        self.env.filters["date"] = format_date
        self.env.filters["isodate"] = lambda when: when.isoformat() if when else ""
        self.env.filters["text_on"] = text_on
        self.env.filters["jsonld"] = lambda data: Markup(script(data))
        self.assets = self._collect_assets()
        self._fingerprint = self._template_fingerprint()

    @property
    def fingerprint(self) -> str:
        """A hash of every template and asset file, as of the last :meth:`refresh`."""
        return self._fingerprint

    def _search_dirs(self) -> list[Path]:
        return [d for d in (self.site_templates, self.theme_dir) if d.is_dir()]

    def _loader(self) -> jinja2.BaseLoader:
        theme_loader = jinja2.FileSystemLoader(str(self.theme_dir))
        return jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader([str(d) for d in self.search_dirs]),
                jinja2.PrefixLoader({"!theme": theme_loader}, delimiter="/"),
            ]
        )

    def refresh(self) -> None:
        """Catch up with the template folders on disk, for a caller that keeps the theme.

        Jinja reloads an edited template by its modification time, but it cannot see a
        new site template now overriding a cached theme one, and a coarse file clock can
        hide two quick saves. So compiled templates are dropped whenever any template
        file's name or bytes changed (compiled ones stay warm across content edits), and
        assets are collected again every time.
        """
        search_dirs = self._search_dirs()
        if search_dirs != self.search_dirs:  # the site's templates/ came or went
            self.search_dirs = search_dirs
            self.env.loader = self._loader()
        fingerprint = self._template_fingerprint()
        if fingerprint != self._fingerprint:
            self._fingerprint = fingerprint
            if self.env.cache is not None:
                self.env.cache.clear()
        self.assets = self._collect_assets()

    def _template_fingerprint(self) -> str:
        """A hash of every file's path and bytes in the template folders."""
        digest = hashlib.sha256()
        for folder in dict.fromkeys([*self.search_dirs, self.theme_dir]):
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                try:
                    data = path.read_bytes()
                except OSError:  # deleted while we looked: the next refresh sees it gone
                    data = b"\0missing"
                digest.update(f"{path}\0{len(data)}\0".encode())
                digest.update(data)
        return digest.hexdigest()

    def _collect_assets(self) -> dict[str, Asset]:
        assets: dict[str, Asset] = {}
        for folder in reversed(self.search_dirs):  # the site's own win
            root = folder / ASSETS
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames.sort()
                for filename in sorted(filenames):
                    path = Path(dirpath) / filename
                    name = path.relative_to(root).as_posix()
                    assets[name] = Asset(name, published_name(name, path.read_bytes()), path)
        return dict(sorted(assets.items()))

    def graph_reads(self) -> set[str]:
        """The attributes the templates read off ``graph``; ``"*"`` stands for any other
        use of it (passed on whole, subscripted), and for a template that does not parse.

        Lets the build know whether pages depend on the whole graph (see ``pagekeys``);
        the build keeps the answer in its cache, under :attr:`fingerprint`.
        """
        reads: set[str] = set()
        for name in self.env.list_templates():
            if name.startswith((f"{ASSETS}/", f"!theme/{ASSETS}/")):
                continue
            try:
                source = self.env.loader.get_source(self.env, name)[0]  # type: ignore[union-attr]
                tree = self.env.parse(source)
            except (jinja2.TemplateError, OSError, UnicodeDecodeError):
                return {"*"}
            uses = [n for n in tree.find_all(jinja2.nodes.Name)
                    if n.name == "graph" and n.ctx == "load"]
            attrs = [n.attr for n in tree.find_all(jinja2.nodes.Getattr)
                     if isinstance(n.node, jinja2.nodes.Name) and n.node.name == "graph"]
            reads.update(attrs)
            if len(uses) > len(attrs):
                reads.add("*")
        return reads

    def template_keys(self, names: list[str]) -> dict[str, str]:
        """For each page template in ``names``, a hash of what its pages can show of the
        theme: its source, the sources of the templates it extends, includes or imports
        (at any depth, as this site resolves them: its own before the default theme's),
        and those of :data:`CARD_TEMPLATE`, which every page may call.

        Lets a rebuild after editing ``company.html`` render the company pages only. A
        template that names another by a variable (``{% include name %}``), or one that
        does not parse, gets :attr:`fingerprint`, the hash of every file, for all of
        them: then any template edit renders every page again, which is always correct.
        A template that is not found counts as absent: adding it changes the hash.
        """
        found: dict[str, tuple[bytes, list[str]] | None] = {}
        keys: dict[str, str] = {}
        for name in names:
            reached: dict[str, bytes] = {}  # name → source
            waiting = [name, CARD_TEMPLATE]
            while waiting:
                current = waiting.pop()
                if current in reached:
                    continue
                if current not in found:
                    found[current] = _source_and_references(self.env, current)
                loaded = found[current]
                if loaded is None:
                    return dict.fromkeys(names, self.fingerprint)
                reached[current], references = loaded
                waiting.extend(references)
            digest = hashlib.blake2b(digest_size=16)
            for current, source in sorted(reached.items()):
                digest.update(b"%s\0%d\0" % (current.encode("utf-8", "surrogatepass"),
                                              len(source)))
                digest.update(source)
            keys[name] = digest.hexdigest()
        return keys

    def macros(self, name: str, context: dict[str, Any]) -> Any:
        """Template ``name``'s macros bound to ``context``, callable from Python.

        Lets the build render a fragment such as a listing card once and reuse it on every
        listing page that shows it; errors surface when the calling page renders.
        """
        return self.env.get_template(name).make_module(vars=context)

    def render(self, name: str, context: dict[str, Any]) -> str:
        """Render template ``name``; any failure becomes :class:`TemplateFailed`."""
        try:
            return self.env.get_template(name).render(context)
        except jinja2.TemplateSyntaxError as exc:
            raise self._failure(
                exc.filename or exc.name or name, exc.lineno, exc.message or str(exc)
            ) from None
        except jinja2.TemplateNotFound as exc:
            raise TemplateFailed(name, None, f"template '{exc.name}' not found", None) from None
        except Exception as exc:
            filename, line = _template_frame(exc)
            raise self._failure(filename or name, line, _describe(exc)) from None

    def _failure(self, filename: str, line: int | None, message: str) -> TemplateFailed:
        path = Path(filename)
        source = None
        if path.is_file() and line:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            source = lines[line - 1] if 0 < line <= len(lines) else None
        return TemplateFailed(str(path), line, message, source)


def _source_and_references(env: jinja2.Environment,
                           name: str) -> tuple[bytes, list[str]] | None:
    """Template ``name``'s source and the templates it extends, includes or imports by
    name; ``None`` when it names one by a variable, or does not parse."""
    try:
        source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
        references = list(jinja2.meta.find_referenced_templates(env.parse(source)))
    except jinja2.TemplateNotFound:
        return b"\0absent", []
    except (jinja2.TemplateError, OSError, UnicodeDecodeError):
        return None
    named = [reference for reference in references if reference is not None]
    if len(named) < len(references):
        return None
    # Not the file's path: the same sources make the same pages in another checkout (a
    # CI cache restored elsewhere).
    return source.encode("utf-8", "surrogatepass"), named


def _template_frame(exc: BaseException) -> tuple[str | None, int | None]:
    """The innermost template file and line in ``exc``'s traceback (Jinja maps them)."""
    found: tuple[str | None, int | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith((".html", ".xml", ".txt", ".json")) and frame.lineno:
            found = (frame.filename, frame.lineno)
    return found


def _describe(exc: BaseException) -> str:
    if isinstance(exc, jinja2.UndefinedError):
        return f"undefined value: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def format_date(value: When | dt.date | None) -> str:
    """``15 December 2020`` (English month names; override the template to localise)."""
    if value is None:
        return ""
    day = value.date if isinstance(value, When) else value
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def text_on(color: str) -> str:
    """White or near-black text, whichever contrasts more on ``color``; always ≥ 4.5:1.

    ``#111111`` reads softer than black, but on a few mid-tones (luminance near 0.19) it
    and white both fall short of WCAG AA's 4.5:1; there pure black (≥ 4.58:1) is used.
    """
    background = _luminance(color)

    def contrast(text: str) -> float:
        lighter, darker = sorted((background, _luminance(text)), reverse=True)
        return (lighter + 0.05) / (darker + 0.05)

    best = max(("#ffffff", "#111111"), key=contrast)
    return best if contrast(best) >= 4.5 else "#000000"


def _luminance(color: str) -> float:
    """WCAG relative luminance of ``#rgb`` or ``#rrggbb``."""
    hexes = color.lstrip("#")
    if len(hexes) == 3:
        hexes = "".join(ch * 2 for ch in hexes)
    channels = [int(hexes[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
